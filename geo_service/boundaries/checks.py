"""What is wrong with a boundary version, grid by grid, each problem with where it is.

Every check runs in PostGIS over the version's grids. Shapes are compared in the storage CRS,
where lookups decide which grid holds a point (an edge is straight in longitude and latitude,
not in a projection: a 10 km edge along a parallel bows by metres in Gauss-Krüger), and what
is found is measured in the metric projection (settings ``metric_srid``). Errors stop a draft from being published: invalid geometry,
siblings overlapping, gaps in a village's (or a parent grid's) cover, grids spilling over their
village's (or parent's) edge. Warnings are for the planner to weigh: slivers, grids without a
grid worker, grids far from the household target.

A geometry that is invalid is checked further in its repaired form (``ST_MakeValid``), which the
report offers as the fix (``geo_service.boundaries.drafts``: accept it with ``repair_draft``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.coordinates.projection import version_srid
from geo_service.i18n import DEFAULT_LANGUAGE, Language, Message, render, t
from geo_service.settings import Settings
from geo_service.times import local_day, now
from geo_service.vocabulary import STORAGE_CRS

Severity = Literal["error", "warning"]
CHECKS: dict[str, Severity] = {
    "invalid_geometry": "error",
    "overlap": "error",
    "gap": "error",
    "outside_parent": "error",
    "sliver": "warning",
    "no_grid_worker": "warning",
    "households": "warning",
}
COLUMNS = ["check", "severity", "grid_code", "other_code", "unit_code", "message", "area_m2", "location", "repaired"]

# The version's grids once, with the geometry to compare (repaired if need be).
_PREPARE = """
    DROP TABLE IF EXISTS check_grids;
    CREATE TEMP TABLE check_grids AS
    SELECT g.id, g.code, g.level, g.kind, g.parent_id, g.village_id, g.households, g.geom,
           ST_IsValid(g.geom) AS valid,
           CASE WHEN ST_IsValid(g.geom) THEN g.geom
                ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(g.geom), 3)) END AS m
      FROM grids g WHERE g.version_id = {version};
    CREATE INDEX ON check_grids USING gist (m);
    ANALYZE check_grids;
