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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from ._geo import PRECISION_M, county_outline_storage, geoms_to_metric, to_metric

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
    outline: shapely.MultiPolygon      # metric, snapped
    main: shapely.Polygon
    atoms: np.ndarray                  # metric polygons
    atom_xy: np.ndarray                # centroids (n, 2)
    atom_area: np.ndarray
    atom_pop: np.ndarray               # float residents
    adjacency: sparse.csr_matrix       # shared edge length between atoms (symmetric)
    town_xy: np.ndarray                # town seats (30, 2); 0-3 are the streets
    town_mass: np.ndarray              # population of each seat's kernel
    town_sigma: np.ndarray
    market_xy: np.ndarray
    atom_town: np.ndarray              # town index of each atom
    atom_grid: np.ndarray              # level-1 grid index of each atom
    grid_town: np.ndarray
    grid_special: np.ndarray           # -1 or index into SPECIAL_SITES
    grid_urban: np.ndarray
    grid_village: np.ndarray           # village index of each grid
    village_town: np.ndarray
    village_urban: np.ndarray
    atom_sub: np.ndarray               # level-2 index of each atom, -1 where none
    sub_grid: np.ndarray               # parent level-1 grid of each level-2 grid


# --------------------------------------------------------------------------------------------
# density


def _smooth_noise(rng, x, y, n=14):
    """A smooth random field in [-1, 1] with wavelengths of 8-35 km."""
    k = rng.uniform(2 * np.pi / 35_000, 2 * np.pi / 8_000, n)
    ang = rng.uniform(0, np.pi, n)
    ph = rng.uniform(0, 2 * np.pi, n)
    amp = rng.uniform(0.5, 1.0, n)
    kx, ky = k * np.cos(ang), k * np.sin(ang)

    def field(px, py):
        px = np.asarray(px, float)[..., None]
        py = np.asarray(py, float)[..., None]
        v = (amp * np.cos(px * kx + py * ky + ph)).sum(-1)
        return v / amp.sum() * 2.2

    return field


class Density:
    """Residents per m² (before the final normalisation)."""

    def __init__(self, rng, town_xy, town_mass, town_sigma, market_xy, market_mass, market_sigma):
        self.noise = _smooth_noise(rng, 0, 0)
        self.centres = np.vstack([town_xy, market_xy])
        self.mass = np.concatenate([town_mass, market_mass])
        self.sigma = np.concatenate([town_sigma, market_sigma])
        # The county seat also has a wide suburban halo.
        self.centres = np.vstack([self.centres, town_xy[:1]])
        self.mass = np.append(self.mass, 45_000.0)
        self.sigma = np.append(self.sigma, 4200.0)
        self.background = 205e-6

    def __call__(self, x, y):
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        bg = self.background * np.clip(1.0 + 0.45 * np.clip(self.noise(x, y), -1.2, 1.2), 0.3, None)
        out = bg.copy()
        for (cx, cy), m, s in zip(self.centres, self.mass, self.sigma):
            r2 = (x - cx) ** 2 + (y - cy) ** 2
            out += m / (2 * np.pi * s * s) * np.exp(-r2 / (2 * s * s))
        return out


# --------------------------------------------------------------------------------------------
# graph tools


def graph_regions(adj: sparse.csr_matrix, seeds: np.ndarray, offsets: np.ndarray | None = None):
    """Multi-source Dijkstra: the seed (index into ``seeds``) each node is closest to, or -1.

    ``offsets`` (>= 0) are added to each seed's start distance. Regions are connected in the
    graph, because every node's shortest path comes through a node of the same region.
    """
    n = adj.shape[0]
    k = len(seeds)
    if offsets is None:
        offsets = np.zeros(k)
    super_row = sparse.csr_matrix(
        (offsets + 1e-3, (np.zeros(k, int), seeds)), shape=(1, n + 1)
    )
    big = sparse.vstack([sparse.hstack([adj, sparse.csr_matrix((n, 1))]), super_row]).tocsr()
    dist, pred = csgraph.dijkstra(big, directed=True, indices=n, return_predecessors=True)
    pred = pred[:n].copy()
    reached = np.isfinite(dist[:n])
    # pointer jumping to the seed each node's path starts from
    p = np.where(reached, pred, -9999)
    p[seeds] = seeds
    p = np.where(p == n, np.arange(n), p)
    p = np.where(p < 0, np.arange(n), p)
    for _ in range(64):
        q = p[p]
        if np.array_equal(q, p):
            break
        p = q
    seed_index = np.full(n, -1)
    seed_index[seeds] = np.arange(k)
    root = np.where(reached, seed_index[p], -1)
    return root, dist[:n]


