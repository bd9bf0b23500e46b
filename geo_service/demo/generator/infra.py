"""Roads between town seats and villages, and the cameras placed along them and in the places."""

from __future__ import annotations

from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

from ._geo import STORAGE_CRS, geoms_to_storage, to_storage
from .layout import Layout
from .units import Units

N_TIANWANG = 950
N_XUELIANG = 1500
N_ZONGZHI = 3550


def _wiggle(rng, p, q, amp):
    """A gently curving line from p to q: midpoint displacement, then Chaikin smoothing."""
    pts = np.array([p, q], float)
    for level in range(4):
        mids = 0.5 * (pts[:-1] + pts[1:])
        d = pts[1:] - pts[:-1]
        length = np.hypot(d[:, 0], d[:, 1])
        normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.maximum(length, 1e-9)[:, None]
        mids += normal * (rng.normal(0, amp / (1.6**level), len(mids)) * length)[:, None]
        out = np.empty((len(pts) + len(mids), 2))
        out[0::2] = pts
        out[1::2] = mids
        pts = out
    for _ in range(2):
        a, b = pts[:-1], pts[1:]
        inner = np.empty((2 * len(a), 2))
        inner[0::2] = 0.75 * a + 0.25 * b
        inner[1::2] = 0.25 * a + 0.75 * b
        pts = np.vstack([pts[:1], inner, pts[-1:]])
    return shapely.LineString(pts)


def _road(rng, main, p, q, amp):
    for a in (amp, amp / 2, amp / 4):
        line = _wiggle(rng, p, q, a)
        if main.contains(line):
            return line
    line = shapely.LineString([p, q])
    return line if main.contains(line) else None


def build_roads(rng, L: Layout, U: Units):
    main = L.main
    shapely.prepare(main)
    seats = L.town_xy
    tri = Delaunay(seats)
    edges = set()
    for s in tri.simplices:
        for i in range(3):
            a, b = sorted((int(s[i]), int(s[(i + 1) % 3])))
            edges.add((a, b))
    edges = sorted(edges)
    ok = [(a, b) for a, b in edges if main.contains(shapely.LineString([seats[a], seats[b]]))]
    n = len(seats)
    length = np.array([np.hypot(*(seats[a] - seats[b])) for a, b in ok])
    m = csr_matrix((length, ([a for a, _ in ok], [b for _, b in ok])), shape=(n, n))
    mst = minimum_spanning_tree(m).tocoo()
    chosen = {tuple(sorted((int(a), int(b)))) for a, b in zip(mst.row, mst.col)}
    extra = [e for e, metres in sorted(zip(ok, length), key=lambda t: t[1]) if e not in chosen and metres < 15_000]
    chosen |= set(extra[:9])
    rows = []
    for k, (a, b) in enumerate(sorted(chosen)):
        line = _road(rng, main, seats[a], seats[b], 0.07)
        if line is None:
            continue
        na, nb = U.town_name[a][:2], U.town_name[b][:2]
        rows.append(("county_road", f"X{101 + k:03d}{na}—{nb}公路", line, -1))
    # town roads: within each town, a spanning tree over the seat and the villages' main hamlets
    hamlet = np.zeros((len(L.village_town), 2))
    atom_village = L.grid_village[L.atom_grid]
    order = np.lexsort((-L.atom_pop, atom_village))
    first = np.unique(atom_village[order], return_index=True)[1]
    hamlet[:] = L.atom_xy[order[first]]
    village_road = {}
    for t in range(len(seats)):
        vs = np.flatnonzero(L.village_town == t)
        pts = np.vstack([seats[t : t + 1], hamlet[vs]])
        d = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
        tree = minimum_spanning_tree(csr_matrix(np.triu(d + 1e-6, 1))).tocoo()
        for a, b in sorted(zip(tree.row.tolist(), tree.col.tolist())):
            a, b = (a, b) if a < b else (b, a)
            if d[a, b] < 150:
                continue
            line = _road(rng, main, pts[a], pts[b], 0.1)
            if line is None:
                continue
            v = vs[b - 1]
            name = f"{U.town_name[t]}{U.village_name[v]}通村公路"
            rows.append(("town_road", name, line, v))
            village_road.setdefault(v, line)
    metric = np.array([r[2] for r in rows], dtype=object)
    roads = gpd.GeoDataFrame(
        {"kind": [r[0] for r in rows], "name": [r[1] for r in rows]},
        geometry=geoms_to_storage(metric),
        crs=STORAGE_CRS,
    )
    return roads, metric, np.array([r[3] for r in rows]), hamlet, village_road


