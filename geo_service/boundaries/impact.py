"""What a draft would change against the version in force: grids, area, incidents, cameras,
households and the officers whose responsibilities need reassigning.

Only the villages where some grid differs are examined, so the cost follows the size of the
redraw, not of the county. Households moved are an estimate: residents are taken as spread
evenly within each grid of the base version (the file of a redraw rarely says where they live).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import geopandas as gpd
import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.boundaries.versions import Version, find_version, version_in_force
from geo_service.coordinates.projection import version_srid
from geo_service.settings import Settings
from geo_service.times import as_aware, local_day
from geo_service.vocabulary import STORAGE_CRS

# A draft's geometry may still be invalid: measure it repaired. Grids whose vertices agree to 1e-7
# degrees (about a centimetre; a file's round trip through GCJ-02 moves them by less) are the
# same grid: overlaying near-identical shapes is the slowest thing GEOS does, so it is skipped.
_FIXED = "CASE WHEN ST_IsValid({g}) THEN {g} ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid({g}), 3)) END"

_GRID_CHANGES = text(f"""
    WITH n AS (SELECT code, level, households, {_FIXED.format(g="geom")} AS geom, geom AS raw
                 FROM grids WHERE version_id = :draft),
         o AS (SELECT code, level, households, geom FROM grids WHERE version_id = :base),
         d AS (SELECT coalesce(n.code, o.code) AS code, coalesce(n.level, o.level) AS level,
                      CASE WHEN o.code IS NULL THEN 'added' WHEN n.code IS NULL THEN 'removed' ELSE 'reshaped' END AS change,
                      o.households AS households_before, n.households AS households_after,
                      o.geom AS before, n.geom AS after
                 FROM n FULL JOIN o USING (code)
                WHERE o.code IS NULL OR n.code IS NULL
                   OR NOT ST_OrderingEquals(ST_SnapToGrid(n.raw, 1e-7), ST_SnapToGrid(o.geom, 1e-7)))
    SELECT code, level, change, households_before, households_after,
           ST_Area(ST_Transform(before, :srid)) AS area_before_m2, ST_Area(ST_Transform(after, :srid)) AS area_after_m2,
           ST_Area(ST_Transform(coalesce(ST_Difference(after, before), after), :srid)) AS area_gained_m2,
           ST_Area(ST_Transform(coalesce(ST_Difference(before, after), before), :srid)) AS area_lost_m2
      FROM d ORDER BY code
""")

# Area passing from an old grid to a differently coded new one, with the households it carries.
_FLOWS = text(f"""
    WITH o AS (SELECT code, level, households, geom AS m, ST_Area(ST_Transform(geom, :srid)) AS area FROM grids
                WHERE version_id = :base AND left(code, 12) = ANY(:villages)),
         n AS (SELECT code, level, {_FIXED.format(g="geom")} AS m FROM grids
                WHERE version_id = :draft AND left(code, 12) = ANY(:villages))
    SELECT o.code AS from_code, n.code AS to_code, o.level, s.area AS area_m2,
           o.households * s.area / nullif(o.area, 0) AS households
      FROM o JOIN n ON n.level = o.level AND n.code <> o.code AND n.m && o.m
     CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection(o.m, n.m), 3) AS x) i
     CROSS JOIN LATERAL (SELECT ST_Area(ST_Transform(x, :srid)) AS area) s
     WHERE s.area > :tol
     ORDER BY area_m2 DESC
""")

# The finest grid of a version covering a point (the tie rule of geo_service.lookup.grid_index).
_FINEST = """(SELECT g.code FROM grids g WHERE g.version_id = :{v} AND ST_Covers(g.geom, p.geom)
               ORDER BY g.level DESC, g.code LIMIT 1)"""

# Driven from the changed villages, so the points' spatial index does the selecting.
_CHANGED_VILLAGES = """(SELECT geom FROM admin_units
                         WHERE version_id = :base AND level = 'village' AND code = ANY(:villages)) v"""

_INCIDENTS_MOVED = text(f"""
    WITH p AS (SELECT DISTINCT i.id, i.geom FROM {_CHANGED_VILLAGES}
                 JOIN incidents i ON ST_Intersects(v.geom, i.geom)
                WHERE i.reported_at >= :since AND i.merged_into_id IS NULL),
         moved AS (SELECT {_FINEST.format(v="base")} AS from_code, {_FINEST.format(v="draft")} AS to_code FROM p)
    SELECT from_code, to_code, count(*) AS incidents FROM moved
     WHERE from_code IS DISTINCT FROM to_code GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