def balanced_partition(rng, adj, xy, weight, k, *, seeds=None, rounds=3, iterations=12, refine_passes=10):
    """Partition a connected graph into ``k`` connected regions of about equal ``weight``.

    A graph Voronoi diagram with additive seed offsets, tuned to even the weights, with Lloyd
    moves of the seeds between rounds; then boundary nodes are moved from heavy regions to
    light neighbours where that keeps both connected.
    """
    n = len(xy)
    if k >= n:
        return np.arange(n)
    if seeds is None:
        p = weight / weight.sum() if weight.sum() > 0 else None
        seeds = rng.choice(n, size=k, replace=False, p=_nonzero_p(p, n))
    seeds = np.asarray(seeds, int).copy()
    target = weight.sum() / k
    best = None
    for rnd in range(rounds):
        offsets = np.zeros(k)
        for it in range(iterations):
            region, _ = graph_regions(adj, seeds, offsets)
            if (region < 0).any():
                region = _attach_unreached(region, xy)
            w = np.bincount(region, weights=weight, minlength=k)
            score = np.abs(w / target - 1).max()
            if best is None or score < best[0]:
                best = (score, region.copy())
            area = np.bincount(region, minlength=k)
            spread = np.sqrt(np.bincount(region, weights=((xy - xy[seeds][region]) ** 2).sum(1), minlength=k)
                             / np.maximum(area, 1))
            offsets += 0.25 * np.maximum(spread, 1.0) * np.clip(w / target - 1, -0.5, 0.5)
            offsets -= offsets.min()
        if rnd < rounds - 1:
            seeds = _lloyd(best[1], xy, weight, k, seeds)
    region = best[1]
    if refine_passes:
        region = _refine(adj, region, weight, xy, k, refine_passes)
    return region


def _refine(adj, region, weight, xy, k, passes):
    """Move boundary nodes from heavier to lighter neighbouring regions, keeping regions connected."""
    region = region.copy()
    indptr, indices = adj.indptr, adj.indices
    w = np.bincount(region, weights=weight, minlength=k)
    target = w.sum() / k
    members = [set() for _ in range(k)]
    for i, r in enumerate(region):
        members[r].add(i)
    coo = adj.tocoo()
    for _ in range(passes):
        a, b = coo.row, coo.col
        ra, rb = region[a], region[b]
        cand = (ra != rb) & (w[ra] > w[rb] + weight[a])
        if not cand.any():
            break
        a, rb = a[cand], rb[cand]
        gain = (w[region[a]] - w[rb]) - weight[a]
        order = np.lexsort((a, -gain))
        moved = 0
        seen = set()
        for i in order:
            node, dst = int(a[i]), int(rb[i])
            if node in seen:
                continue
            src = region[node]
            if src == dst or len(members[src]) <= 1:
                continue
            if not (w[src] - weight[node] >= w[dst] + weight[node] - 1e-9 or
                    abs(w[src] - weight[node] - target) + abs(w[dst] + weight[node] - target)
                    < abs(w[src] - target) + abs(w[dst] - target) - 1e-9):
                continue
            if not any(region[j] == dst for j in indices[indptr[node]:indptr[node + 1]]):
                continue
            if not _stays_connected(indptr, indices, members[src], node):
                continue
            seen.add(node)
            members[src].discard(node)
            members[dst].add(node)
            region[node] = dst
            w[src] -= weight[node]
            w[dst] += weight[node]
            moved += 1
        if not moved:
            break
    return region


def _stays_connected(indptr, indices, members, node):
    """Whether ``members`` without ``node`` is still connected (graph given in CSR form)."""
    nbrs = [j for j in indices[indptr[node]:indptr[node + 1]] if j in members and j != node]
    if not nbrs:
        return False
    if len(nbrs) == 1:
        return True
    need = len(members) - 1
    start = nbrs[0]
    seen = {start}
    stack = [start]
    while stack:
        u = stack.pop()
        for v in indices[indptr[u]:indptr[u + 1]]:
            if v != node and v in members and v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == need


def _nonzero_p(p, n):
    if p is None:
        return None
    p = np.maximum(p, 1e-12)
    return p / p.sum()


