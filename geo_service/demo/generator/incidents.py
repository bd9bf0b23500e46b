"""A year of incidents with their timelines, and the hotspots planted among them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.rules import read_rule_table, time_limit_hours

from . import names as nm
from ._geo import STORAGE_CRS, datum_convert, to_storage
from .infra import _points_in_atoms
from .shapes import Layout, _apportion
from .units import Units

CLOSED_SHARE = 0.9553
SOURCES = ["grid_app", "hotline_12345", "police_110", "citizen", "online_sentiment", "video"]
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
WEEKDAY = {  # Monday..Sunday
    "grid_app": [1.0, 1.02, 1.0, 0.98, 0.92, 0.30, 0.22],
    "hotline_12345": [1.05, 1.0, 1.0, 1.0, 0.98, 0.86, 0.82],
    "police_110": [0.95, 0.95, 0.95, 1.0, 1.05, 1.15, 1.1],
    "citizen": [1.0, 1.0, 1.0, 1.0, 0.95, 0.7, 0.6],
    "online_sentiment": [1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.05],
    "video": [1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.5],
}
HOURLY = {
    "grid_app": [0.02, 0.01, 0.01, 0.01, 0.01, 0.03, 0.15, 0.7, 2.6, 4.0, 4.2, 3.4, 1.1, 0.8, 2.7,
                 3.6, 3.8, 2.9, 1.0, 0.4, 0.2, 0.1, 0.05, 0.03],
    "hotline_12345": [0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 3.0, 4.0, 4.0, 3.5, 2.4, 2.3, 3.2,
                      3.5, 3.3, 3.0, 2.2, 2.0, 1.8, 1.4, 0.9, 0.5],
    "police_110": [1.2, 0.9, 0.6, 0.5, 0.4, 0.5, 0.8, 1.2, 1.8, 2.2, 2.3, 2.2, 2.0, 2.0, 2.1, 2.2,
                   2.3, 2.4, 2.6, 2.8, 2.8, 2.5, 2.0, 1.6],
    "citizen": [0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.4, 1.2, 2.8, 3.6, 3.6, 3.0, 2.0, 1.8, 2.9, 3.3,
                3.1, 2.6, 1.8, 1.4, 1.2, 0.8, 0.4, 0.2],
    "online_sentiment": [0.8, 0.5, 0.3, 0.2, 0.2, 0.2, 0.4, 0.8, 1.2, 1.5, 1.6, 1.7, 1.8, 1.6, 1.5,
                         1.5, 1.6, 1.7, 1.9, 2.3, 2.6, 2.6, 2.1, 1.4],
    "video": [0.5, 0.4, 0.4, 0.4, 0.4, 0.5, 0.8, 1.5, 2.5, 2.8, 2.8, 2.6, 2.0, 2.0, 2.6, 2.8, 2.7,
              2.4, 1.8, 1.5, 1.2, 1.0, 0.8, 0.6],
}
OFFICE_SOURCES = {"grid_app", "citizen", "video"}  # these follow working days and holidays
SPRING_FESTIVAL = date(2026, 2, 17)
HOLIDAYS = [  # (first, last) public holidays of the period
    (date(2026, 1, 1), date(2026, 1, 3)), (date(2026, 2, 15), date(2026, 2, 23)),
    (date(2026, 4, 4), date(2026, 4, 6)), (date(2026, 5, 1), date(2026, 5, 5)),
    (date(2026, 6, 19), date(2026, 6, 21)), (date(2026, 9, 25), date(2026, 9, 27)),
    (date(2026, 10, 1), date(2026, 10, 7)),
]
INPUT_DATUM = {  # (datum, probability) per source
    "grid_app": (["wgs84", "cgcs2000"], [0.88, 0.12]),
    "hotline_12345": (["gcj02"], [1.0]),
    "police_110": (["cgcs2000", "gcj02"], [0.7, 0.3]),
    "citizen": (["gcj02"], [1.0]),
    "online_sentiment": (["bd09", "gcj02"], [0.6, 0.4]),
    "video": (["cgcs2000"], [1.0]),
}
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


def _day_weights(period_start: date, n_days: int) -> dict[str, np.ndarray]:
    days = np.array([period_start + timedelta(days=i) for i in range(n_days)])
    dow = np.arange(n_days) % 7
    sf = (SPRING_FESTIVAL - period_start).days
    d = np.arange(n_days)
    holiday = np.zeros(n_days, bool)
    for a, b in HOLIDAYS:
        holiday |= (days >= a) & (days <= b)
    out = {}
    for s in SOURCES:
        w = np.asarray(WEEKDAY[s])[dow]
        dip = 0.62 if s in OFFICE_SOURCES else 0.45
        w = w * (1 - dip * np.exp(-(((d - sf) / 5.5) ** 2)))
        if s in OFFICE_SOURCES:
            w = np.where(holiday, np.minimum(w, WEEKDAY[s][6]), w)
        # a mild season: more cases in the wet summer months
        w = w * (1 + 0.08 * np.sin(2 * np.pi * (d - 120) / 364))
        out[s] = w
    return out


def _sample_in_weeks(rng, weights_by_day, weeks):
    """A day index in each given week, by the day weights."""
    W = weights_by_day[: 52 * 7].reshape(52, 7)
    cdf = np.cumsum(W[weeks], axis=1)
    u = rng.random(len(weeks)) * cdf[:, -1]
    return weeks * 7 + (u[:, None] > cdf).sum(1)


def build_incidents(rng, L: Layout, U: Units, village_road_name, period_start: datetime,
                    period_end: datetime, scale: float = 1.0, progress=None):
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
    day = np.empty(n, int)
    hs = hotspot_of >= 0
    for s_i, s in enumerate(SOURCES):
        sel = (src == s_i) & ~hs
        p = day_w[s] / day_w[s].sum()
        day[sel] = rng.choice(n_days, sel.sum(), p=p)
        sel_h = (src == s_i) & hs
        if sel_h.any():
            day[sel_h] = _sample_in_weeks(rng, day_w[s], hs_week[np.flatnonzero(sel_h) - (n - len(hs_cat))])
    hour = np.empty(n, int)
    for s_i, s in enumerate(SOURCES):
        sel = src == s_i
        p = np.asarray(HOURLY[s]) / np.sum(HOURLY[s])
        hour[sel] = rng.choice(24, sel.sum(), p=p)
    rep = day * 86400.0 + hour * 3600.0 + rng.integers(0, 3600, n)

    # order by time and give ids
    order = np.lexsort((np.arange(n), rep))
    cat, atom, xy, src, rep, hotspot_of = (a[order] for a in (cat, atom, xy, src, rep, hotspot_of))
    local = pd.to_datetime(T0 + rep, unit="s", utc=True).tz_convert("Asia/Shanghai")
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
    n_closed = int(round(CLOSED_SHARE * n))
    age = (T_end - rep) / 86400.0
    n_rej = int(round(0.0016 * n))
    n_mer = int(round(0.0026 * n))
    n_open = n - n_closed - n_rej - n_mer
    status = np.full(n, "closed", dtype=object)
    old = np.flatnonzero(age > 2)
    pick = rng.choice(old, n_rej + n_mer, replace=False)
    status[pick[:n_rej]] = "rejected"
    status[pick[n_rej:]] = "merged"
    free = np.flatnonzero(status == "closed")
    key = np.log(np.exp(-age[free] / 9.0) + 0.004) + rng.gumbel(size=len(free))
    open_idx = free[np.argsort(-key, kind="stable")[:n_open]]
    is_open = np.zeros(n, bool)
    is_open[open_idx] = True

    # planned timeline, seconds from the period start
    src_name = np.asarray(SOURCES)[src]
    self_handled = (src_name == "grid_app") & (rng.random(n) < 0.62) & (colour == 0)
    lognorm = lambda med, sig: med * np.exp(rng.normal(0, sig, n))
    d_disp = np.select(
        [self_handled, src_name == "grid_app", src_name == "video", src_name == "police_110"],
        [rng.uniform(30, 600, n), lognorm(2400, 0.8), lognorm(1500, 0.7), lognorm(1800, 0.8)],
        lognorm(6000, 0.9),
    )
    tod = rep % 86400
    night = ((tod < 7 * 3600) | (tod >= 22 * 3600)) & (src_name != "police_110") & ~self_handled
    next_morning = (rep // 86400 + (tod >= 22 * 3600)) * 86400 + 8 * 3600 + rng.uniform(0, 5400, n)
    disp = np.where(night, np.maximum(next_morning, rep + d_disp), rep + d_disp)
    acc = disp + np.where(self_handled, rng.uniform(5, 120, n), lognorm(1500, 0.9))
    start = acc + np.where(self_handled, rng.uniform(5, 300, n), lognorm(3600, 1.0))
    deadline = disp + limit_h * 3600
    late_rate = _town_late_rates(rng, len(L.town_xy))
    late = rng.random(n) < late_rate[town]
    late &= ~self_handled
    u = np.clip(rng.beta(1.4, 3.2, n), 0.01, 0.95)
    res = np.where(
        self_handled, start + rng.uniform(600, 3 * 3600, n),
        np.where(late, deadline + limit_h * 3600 * rng.exponential(0.25, n) + 600,
                 np.maximum(disp + limit_h * 3600 * u, start + 600)),
    )
    res = np.where(~late & ~self_handled, np.minimum(res, deadline - 60), res)
    res = np.maximum(res, start + 60)
    close = res + np.maximum(lognorm(20 * 3600, 0.8), 1800)

    # closed cases must be closed before the period ends: squeeze the recent ones
    closed = status == "closed"
    closed &= ~is_open
    over = closed & (close >= T_end - 60)
    f = (T_end - 60 - rep[over]) * rng.uniform(0.5, 0.95, over.sum()) / (close[over] - rep[over])
    for arr in (disp, acc, start, res, close):
        arr[over] = rep[over] + (arr[over] - rep[over]) * f
    deadline = disp + limit_h * 3600

    # open cases: the furthest state reached by the period's end
    stage_t = np.column_stack([disp, acc, start, res])
    reached = (stage_t < T_end).sum(1)
    stuck = reached == 4
    stuck_stage = rng.choice([1, 2, 3, 4], n, p=[0.12, 0.18, 0.45, 0.25])
    stage = np.where(stuck, stuck_stage, reached)
    open_state = np.array(["reported", "dispatched", "accepted", "in_progress", "resolved"], dtype=object)
    status[is_open] = open_state[stage[is_open]]
    status[closed] = "closed"

    has_disp = np.isin(status, ["dispatched", "accepted", "in_progress", "resolved", "closed"])
    has_acc = np.isin(status, ["accepted", "in_progress", "resolved", "closed"])
    has_start = np.isin(status, ["in_progress", "resolved", "closed"])
    has_res = np.isin(status, ["resolved", "closed"])
    has_close = status == "closed"
    nan = np.nan
    disp_at = np.where(has_disp, disp, nan)
    deadline_at = np.where(has_disp, deadline, nan)
    res_at = np.where(has_res, res, nan)
    close_at = np.where(has_close, close, nan)

    # satisfaction from the follow-up visit
    sat_p = np.array([0.02, 0.03, 0.08, 0.25, 0.62])
    sat = rng.choice(5, n, p=sat_p) + 1
    was_late = has_res & (res > deadline)
    sat = np.where(was_late, np.maximum(sat - rng.integers(0, 3, n), 1), sat)
    reached_visit = rng.random(n) > 0.07
    satisfaction = pd.array(np.where(has_close & reached_visit, sat, 0), dtype="Int64")
    satisfaction[~(has_close & reached_visit)] = pd.NA

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

    to_dt = lambda s: pd.to_datetime(T0 + s, unit="s", utc=True).tz_convert("Asia/Shanghai")
    incidents = gpd.GeoDataFrame({
        "external_id": ext, "source": src_name.astype(object), "category": np.asarray(cat_codes, dtype=object)[cat],
        "reported_at": to_dt(np.floor(rep)), "description": desc, "reporter_name": rep_name,
        "reporter_phone": rep_phone, "risk_colour": COLOURS[colour].astype(object), "status": status,
        "dispatched_at": to_dt(np.floor(disp_at)), "deadline": to_dt(np.floor(disp_at) + limit_h * 3600),
        "resolved_at": to_dt(np.floor(res_at)), "closed_at": to_dt(np.floor(close_at)),
        "satisfaction": satisfaction, "input_datum": in_datum, "input_lon": in_lon, "input_lat": in_lat,
    }, geometry=gpd.points_from_xy(lon, lat), crs=STORAGE_CRS)

    say("writing the case timelines ...")
    times = dict(rep=np.floor(rep), disp=np.floor(disp_at), acc=np.floor(np.where(has_acc, acc, nan)),
                 start=np.floor(np.where(has_start, start, nan)), res=np.floor(res_at),
                 close=np.floor(close_at), deadline=np.floor(disp_at) + limit_h * 3600)
    events = _events(rng, ext, status, src_name, colour, self_handled, times, sat, has_close & reached_visit,
                     T_end, to_dt)
    truth = {
        "hotspots": hotspots,
        "town_late_rate": {U.town_code[t]: round(float(late_rate[t]), 4) for t in range(len(late_rate))},
    }
    return incidents, events, truth


def _events(rng, ext, status, src, colour, self_handled, t, sat, visited, T_end, to_dt):
    n = len(ext)
    handler = np.array(["grid_worker", "village_cadre", "town_department_leader"], dtype=object)[colour]
    reporter = np.where(src == "grid_app", "grid_worker",
                        np.where(np.isin(src, ["video", "online_sentiment"]), "county_command_centre", "reporter"))
    dispatcher = np.where(self_handled, "system",
                          np.where(np.isin(src, ["hotline_12345", "police_110", "online_sentiment", "video"]),
                                   "county_command_centre", "town_command_centre"))
    parts = []

    def add(mask, at, actor, action, frm, to, note, step):
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        actor = np.broadcast_to(np.asarray(actor, dtype=object), (n,))[idx]
        note = np.broadcast_to(np.asarray(note, dtype=object), (n,))[idx]
        parts.append(pd.DataFrame({
            "i": idx, "step": step, "at_s": at[idx], "actor": actor, "action": action,
            "from_status": frm, "to_status": to, "note": note,
        }))

    everyone = np.ones(n, bool)
    add(everyone, t["rep"], reporter, "report", None, "reported", "上报", 0)
    rej = status == "rejected"
    rej_at = t["rep"] + rng.uniform(1800, 6 * 3600, n)
    add(rej, rej_at, "town_command_centre", "reject", "reported", "rejected", "不属于受理范围，不予受理", 1)
    mer = status == "merged"
    add(mer, t["rep"] + rng.uniform(600, 4 * 3600, n), "system", "merge", "reported", "merged",
        "重复上报，已合并至同一事项的工单", 1)
    d = ~np.isnan(t["disp"])
    add(d, t["disp"], dispatcher, "dispatch", "reported", "dispatched",
        np.where(self_handled, "就地处置，系统自动派遣至本网格", "派遣至属地网格办理"), 2)
    a = ~np.isnan(t["acc"])
    add(a, t["acc"], handler, "accept", "dispatched", "accepted", "已签收", 3)
    s = ~np.isnan(t["start"])
    add(s, t["start"], handler, "start", "accepted", "in_progress", "开始处置", 4)
    r = ~np.isnan(t["res"])
    add(r, t["res"], handler, "resolve", "in_progress", "resolved", "处置完毕，待回访", 6)
    c = ~np.isnan(t["close"])
    notes = np.array(["回访满意度1", "回访满意度2", "回访满意度3", "回访满意度4", "回访满意度5"], dtype=object)
    add(c, t["close"], "town_command_centre", "close", "resolved", "closed",
        np.where(visited, notes[np.clip(sat - 1, 0, 4)], "回访未接通，按期办结"), 7)
    # urging overdue work: late closed cases, and open cases past their deadline
    end_of_work = np.where(r, t["res"], T_end)
    overdue = d & (t["deadline"] < end_of_work) & ~np.isnan(t["deadline"])
    urge_at = t["deadline"] + rng.uniform(0.1, 0.9, n) * (end_of_work - t["deadline"])
    add(overdue, np.floor(urge_at), "county_command_centre", "urge", None, None, "超时限督办", 5)
    # a few refused requests for more time (the deadline stays the rule's)
    ext_req = overdue & (rng.random(n) < 0.06)
    ext_at = t["deadline"] - rng.uniform(0.05, 0.3, n) * (t["deadline"] - np.where(s, t["start"], t["disp"]))
    add(ext_req & (ext_at > np.where(s, t["start"], t["disp"])), np.floor(ext_at), handler, "extend", None, None,
        "申请延期，未获批准，仍按原时限考核", 5)
    ev = pd.concat(parts, ignore_index=True)
    ev = ev.sort_values(["i", "at_s", "step"], kind="stable").reset_index(drop=True)
    out = pd.DataFrame({
        "external_id": ext[ev["i"].to_numpy()], "at": to_dt(ev["at_s"].to_numpy()),
        "actor": ev["actor"].to_numpy(), "action": ev["action"].to_numpy(),
        "from_status": ev["from_status"].to_numpy(), "to_status": ev["to_status"].to_numpy(),
        "note": ev["note"].to_numpy(),
    })
    return out


def _town_late_rates(rng, n_towns):
    """Share of dispatched (not on-the-spot) cases each town resolves late: mostly 8-20%, a few
    outliers; on-the-spot cases are never late, so about 7% of all closed cases are."""
    r = np.clip(rng.beta(8, 50, n_towns), 0.06, 0.22)
    order = rng.permutation(n_towns)
    r[order[:2]] = [0.32, 0.28]     # two towns notably late
    r[order[2:4]] = [0.04, 0.05]    # two notably punctual
    return r


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
        out.append({
            "id": f"H{h + 1:02d}", "kind": kind, "category": cat,
            "centre_lon": round(float(lon), 7), "centre_lat": round(float(lat), 7),
            "radius_m": radius, "extra_count": int(total),
            "start": (start_day + timedelta(days=7 * int(active.min()))).isoformat(),
            "end": (start_day + timedelta(days=7 * int(active.max()) + 7)).isoformat(),
            "first_week": int(active.min()), "last_week": int(active.max()),
            "weekly_profile": {
                "shape": {"persistent": "flat", "new": "flat from its start",
                          "intensifying": "linear rise", "diminishing": "linear fall to zero",
                          "sporadic": "three one-week bursts"}[kind],
                "counts": [int(x) for x in counts],
            },
            "grid_codes": codes,
        })
    return (out, np.vstack(xys), np.concatenate(weeks), np.concatenate(cats), np.concatenate(ids))