""")

_CAMERAS_MOVED = text(f"""
    WITH p AS (SELECT DISTINCT c.device_code, c.geom FROM {_CHANGED_VILLAGES}
                 JOIN cameras c ON ST_Intersects(v.geom, c.geom)),
         moved AS (SELECT device_code, {_FINEST.format(v="base")} AS from_code, {_FINEST.format(v="draft")} AS to_code FROM p)
    SELECT * FROM moved WHERE from_code IS DISTINCT FROM to_code ORDER BY device_code
""")

# Grid-level responsibilities (grid workers and any other role held for a grid) touched by the redraw.
_OFFICERS = text("""
    SELECT o.code AS officer_code, o.name, a.role, a.unit_code AS grid_code
      FROM officer_assignments a JOIN officers o ON o.id = a.officer_id
     WHERE a.unit_code = ANY(:codes) AND a.valid_from <= :day AND (a.valid_to IS NULL OR a.valid_to >= :day)
     ORDER BY a.unit_code, a.role, o.code
""")

_CHANGED_SHAPES = text("""
    SELECT code, 'before' AS side, geom FROM grids WHERE version_id = :base AND code = ANY(:codes)
    UNION ALL
    SELECT code, 'after', geom FROM grids WHERE version_id = :draft AND code = ANY(:codes)
""")


@dataclass(frozen=True)
class Impact:
    base: Version
    draft: Version
    since: datetime
    on: date
    grids: pd.DataFrame  # code, level, change, households and areas before and after
    flows: pd.DataFrame  # from_code, to_code, level, area_m2, households
    incidents: pd.DataFrame  # from_code, to_code, incidents
    cameras: pd.DataFrame  # device_code, from_code, to_code
    officers: pd.DataFrame  # officer_code, name, role, grid_code, action
    villages: tuple[str, ...]

    def summary(self) -> dict:
        changes = self.grids["change"].value_counts()
        return {
            "villages_changed": len(self.villages),
            "grids_added": int(changes.get("added", 0)),
            "grids_removed": int(changes.get("removed", 0)),
            "grids_reshaped": int(changes.get("reshaped", 0)),
            "area_moved_m2": round(float(self.flows.loc[self.flows["level"] == 1, "area_m2"].sum()), 1),
            "households_moved": int(round(self.flows.loc[self.flows["level"] == 1, "households"].sum())),
            "incidents_moved": int(self.incidents["incidents"].sum()),
            "cameras_moved": len(self.cameras),
            "officers_to_reassign": int((self.officers["action"] == "reassign").sum()),
            "grids_without_worker": int((self.officers["action"] == "assign").sum()),
        }

    def to_dict(self) -> dict:
        def records(frame: pd.DataFrame) -> list[dict]:
            return [
                {k: (None if pd.isna(v) else round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}
                for row in frame.to_dict("records")
            ]

        return {
            "base": self.base.to_dict(),
            "draft": self.draft.to_dict(),
            "incidents_since": self.since.isoformat(),
            "officers_on": self.on.isoformat(),
            "summary": self.summary(),
            "villages": list(self.villages),
            "grids": records(self.grids),
            "flows": records(self.flows),
            "incidents": records(self.incidents),
            "cameras": records(self.cameras),
            "officers": records(self.officers),
        }


def draft_impact(
    engine: Engine,
    draft: int | str,
    *,
    base: int | str | None = None,
    months: int | None = None,
    now: datetime | None = None,
    settings: Settings,
) -> Impact:
    """Compare a draft (or any version) with ``base`` (default: the version in force now).

    Parameters
    ----------
    months : int, optional
        Incidents of this many recent months are counted (default ``settings.planning.impact_months``).
    now : datetime, optional
        The moment the comparison is made for (default now): the end of the incident window and
        the day whose responsibilities count.
    settings : Settings
        The county's zone, metric projection and boundary tolerance.
    """
    zone, planning = settings.place.timezone, settings.planning
    now = as_aware(now, zone)
    months = months or planning.impact_months
    since = now - relativedelta(months=months)
    day = local_day(now, zone)
    with engine.connect() as connection:
        draft_version = find_version(connection, draft)
        base_version = (
            find_version(connection, base)
            if base is not None
            else find_version(connection, version_in_force(connection, now, draft_version.county_code).id)
        )
        params = {
            "draft": draft_version.id,
            "base": base_version.id,
            "srid": version_srid(connection, settings.place, draft_version.id),
            "tol": planning.boundary_tolerance_m2,
            "since": since,
            "day": day,
        }
        grids = _frame(connection, _GRID_CHANGES, params)
        grids = grids[
            (grids["change"] != "reshaped")
            | (grids[["area_gained_m2", "area_lost_m2"]].max(axis=1) > planning.boundary_tolerance_m2)
        ]
        villages = tuple(sorted(set(grids["code"].str[:12])))
        params["villages"] = list(villages)
        flows = _frame(connection, _FLOWS, params)
        incidents = _frame(connection, _INCIDENTS_MOVED, params)
        cameras = _frame(connection, _CAMERAS_MOVED, params)
        officers = _officers(connection, grids, params)
    return Impact(
        base_version,
        draft_version,
        since,
        day,
        grids.reset_index(drop=True),
        flows,
        incidents,
        cameras,
        officers,
        villages,
    )


def _frame(connection: Connection, query, params: dict) -> pd.DataFrame:
    result = connection.execute(query, params)
    return pd.DataFrame(result.mappings().all(), columns=list(result.keys()))


def _officers(connection: Connection, grids: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Who holds a removed grid (reassign), a reshaped one (review), and new grids nobody holds (assign)."""
    touched = grids[grids["change"] != "added"]
    held = _frame(connection, _OFFICERS, {**params, "codes": list(touched["code"]) + list(grids["code"])})
    change = dict(zip(grids["code"], grids["change"]))
    held["action"] = held["grid_code"].map(
        lambda code: {"removed": "reassign", "reshaped": "review"}.get(change[code], "keep")
    )
    held = held[held["action"] != "keep"]
    vacant = [
        code
        for code in grids.loc[(grids["change"] == "added") & (grids["level"] == 1), "code"]
        if not ((held["grid_code"] == code) & (held["role"] == "grid_worker")).any()
        and not _has_worker(connection, code, params["day"])
    ]
    rows = pd.DataFrame(
        {"officer_code": None, "name": None, "role": "grid_worker", "grid_code": vacant, "action": "assign"}
    )
    return pd.concat([held, rows], ignore_index=True) if len(rows) else held.reset_index(drop=True)