def _lloyd(region, xy, weight, k, seeds):
    """Move each seed to the node of its region nearest the region's weighted centroid."""
    wsum = np.bincount(region, weights=weight, minlength=k)
    cnt = np.bincount(region, minlength=k)
    wx = np.bincount(region, weights=weight * xy[:, 0], minlength=k)
    wy = np.bincount(region, weights=weight * xy[:, 1], minlength=k)
    ux = np.bincount(region, weights=xy[:, 0], minlength=k) / np.maximum(cnt, 1)
    uy = np.bincount(region, weights=xy[:, 1], minlength=k) / np.maximum(cnt, 1)
    cx = np.where(wsum > 0, wx / np.where(wsum > 0, wsum, 1), ux)
    cy = np.where(wsum > 0, wy / np.where(wsum > 0, wsum, 1), uy)
    d2 = (xy[:, 0] - cx[region]) ** 2 + (xy[:, 1] - cy[region]) ** 2
    order = np.lexsort((d2, region))
    first = np.unique(region[order], return_index=True)[1]
    new = seeds.copy()
    new[region[order][first]] = order[first]
    return new


def _attach_unreached(region, xy):
    bad = region < 0
    if bad.all():
        raise ValueError("no region reached")
    tree = cKDTree(xy[~bad])
    _, j = tree.query(xy[bad])
    out = region.copy()
    out[np.flatnonzero(bad)] = region[np.flatnonzero(~bad)[j]]
    return out


def subgraph(adj, nodes):
    return adj[nodes][:, nodes].tocsr()


# --------------------------------------------------------------------------------------------
# atoms


def _sample_points(rng, main, density, dmax, n, exponent):
    prepared = shapely.prepare(main) or main
    minx, miny, maxx, maxy = main.bounds
    out = []
    have = 0
    while have < n:
        m = 400_000
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        u = rng.random(m)
        acc = u < (density(x, y) / dmax) ** exponent
        x, y = x[acc], y[acc]
        inside = shapely.contains_xy(main, x, y)
        x, y = x[inside], y[inside]
        out.append(np.column_stack([x, y]))
        have += len(x)
    return np.vstack(out)[:n]


def _voronoi_atoms(points, outline, main):
    env = shapely.box(*outline.bounds).buffer(5000)
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=env, ordered=True)
    cells = np.asarray(shapely.get_parts(cells))
    cells = shapely.set_precision(cells, PRECISION_M)
    shapely.prepare(main)
    inside = shapely.contains_properly(main, cells)
    out = cells.copy()
    edge = ~inside
    out[edge] = shapely.intersection(cells[edge], outline, grid_size=PRECISION_M)
    parts, idx = shapely.get_parts(out, return_index=True)
    parts = np.asarray(parts)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    parts, idx = parts[keep], idx[keep]
    # the exclave (and anything else outside the main part) becomes one atom per outline part
    shapely.prepare(main)
    in_main = shapely.intersects(main, shapely.point_on_surface(parts))
    atoms = list(parts[in_main])
    for extra in shapely.get_parts(outline):
        if extra.equals(main):
            continue
        pieces = parts[~in_main & shapely.intersects(extra, shapely.point_on_surface(parts))]
        if len(pieces):
            atoms.append(shapely.coverage_union_all(pieces) if len(pieces) > 1 else pieces[0])
    return np.asarray(atoms, dtype=object)


def atom_adjacency(atoms):
    """Shared edge length between atoms, from identical (snapped) boundary segments."""
    rings, ring_atom = shapely.get_rings(atoms, return_index=True)
    coords, ring_no = shapely.get_coordinates(rings, return_index=True)
    q = np.rint(coords / PRECISION_M).astype(np.int64)
    same = ring_no[:-1] == ring_no[1:]
    a, b = q[:-1][same], q[1:][same]
    owner = ring_atom[ring_no[:-1][same]]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    order = np.lexsort((hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0]))
    lo, hi, owner = lo[order], hi[order], owner[order]
    dup = (lo[1:] == lo[:-1]).all(1) & (hi[1:] == hi[:-1]).all(1)
    i = owner[:-1][dup]
    j = owner[1:][dup]
    length = np.hypot(*(hi[1:][dup] - lo[1:][dup]).T) * PRECISION_M
    ok = i != j
    i, j, length = i[ok], j[ok], length[ok]
    n = len(atoms)
    adj = sparse.coo_matrix((np.concatenate([length, length]), (np.concatenate([i, j]), np.concatenate([j, i]))),
                            shape=(n, n)).tocsr()
    adj.sum_duplicates()
    return adj