"""

_QUERIES: dict[str, str] = {
    "invalid_geometry": """
        SELECT code AS grid_code, NULL AS other_code, NULL AS unit_code,
               json_build_object('reason', ST_IsValidReason(geom)) AS said,
               abs(ST_Area(ST_Transform(geom, :srid)) - ST_Area(ST_Transform(m, :srid))) AS area_m2,
               coalesce((ST_IsValidDetail(geom)).location, ST_PointOnSurface(m)) AS location,
               m AS repaired
          FROM check_grids WHERE NOT valid
    """,
    # Level-1 grids tile the county, so any two overlapping are wrong; sub-grids tile their parent.
    "overlap": """
        SELECT a.code AS grid_code, b.code AS other_code, NULL AS unit_code,
               json_build_object('other', b.code, 'area', area) AS said,
               area AS area_m2, x AS location, NULL::geometry AS repaired
          FROM check_grids a
          JOIN check_grids b ON a.code < b.code AND a.level = b.level
                            AND (a.level = 1 OR a.parent_id = b.parent_id) AND a.m && b.m
          CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection(a.m, b.m), 3) AS x) i
          CROSS JOIN LATERAL (SELECT ST_Area(ST_Transform(x, :srid)) AS area) s
         WHERE area > :tol
    """,
    "gap": """
        WITH parents AS (
            SELECT v.code AS unit_code, v.geom AS m,
                   (SELECT ST_Union(c.m) FROM check_grids c WHERE c.village_id = v.id AND c.level = 1) AS cover
              FROM admin_units v WHERE v.version_id = :version AND v.level = 'village'
            UNION ALL
            SELECT p.code, p.m, ST_Union(c.m)
              FROM check_grids p JOIN check_grids c ON c.parent_id = p.id GROUP BY p.code, p.m
        ), holes AS (
            SELECT unit_code, (ST_Dump(coalesce(ST_Difference(m, cover), m))).geom AS x FROM parents
        )
        SELECT NULL AS grid_code, NULL AS other_code, unit_code,
               json_build_object('unit', unit_code, 'area', area) AS said,
               area AS area_m2, x AS location, NULL::geometry AS repaired
          FROM holes CROSS JOIN LATERAL (SELECT ST_Area(ST_Transform(x, :srid)) AS area) s WHERE area > :tol
    """,
    "outside_parent": """
        WITH spill AS (
            SELECT g.code, v.code AS unit_code, ST_CollectionExtract(ST_Difference(g.m, v.geom), 3) AS x
              FROM check_grids g JOIN admin_units v ON v.id = g.village_id WHERE g.level = 1
            UNION ALL
            SELECT g.code, p.code, ST_CollectionExtract(ST_Difference(g.m, p.m), 3)
              FROM check_grids g JOIN check_grids p ON p.id = g.parent_id
        )
        SELECT code AS grid_code, NULL AS other_code, unit_code,
               json_build_object('unit', unit_code, 'area', area) AS said,
               area AS area_m2, x AS location, NULL::geometry AS repaired
          FROM spill CROSS JOIN LATERAL (SELECT ST_Area(ST_Transform(x, :srid)) AS area) s WHERE area > :tol
    """,
    # A part that is tiny, or thin by Polsby-Popper (4πA/P²: 1 for a disc, near 0 for a ribbon).
    "sliver": """
        SELECT code AS grid_code, NULL AS other_code, NULL AS unit_code,
               json_build_object('area', a, 'pp', pp) AS said,
               a AS area_m2, x AS location, NULL::geometry AS repaired
          FROM (SELECT code, d.geom AS x, ST_Area(t.p) AS a, 4 * pi() * ST_Area(t.p) / nullif(ST_Perimeter(t.p) ^ 2, 0) AS pp
                  FROM check_grids, ST_Dump(m) d, ST_Transform(d.geom, :srid) AS t(p)) parts
         WHERE a < :sliver_area OR pp < :sliver_pp
    """,
    "no_grid_worker": """
        SELECT code AS grid_code, NULL AS other_code, NULL AS unit_code,
               json_build_object('grid', code, 'day', CAST(:day AS date)) AS said,
               ST_Area(ST_Transform(m, :srid)) AS area_m2, geom AS location, NULL::geometry AS repaired
          FROM check_grids g
         WHERE level = 1 AND NOT EXISTS (
               SELECT 1 FROM officer_assignments a
                WHERE a.role = 'grid_worker' AND a.unit_code = g.code
                  AND a.valid_from <= :day AND (a.valid_to IS NULL OR a.valid_to >= :day))
    """,
    "households": """
        SELECT code AS grid_code, NULL AS other_code, NULL AS unit_code,
               json_build_object('households', households, 'kind', kind,
                                 'low', CASE kind WHEN 'urban' THEN :urban_low ELSE :rural_low END,
                                 'high', CASE kind WHEN 'urban' THEN :urban_high ELSE :rural_high END) AS said,
               ST_Area(ST_Transform(m, :srid)) AS area_m2, geom AS location, NULL::geometry AS repaired
          FROM check_grids
         WHERE level = 1 AND kind <> 'special'
           AND NOT households BETWEEN (CASE kind WHEN 'urban' THEN :urban_low ELSE :rural_low END)
                                  AND (CASE kind WHEN 'urban' THEN :urban_high ELSE :rural_high END)
    """,
}


def check_message(check: str, said: dict) -> Message:
    """What a check found, in words (``said``: the values its query gives)."""
    match check:
        case "invalid_geometry":
            return t("invalid geometry: {reason}", reason=said["reason"])
        case "overlap":
            return t("overlaps {other} by {area:.1f} m²", other=said["other"], area=said["area"])
        case "gap":
            return t("{area:.1f} m² of {unit} are in none of its grids", area=said["area"], unit=said["unit"])
        case "outside_parent":
            return t("{area:.1f} m² lie outside {unit}", area=said["area"], unit=said["unit"])
        case "sliver":
            return t("a part of {area:.1f} m² with Polsby-Popper {pp:.3f}", area=said["area"], pp=said["pp"])
        case "no_grid_worker":
            return t("no grid worker is responsible for {grid} on {day}", grid=said["grid"], day=said["day"])
    return t(
        "{households} households; the target for a {kind!v} grid is {low} to {high}",
        households=said["households"],
        kind=said["kind"],
        low=said["low"],
        high=said["high"],
    )


@dataclass(frozen=True)
class CheckReport:
    """Problems of one version: one row per problem, ``location`` where it is (the storage CRS)."""

    version_id: int
    problems: gpd.GeoDataFrame

    @property
    def errors(self) -> int:
        return int((self.problems["severity"] == "error").sum())

    def summary(self) -> dict[str, int]:
        counts = self.problems["check"].value_counts()
        return {check: int(counts.get(check, 0)) for check in CHECKS}

    def to_geojson(self, language: Language = DEFAULT_LANGUAGE) -> dict:
        """A FeatureCollection: each problem located, its message in ``language``, the repaired
        shape (if any) as a property."""
        features = []
        for row in self.problems.itertuples(index=False):
            properties = {c: getattr(row, c) for c in COLUMNS if c not in ("location", "repaired")}
            properties["message"] = render(row.message, language)
            properties["area_m2"] = round(float(row.area_m2), 2) if pd.notna(row.area_m2) else None
            properties["repaired"] = shapely.geometry.mapping(row.repaired) if row.repaired is not None else None
            features.append(
                {"type": "Feature", "geometry": shapely.geometry.mapping(row.location), "properties": properties}
            )
        return {
            "type": "FeatureCollection",
            "version_id": self.version_id,
            "summary": self.summary(),
            "errors": self.errors,
            "features": features,
        }


def check_version(
    connection: Connection | Engine,
    version_id: int,
    *,
    on: date | None = None,
    checks: tuple[str, ...] | None = None,
    settings: Settings,
) -> CheckReport:
    """Run the checks on a version's grids.

    Parameters
    ----------
    version_id : int
        The version (draft or published).
    on : date, optional
        The day whose grid workers count (default today, in the county's zone).
    checks : tuple of str, optional
        A subset of :data:`CHECKS` (default all).
    settings : Settings
        The county's zone, metric projection and the planning thresholds.
    """
    if isinstance(connection, Engine):
        with connection.begin() as conn:
            return check_version(conn, version_id, on=on, checks=checks, settings=settings)
    planning, zone = settings.planning, settings.place.timezone
    srid = version_srid(connection, settings.place, int(version_id))
    connection.exec_driver_sql(_PREPARE.format(version=int(version_id)))
    params = {
        "version": version_id,
        "srid": srid,
        "tol": planning.boundary_tolerance_m2,
        "sliver_area": planning.sliver_area_m2,
        "sliver_pp": planning.sliver_polsby_popper,
        "day": on or local_day(now(zone), zone),
        "urban_low": planning.urban_households[0],
        "urban_high": planning.urban_households[1],
        "rural_low": planning.rural_households[0],
        "rural_high": planning.rural_households[1],
    }
    frames = []
    for check in checks or tuple(CHECKS):
        rows = connection.execute(text(_QUERIES[check]), params).mappings().all()
        if rows:
            frame = pd.DataFrame(rows)
            frame.insert(0, "check", check)
            frame.insert(1, "severity", CHECKS[check])
            # Kept as objects: a column of text would keep the English and drop the message.
            messages = [check_message(check, said) for said in frame.pop("said")]
            frame["message"] = pd.Series(messages, index=frame.index, dtype=object)
            frames.append(frame)
    connection.exec_driver_sql("DROP TABLE IF EXISTS check_grids")
    problems = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    for column in ("location", "repaired"):
        problems[column] = shapely.from_wkb(problems[column].to_numpy()) if len(problems) else None
    problems = gpd.GeoDataFrame(problems[COLUMNS], geometry="location", crs=STORAGE_CRS)
    problems = problems.sort_values(
        ["severity", "check", "grid_code", "unit_code"],
        na_position="last",
        key=lambda s: s.map({"error": 0, "warning": 1}) if s.name == "severity" else s,
    )
    return CheckReport(version_id, problems.reset_index(drop=True))
