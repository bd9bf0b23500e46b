"""The population density field, and the Voronoi "atoms" sampled from it with their graphs.

The density (rural background modulated by smooth noise, Gaussian kernels around the county seat,
the town seats and a few market villages) decides where atom points fall; the atoms are their
Voronoi cells clipped to the county outline, on coordinates snapped to a 1 cm grid so that atoms
sharing an edge share exactly the same vertices. Their adjacency (shared edge length) and the
distance graphs built on it are what the partitions in ``partition`` work on.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy import sparse

from ._geo import PRECISION_M

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
# atoms


def _sample_points(rng, main, density, dmax, n, exponent):
    shapely.prepare(main)
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
    adj = sparse.coo_matrix(
        (np.concatenate([length, length]), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n)
    ).tocsr()
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