def _points_along(rng, lines, weights, n):
    """``n`` points along the lines (chosen by weight), with the bearing of the line there."""
    lines = np.asarray(lines, dtype=object)
    p = weights / weights.sum()
    which = rng.choice(len(lines), n, p=p)
    frac = rng.uniform(0.03, 0.97, n)
    lengths = shapely.length(lines[which])
    pos = frac * lengths
    pts = shapely.get_coordinates(shapely.line_interpolate_point(lines[which], pos))
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(lines[which], np.minimum(pos + 5, lengths)))
    behind = shapely.get_coordinates(shapely.line_interpolate_point(lines[which], np.maximum(pos - 5, 0)))
    d = ahead - behind
    bearing = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360
    return pts, bearing


def _points_in_atoms(rng, L: Layout, atom_idx):
    """A uniform random point inside each given atom (rejection sampling in the bounding box)."""
    atom_idx = np.asarray(atom_idx)
    out = np.full((len(atom_idx), 2), np.nan)
    b = shapely.bounds(L.atoms)
    todo = np.arange(len(atom_idx))
    for _ in range(60):
        if not len(todo):
            break
        a = atom_idx[todo]
        x = rng.uniform(b[a, 0], b[a, 2])
        y = rng.uniform(b[a, 1], b[a, 3])
        ok = shapely.contains_xy(L.atoms[a], x, y)
        out[todo[ok]] = np.column_stack([x[ok], y[ok]])
        todo = todo[~ok]
    if len(todo):  # pathological slivers: their representative point
        out[todo] = shapely.get_coordinates(shapely.point_on_surface(L.atoms[atom_idx[todo]]))
    return out