def centroid_distance_graph(adj, xy):
    """The adjacency graph weighted by the distance between centroids."""
    coo = adj.tocoo()
    d = np.hypot(xy[coo.row, 0] - xy[coo.col, 0], xy[coo.row, 1] - xy[coo.col, 1])
    return sparse.csr_matrix((np.maximum(d, 0.01), (coo.row, coo.col)), shape=adj.shape)


def noisy_graph(rng, dist_graph, xy, *, smooth=0.6, jitter=0.25, wavelengths=(3000, 12000)):
    """Distances stretched by a smooth random field and per-edge jitter, so that the boundaries
    of graph Voronoi regions wander like real ones instead of running straight."""
    field = _smooth_noise_band(rng, *wavelengths)
    coo = sparse.triu(dist_graph).tocoo()
    mx = 0.5 * (xy[coo.row, 0] + xy[coo.col, 0])
    my = 0.5 * (xy[coo.row, 1] + xy[coo.col, 1])
    f = np.exp(smooth * field(mx, my) + jitter * rng.standard_normal(len(coo.data)))
    d = coo.data * f
    return sparse.csr_matrix(
        (np.concatenate([d, d]), (np.concatenate([coo.row, coo.col]), np.concatenate([coo.col, coo.row]))),
        shape=dist_graph.shape,
    )


def _smooth_noise_band(rng, lo, hi, n=16):
    k = rng.uniform(2 * np.pi / hi, 2 * np.pi / lo, n)
    ang = rng.uniform(0, np.pi, n)
    ph = rng.uniform(0, 2 * np.pi, n)
    kx, ky = k * np.cos(ang), k * np.sin(ang)

    def field(px, py):
        px = np.asarray(px, float)[..., None]
        py = np.asarray(py, float)[..., None]
        return np.cos(px * kx + py * ky + ph).sum(-1) / np.sqrt(n / 2)

    return field


