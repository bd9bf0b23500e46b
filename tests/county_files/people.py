"""Who and what is in the synthetic county: the officers' roster, the cameras and a year of incidents.

Values are kept as a county office writes them (Chinese job titles, kinds, statuses), with the
codes they stand for beside them (``role``, ``category_code``, ...) so tests can check an import.
Points are true CGCS2000 positions rounded to 6 decimals, at least ``MARGIN`` inside their grid,
so a datum round trip or a file's rounding never moves one into a neighbour.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import geo_service.rules
from geo_service.demo.generator import names as demo_names
from geo_service.vocabulary import STORAGE_CRS

from .build import inside

MARGIN = 2e-5  # degrees (~2 m)
RULES = Path(geo_service.rules.__file__).parent
YEAR_START = datetime(2025, 1, 1)  # naive: the county's own time (Asia/Shanghai)

GRID_WORKER_TITLES = (["网格员", "专职网格员", "兼职网格员", "专兼职网格员", "网格管理员"], [0.4, 0.3, 0.15, 0.1, 0.05])
LEADER_TITLES = {"village": ["村网格长", "网格长"], "community": ["社区网格长", "网格长"]}
SECRETARY_TITLES = {
    "village": ["村党支部书记", "村党组织书记", "村党总支书记", "村（社区）党组织书记"],
    "community": ["社区党委书记", "社区党支部书记", "社区党组织书记", "村(社区)党组织书记"],
}
POLICE_TITLES = ["社区民警", "驻村民警", "片区民警"]
CADRE_TITLES = ["包村干部", "包村领导", "驻村干部", "联村领导"]
CAMERA_KINDS = (["综治", "雪亮", "天网"], [0.5, 0.3, 0.2])
STATUSES = {"已办结": "closed", "办理中": "in_progress", "已受理": "accepted"}
SATISFACTION = (["满意", "基本满意", "不满意"], [0.7, 0.22, 0.08])
RISK = (["蓝色", "黄色", "红色"], [0.85, 0.12, 0.03])
SOURCE_SHARES = {
    "grid_app": 0.55,
    "hotline_12345": 0.2,
    "citizen": 0.1,
    "police_110": 0.05,
    "online_sentiment": 0.05,
    "video": 0.05,
}


def rules_table(name: str) -> list[dict[str, str]]:
    """A rules CSV of the library (``categories``, ``sources``, ``job_titles``, ...) as rows."""
    with (RULES / f"{name}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def leaf_grids(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids no other grid lies in: level-1 grids without level-2 grids, and level-2 grids."""
    return grids[~grids["code"].isin(set(grids["parent_code"].dropna()))]


def points_in(rng: np.random.Generator, area: shapely.Geometry, n: int) -> np.ndarray:
    """``n`` points rounded to 6 decimals, each at least ``MARGIN`` inside ``area``."""
    core = area.buffer(-MARGIN)
    core = core if not core.is_empty else area
    shapely.prepare(core)
    out = np.round(inside(rng, core, n), 6)
    keep = shapely.contains_xy(core, out[:, 0], out[:, 1])
    return out if keep.all() else np.vstack([out[keep], points_in(rng, area, int((~keep).sum()))])


def _points_by_grid(rng: np.random.Generator, leaves: gpd.GeoDataFrame, n: int, weights: np.ndarray):
    """``n`` points spread over ``leaves`` with ``weights``: (codes, lon/lat array), grid by grid."""
    counts = rng.multinomial(n, weights / weights.sum())
    codes, xy = [], []
    for code, geometry, k in zip(leaves["code"], leaves.geometry, counts):
        if k:
            codes += [code] * int(k)
            xy.append(points_in(rng, geometry, int(k)))
    order = rng.permutation(n)
    return np.array(codes)[order], np.vstack(xy)[order]


def _day(rng: np.random.Generator, first: int, last: int) -> date:
    return date(first, 1, 1) + timedelta(days=int(rng.integers(0, 365 * (last - first + 1))))