def build_cameras(rng, L: Layout, U: Units, road_metric, road_village, hamlet, village_road):
    kinds, xy, heading = [], [], []
    # tianwang: town centres (most) and junctions
    n_centre = int(N_TIANWANG * 0.72)
    w = np.sqrt(L.town_mass) * np.where(np.arange(len(L.town_xy)) < 4, 2.0, 1.0)
    t = rng.choice(len(L.town_xy), n_centre, p=w / w.sum())
    sig = L.town_sigma[t] * 0.8
    gen = lambda idx: L.town_xy[t[idx]] + rng.normal(0, 1, (len(idx), 2)) * sig[idx, None]
    p1 = gen(np.arange(n_centre))
    p1 = _inside_fixed(rng, L, p1, gen)
    junctions = np.vstack(
        [
            shapely.get_coordinates(shapely.get_point(road_metric, 0)),
            shapely.get_coordinates(shapely.get_point(road_metric, -1)),
        ]
    )
    junctions = np.unique(np.round(junctions, 1), axis=0)
    n_j = N_TIANWANG - n_centre
    j = rng.choice(len(junctions), n_j, replace=len(junctions) < n_j)
    p2 = junctions[j] + rng.normal(0, 25, (n_j, 2))
    p2 = _inside_fixed(rng, L, p2, lambda idx: junctions[j[idx]] + rng.normal(0, 10, (len(idx), 2)))
    tw = np.vstack([p1, p2])
    kinds += ["tianwang"] * len(tw)
    xy.append(tw)
    heading.append(rng.uniform(0, 360, len(tw)))
    # xueliang: along roads, and at village entrances facing along the road
    n_entr = min(2 * len(L.village_town), N_XUELIANG // 2)
    weights = np.where(road_village < 0, 1.4, 1.0) * shapely.length(road_metric)
    p3, b3 = _points_along(rng, road_metric, weights, N_XUELIANG - n_entr)
    b3 = (b3 + 180 * (rng.random(len(b3)) < 0.5)) % 360
    entr, be = [], []
    vs = np.sort(rng.choice(len(L.village_town), n_entr // 2, replace=False))
    for v in vs:
        line = village_road.get(v)
        for _ in range(2):
            if line is None:
                entr.append(hamlet[v] + rng.normal(0, 60, 2))
                be.append(rng.uniform(0, 360))
                continue
            # the village's road ends at its hamlet: a camera 100-400 m before it, facing inwards
            d = line.length - rng.uniform(100, 400) if line.length > 500 else line.length * rng.uniform(0.3, 0.8)
            p = np.asarray(line.interpolate(d).coords[0])
            q = np.asarray(line.interpolate(min(d + 5, line.length)).coords[0])
            entr.append(p)
            be.append(np.degrees(np.arctan2(q[0] - p[0], q[1] - p[1])) % 360)
    xl = np.vstack([p3, np.asarray(entr)])
    kinds += ["xueliang"] * len(xl)
    xy.append(xl)
    heading.append(np.concatenate([b3, be]))
    # zongzhi: inside communities and villages, by population (more in the urban grids)
    urban_atom = L.grid_urban[L.atom_grid]
    aw = L.atom_pop * np.where(urban_atom, 1.6, 1.0)
    a = rng.choice(len(L.atoms), N_ZONGZHI, p=aw / aw.sum())
    zz = _points_in_atoms(rng, L, a)
    kinds += ["zongzhi"] * len(zz)
    xy.append(zz)
    heading.append(rng.uniform(0, 360, len(zz)))

    kinds = np.asarray(kinds)
    xy = np.vstack(xy)
    heading = np.concatenate(heading) % 360
    n = len(kinds)
    fov = np.where(
        kinds == "tianwang",
        rng.uniform(55, 100, n),
        np.where(kinds == "xueliang", rng.uniform(50, 90, n), rng.uniform(70, 110, n)),
    )
    dome = rng.random(n) < np.select([kinds == "tianwang", kinds == "xueliang"], [0.15, 0.04], 0.08)
    fov = np.where(dome, 360.0, np.round(fov))
    rng_m = np.select(
        [kinds == "tianwang", kinds == "xueliang"],
        [rng.uniform(80, 200, n), rng.uniform(50, 150, n)],
        rng.uniform(30, 80, n),
    )
    status = rng.choice(["online", "offline", "fault"], n, p=[0.93, 0.05, 0.02])
    spans = {
        "tianwang": (date(2013, 1, 1), date(2021, 12, 31)),
        "xueliang": (date(2016, 6, 1), date(2023, 12, 31)),
        "zongzhi": (date(2018, 1, 1), date(2025, 10, 31)),
    }
    installed = [
        spans[k][0] + timedelta(days=int(rng.integers(0, (spans[k][1] - spans[k][0]).days + 1))) for k in kinds
    ]
    industry = {"tianwang": "00", "xueliang": "01", "zongzhi": "02"}
    network = {"tianwang": "0", "xueliang": "0", "zongzhi": "6"}
    ctype = np.where(rng.random(n) < 0.7, "132", "131")
    codes = [f"51142100{industry[k]}{ctype[i]}{network[k]}{i + 1:06d}" for i, k in enumerate(kinds)]
    # names from the grid each camera stands in
    tree = shapely.STRtree(U.grid_metric)
    pidx, gidx = tree.query(shapely.points(xy), predicate="intersects")
    first = np.unique(pidx, return_index=True)[1]
    grid_of = np.full(n, -1)
    grid_of[pidx[first]] = gidx[first]
    lost = np.flatnonzero(grid_of < 0)
    if len(lost):  # a jittered point off the county: move it into the nearest atom
        a = shapely.STRtree(L.atoms).nearest(shapely.points(xy[lost]))
        xy[lost] = shapely.get_coordinates(shapely.point_on_surface(L.atoms[a]))
        p2, g2 = tree.query(shapely.points(xy[lost]), predicate="intersects")
        f2 = np.unique(p2, return_index=True)[1]
        grid_of[lost[p2[f2]]] = g2[f2]
    keep = grid_of >= 0
    label = {"tianwang": "天网", "xueliang": "雪亮", "zongzhi": "综治"}
    seq: dict[tuple, int] = {}
    names = []
    for i in range(n):
        g = grid_of[i]
        if g < 0:
            names.append(None)
            continue
        v = L.grid_village[g]
        tt = L.village_town[v]
        key = (v, kinds[i])
        seq[key] = seq.get(key, 0) + 1
        names.append(f"{U.town_name[tt]}{U.village_name[v]}{label[kinds[i]]}{seq[key]:03d}")
    lon, lat = to_storage(xy[:, 0], xy[:, 1])
    cams = gpd.GeoDataFrame(
        {
            "device_code": codes,
            "name": names,
            "kind": kinds,
            "heading_deg": np.round(heading, 1) % 360,
            "fov_deg": fov,
            "range_m": np.round(rng_m),
            "status": status,
            "installed_on": installed,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=STORAGE_CRS,
    )
    return cams[keep].reset_index(drop=True)


def _inside_fixed(rng, L, pts, gen):
    pts = pts.copy()
    for _ in range(60):
        bad = ~shapely.contains_xy(L.main, pts[:, 0], pts[:, 1])
        if not bad.any():
            break
        pts[bad] = gen(np.flatnonzero(bad))
    bad = ~shapely.contains_xy(L.main, pts[:, 0], pts[:, 1])
    if bad.any():  # give up on those few: move them onto the nearest seat
        pts[bad] = L.town_xy[np.argmin(np.hypot(*(pts[bad][:, None, :] - L.town_xy[None]).transpose(2, 0, 1)), axis=1)]
    return pts