def _has_worker(connection: Connection, code: str, day: date) -> bool:
    return connection.execute(
        text("""
        SELECT EXISTS (SELECT 1 FROM officer_assignments WHERE role = 'grid_worker' AND unit_code = :code
                          AND valid_from <= :day AND (valid_to IS NULL OR valid_to >= :day))
    """),
        {"code": code, "day": day},
    ).scalar_one()


def changed_shapes(engine: Engine, impact: Impact) -> gpd.GeoDataFrame:
    """The changed grids before and after, for a map: ``code``, ``side``, ``change``, geometry."""
    with engine.connect() as connection:
        frame = gpd.read_postgis(
            _CHANGED_SHAPES,
            connection,
            geom_col="geom",
            params={"base": impact.base.id, "draft": impact.draft.id, "codes": list(impact.grids["code"])},
        )
    frame = frame.set_crs(STORAGE_CRS, allow_override=True)
    return frame.merge(impact.grids[["code", "change"]], on="code")


CHANGE_COLOURS = {"added": "#1a9850", "removed": "#d73027", "reshaped": "#fc8d59"}


def impact_map(engine: Engine, impact: Impact):
    """A folium map of the changed grids: the base's outlines dashed, the draft's coloured by change."""
    from geo_service import maps

    shapes = changed_shapes(engine, impact)
    before, after = shapes[shapes["side"] == "before"], shapes[shapes["side"] == "after"]
    m = maps.base_map(tuple(shapes.total_bounds) if len(shapes) else None)
    if len(before):
        maps.add_frame(
            m,
            before,
            name=f"before ({impact.base.name})",
            tooltip=["code", "change"],
            style={"color": "#555555", "weight": 2, "dashArray": "6 4", "fillOpacity": 0.05},
        )
    if len(after):
        maps.add_frame(
            m,
            after,
            name=f"after ({impact.draft.name})",
            column="change",
            colours=CHANGE_COLOURS,
            tooltip=["code", "change"],
        )
    return m
