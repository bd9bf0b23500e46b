"""The demo county's boundaries, built bottom-up from small Voronoi "atoms".

Everything is done in EPSG:4544 metres, on coordinates snapped to a 1 cm grid, so that two units
sharing an edge share exactly the same vertices:

1. a population density field (rural background modulated by smooth noise, Gaussian kernels
   around the county seat, the town seats and a few market villages);
2. ~22,000 atoms: Voronoi cells of points sampled with density ∝ population^0.7, clipped to the
   real county outline; the exclave is one atom of its own;
3. towns: a graph Voronoi partition of the atom adjacency graph from the 30 town seats;
4. level-1 grids: inside each town a balanced graph partition of its atoms into grids of about
   equal population (multi-source Dijkstra with additive offsets, iterated, with Lloyd moves);
5. villages and communities: inside each town, the same balanced partition of the grid graph;
6. level-2 grids: the same partition of a level-1 grid's atoms into 2-4 parts.

Every unit is the coverage union of its atoms, so grids nest in villages and villages in towns
exactly, and every unit is contiguous (graph partitions keep regions connected). The exclave,
which touches nothing, joins the grid of the nearest atom, giving one legitimately two-part grid.

Steps 1-2 are in ``atoms``, the balanced partition in ``partition``; this module places the seats
and special sites and assembles the steps into the ``Layout``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from ._geo import PRECISION_M, county_outline_storage, geoms_to_metric, to_metric
from .atoms import (
    Density,
    _sample_points,
    _voronoi_atoms,
    atom_adjacency,
    centroid_distance_graph,
    group_adjacency,
    noisy_graph,
)
from .partition import _attach_unreached, _split_each, graph_regions, repair_contiguity

TOTAL_POPULATION = 1_000_000
N_ATOMS = 22_000
N_GRIDS = 806
N_VILLAGES = 293
SEAT_LONLAT = (104.135, 29.998)  # where the county seat is put (roughly the real one)
STREET_OFFSETS = [(0.0, 0.0), (3300.0, 2700.0), (700.0, -3800.0), (-3900.0, 900.0)]
SPECIAL_SITES = [
    # (name suffix, town index, offset from the town seat in m, area in m², population factor)
    ("仁寿一中", 0, (900.0, -700.0), 160_000.0, 0.08),
    ("城市湿地公园", 1, (-600.0, 1300.0), 420_000.0, 0.02),
    ("视高经济开发区", 3, (-2600.0, 400.0), 2_600_000.0, 0.10),
    ("中心学校", None, (500.0, 400.0), 90_000.0, 0.08),
]
URBAN_DENSITY = 1800.0  # residents per km² above which a grid counts as urban


@dataclass
class Layout:
    outline: shapely.MultiPolygon  # metric, snapped
    main: shapely.Polygon
    atoms: np.ndarray  # metric polygons
    atom_xy: np.ndarray  # centroids (n, 2)
    atom_area: np.ndarray
    atom_pop: np.ndarray  # float residents
    adjacency: sparse.csr_matrix  # shared edge length between atoms (symmetric)
    town_xy: np.ndarray  # town seats (30, 2); 0-3 are the streets
    town_mass: np.ndarray  # population of each seat's kernel
    town_sigma: np.ndarray
    market_xy: np.ndarray
    atom_town: np.ndarray  # town index of each atom
    atom_grid: np.ndarray  # level-1 grid index of each atom
    grid_town: np.ndarray
    grid_special: np.ndarray  # -1 or index into SPECIAL_SITES
    grid_urban: np.ndarray
    grid_village: np.ndarray  # village index of each grid
    village_town: np.ndarray
    village_urban: np.ndarray
    atom_sub: np.ndarray  # level-2 index of each atom, -1 where none
    sub_grid: np.ndarray  # parent level-1 grid of each level-2 grid


# --------------------------------------------------------------------------------------------
# the layout


def _town_seats(rng, main, seat_xy):
    """Town seats: 4 streets around the county seat, 26 towns spread by k-means."""
    streets = np.array([[seat_xy[0] + dx, seat_xy[1] + dy] for dx, dy in STREET_OFFSETS])
    pts = _sample_points(rng, main, lambda x, y: np.ones_like(x), 1.0, 30_000, 1.0)
    far = np.hypot(pts[:, 0] - seat_xy[0], pts[:, 1] - seat_xy[1]) > 9000
    # farthest-point initialisation of the 26 free centres
    cand = pts[far]
    centres = [streets[i] for i in range(4)]
    d = np.min([np.hypot(*(cand - c).T) for c in centres], axis=0)
    edge = shapely.distance(main.boundary, shapely.points(cand)).clip(0, 4000)
    for _ in range(26):
        d_b = np.maximum(d, 0) * edge
        i = int(np.argmax(d_b))
        centres.append(cand[i])
        d = np.minimum(d, np.hypot(*(cand - cand[i]).T))
    centres = np.array(centres, float)
    for _ in range(40):
        lab = cKDTree(centres).query(pts)[1]
        for c in range(4, 30):
            sel = lab == c
            if sel.any():
                centres[c] = pts[sel].mean(0)
    # keep seats a little inside the county
    inner = max(shapely.get_parts(main.buffer(-1500)), key=lambda g: g.area)
    for c in range(4, 30):
        p = shapely.Point(*centres[c])
        if not inner.contains(p):
            q = inner.exterior.interpolate(inner.exterior.project(p))
            centres[c] = [q.x, q.y]
    return centres


def build_layout(rng: np.random.Generator, progress=None) -> Layout:
    say = progress or (lambda m: None)
    outline_s = county_outline_storage()
    outline = shapely.set_precision(geoms_to_metric([outline_s])[0], PRECISION_M)
    parts = list(shapely.get_parts(outline))
    main = max(parts, key=lambda p: p.area)
    seat = np.array(to_metric(*SEAT_LONLAT), float)

    say("placing town seats and the population field ...")
    town_xy = _town_seats(rng, main, seat)
    n_towns = len(town_xy)
    town_mass = np.empty(n_towns)
    town_sigma = np.empty(n_towns)
    town_mass[0], town_sigma[0] = 215_000.0, 1750.0
    town_mass[1:4] = rng.uniform(30_000, 42_000, 3)
    town_sigma[1:4] = rng.uniform(1000, 1300, 3)
    town_mass[4:] = np.exp(rng.normal(np.log(6500), 0.45, n_towns - 4))
    town_sigma[4:] = rng.uniform(420, 720, n_towns - 4)
    # market villages (场镇) away from the town seats
    market_xy = _sample_points(rng, main.buffer(-1000), lambda x, y: np.ones_like(x), 1.0, 400, 1.0)
    dmin = cKDTree(town_xy).query(market_xy)[0]
    market_xy = market_xy[dmin > 4500][:16]
    market_mass = rng.uniform(1200, 3000, len(market_xy))
    market_sigma = rng.uniform(250, 400, len(market_xy))
    density = Density(rng, town_xy, town_mass, town_sigma, market_xy, market_mass, market_sigma)
    dmax = density(town_xy[:, 0], town_xy[:, 1]).max() * 1.05

    say("cutting the county into Voronoi atoms ...")
    pts = _sample_points(rng, main, density, dmax, N_ATOMS, 0.7)
    atoms = _voronoi_atoms(pts, outline, main)
    atom_xy = shapely.get_coordinates(shapely.centroid(atoms))
    atom_area = shapely.area(atoms)
    adj = atom_adjacency(atoms)
    # population: density at the centroid times area (a 5-point average for large atoms)
    rp = shapely.get_coordinates(shapely.point_on_surface(atoms))
    dens = 0.5 * density(atom_xy[:, 0], atom_xy[:, 1]) + 0.5 * density(rp[:, 0], rp[:, 1])
    atom_pop = dens * atom_area
    exclave = np.flatnonzero(np.asarray(adj.sum(1)).ravel() == 0)
    atom_pop[exclave] = 0.0
    dist_graph = centroid_distance_graph(adj, atom_xy)

    say("drawing towns ...")
    town_atom = cKDTree(atom_xy).query(town_xy)[1]
    town_graph = noisy_graph(rng, dist_graph, atom_xy, smooth=0.55, jitter=0.35, wavelengths=(2500, 9000))
    atom_town, _ = graph_regions(town_graph, town_atom)
    atom_town = _attach_unreached(atom_town, atom_xy)

    # special grids: a connected set of atoms grown from a site until it has the wanted area
    say("placing special grids and level-1 grids ...")
    atom_grid = np.full(len(atoms), -1)
    special_sites = []
    for s, (_label, ti, off, want, factor) in enumerate(SPECIAL_SITES):
        if ti is None:
            ti = 4 + int(np.argmax(town_mass[4:]))
        p = town_xy[ti] + np.asarray(off)
        start = int(cKDTree(atom_xy).query(p)[1])
        members = _grow(dist_graph, start, atom_area, want, allowed=(atom_town == atom_town[start]))
        atom_grid[members] = s
        atom_pop[members] *= factor
        special_sites.append(ti)
    atom_pop *= TOTAL_POPULATION / atom_pop.sum()
    n_special = len(SPECIAL_SITES)
    part_graph = noisy_graph(rng, dist_graph, atom_xy, smooth=0.35, jitter=0.3, wavelengths=(800, 4000))

    # grids per town by population (largest remainder), then a balanced partition per town
    free = atom_grid < 0
    town_pop = np.bincount(atom_town[free], weights=atom_pop[free], minlength=n_towns)
    per_town = _apportion(town_pop, N_GRIDS - n_special, minimum=3)
    special_town = [int(atom_town[atom_grid == s][0]) for s in range(n_special)]
    town_atoms = [np.flatnonzero((atom_town == t) & free) for t in range(n_towns)]
    owners, n_grids = _split_each(
        rng, part_graph, range(n_towns), town_atoms, atom_xy, atom_pop, per_town, atom_grid, start=n_special
    )
    grid_town = np.asarray(special_town + owners)
    atom_grid = repair_contiguity(adj, atom_grid, atom_town)
    # the exclave joins the grid of the nearest main-part atom
    for e in exclave:
        others = np.flatnonzero(np.arange(len(atoms)) != e)
        j = others[np.argmin(shapely.distance(atoms[e], atoms[others]))]
        atom_grid[e] = atom_grid[j]
        atom_town[e] = atom_town[j]

    grid_special = np.full(n_grids, -1)
    grid_special[:n_special] = np.arange(n_special)
    grid_pop = np.bincount(atom_grid, weights=atom_pop, minlength=n_grids)
    grid_area = np.bincount(atom_grid, weights=atom_area, minlength=n_grids)
    grid_urban = (grid_pop / (grid_area / 1e6) > URBAN_DENSITY) & (grid_special < 0)

    say("grouping grids into villages and communities ...")
    grid_adj = group_adjacency(adj, atom_grid, n_grids)
    gxy = np.column_stack(
        [
            np.bincount(atom_grid, weights=atom_area * atom_xy[:, 0], minlength=n_grids) / grid_area,
            np.bincount(atom_grid, weights=atom_area * atom_xy[:, 1], minlength=n_grids) / grid_area,
        ]
    )
    grid_dist = noisy_graph(rng, centroid_distance_graph(grid_adj, gxy), gxy, smooth=0.3, jitter=0.3)
    vweight = np.where(grid_urban, 1 / 4.2, 1 / 2.35)
    per_town_v = _apportion(np.bincount(grid_town, weights=vweight, minlength=n_towns), N_VILLAGES, minimum=2)
    counts = np.bincount(grid_town, minlength=n_towns)
    per_town_v = np.minimum(per_town_v, counts)
    assert per_town_v.sum() == N_VILLAGES, "not enough grids for the villages"
    grid_village = np.full(n_grids, -1)
    town_grids = [np.flatnonzero(grid_town == t) for t in range(n_towns)]
    village_town, next_v = _split_each(
        rng, grid_dist, range(n_towns), town_grids, gxy, vweight, per_town_v, grid_village
    )
    village_town = np.asarray(village_town)
    grid_village = repair_contiguity(grid_adj, grid_village, grid_town)
    vpop = np.bincount(grid_village, weights=grid_pop, minlength=next_v)
    vurb = np.bincount(grid_village, weights=grid_pop * grid_urban, minlength=next_v)
    village_urban = vurb >= 0.5 * vpop

    say("splitting urban grids into level-2 grids ...")
    atom_sub = np.full(len(atoms), -1)
    n_atoms_grid = np.bincount(atom_grid, minlength=n_grids)
    split = np.flatnonzero(grid_urban & village_urban[grid_village] & (n_atoms_grid >= 6) & (grid_town < 4))
    split = np.sort(split[np.argsort(-grid_pop[split], kind="stable")][:85])
    grid_atoms = [np.flatnonzero(atom_grid == g) for g in split]
    sub_counts = [int(np.clip(len(nodes) // 4, 2, 4)) for nodes in grid_atoms]
    sub_grid, _ = _split_each(
        rng, dist_graph, split, grid_atoms, atom_xy, atom_pop + atom_area * 1e-4, sub_counts, atom_sub
    )
    atom_sub = repair_contiguity(adj, atom_sub, atom_grid)
    return Layout(
        outline=outline,
        main=main,
        atoms=atoms,
        atom_xy=atom_xy,
        atom_area=atom_area,
        atom_pop=atom_pop,
        adjacency=adj,
        town_xy=town_xy,
        town_mass=town_mass,
        town_sigma=town_sigma,
        market_xy=market_xy,
        atom_town=atom_town,
        atom_grid=atom_grid,
        grid_town=grid_town,
        grid_special=grid_special,
        grid_urban=grid_urban,
        grid_village=grid_village,
        village_town=village_town,
        village_urban=village_urban,
        atom_sub=atom_sub,
        sub_grid=np.asarray(sub_grid, int),
    )


def _grow(dist_graph, start, area, want, allowed):
    """Atoms reached from ``start`` in order of graph distance until their area reaches ``want``."""
    d = csgraph.dijkstra(dist_graph, indices=start, limit=20_000)
    d = np.where(allowed, d, np.inf)
    order = np.argsort(d, kind="stable")
    order = order[np.isfinite(d[order])]
    cum = np.cumsum(area[order])
    n = int(np.searchsorted(cum, want)) + 1
    return order[: max(n, 1)]


def _apportion(weights, total, minimum=0):
    """Integers proportional to ``weights`` summing to ``total`` (largest remainder)."""
    weights = np.asarray(weights, float)
    base = np.full(len(weights), minimum)
    rest = total - base.sum()
    share = weights / weights.sum() * rest
    out = np.floor(share).astype(int)
    rem = share - out
    short = rest - out.sum()
    out[np.argsort(-rem, kind="stable")[:short]] += 1
    return base + out