def make_roster(rng: np.random.Generator, villages: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> tuple:
    """The roster (one row per person and unit) and its gaps: (frame, vacant grids, village without
    a party secretary, village without a police officer)."""
    role_of = {row["title"]: row["role"] for row in rules_table("job_titles")}
    level1 = leaf_grids(grids).query("level == 1")["code"].tolist()
    vacant = sorted(rng.choice(level1, size=2, replace=False).tolist())
    no_secretary, no_police = rng.choice(villages["code"].to_numpy(), size=2, replace=False).tolist()
    rows: list[tuple[str, str, str, date]] = []  # title, unit code, person key, start date
    for code in grids["code"]:
        if code not in vacant:
            title = rng.choice(GRID_WORKER_TITLES[0], p=GRID_WORKER_TITLES[1])
            rows.append((str(title), code, f"g{code}", _day(rng, 2019, 2024)))
    for code, kind in zip(villages["code"], villages["kind"]):
        rows.append((str(rng.choice(LEADER_TITLES[kind])), code, f"l{code}", _day(rng, 2018, 2024)))
        if code != no_secretary:
            rows.append((str(rng.choice(SECRETARY_TITLES[kind])), code, f"s{code}", _day(rng, 2016, 2024)))
        if code != no_police:
            rows.append((str(rng.choice(POLICE_TITLES)), code, f"p{code}", _day(rng, 2017, 2024)))
    # 包村 officials: each covers 2 or 3 neighbouring villages of one town, one row per village.
    for _, group in villages.groupby("town_code", sort=True):
        codes = group["code"].tolist()
        while codes:
            take = 3 if len(codes) in (3, 6) or (len(codes) > 4 and rng.random() < 0.5) else 2
            take = min(take, len(codes))
            title, start = str(rng.choice(CADRE_TITLES)), _day(rng, 2020, 2024)
            rows += [(title, code, f"c{codes[0]}", start) for code in codes[:take]]
            codes = codes[take:]
    keys = sorted({key for _, _, key, _ in rows})
    people, genders = demo_names.person_names(rng, len(keys))
    phones = demo_names.phones(rng, len(keys))
    who = {key: (people[i], phones[i], genders[i]) for i, key in enumerate(keys)}
    frame = pd.DataFrame(
        [
            {"name": who[key][0], "title": title, "role": role_of[title], "phone": who[key][1]}
            | {"unit_code": unit, "start_date": start, "gender": who[key][2], "person": key}
            for title, unit, key, start in rows
        ]
    )
    return frame, vacant, no_secretary, no_police


def make_cameras(rng: np.random.Generator, code: str, villages: gpd.GeoDataFrame, grids: gpd.GeoDataFrame):
    """Cameras, 3 to 5 a village, as a GeoDataFrame of true CGCS2000 positions."""
    leaves = leaf_grids(grids)
    n = int(rng.integers(3, 6, len(villages)).sum())
    grid_codes, xy = _points_by_grid(rng, leaves, n, np.ones(len(leaves)))
    village_name = dict(zip(villages["code"], villages["name"]))
    kinds = rng.choice(CAMERA_KINDS[0], size=n, p=CAMERA_KINDS[1])
    domes = rng.random(n) < 0.35
    frame = pd.DataFrame(
        {
            # GB/T 28181: 8-digit centre code, industry 00, type 131/132, network 0, 6-digit serial.
            "code": [f"{code}0000{'132' if i % 4 == 0 else '131'}0{i + 1:06d}" for i in range(n)],
            "name": [f"{village_name[g[:12]]}{k}监控{i + 1}号" for i, (g, k) in enumerate(zip(grid_codes, kinds))],
            "kind": kinds,
            "heading": np.where(domes, np.nan, rng.integers(0, 360, n).astype(float)),
            "fov": np.where(domes, np.nan, rng.choice([60.0, 75.0, 90.0], n)),
            "range": np.where(domes, np.nan, rng.choice([50.0, 80.0, 100.0, 150.0, 200.0], n)),
            "status": np.where(rng.random(n) < 0.9, "在线", "离线"),
            "datum": np.where(rng.random(n) < 0.2, "GCJ02", "WGS84"),
            "grid_code": grid_codes,
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=STORAGE_CRS)


def make_incidents(rng: np.random.Generator, code: str, villages: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, n: int):
    """A year (2025) of ``n`` incidents, spread over the grids by population, true CGCS2000 points."""
    leaves = leaf_grids(grids)
    grid_codes, xy = _points_by_grid(rng, leaves, n, leaves["population"].to_numpy(float) + 1.0)
    categories = rules_table("categories")
    share = np.array([float(c["annual_share"]) for c in categories])
    cat = rng.choice(len(categories), size=n, p=share / share.sum())
    sources = {row["code"]: row["name_zh"] for row in rules_table("sources")}
    source_codes = list(SOURCE_SHARES)
    src = rng.choice(len(source_codes), size=n, p=list(SOURCE_SHARES.values()))
    reported = sorted(YEAR_START + timedelta(seconds=int(s)) for s in rng.integers(0, 365 * 86400, n))
    # Most are closed; the open ones are among the latest.
    status = np.full(n, "已办结", dtype=object)
    recent = np.arange(int(n * 0.85), n)
    opened = rng.choice(recent, size=max(2, int(n * 0.08)), replace=False)
    status[opened] = np.where(rng.random(len(opened)) < 0.5, "办理中", "已受理")
    village_name = dict(zip(villages["code"], villages["name"]))
    rows = []
    for i in range(n):
        reported_at = reported[i].replace(microsecond=0)
        dispatched = reported_at + timedelta(minutes=int(rng.integers(5, 120)))
        closed = status[i] == "已办结"
        template = rng.choice(demo_names.DESCRIPTIONS[categories[cat[i]]["code"]])
        place = village_name[grid_codes[i][:12]]
        rows.append(
            {
                "external_id": f"{code}-2025-{i + 1:06d}",
                "category": categories[cat[i]]["name_zh"],
                "category_code": categories[cat[i]]["code"],
                "source": sources[source_codes[src[i]]],
                "source_code": source_codes[src[i]],
                "status": status[i],
                "status_code": STATUSES[status[i]],
                "risk_colour": str(rng.choice(RISK[0], p=RISK[1])),
                "reported_at": reported_at,
                "dispatched_at": dispatched if status[i] != "已受理" else None,
                "closed_at": dispatched + timedelta(minutes=int(rng.integers(120, 7200))) if closed else None,
                "satisfaction": str(rng.choice(SATISFACTION[0], p=SATISFACTION[1])) if closed else None,
                "description": template.format(p=place, r=place[:2] + "路"),
                "grid_code": grid_codes[i],
            }
        )
    return gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=STORAGE_CRS)
