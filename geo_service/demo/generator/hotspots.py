"""The hotspots planted among the incidents: where each pattern sits, its weekly counts (persistent,
new, intensifying, diminishing, sporadic), its extra incidents, and its record in the ground truth."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import shapely

from ._geo import to_storage
from .layout import Layout, _apportion
from .units import Units

# planted patterns: (kind, category, setting, radius_m, extra_count, weeks)
HOTSPOT_PLAN = [
    ("persistent", "public_service", "seat", 300, 620, (0, 52)),
    ("persistent", "security_hazard", "town", 350, 210, (0, 52)),
    ("persistent", "dispute", "rural", 400, 160, (0, 52)),
    ("persistent", "public_service", "street", 250, 460, (0, 52)),
    ("new", "security_hazard", "town", 300, 150, (30, 52)),
    ("new", "dispute", "rural", 350, 120, (30, 52)),
    ("intensifying", "public_service", "town", 300, 520, (4, 52)),
    ("intensifying", "security_hazard", "rural", 400, 170, (4, 52)),
    ("diminishing", "public_service", "street", 300, 470, (0, 30)),
    ("diminishing", "dispute", "town", 300, 130, (0, 30)),
    ("sporadic", "emergency", "rural", 500, 48, (0, 52)),
]


def _atom_of(L: Layout, xy):
    if not len(xy):
        return np.zeros(0, int)
    tree = shapely.STRtree(L.atoms)
    p, a = tree.query(shapely.points(xy), predicate="intersects")
    first = np.unique(p, return_index=True)[1]
    out = np.full(len(xy), -1)
    out[p[first]] = a[first]
    assert (out >= 0).all()
    return out


def _weekly_counts(kind, total, weeks, rng):
    w = np.zeros(52)
    a, b = weeks
    k = np.arange(52)
    sel = (k >= a) & (k < b)
    if kind == "persistent":
        w[sel] = 1.0 + 0.15 * rng.standard_normal(sel.sum())
    elif kind == "new":
        w[sel] = 1.0 + 0.1 * rng.standard_normal(sel.sum())
    elif kind == "intensifying":
        w[sel] = np.linspace(0.1, 1.0, sel.sum())
    elif kind == "diminishing":
        w[sel] = np.linspace(1.0, 0.08, sel.sum())
    elif kind == "sporadic":
        bursts = np.sort(rng.choice(np.arange(2, 50), 3, replace=False))
        w[bursts] = [1.0, 0.8, 0.6]
    w = np.clip(w, 0, None)
    return _apportion(w + 1e-12 * sel, total)


def _plan_hotspots(rng, L: Layout, U: Units, cat_codes, scale, start_day: date):
    """Choose the planted patterns' places and weekly counts; draw their extra incidents."""
    urban_atom = L.grid_urban[L.atom_grid]
    street_atom = L.atom_town < 4
    seat_atom = L.atom_town == 0
    special_atom = L.grid_special[L.atom_grid] >= 0
    exclave = np.asarray(L.adjacency.sum(1)).ravel() == 0
    inner_cache = {}
    chosen = []
    out, xys, weeks, cats, ids = [], [], [], [], []
    grid_tree = shapely.STRtree(U.grid_metric)
    for h, (kind, cat, setting, radius, extra, wk) in enumerate(HOTSPOT_PLAN):
        if setting == "seat":
            pool = seat_atom & urban_atom
        elif setting == "street":
            pool = street_atom & ~seat_atom & urban_atom
        elif setting == "town":
            pool = ~street_atom & urban_atom
        else:
            pool = ~urban_atom & (L.atom_pop / L.atom_area * 1e6 > 150)
        pool &= ~special_atom & ~exclave
        if radius not in inner_cache:
            inner = L.main.buffer(-(radius + 300))
            shapely.prepare(inner)
            inner_cache[radius] = inner
        inner = inner_cache[radius]
        cand = np.flatnonzero(pool & shapely.contains_xy(inner, L.atom_xy[:, 0], L.atom_xy[:, 1]))
        w = L.atom_pop[cand] + 1e-9
        for _ in range(500):
            a = int(rng.choice(cand, p=w / w.sum()))
            c = L.atom_xy[a]
            if all(np.hypot(*(c - o)) > 5000 for o in chosen):
                break
        chosen.append(c)
        total = max(int(round(extra * scale)), 3)
        counts = _weekly_counts(kind, total, wk, rng)
        # extra incidents: normal around the centre (sigma r/2), truncated at the radius
        pts = np.empty((0, 2))
        while len(pts) < total:
            p = c + rng.normal(0, radius / 2, (total * 2, 2))
            p = p[np.hypot(*(p - c).T) < radius]
            pts = np.vstack([pts, p])
        pts = pts[:total]
        xys.append(pts)
        weeks.append(np.repeat(np.arange(52), counts))
        cats.append(np.full(total, cat_codes.index(cat)))
        ids.append(np.full(total, h))
        circle = shapely.Point(*c).buffer(radius, quad_segs=32)
        gi = grid_tree.query(circle, predicate="intersects")
        codes = sorted(U.grid_code[g] for g in gi)
        lon, lat = to_storage(c[0], c[1])
        active = np.flatnonzero(counts)
        out.append(
            {
                "id": f"H{h + 1:02d}",
                "kind": kind,
                "category": cat,
                "centre_lon": round(float(lon), 7),
                "centre_lat": round(float(lat), 7),
                "radius_m": radius,
                "extra_count": int(total),
                "start": (start_day + timedelta(days=7 * int(active.min()))).isoformat(),
                "end": (start_day + timedelta(days=7 * int(active.max()) + 7)).isoformat(),
                "first_week": int(active.min()),
                "last_week": int(active.max()),
                "weekly_profile": {
                    "shape": {
                        "persistent": "flat",
                        "new": "flat from its start",
                        "intensifying": "linear rise",
                        "diminishing": "linear fall to zero",
                        "sporadic": "three one-week bursts",
                    }[kind],
                    "counts": [int(x) for x in counts],
                },
                "grid_codes": codes,
            }
        )
    return (out, np.vstack(xys), np.concatenate(weeks), np.concatenate(cats), np.concatenate(ids))
