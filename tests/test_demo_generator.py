"""The demo county generator: counts, codes, topology, locations, times, rhythm, hotspots.

The full county is generated once for the module (seed 511421) and once more for determinism;
a different seed is checked with fewer incidents (``incident_scale``) to keep the file quick.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely

from geo_service.coordinates import datum
from geo_service.demo.generator import generate, write_outputs
from geo_service.demo.generator.generate import _generate
from geo_service.demo.generator.units import sequence_rank
from geo_service.rules import read_rule_table, time_limit_hours

SEED = 511421
METRIC = "EPSG:4544"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo():
    return generate(SEED)


@pytest.fixture(scope="module")
def metric(demo):
    return {name: getattr(demo, name).to_crs(METRIC) for name in ("county", "towns", "villages", "grids")}


def _hash_geoms(geoms) -> str:
    h = hashlib.sha256()
    for wkb in shapely.to_wkb(np.asarray(geoms), hex=False):
        h.update(wkb)
    return h.hexdigest()


def _hash_frame(frame: pd.DataFrame) -> str:
    plain = frame.drop(columns=[frame.geometry.name]) if hasattr(frame, "geometry") else frame
    h = pd.util.hash_pandas_object(plain.astype(str), index=False).to_numpy()
    digest = hashlib.sha256(h.tobytes())
    if hasattr(frame, "geometry"):
        digest.update(_hash_geoms(frame.geometry.values).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------- counts


def test_counts(demo):
    assert 28 <= len(demo.towns) <= 32
    assert len(demo.villages) == 293
    level1 = demo.grids[demo.grids["level"] == 1]
    level2 = demo.grids[demo.grids["level"] == 2]
    assert 780 <= len(level1) <= 830
    assert 150 <= len(level2) <= 320
    assert 5500 <= len(demo.cameras) <= 6500
    assert len(demo.incidents) == 236_500
    assert 900_000 <= int(demo.county["population"].iloc[0]) <= 1_100_000
    # populations add up the hierarchy
    assert demo.towns["population"].sum() == demo.county["population"].iloc[0]
    assert demo.villages["population"].sum() == demo.county["population"].iloc[0]
    assert level1["population"].sum() == demo.county["population"].iloc[0]
    by_parent = level2.groupby("parent_code")["population"].sum()
    assert (by_parent == level1.set_index("code").loc[by_parent.index, "population"]).all()


def test_category_counts_and_closed_share(demo):
    cats = read_rule_table("categories")
    want = dict(zip(cats["code"], cats["annual_share"]))
    got = demo.incidents["category"].value_counts().to_dict()
    assert got == want
    closed = (demo.incidents["status"] == "closed").mean()
    assert abs(closed - 0.9553) <= 0.0001
    assert set(demo.incidents["status"]) <= {
        "reported",
        "dispatched",
        "accepted",
        "in_progress",
        "resolved",
        "closed",
        "rejected",
        "merged",
        "reopened",
    }
    sources = set(read_rule_table("sources")["code"])
    assert set(demo.incidents["source"]) == sources
    share = demo.incidents["source"].value_counts(normalize=True)
    assert 0.66 < share["grid_app"] < 0.74


def test_grid_workers_and_vacancies(demo):
    a = demo.assignments
    roles = set(read_rule_table("roles")["code"])
    assert set(a["role"]) <= roles
    current = a[a["valid_to"].isna()]
    workers = current[current["role"] == "grid_worker"]
    assert len(workers) == 812
    assert workers["officer_code"].is_unique
    level1 = set(demo.grids.loc[demo.grids["level"] == 1, "code"])
    covered = set(workers["unit_code"])
    vacant = sorted(level1 - covered)
    truth = sorted(v["unit_code"] for v in demo.ground_truth["vacancies"] if v["role"] == "grid_worker")
    assert len(vacant) == 2 and vacant == truth
    secretaries = set(current.loc[current["role"] == "village_party_secretary", "unit_code"])
    missing = sorted(set(demo.villages["code"]) - secretaries)
    assert missing == sorted(
        v["unit_code"] for v in demo.ground_truth["vacancies"] if v["role"] == "village_party_secretary"
    )
    # history: some workers replaced mid-period, the successor starting the next day
    ended = a[(a["role"] == "grid_worker") & a["valid_to"].notna()]
    replaced = ended[ended["unit_code"].isin(workers["unit_code"])]
    assert len(replaced) >= 3
    for _, row in replaced.iterrows():
        nxt = workers[workers["unit_code"] == row["unit_code"]]["valid_from"]
        assert (nxt == row["valid_to"] + pd.Timedelta(days=1)).any()
    assert (a["valid_from"] >= date(2024, 1, 1)).all()
    # officers
    o = demo.officers
    assert o["officer_code"].is_unique and o["officer_code"].str.fullmatch(r"O\d{6}").all()
    assert o["phone"].is_unique and o["phone"].str.fullmatch(r"1[35789]\d{9}").all()
    assert set(o["gender"]) == {"M", "F"}
    assert set(a["officer_code"]) <= set(o["officer_code"])


# --------------------------------------------------------------------------------- codes


def test_codes(demo):
    towns, villages, grids = demo.towns, demo.villages, demo.grids
    assert demo.county["code"].iloc[0] == "511421000000"
    assert towns["code"].str.fullmatch(r"511421\d{3}000").all() and towns["code"].is_unique
    num = towns["code"].str[6:9].astype(int)
    assert ((num < 100) == (towns["kind"] == "street")).all()
    assert (((num >= 100) & (num < 200)) == (towns["kind"] == "town")).all()
    assert ((num >= 200) == (towns["kind"] == "township")).all()
    assert villages["code"].str.fullmatch(r"\d{12}").all() and villages["code"].is_unique
    assert (villages["code"].str[:9] + "000" == villages["parent_code"]).all()
    assert villages["parent_code"].isin(towns["code"]).all()
    seq = villages["code"].str[9:].astype(int)
    assert ((seq < 200) == (villages["kind"] == "community")).all()
    assert (villages["kind"] == "community").eq(villages["urban"]).all()
    assert not villages.duplicated(["parent_code", "name"]).any()
    assert grids["code"].is_unique
    l1 = grids[grids["level"] == 1]
    l2 = grids[grids["level"] == 2]
    assert l1["code"].str.fullmatch(r"\d{15}").all() and l1["parent_code"].isna().all()
    assert (l1["code"].str[:12] == l1["village_code"]).all()
    assert l1["village_code"].isin(villages["code"]).all()
    assert l2["code"].str.fullmatch(r"\d{18}").all()
    assert (l2["code"].str[:15] == l2["parent_code"]).all()
    assert l2["parent_code"].isin(l1["code"]).all()
    assert set(grids["kind"]) == {"urban", "rural", "special"}
    # every village has grids numbered 001.. without gaps
    for _, g in l1.groupby("village_code"):
        assert sorted(g["code"].str[12:].astype(int)) == list(range(1, len(g) + 1))
    cams = demo.cameras
    assert cams["device_code"].is_unique and cams["device_code"].str.fullmatch(r"51142100\d{12}").all()
    assert cams["device_code"].str[10:13].isin(["131", "132"]).all()


def test_grid_sequence_west_east_north_south(demo, metric):
    grids, villages = metric["grids"], metric["villages"].set_index("code")
    l1 = grids[grids["level"] == 1]
    checked = 0
    for vcode, g in l1.groupby("village_code"):
        c = g.geometry.centroid
        rank = sequence_rank(c.x.to_numpy(), c.y.to_numpy(), villages.loc[vcode].geometry.area)
        assert (g["code"].str[12:].astype(int).to_numpy() == rank + 1).all(), vcode
        checked += 1
    l2 = grids[grids["level"] == 2]
    parents = l1.set_index("code")
    for pcode, g in l2.groupby("parent_code"):
        c = g.geometry.centroid
        rank = sequence_rank(c.x.to_numpy(), c.y.to_numpy(), parents.loc[pcode].geometry.area)
        assert (g["code"].str[15:].astype(int).to_numpy() == rank + 1).all(), pcode
    assert checked == 293


# --------------------------------------------------------------------------------- topology


def _nested(children, parents, child_key, tol=1.0):
    parent_geom = parents.set_index("code").geometry
    for geom, key in zip(children.geometry, children[child_key]):
        assert shapely.difference(geom, parent_geom.loc[key]).area < tol, key


def _sibling_overlaps(frame, key):
    tree = shapely.STRtree(frame.geometry.values)
    i, j = tree.query(frame.geometry.values, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    same = frame[key].to_numpy()[i] == frame[key].to_numpy()[j] if key else np.ones(len(i), bool)
    areas = shapely.area(shapely.intersection(frame.geometry.values[i[same]], frame.geometry.values[j[same]]))
    return areas.max() if len(areas) else 0.0


def test_geometries_valid(demo):
    for name in ("county", "towns", "villages", "grids"):
        frame = getattr(demo, name)
        assert frame.crs.to_epsg() == 4490
        assert frame.is_valid.all(), name
        assert (~frame.is_empty).all(), name
        assert (frame.geom_type == "MultiPolygon").all(), name
    for name in ("roads", "cameras", "incidents"):
        assert getattr(demo, name).crs.to_epsg() == 4490
    assert (demo.roads.geom_type == "LineString").all()
    multi = demo.grids[(demo.grids["level"] == 1) & (demo.grids.geometry.apply(lambda g: len(g.geoms)) > 1)]
    assert len(multi) == 1  # the exclave's grid, and nothing else
    assert (demo.grids[demo.grids["level"] == 1].geometry.apply(lambda g: len(g.geoms)) <= 2).all()


def test_topology(metric):
    county, towns, villages, grids = metric["county"], metric["towns"], metric["villages"], metric["grids"]
    l1 = grids[grids["level"] == 1]
    l2 = grids[grids["level"] == 2]
    _nested(villages, towns, "parent_code")
    _nested(l1, villages, "village_code")
    _nested(l2, l1, "parent_code")
    assert _sibling_overlaps(towns, None) < 1.0
    assert _sibling_overlaps(villages, None) < 1.0
    assert _sibling_overlaps(l1, None) < 1.0
    assert _sibling_overlaps(l2, None) < 1.0
    area = county.geometry.iloc[0].area
    for frame in (towns, villages, l1):
        assert abs(frame.area.sum() - area) / area < 1e-6
        assert shapely.union_all(frame.geometry.values).symmetric_difference(county.geometry.iloc[0]).area / area < 1e-6
    # level-2 grids cover their parents exactly
    parent_area = l1.set_index("code").geometry.area
    sums = l2.groupby("parent_code").apply(lambda g: g.area.sum())
    assert np.allclose(sums.to_numpy(), parent_area.loc[sums.index].to_numpy(), rtol=1e-7)


def test_county_outline_is_the_real_one(demo):
    src = json.loads(
        (__import__("pathlib").Path(__file__).resolve().parent.parent / "boundaries/sources/511421.geojson").read_text(
            encoding="utf-8"
        )
    )
    real = datum.convert_geometry(shapely.geometry.shape(src), "gcj02", "cgcs2000")
    county = demo.county.geometry.iloc[0]
    assert county.symmetric_difference(real).area / real.area < 1e-4


# --------------------------------------------------------------------------------- incidents


def test_incident_locations(demo, metric):
    inc = demo.incidents
    county = demo.county.geometry.iloc[0]
    main = max(county.geoms, key=lambda p: p.area)
    x, y = shapely.get_coordinates(inc.geometry.values).T
    assert shapely.contains_xy(main, x, y).all()
    l1 = demo.grids[demo.grids["level"] == 1]
    tree = shapely.STRtree(l1.geometry.values)
    pts, _ = tree.query(inc.geometry.values, predicate="intersects")
    hits = np.bincount(pts, minlength=len(inc))
    assert (hits == 1).all()
    # the input coordinates, converted back, are the stored point (within 0.5 m)
    lon, lat = inc["input_lon"].to_numpy(), inc["input_lat"].to_numpy()
    back_lon, back_lat = lon.copy(), lat.copy()
    for d, rows in inc.groupby("input_datum").groups.items():
        rows = inc.index.get_indexer(rows)
        back_lon[rows], back_lat[rows] = datum.convert(lon[rows], lat[rows], d, "cgcs2000")
    dx = (back_lon - x) * 111_320 * np.cos(np.radians(y))
    dy = (back_lat - y) * 110_540
    assert np.hypot(dx, dy).max() < 0.5
    # the datum mix: GCJ-02 inputs really are offset by hundreds of metres
    gcj = (inc["input_datum"] == "gcj02").to_numpy()
    off = np.hypot((lon[gcj] - x[gcj]) * 96_000, (lat[gcj] - y[gcj]) * 110_540)
    assert np.median(off) > 100
    assert set(inc["input_datum"]) == {"wgs84", "cgcs2000", "gcj02", "bd09"}


def test_incident_times(demo):
    inc = demo.incidents
    start, end = demo.period_start, demo.period_end
    assert start.weekday() == 0 and (end - start).days == 364
    assert str(start.tzinfo) == "Asia/Shanghai" or start.utcoffset().total_seconds() == 8 * 3600
    rep = inc["reported_at"]
    assert str(rep.dt.tz) == "Asia/Shanghai"
    assert (rep >= start).all() and (rep < end).all()
    for a, b in (("reported_at", "dispatched_at"), ("dispatched_at", "resolved_at"), ("resolved_at", "closed_at")):
        both = inc[a].notna() & inc[b].notna()
        assert (inc.loc[both, a] <= inc.loc[both, b]).all(), (a, b)
    closed = inc["status"] == "closed"
    assert inc.loc[closed, ["dispatched_at", "resolved_at", "closed_at"]].notna().all().all()
    assert (inc.loc[closed, "closed_at"] < end).all()
    assert inc.loc[~closed, "closed_at"].isna().all()
    assert inc.loc[inc["status"] == "reported", "dispatched_at"].isna().all()
    # deadlines are the rules'
    limits = read_rule_table("time_limits")
    table = {
        (c, k): time_limit_hours(limits, c, k) for c in inc["category"].unique() for k in ("red", "yellow", "blue")
    }
    hours = np.array([table[(c, k)] for c, k in zip(inc["category"], inc["risk_colour"])])
    d = inc["dispatched_at"].notna().to_numpy()
    diff = (inc.loc[d, "deadline"] - inc.loc[d, "dispatched_at"]).dt.total_seconds().to_numpy() / 3600
    assert np.array_equal(diff, hours[d])
    assert inc.loc[~d, "deadline"].isna().all()
    # lateness: 6-10% of closed cases late overall, varying by town
    late = inc.loc[closed, "resolved_at"] > inc.loc[closed, "deadline"]
    assert 0.04 <= late.mean() <= 0.11
    # open cases concentrate in the last weeks, some overdue
    open_ = inc["status"].isin(["reported", "dispatched", "accepted", "in_progress", "resolved"])
    recent = inc["reported_at"] >= end - pd.Timedelta(days=28)
    assert (open_ & recent).sum() > 0.6 * open_.sum()
    overdue = open_ & (inc["deadline"] < end) & (inc["status"] != "resolved")
    assert overdue.sum() > 100
    sat = inc["satisfaction"]
    assert sat[closed].notna().mean() > 0.85 and sat[~closed].isna().all()
    assert sat.dropna().between(1, 5).all()


def test_events(demo):
    ev, inc = demo.events, demo.incidents
    assert list(ev.columns) == ["external_id", "at", "actor", "action", "from_status", "to_status", "note"]
    assert len(ev) <= 6.2 * len(inc)
    assert set(ev["action"]) <= {
        "report",
        "dispatch",
        "accept",
        "start",
        "resolve",
        "close",
        "reject",
        "merge",
        "urge",
        "extend",
    }
    assert ev["external_id"].isin(inc["external_id"]).all()
    assert (ev["at"] < demo.period_end).all()
    # the last transition of each incident lands on its status
    trans = ev[ev["to_status"].notna()]
    last = trans.groupby("external_id", sort=False)["to_status"].last()
    status = inc.set_index("external_id")["status"]
    assert (last.loc[status.index] == status).all()
    # transitions chain: each from_status is the previous to_status
    prev = trans.groupby("external_id", sort=False)["to_status"].shift()
    chained = trans["from_status"].isna() | (trans["from_status"] == prev)
    assert chained.all()
    first = trans.groupby("external_id", sort=False).head(1)
    assert (first["action"] == "report").all()
    # events are in time order within an incident, and reporting is the incident's report time
    at = ev.groupby("external_id", sort=False)["at"].diff().dropna()
    assert (at >= pd.Timedelta(0)).all()
    rep = first.set_index("external_id")["at"]
    assert (rep.loc[status.index].to_numpy() == inc.set_index("external_id")["reported_at"].to_numpy()).all()


def test_rhythm(demo):
    inc = demo.incidents
    t = inc["reported_at"]
    app = inc["source"] == "grid_app"
    weekday = t.dt.day_of_week < 5
    per_weekday = (app & weekday).sum() / 5
    per_weekend_day = (app & ~weekday).sum() / 2
    assert per_weekday > 2.5 * per_weekend_day
    hot = inc["source"] == "hotline_12345"
    assert (hot & weekday).sum() / 5 < 1.4 * (hot & ~weekday).sum() / 2
    night = t.dt.hour.isin([0, 1, 2, 3, 4, 5])
    assert night.mean() < 0.03
    morning = t.dt.hour.isin([9, 10])
    assert morning.mean() > 5 * night.mean()
    # the Spring Festival dip
    day = t.dt.floor("D")
    counts = day.value_counts()
    sf = pd.Timestamp("2026-02-17", tz="Asia/Shanghai")
    around = counts[(counts.index >= sf - pd.Timedelta(days=3)) & (counts.index <= sf + pd.Timedelta(days=3))].mean()
    assert around < 0.6 * counts.median()


def test_hotspots(demo):
    truth = demo.ground_truth
    hs = truth["hotspots"]
    assert len(hs) >= 10
    kinds = [h["kind"] for h in hs]
    assert kinds.count("persistent") == 4 and kinds.count("new") == 2
    assert kinds.count("intensifying") == 2 and kinds.count("diminishing") == 2
    inc = demo.incidents.to_crs(METRIC)
    x, y = shapely.get_coordinates(inc.geometry.values).T
    area_county = demo.county.to_crs(METRIC).area.iloc[0]
    week = ((demo.incidents["reported_at"] - demo.period_start).dt.days // 7).to_numpy()
    l1 = set(demo.grids.loc[demo.grids["level"] == 1, "code"])
    centres = []
    for h in hs:
        assert h["grid_codes"] and set(h["grid_codes"]) <= l1
        assert sum(h["weekly_profile"]["counts"]) == h["extra_count"]
        cx, cy = shapely.get_coordinates(
            demo.county.__class__(geometry=[shapely.Point(h["centre_lon"], h["centre_lat"])], crs=4490)
            .to_crs(METRIC)
            .geometry.values
        )[0]
        centres.append((cx, cy))
        inside = np.hypot(x - cx, y - cy) < h["radius_m"]
        same = (demo.incidents["category"] == h["category"]).to_numpy()
        circle = np.pi * h["radius_m"] ** 2
        density = (inside & same).sum() / circle
        average = same.sum() / area_county
        if h["kind"] == "persistent":
            assert density > 20 * average, h["id"]
        if h["kind"] == "new":
            before = (inside & same & (week < 28)).sum()
            after = (inside & same & (week >= 30)).sum()
            assert after > 5 * max(before, 1), h["id"]
        if h["kind"] == "diminishing":
            early = (inside & same & (week < 15)).sum()
            late = (inside & same & (week >= 32)).sum()
            assert early > 4 * max(late, 1), h["id"]
    centres = np.array(centres)
    d = np.hypot(*(centres[:, None] - centres[None]).transpose(2, 0, 1))
    assert (d[np.triu_indices(len(centres), 1)] > 2000).all()


def test_cameras(demo):
    cams = demo.cameras
    share = cams["kind"].value_counts()
    assert 1300 <= share["xueliang"] <= 1700
    assert 800 <= share["tianwang"] <= 1100
    assert 3400 <= share["zongzhi"] <= 4600
    assert cams["heading_deg"].between(0, 360, inclusive="left").all()
    assert cams["fov_deg"].between(1, 360).all() and cams["range_m"].between(30, 200).all()
    st = cams["status"].value_counts(normalize=True)
    assert 0.90 < st["online"] < 0.96
    county = demo.county.geometry.iloc[0]
    x, y = shapely.get_coordinates(cams.geometry.values).T
    assert shapely.contains_xy(county, x, y).all()
    assert cams["name"].notna().all()


def test_write_outputs(demo, tmp_path):
    import pyogrio

    paths = write_outputs(demo, tmp_path)
    assert {p.name for p in paths} == {"renshou_demo.gpkg", "ground_truth.json"}
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "renshou_demo.gpkg")}
    assert layers == {"county", "towns", "villages", "grids", "roads", "cameras"}
    towns = pyogrio.read_dataframe(tmp_path / "renshou_demo.gpkg", layer="towns")
    assert "文林街道" in set(towns["name"]) and towns.crs.to_epsg() == 4490
    truth = json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))
    assert truth["seed"] == SEED and truth["hotspots"] == demo.ground_truth["hotspots"]


# --------------------------------------------------------------------------------- determinism


def test_determinism(demo):
    again = generate(SEED)
    assert _hash_geoms(again.grids.geometry.values) == _hash_geoms(demo.grids.geometry.values)
    for name in ("county", "towns", "villages", "grids", "roads", "cameras", "incidents"):
        assert _hash_frame(getattr(again, name)) == _hash_frame(getattr(demo, name)), name
    assert _hash_frame(again.events) == _hash_frame(demo.events)
    assert again.officers.equals(demo.officers) and again.assignments.equals(demo.assignments)
    assert again.ground_truth == demo.ground_truth
    other = _generate(SEED + 1, incident_scale=0.05)
    assert _hash_geoms(other.grids.geometry.values) != _hash_geoms(demo.grids.geometry.values)
    small = _generate(SEED, incident_scale=0.05)
    assert _hash_frame(other.incidents) != _hash_frame(small.incidents)
