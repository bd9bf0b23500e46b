"""Load per grid worker, now and under a draft: does a redraw even it out?

A grid's load is its households and the incidents of recent months located in it (under each
version's own grids); a grid with several workers shares its load among them, and a worker with
several grids adds theirs up. Grids nobody holds are reported apart, since their load falls on
whoever covers for them. The spread is the mean of the busiest tenth of workers over the median
worker (1 means perfectly even) and the coefficient of variation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.boundaries.versions import Version, find_version, version_in_force
from geo_service.settings import Settings
from geo_service.times import as_aware, local_day

# Level-1 grids of a version with the incidents located in them and their grid workers on a day.
_GRID_LOAD = text("""
    WITH g AS (SELECT id, code, households, geom FROM grids WHERE version_id = :version AND level = 1),
         counted AS (SELECT g.code, count(i.id) AS incidents
                       FROM g JOIN incidents i ON ST_Covers(g.geom, i.geom)
                      WHERE i.reported_at >= :since AND i.reported_at < :until AND i.merged_into_id IS NULL
                      GROUP BY g.code)
    SELECT g.code, g.households, coalesce(c.incidents, 0) AS incidents,
           coalesce(array_agg(o.code ORDER BY o.code) FILTER (WHERE o.code IS NOT NULL), '{}') AS workers
      FROM g
      LEFT JOIN counted c ON c.code = g.code
      LEFT JOIN officer_assignments a ON a.role = 'grid_worker' AND a.unit_code = g.code
                                     AND a.valid_from <= :day AND (a.valid_to IS NULL OR a.valid_to >= :day)
      LEFT JOIN officers o ON o.id = a.officer_id
     GROUP BY g.code, g.households, c.incidents
     ORDER BY g.code
""")


@dataclass(frozen=True)
class Workload:
    version: Version
    grids: pd.DataFrame  # code, households, incidents, workers (list of officer codes)
    workers: pd.DataFrame  # officer_code, grids, households, incidents

    def summary(self) -> dict:
        vacant = self.grids[self.grids["workers"].map(len) == 0]
        return {
            "version": self.version.name,
            "grids": len(self.grids),
            "grid_workers": len(self.workers),
            "vacant_grids": len(vacant),
            "households_in_vacant_grids": int(vacant["households"].sum()),
            "households_per_worker": spread(self.workers["households"]),
            "incidents_per_worker": spread(self.workers["incidents"]),
        }


def spread(values: pd.Series) -> dict:
    """Median, the busiest decile's mean, their ratio, and the coefficient of variation."""
    v = np.sort(np.asarray(values, dtype=float))
    if len(v) == 0:
        return {"median": None, "top_decile_mean": None, "top_decile_to_median": None, "cv": None}
    median = float(np.median(v))
    top = float(v[-max(1, len(v) // 10) :].mean())
    return {
        "median": round(median, 1),
        "top_decile_mean": round(top, 1),
        "top_decile_to_median": round(top / median, 3) if median else None,
        "cv": round(float(v.std() / v.mean()), 3) if v.mean() else None,
    }


def workload(
    engine: Engine,
    version: int | str,
    *,
    since: datetime,
    until: datetime,
    on: date,
    villages: list[str] | None = None,
) -> Workload:
    """Grid and worker loads under one version, optionally only in some villages."""
    with engine.connect() as connection:
        v = find_version(connection, version)
        result = connection.execute(_GRID_LOAD, {"version": v.id, "since": since, "until": until, "day": on})
        grids = pd.DataFrame(result.mappings().all(), columns=list(result.keys()))
    if villages is not None:
        grids = grids[grids["code"].str[:12].isin(villages)].reset_index(drop=True)
    shares = grids.assign(n=grids["workers"].map(len)).explode("workers").dropna(subset=["workers"])
    workers = (
        shares.assign(households=shares["households"] / shares["n"], incidents=shares["incidents"] / shares["n"])
        .groupby("workers")
        .agg(grids=("code", "count"), households=("households", "sum"), incidents=("incidents", "sum"))
        .rename_axis("officer_code")
        .reset_index()
    )
    return Workload(v, grids, workers)


def compare_workload(
    engine: Engine,
    draft: int | str,
    *,
    base: int | str | None = None,
    months: int | None = None,
    now: datetime | None = None,
    villages: list[str] | None = None,
    settings: Settings,
) -> dict:
    """Workload under the version in force (or ``base``) and under ``draft``, side by side: the
    incidents of ``months`` (default ``settings.planning.impact_months``) up to ``now`` (a time
    without a zone is the county's), the grid workers of the county's day at ``now``."""
    zone = settings.place.timezone
    now = as_aware(now, zone)
    window = {
        "since": now - relativedelta(months=months or settings.planning.impact_months),
        "until": now,
        "on": local_day(now, zone),
        "villages": villages,
    }
    if base is None:
        with engine.connect() as connection:
            base = version_in_force(connection, now, find_version(connection, draft).county_code).id
    before = workload(engine, base, **window)
    after = workload(engine, draft, **window)
    return {
        "since": window["since"].isoformat(),
        "until": now.isoformat(),
        "villages": villages,
        "now": before.summary(),
        "draft": after.summary(),
    }
