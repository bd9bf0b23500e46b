"""The demo county, generated deterministically from a seed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.times import DEFAULT_ZONE

from .incidents import build_incidents
from .infra import build_cameras, build_roads
from .layout import build_layout
from .people import build_people
from .units import build_units

TZ = ZoneInfo(DEFAULT_ZONE)  # the demo county keeps Beijing time
PERIOD_START = datetime(2025, 11, 17, tzinfo=TZ)  # a Monday
PERIOD_END = datetime(2026, 11, 16, tzinfo=TZ)  # exclusive: 52 weeks
GPKG_NAME = "renshou_demo.gpkg"
TRUTH_NAME = "ground_truth.json"


@dataclass
class DemoCounty:
    seed: int
    period_start: datetime
    period_end: datetime
    county: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    officers: pd.DataFrame
    assignments: pd.DataFrame
    cameras: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    events: pd.DataFrame
    ground_truth: dict = field(default_factory=dict)


def generate(seed: int = 511421, *, progress: Callable[[str], None] | None = None) -> DemoCounty:
    """The full demo county for ``seed``: same seed, same county, bit for bit."""
    return _generate(seed, progress=progress)


def _generate(seed: int, *, progress=None, incident_scale: float = 1.0) -> DemoCounty:
    """``incident_scale`` < 1 makes fewer incidents (for quick tests); the public API uses 1."""
    say = progress or (lambda m: None)
    # independent streams per step, so a change in one step leaves the others as they were
    streams = np.random.SeedSequence(seed).spawn(6)
    rng_shape, rng_units, rng_people, rng_roads, rng_cams, rng_inc = (np.random.default_rng(s) for s in streams)

    layout = build_layout(rng_shape, progress=say)
    say("building towns, villages and grids ...")
    units = build_units(rng_units, layout)
    say("appointing officers ...")
    officers, assignments, vacancies = build_people(rng_people, units, PERIOD_START.date(), PERIOD_END.date())
    say("laying out roads ...")
    roads, road_metric, road_village, hamlet, village_road = build_roads(rng_roads, layout, units)
    say("placing cameras ...")
    cameras = build_cameras(rng_cams, layout, units, road_metric, road_village, hamlet, village_road)
    road_name = np.array([f"{units.village_name[v]}村道" for v in range(len(units.village_name))], dtype=object)
    for i, v in enumerate(road_village):
        if v >= 0:
            road_name[v] = roads["name"].iloc[i]
    incidents, events, inc_truth = build_incidents(
        rng_inc, layout, units, road_name, PERIOD_START, PERIOD_END, scale=incident_scale, progress=say
    )
    exclave_grid = units.grids.loc[
        (units.grids["level"] == 1) & (units.grids.geometry.apply(lambda g: len(g.geoms)) > 1), "code"
    ].tolist()
    truth = {
        "seed": seed,
        "period": {
            "start": PERIOD_START.isoformat(),
            "end": PERIOD_END.isoformat(),
            "end_exclusive": True,
            "weeks": 52,
        },
        "hotspots": inc_truth["hotspots"],
        "vacancies": vacancies,
        "town_late_rate": inc_truth["town_late_rate"],
        "notes": [
            "Layout, village and community names, people and cases are synthetic; only the county "
            "outline (converted from GCJ-02 to CGCS2000) and the town names are real.",
            f"The county outline has a ~1.4 ha exclave; it belongs to grid {', '.join(exclave_grid)}, "
            "the only multi-part grid (and so its village, town and the county are multi-part too).",
            "Hotspot extra incidents are drawn from a normal distribution (sigma = radius/2) "
            "truncated at radius_m around the centre; their counts come out of the category totals, "
            "so the category counts still match categories.csv exactly.",
            "Week k of the period runs from period_start + 7k days, for 7 days (k = 0..51).",
            "town_late_rate: the planned share of dispatched (not on-the-spot) cases each town "
            "resolves after the deadline; closed cases squeezed into the period's last days "
            "are seldom late, so measured shares come out a little lower.",
            "Grid codes follow the village code plus a 3-digit sequence: rows of height "
            "sqrt(village area / grid count) from the north, west to east within a row "
            "(geo_service.demo.generator.units.sequence_rank); level-2 grids the same within their parent.",
            "Grid worker count: current assignments (valid_to empty) of role grid_worker; "
            "replaced workers keep their old row with valid_to.",
        ],
    }
    say("done")
    return DemoCounty(
        seed=seed,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        county=units.county,
        towns=units.towns,
        villages=units.villages,
        grids=units.grids,
        roads=roads,
        officers=officers,
        assignments=assignments,
        cameras=cameras,
        incidents=incidents,
        events=events,
        ground_truth=truth,
    )


def write_outputs(demo: DemoCounty, folder: Path) -> list[Path]:
    """Write ``renshou_demo.gpkg`` (county, towns, villages, grids, roads, cameras) and
    ``ground_truth.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    gpkg = folder / GPKG_NAME
    if gpkg.exists():
        gpkg.unlink()
    for layer, frame in (
        ("county", demo.county),
        ("towns", demo.towns),
        ("villages", demo.villages),
        ("grids", demo.grids),
        ("roads", demo.roads),
        ("cameras", demo.cameras),
    ):
        out = frame.copy()
        for col in out.columns:
            if col != out.geometry.name and out[col].dtype == object:
                sample = out[col].dropna()
                if len(sample) and isinstance(sample.iloc[0], date):
                    out[col] = pd.to_datetime(out[col]).dt.date.astype(str)
        out.to_file(gpkg, layer=layer, driver="GPKG", engine="pyogrio")
    truth = folder / TRUTH_NAME
    truth.write_text(json.dumps(demo.ground_truth, ensure_ascii=False, indent=2), encoding="utf-8")
    return [gpkg, truth]