def group_adjacency(adj, labels, k):
    """Shared edge length between groups of atoms."""
    coo = adj.tocoo()
    a, b = labels[coo.row], labels[coo.col]
    ok = a != b
    g = sparse.coo_matrix((coo.data[ok], (a[ok], b[ok])), shape=(k, k)).tocsr()
    g.sum_duplicates()
    return g


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
    for s, (label, ti, off, want, factor) in enumerate(SPECIAL_SITES):
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
    owners, n_grids = _split_each(rng, part_graph, range(n_towns), town_atoms, atom_xy, atom_pop, per_town,
                                  atom_grid, start=n_special)
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
    gxy = np.column_stack([
        np.bincount(atom_grid, weights=atom_area * atom_xy[:, 0], minlength=n_grids) / grid_area,
        np.bincount(atom_grid, weights=atom_area * atom_xy[:, 1], minlength=n_grids) / grid_area,
    ])
    grid_dist = noisy_graph(rng, centroid_distance_graph(grid_adj, gxy), gxy, smooth=0.3, jitter=0.3)
    vweight = np.where(grid_urban, 1 / 4.2, 1 / 2.35)
    per_town_v = _apportion(np.bincount(grid_town, weights=vweight, minlength=n_towns), N_VILLAGES, minimum=2)
    counts = np.bincount(grid_town, minlength=n_towns)
    per_town_v = np.minimum(per_town_v, counts)
    assert per_town_v.sum() == N_VILLAGES, "not enough grids for the villages"
    grid_village = np.full(n_grids, -1)
    town_grids = [np.flatnonzero(grid_town == t) for t in range(n_towns)]
    village_town, next_v = _split_each(rng, grid_dist, range(n_towns), town_grids, gxy, vweight, per_town_v,
                                       grid_village)
    village_town = np.asarray(village_town)
    grid_village = repair_contiguity(grid_adj, grid_village, grid_town)
    vpop = np.bincount(grid_village, weights=grid_pop, minlength=next_v)
    vurb = np.bincount(grid_village, weights=grid_pop * grid_urban, minlength=next_v)
    village_urban = vurb >= 0.5 * vpop

    say("splitting urban grids into level-2 grids ...")
    atom_sub = np.full(len(atoms), -1)
    n_atoms_grid = np.bincount(atom_grid, minlength=n_grids)
    split = np.flatnonzero(grid_urban & village_urban[grid_village] & (n_atoms_grid >= 6)
                           & (grid_town < 4))
    split = np.sort(split[np.argsort(-grid_pop[split], kind="stable")][:85])
    grid_atoms = [np.flatnonzero(atom_grid == g) for g in split]
    sub_counts = [int(np.clip(len(nodes) // 4, 2, 4)) for nodes in grid_atoms]
    sub_grid, _ = _split_each(rng, dist_graph, split, grid_atoms, atom_xy, atom_pop + atom_area * 1e-4, sub_counts,
                              atom_sub)
    atom_sub = repair_contiguity(adj, atom_sub, atom_grid)
    return Layout(
        outline=outline, main=main, atoms=atoms, atom_xy=atom_xy, atom_area=atom_area,
        atom_pop=atom_pop, adjacency=adj, town_xy=town_xy, town_mass=town_mass,
        town_sigma=town_sigma, market_xy=market_xy, atom_town=atom_town, atom_grid=atom_grid,
        grid_town=grid_town, grid_special=grid_special, grid_urban=grid_urban,
        grid_village=grid_village, village_town=village_town, village_urban=village_urban,
        atom_sub=atom_sub, sub_grid=np.asarray(sub_grid, int),
    )


def _split_each(rng, graph, parents, members, xy, weight, counts, labels, start=0):
    """Split each parent's member nodes into its count of balanced, connected parts.

    Writes each part's number (from ``start`` on) into ``labels`` at its nodes; returns the parent
    of every new part, in order, and the next free number.
    """
    owners = []
    next_id = start
    for parent, nodes, k in zip(parents, members, counts):
        lab = _partition_components(rng, subgraph(graph, nodes), xy[nodes], weight[nodes], k)
        labels[nodes] = lab + next_id
        owners += [parent] * (lab.max() + 1)
        next_id += lab.max() + 1
    return owners, next_id


def _partition_components(rng, adj, xy, weight, k):
    """Balanced partition of a graph that should be connected (small stray pieces are attached)."""
    n_comp, comp = csgraph.connected_components(adj, directed=False)
    if n_comp > 1:
        big = np.argmax(np.bincount(comp))
        keep = comp == big
        lab_main = balanced_partition(rng, subgraph(adj, np.flatnonzero(keep)), xy[keep], weight[keep], k)
        lab = np.full(len(xy), -1)
        lab[keep] = lab_main
        return _attach_unreached(lab, xy)
    return balanced_partition(rng, adj, xy, weight, k)


def repair_contiguity(adj, labels, within):
    """Move every stray piece of a region (not its largest) to the neighbouring region, in the
    same ``within`` group, sharing the longest edge with it; atoms touching nothing stay."""
    labels = labels.copy()
    for _ in range(10):
        coo = adj.tocoo()
        same = labels[coo.row] == labels[coo.col]
        g = sparse.csr_matrix((np.ones(same.sum()), (coo.row[same], coo.col[same])), shape=adj.shape)
        n_comp, comp = csgraph.connected_components(g, directed=False)
        valid = labels >= 0
        # largest component of each label (by atom count, ties by lowest component id)
        size = np.bincount(comp, minlength=n_comp)
        comp_label = np.full(n_comp, -1)
        comp_label[comp[valid]] = labels[valid]
        order = np.lexsort((np.arange(n_comp), -size, comp_label))
        keep = np.zeros(n_comp, bool)
        first = np.unique(comp_label[order], return_index=True)[1]
        keep[order[first]] = True
        stray = ~keep[comp] & valid
        isolated = np.asarray(adj.sum(1)).ravel() == 0
        stray &= ~isolated
        if not stray.any():
            break
        # shared edge from each stray component to neighbouring labels
        r, c, w = coo.row, coo.col, coo.data
        m = stray[r] & (labels[c] != labels[r]) & (labels[c] >= 0) & (within[c] == within[r])
        if not m.any():
            break
        key_comp, key_lab = comp[r[m]], labels[c[m]]
        pairs = sparse.coo_matrix((w[m], (key_comp, key_lab)), shape=(n_comp, labels.max() + 1)).tocsr()
        best = np.asarray(pairs.argmax(axis=1)).ravel()
        has = np.asarray(pairs.max(axis=1).todense()).ravel() > 0
        move = stray & has[comp]
        labels[move] = best[comp[move]]
    return labels


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
