"""A county's places written as a boundary version: the first one published at once, a later
different one left as a draft for the planner, the same one again left alone.

The places are always written into a new draft first and checked there by the planners' checks
(``geo_service.boundaries.checks``) and the units' own (villages inside their town, no two
siblings overlapping), so what PostGIS finds is reported against the file and row it came from.
The draft is then published (the county's first version), kept (the boundaries differ from those
in force: a planner checks and publishes it), or dropped (nothing changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.boundaries.checks import check_version
from geo_service.boundaries.versions import county_version_or_none
from geo_service.coordinates.projection import version_srid
from geo_service.county.places import PreparedPlaces
from geo_service.county.report import FileReport
from geo_service.db.copy import copy_frame
from geo_service.db.partitions import ensure_county_partitions
from geo_service.i18n import Message, t
from geo_service.settings import Settings
from geo_service.vocabulary import STORAGE_SRID

# Units whose shapes break their hierarchy, measured in the county's metric projection.
_UNIT_CHECKS = {
    "outside_town": """
        SELECT v.code, t.code AS other, ST_Area(ST_Transform(ST_Difference(v.geom, t.geom), :srid)) AS area
          FROM admin_units v JOIN admin_units t ON t.id = v.parent_id
         WHERE v.version_id = :version AND v.level = 'village'
    """,
    "overlapping_villages": """
        SELECT a.code, b.code AS other, ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), :srid)) AS area
          FROM admin_units a JOIN admin_units b
            ON b.version_id = a.version_id AND b.level = a.level AND a.code < b.code AND a.geom && b.geom
         WHERE a.version_id = :version AND a.level IN ('town', 'village')
    """,
}


def _unit_message(check: str, code: str, other: str, area: float) -> Message:
    if check == "outside_town":
        return t("{area:.0f} m² of {code} lie outside its town {other}", area=area, code=code, other=other)
    return t("{code} overlaps {other} by {area:.0f} m²", code=code, other=other, area=area)


@dataclass
class PlacesResult:
    version_id: int | None
    outcome: str  # "published" (the county's first version), "draft" (differs from the one in force), "unchanged"
    counts: dict[str, int]


def write_places(
    connection: Connection,
    places: PreparedPlaces,
    *,
    effective_from: datetime,
    settings: Settings,
    towns_report: FileReport,
) -> PlacesResult:
    """Write ``places`` as a draft, check it, and publish, keep or drop it (see the module's text).

    Problems the checks find are added to the reports of the rows they concern; the caller
    decides from the reports whether to commit. Other counties' versions are not touched: what is
    in force is decided per county.
    """
    current = county_version_or_none(connection, _now(connection), places.county_code)
    draft = _write_draft(connection, places)
    _check(connection, draft, places, settings)
    counts = {"towns": len(places.towns), "villages": len(places.villages), "grids": len(places.grids)}
    if current is None:
        connection.execute(
            text("""UPDATE boundary_versions SET status = 'published', effective_from = :at, published_at = now(),
                           note = 'the county''s first boundaries, from its own files' WHERE id = :v"""),
            {"v": draft, "at": effective_from},
        )
        return PlacesResult(draft, "published", counts)
    if _same(connection, draft, current.id):
        connection.execute(text("DELETE FROM boundary_versions WHERE id = :v"), {"v": draft})
        return PlacesResult(current.id, "unchanged", counts)
    towns_report.warn(
        None,
        None,
        t(
            "the boundaries differ from version {version} in force: they are stored as draft {draft}; "
            "check and publish it (geo-service boundaries check / publish)",
            version=current.name,
            draft=draft,
        ),
    )
    return PlacesResult(draft, "draft", counts)


def _now(connection: Connection) -> datetime:
    return connection.execute(text("SELECT now()")).scalar_one()


def _write_draft(connection: Connection, places: PreparedPlaces) -> int:
    name = f"county-{places.county_code[:6]}-{_now(connection):%Y%m%d-%H%M%S%f}"
    draft = connection.execute(
        text(
            "INSERT INTO boundary_versions (name, county_code, status, note) "
            "VALUES (:n, :county, 'draft', :note) RETURNING id"
        ),
        {"n": name, "county": places.county_code, "note": "imported from the county's files"},
    ).scalar_one()
    # The county's incidents and timelines get partitions with its first version, before any arrive.
    ensure_county_partitions(connection, places.county_code)
    cursor = connection.connection.cursor()
    cursor.execute(f"""
        CREATE TEMP TABLE import_units (
            code text, level text, kind text, name text, parent_code text, urban boolean,
            population int, households int, geom geometry(MultiPolygon, {STORAGE_SRID})) ON COMMIT DROP;
        CREATE TEMP TABLE import_grids (
            code text, name text, level smallint, kind text, village_code text, parent_code text,
            population int, households int, geom geometry(MultiPolygon, {STORAGE_SRID})) ON COMMIT DROP
    """)
    county = places.county.assign(
        level="county", kind="county", parent_code=None, urban=False, population=0, households=0
    )
    county["population"] = int(places.towns["population"].sum())
    county["households"] = int(places.towns["households"].sum())
    towns = places.towns.assign(level="town", parent_code=places.county_code, urban=False)
    villages = places.villages.assign(level="village", parent_code=places.villages["town_code"])
    units = pd.concat([county, towns, villages], ignore_index=True)
    columns = ["code", "level", "kind", "name", "parent_code", "urban", "population", "households"]
    copy_frame(cursor, "import_units", units[[*columns, "geometry"]].set_geometry("geometry"), [*columns, "geom"])
    grid_columns = ["code", "name", "level", "kind", "village_code", "parent_code", "population", "households"]
    copy_frame(cursor, "import_grids", places.grids, [*grid_columns, "geom"])
    for level in ("county", "town", "village"):
        connection.execute(
            text("""
            INSERT INTO admin_units (version_id, parent_id, code, level, kind, name, urban, population, households, geom)
            SELECT :v, p.id, u.code, u.level, u.kind, u.name, u.urban, u.population, u.households, u.geom
              FROM import_units u LEFT JOIN admin_units p ON p.version_id = :v AND p.code = u.parent_code
             WHERE u.level = :level ORDER BY u.code
        """),
            {"v": draft, "level": level},
        )
    for level in (1, 2, 3):
        connection.execute(
            text("""
            INSERT INTO grids (version_id, village_id, parent_id, code, name, level, kind, population, households, geom)
            SELECT :v, v.id, p.id, g.code, g.name, g.level, g.kind, g.population, g.households, g.geom
              FROM import_grids g
              JOIN admin_units v ON v.version_id = :v AND v.code = g.village_code
              LEFT JOIN grids p ON p.version_id = :v AND p.code = g.parent_code
             WHERE g.level = :level ORDER BY g.code
        """),
            {"v": draft, "level": level},
        )
    cursor.execute("DROP TABLE import_units; DROP TABLE import_grids")
    return draft


def _check(connection: Connection, draft: int, places: PreparedPlaces, settings: Settings) -> None:
    """The planners' checks and the units' own, each problem reported at its row."""
    tolerance = settings.planning.boundary_tolerance_m2
    srid = version_srid(connection, settings.place, draft)
    for check, sql in _UNIT_CHECKS.items():
        for code, other, area in connection.execute(text(sql), {"version": draft, "srid": srid}):
            if area is not None and area > tolerance:
                _report(places, code, _unit_message(check, code, other, float(area)), "error")
                if check == "overlapping_villages":
                    _report(places, other, _unit_message(check, other, code, float(area)), "error")
    if places.grids.empty:
        return
    report = check_version(
        connection, draft, checks=("invalid_geometry", "overlap", "gap", "outside_parent"), settings=settings
    )
    for problem in report.problems.itertuples():
        _report(places, problem.grid_code or problem.unit_code, problem.message, problem.severity)
        if problem.other_code:  # an overlap is as much the other grid's problem
            message = t("overlapped by {other} by {area:.1f} m²", other=problem.grid_code, area=float(problem.area_m2))
            _report(places, problem.other_code, message, problem.severity)


def _report(places: PreparedPlaces, code: str | None, message: Message, severity: str) -> None:
    origin = places.origins.get(code or "")
    if origin is None:
        return
    add = origin.report.error if severity == "error" else origin.report.warn
    add(origin.row, origin.geometry_column, message)


_SAME = """
    SELECT NOT EXISTS (
        SELECT 1 FROM (SELECT * FROM {table} WHERE version_id = :draft) d
          FULL JOIN (SELECT * FROM {table} WHERE version_id = :base) b ON b.code = d.code
         WHERE d.id IS NULL OR b.id IS NULL OR d.name IS DISTINCT FROM b.name OR d.kind IS DISTINCT FROM b.kind
            OR d.population <> b.population OR d.households <> b.households OR NOT ST_Equals(d.geom, b.geom))
"""


def _same(connection: Connection, draft: int, base: int) -> bool:
    """The draft holds exactly the units and grids of ``base``."""
    return all(
        connection.execute(text(_SAME.format(table=table)), {"draft": draft, "base": base}).scalar_one()
        for table in ("admin_units", "grids")
    )
