"""A year of incidents: where and when each case is reported, by which source, in which category
and risk colour, its description, reporter and input coordinates, assembled with the hotspots'
extra incidents and each case's life into the incidents frame and the event log.

The calendar and rhythm are in ``rhythm``, the planted patterns in ``hotspots``, the statuses and
timelines in ``lifecycle``.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.rules import read_rule_table, time_limit_hours
from geo_service.times import DEFAULT_ZONE

from . import names as nm
from ._geo import STORAGE_CRS, datum_convert, to_storage
from .hotspots import _atom_of, _plan_hotspots
from .infra import _points_in_atoms
from .layout import Layout
from .lifecycle import _events, plan_lifecycle
from .rhythm import SOURCES, _day_weights, report_seconds
from .units import Units

SOURCE_SHARE = np.array([0.70, 0.12, 0.05, 0.08, 0.02, 0.03])
# affinity of each category for each source (rows follow categories.csv order)
AFFINITY = {
    "public_service": [1.0, 1.05, 0.8, 1.05, 1.0, 0.9],
    "publicity_education": [1.5, 0.03, 0.0, 0.05, 0.05, 0.0],
    "security_hazard": [0.9, 0.8, 1.6, 0.9, 0.6, 3.0],
    "dispute": [0.7, 1.5, 3.0, 1.5, 1.0, 0.2],
    "emergency": [0.5, 1.5, 4.0, 1.2, 1.5, 2.0],
    "instability": [0.8, 1.5, 2.0, 1.0, 4.0, 0.3],
    "other": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
}
COLOUR_P = {  # blue, yellow, red
    "public_service": [0.970, 0.026, 0.004],
    "publicity_education": [0.995, 0.005, 0.0],
    "security_hazard": [0.80, 0.17, 0.03],
    "dispute": [0.70, 0.25, 0.05],
    "emergency": [0.45, 0.35, 0.20],
    "instability": [0.40, 0.40, 0.20],
    "other": [0.95, 0.04, 0.01],
}
COLOURS = np.array(["blue", "yellow", "red"])
INPUT_DATUM = {  # (datum, probability) per source
    "grid_app": (["wgs84", "cgcs2000"], [0.88, 0.12]),
    "hotline_12345": (["gcj02"], [1.0]),
    "police_110": (["cgcs2000", "gcj02"], [0.7, 0.3]),
    "citizen": (["gcj02"], [1.0]),
    "online_sentiment": (["bd09", "gcj02"], [0.6, 0.4]),
    "video": (["cgcs2000"], [1.0]),
}


def build_incidents(
    rng,
    L: Layout,
    U: Units,
    village_road_name,
    period_start: datetime,
    period_end: datetime,
    scale: float = 1.0,
    progress=None,
):
    say = progress or (lambda m: None)
    cats = read_rule_table("categories")
    limits = read_rule_table("time_limits")
    cat_codes = list(cats["code"])
    cat_total = np.asarray(cats["annual_share"], int)
    if scale != 1.0:
        cat_total = np.maximum(np.rint(cat_total * scale).astype(int), 1)
    n_total = int(cat_total.sum())
    n_days = (period_end - period_start).days
    day_w = _day_weights(period_start.date(), n_days)
    T0 = period_start.timestamp()
    T_end = float(n_days * 86400)

    # ---- hotspots
    say("planting hotspots ...")
    hotspots, hs_xy, hs_week, hs_cat, hs_id = _plan_hotspots(rng, L, U, cat_codes, scale, period_start.date())
    extra_by_cat = np.bincount(hs_cat, minlength=len(cat_codes))
    bg_by_cat = cat_total - extra_by_cat

    # ---- background incidents
    say("placing and timing incidents ...")
    cat = np.repeat(np.arange(len(cat_codes)), bg_by_cat)
    urban_atom = L.grid_urban[L.atom_grid]
    aw = L.atom_pop * np.where(urban_atom, 1.3, 1.0)
    atom = rng.choice(len(L.atoms), len(cat), p=aw / aw.sum())
    xy = _points_in_atoms(rng, L, atom)
    # hotspot extras join
    hs_atom = _atom_of(L, hs_xy)
    cat = np.concatenate([cat, hs_cat])
    atom = np.concatenate([atom, hs_atom])
    xy = np.vstack([xy, hs_xy])
    hotspot_of = np.concatenate([np.full(n_total - len(hs_cat), -1), hs_id])
    n = len(cat)
    assert n == n_total

    # sources by category, fitted so the overall mix matches the target shares
    counts = np.bincount(cat, minlength=len(cat_codes)).astype(float)
    P = np.array([AFFINITY[c] for c in cat_codes], float) * SOURCE_SHARE
    for _ in range(30):
        P /= P.sum(1, keepdims=True)
        col = (counts[:, None] * P).sum(0)
        P *= (SOURCE_SHARE * counts.sum() / np.maximum(col, 1e-9))[None, :]
    P /= P.sum(1, keepdims=True)
    cdf = np.cumsum(P[cat], axis=1)
    src = (rng.random(n)[:, None] > cdf).sum(1)
    src = np.minimum(src, len(SOURCES) - 1)

    # times
    rep = report_seconds(rng, src, hotspot_of, hs_week, len(hs_cat), day_w, n_days)

    # order by time and give ids
    order = np.lexsort((np.arange(n), rep))
    cat, atom, xy, src, rep, hotspot_of = (a[order] for a in (cat, atom, xy, src, rep, hotspot_of))
    local = pd.to_datetime(T0 + rep, unit="s", utc=True).tz_convert(DEFAULT_ZONE)
    year = local.year.to_numpy()
    seq = np.zeros(n, int)
    for y in np.unique(year):
        sel = year == y
        seq[sel] = np.arange(1, sel.sum() + 1)
    ext = np.array([f"RS{y}{s:07d}" for y, s in zip(year, seq)], dtype=object)

    grid = L.atom_grid[atom]
    village = L.grid_village[grid]
    town = L.village_town[village]

    # risk colour and time limit
    colour = np.empty(n, int)
    for c_i, c in enumerate(cat_codes):
        sel = cat == c_i
        colour[sel] = rng.choice(3, sel.sum(), p=COLOUR_P[c])
    limit_tab = np.array([[time_limit_hours(limits, c, k) for k in COLOURS] for c in cat_codes], float)
    limit_h = limit_tab[cat, colour]

    # ---- statuses
    say("working the cases through their states ...")
    src_name = np.asarray(SOURCES)[src]
    life = plan_lifecycle(rng, rep, src_name, colour, limit_h, town, len(L.town_xy), T_end)

    # ---- text, reporters, input coordinates
    say("writing descriptions and input coordinates ...")
    vname = U.village_name[village]
    rname = village_road_name[village]
    desc = np.empty(n, dtype=object)
    for c_i, c in enumerate(cat_codes):
        sel = np.flatnonzero(cat == c_i)
        tpl = nm.DESCRIPTIONS[c]
        k = rng.integers(0, len(tpl), len(sel))
        desc[sel] = [tpl[j].format(p=vname[i], r=rname[i]) for i, j in zip(sel, k)]
    with_reporter = np.isin(src_name, ["hotline_12345", "citizen", "police_110"])
    rep_name = np.full(n, None, dtype=object)
    rep_phone = np.full(n, None, dtype=object)
    k = int(with_reporter.sum())
    rep_name[with_reporter] = nm.person_names(rng, k)[0]
    rep_phone[with_reporter] = nm.phones(rng, k, unique=False)

    lon, lat = to_storage(xy[:, 0], xy[:, 1])
    in_datum = np.empty(n, dtype=object)
    for s in SOURCES:
        sel = src_name == s
        opts, p = INPUT_DATUM[s]
        in_datum[sel] = np.asarray(opts, dtype=object)[rng.choice(len(opts), sel.sum(), p=p)]
    in_lon, in_lat = lon.copy(), lat.copy()
    for d in ("wgs84", "gcj02", "bd09"):
        sel = in_datum == d
        if sel.any():
            in_lon[sel], in_lat[sel] = datum_convert(lon[sel], lat[sel], "cgcs2000", d)

    to_dt = lambda s: pd.to_datetime(T0 + s, unit="s", utc=True).tz_convert(DEFAULT_ZONE)
    incidents = gpd.GeoDataFrame(
        {
            "external_id": ext,
            "source": src_name.astype(object),
            "category": np.asarray(cat_codes, dtype=object)[cat],
            "reported_at": to_dt(np.floor(rep)),
            "description": desc,
            "reporter_name": rep_name,
            "reporter_phone": rep_phone,
            "risk_colour": COLOURS[colour].astype(object),
            "status": life.status,
            "dispatched_at": to_dt(np.floor(life.disp_at)),
            "deadline": to_dt(np.floor(life.disp_at) + limit_h * 3600),
            "resolved_at": to_dt(np.floor(life.res_at)),
            "closed_at": to_dt(np.floor(life.close_at)),
            "satisfaction": life.satisfaction,
            "input_datum": in_datum,
            "input_lon": in_lon,
            "input_lat": in_lat,
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=STORAGE_CRS,
    )

    say("writing the case timelines ...")
    events = _events(
        rng, ext, life.status, src_name, colour, life.self_handled, life.times, life.sat, life.visited, T_end, to_dt
    )
    truth = {
        "hotspots": hotspots,
        "town_late_rate": {U.town_code[t]: round(float(life.late_rate[t]), 4) for t in range(len(life.late_rate))},
    }
    return incidents, events, truth
