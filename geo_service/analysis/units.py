"""The places an analysis counts in: grids, villages, towns, counties, or hexagons of a chosen size.

Grids, villages, towns and counties are those of the boundaries in force at the end of the span;
an incident counts in the unit it was assigned to when it was reported (its recorded codes),
which is who answered for it. "Grid" means the finest grids, the ones incidents are assigned to
(a level-1 grid split into level-2 grids is counted through its parts).

Hexagons are PostGIS's ``ST_HexagonGrid`` tiling in one metric projection for the whole area
analysed (:func:`analysis_srid`: the zone of its middle), so that a hot spot across a county
border is one run of hexagons; anchored at the projection's origin: ``size_m`` is the length of a side (a hexagon is
``sqrt(3) * size_m`` across its flats and ``2.6 * size_m**2`` in area). An incident's hexagon is
found by arithmetic on its projected coordinates (no spatial join): a point lies in the hexagon
whose centre is nearest, and only two columns of centres can be nearest.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import datetime, timedelta

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.analysis.span import IncidentFilter
from geo_service.boundaries.versions import InForce, in_force
from geo_service.coordinates.projection import counties_srid, zone_srid
from geo_service.db.engine import database_name
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.settings import PlaceSettings
from geo_service.times import local_day
from geo_service.vocabulary import STORAGE_SRID

UNITS = ("grid", "village", "town", "county", "hex")
HEX_SIZE_RANGE_M = (100.0, 5000.0)
_HEX_CACHE: OrderedDict[tuple, gpd.GeoDataFrame] = OrderedDict()
_HEX_CACHE_SIZE = 8

# Current grid workers (role grid_worker) on the day; a unit counts those of its grids.
_WORKERS = """
    workers AS (SELECT unit_code FROM officer_assignments
                 WHERE role = 'grid_worker' AND valid_from <= :day AND (valid_to IS NULL OR valid_to >= :day))
"""
_UNIT_SQL = {
    # A level-2 grid shares the worker of the level-1 grid it lies in.
    "grid": f"""
        WITH {_WORKERS}
        SELECT g.code, g.name, g.population, g.households,
               (SELECT count(*) FROM workers w
                 WHERE w.unit_code IN (g.code, left(g.code, 15), left(g.code, 18)))::int AS grid_workers,
               ST_Area(g.geom::geography) / 1e6 AS area_km2, g.geom
          FROM grids g
         WHERE g.version_id = ANY(:versions) AND NOT EXISTS (SELECT 1 FROM grids c WHERE c.parent_id = g.id)
         ORDER BY g.code
    """,
    "village": f"""
        WITH {_WORKERS}
        SELECT u.code, u.name, u.population, u.households,
               (SELECT count(*) FROM workers w WHERE left(w.unit_code, 12) = u.code)::int AS grid_workers,
               ST_Area(u.geom::geography) / 1e6 AS area_km2, u.geom
          FROM admin_units u WHERE u.version_id = ANY(:versions) AND u.level = 'village' ORDER BY u.code
    """,
    "town": f"""
        WITH {_WORKERS}
        SELECT u.code, u.name, u.population, u.households,
               (SELECT count(*) FROM workers w WHERE left(w.unit_code, 9) = left(u.code, 9))::int AS grid_workers,
               ST_Area(u.geom::geography) / 1e6 AS area_km2, u.geom
          FROM admin_units u WHERE u.version_id = ANY(:versions) AND u.level = 'town' ORDER BY u.code
    """,
    "county": f"""
        WITH {_WORKERS}
        SELECT u.code, u.name, u.population, u.households,
               (SELECT count(*) FROM workers w WHERE left(w.unit_code, 6) = left(u.code, 6))::int AS grid_workers,
               ST_Area(u.geom::geography) / 1e6 AS area_km2, u.geom
          FROM admin_units u WHERE u.version_id = ANY(:versions) AND u.level = 'county' ORDER BY u.code
    """,
    # Every hexagon touching the counties. The outline is cut into small pieces, and each piece
    # draws the hexagons over its own box and keeps those it touches (one hexagon may touch
    # several pieces: kept once). Testing the hexagons over the whole outline's box against every
    # piece instead took 90 s for a city of ten counties (a billion box tests), 0.4 s for one county.
    "hex": f"""
        WITH county AS (SELECT ST_Transform(ST_Union(geom), :srid) AS g FROM admin_units
                         WHERE version_id = ANY(:versions) AND level = 'county'),
             pieces AS (SELECT ST_Subdivide(g, 64) AS g FROM county),
             cells AS (SELECT DISTINCT ON (h.i, h.j) h.i, h.j, h.geom
                         FROM pieces p, ST_HexagonGrid(:size, p.g) h
                        WHERE ST_Intersects(p.g, h.geom)
                        ORDER BY h.i, h.j)
        SELECT i || ':' || j AS code, i, j, ST_Transform(geom, {STORAGE_SRID}) AS geom FROM cells ORDER BY i, j
    """,
}
_KEY_COLUMN = {"grid": "grid_code", "village": "village_code", "town": "town_code", "county": "county_code"}


def analysis_srid(connection: Connection, where: IncidentFilter, place: PlaceSettings) -> int:
    """The metric projection an analysis of ``where`` is measured in: the deployment's fixed one,
    else the zone of the middle of the user's jurisdiction, or of every county in force
    (``geo_service.coordinates.projection``)."""
    if place.metric_srid:
        return int(place.metric_srid)
    if where.scope.area is not None:
        minx, _, maxx, _ = shapely.from_wkb(where.scope.area).bounds
        return zone_srid((minx + maxx) / 2)
    return counties_srid(connection, place, in_force(connection, where.span.end - timedelta(microseconds=1)).ids)


def check_unit(unit: str, size_m: float | None) -> float | None:
    """The hexagon size to use (None for other units); a clear error for a bad unit or size."""
    if unit not in UNITS:
        raise InvalidInput(t("unknown unit {unit!r}; one of {UNITS}", unit=unit, UNITS=", ".join(UNITS)), field="unit")
    if unit != "hex":
        return None
    if size_m is None:
        raise InvalidInput(t("unit 'hex' needs size_m, the hexagons' side in metres"), field="size_m")
    low, high = HEX_SIZE_RANGE_M
    if not (isinstance(size_m, (int, float)) and math.isfinite(size_m) and low <= size_m <= high):
        raise InvalidInput(
            t("size_m must be between {low:g} and {high:g} metres, not {size_m!r}", low=low, high=high, size_m=size_m),
            field="size_m",
        )
    return float(size_m)


def units_for(
    connection: Connection, where: IncidentFilter, unit: str, size_m: float | None = None, *, place: PlaceSettings
) -> gpd.GeoDataFrame:
    """:func:`unit_frame` for the boundaries in force at the end of the span, only the units inside
    the filter's scope (a unit belongs to the jurisdiction its inner point lies in; a hexagon is
    kept when it touches it, as every hexagon touching the counties is drawn)."""
    srid = analysis_srid(connection, where, place) if unit == "hex" else None
    scope = where.scope
    # Only the versions of the scope's counties are read: a county's analysis costs the same in a city.
    counties = None if scope.unrestricted else list(scope.counties or [scope.code[:6] + "000000"])
    frame = unit_frame(
        connection, unit, where.span.end - timedelta(microseconds=1), size_m, place=place, srid=srid, counties=counties
    )
    if scope.unrestricted:
        return frame
    area = shapely.from_wkb(where.scope.area)
    shapely.prepare(area)
    if unit == "hex":  # cells, not places: every cell touching the area (its incidents are the scope's alone)
        inside = shapely.intersects(area, frame.geometry.values)
    else:
        inside = shapely.covers(area, frame.geometry.representative_point().values)
    return frame[inside].reset_index(drop=True)


def unit_frame(
    connection: Connection,
    unit: str,
    at: datetime,
    size_m: float | None = None,
    *,
    place: PlaceSettings,
    srid: int | None = None,
    counties: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """The units of the boundaries in force at ``at``: code, name, population, households, grid workers.

    Grid workers are those posted on the county's day of ``at`` (``place.timezone``); hexagons are
    drawn in ``srid`` (:func:`analysis_srid`) and carry no population (NaN): residents are counted
    by grid and village, not by cell.
    """
    size = check_unit(unit, size_m)
    boundaries = in_force(connection, at)
    if counties is not None:  # only these counties' units (their versions in force)
        boundaries = InForce(tuple(v for v in boundaries.versions if v.county_code in counties))
    if unit == "hex":
        if srid is None:
            raise ValueError("hexagons need the projection they are drawn in (analysis_srid)")
        return _hexagons(connection, boundaries, size, srid)
    params = {"versions": boundaries.ids, "day": local_day(at, place.timezone)}
    return read_units(connection, _UNIT_SQL[unit], params)


def read_units(connection: Connection, sql: str, params: dict) -> gpd.GeoDataFrame:
    """A query's rows with their ``geom`` (EPSG:4490), its WKB read in one call (geopandas'
    ``read_postgis`` reads it row by row: a second for a city's ten thousand grids)."""
    frame = pd.read_sql(text(sql), connection, params=params)
    geometry = shapely.from_wkb(frame["geom"].to_numpy())
    return gpd.GeoDataFrame(
        frame.drop(columns="geom"), geometry=gpd.GeoSeries(geometry, crs=STORAGE_SRID)
    ).rename_geometry("geom")


def _hexagons(connection: Connection, boundaries: InForce, size: float, srid: int) -> gpd.GeoDataFrame:
    key = (database_name(connection), boundaries.cache_key, size, srid)
    if key in _HEX_CACHE:
        _HEX_CACHE.move_to_end(key)
        return _HEX_CACHE[key].copy()
    frame = read_units(connection, _UNIT_SQL["hex"], {"versions": boundaries.ids, "srid": srid, "size": size})
    frame["name"] = frame["code"]
    for column in ("population", "households", "grid_workers"):
        frame[column] = float("nan")
    frame["area_km2"] = 1.5 * math.sqrt(3) * size**2 / 1e6
    frame = frame[["code", "name", "population", "households", "grid_workers", "area_km2", "i", "j", "geom"]]
    _HEX_CACHE[key] = frame
    while len(_HEX_CACHE) > _HEX_CACHE_SIZE:
        _HEX_CACHE.popitem(last=False)
    return frame.copy()


def keyed_sql(unit: str, where: IncidentFilter, columns: dict[str, str] | None = None) -> str:
    """CTEs ending in ``keyed(key, <columns>)``: each counted incident with its unit's code.

    ``columns`` maps output names to expressions over ``incidents AS i``. Binds :start, :end,
    :categories, and for hexagons :size and :srid.
    """
    columns = columns or {}
    inner = "".join(f", {expression} AS {name}" for name, expression in columns.items())
    passed = "".join(f", {name}" for name in columns)
    if unit != "hex":
        return f"keyed AS (SELECT i.{_KEY_COLUMN[unit]} AS key{inner} FROM incidents i WHERE {where.sql('i')})"
    # Column i's centres are at x = 1.5 size i, y = sqrt(3) size (j + (i odd) / 2); the nearest
    # centre of columns i0 = floor(x / 1.5 size) and i0 + 1 is the hexagon holding the point.
    # Each step is its own subquery (OFFSET 0), so that PostgreSQL computes each value once
    # rather than inlining the expressions into one another; 1.5 size is a float8 (as a numeric it
    # made every row's arithmetic numeric: twice as slow, and the same for any size whose 1.5
    # times is a binary fraction, as whole and half metres are).
    return f"""
        projected AS MATERIALIZED (
            SELECT ST_X(p) AS x, ST_Y(p) AS y{passed}
              FROM (SELECT ST_Transform(i.geom, :srid) AS p{inner} FROM incidents i WHERE {where.sql("i")}) s),
        columns AS (SELECT x, y, floor(x / (1.5 * :size))::int AS i0{passed} FROM projected OFFSET 0),
        candidates AS (
            SELECT x, y, i0,
                   round((y - (i0 & 1) * sqrt(3) * :size / 2) / (sqrt(3) * :size))::int AS j0,
                   round((y - ((i0 + 1) & 1) * sqrt(3) * :size / 2) / (sqrt(3) * :size))::int AS j1{passed}
              FROM columns OFFSET 0),
        nearest AS (
            SELECT i0, j0, j1,
                   (x - (1.5 * :size)::float8 * i0) ^ 2 + (y - sqrt(3) * :size * (j0 + (i0 & 1) * 0.5::float8)) ^ 2
                   <= (x - (1.5 * :size)::float8 * (i0 + 1)) ^ 2
                      + (y - sqrt(3) * :size * (j1 + ((i0 + 1) & 1) * 0.5::float8)) ^ 2
                   AS first{passed}
              FROM candidates OFFSET 0),
        keyed AS (
            SELECT CASE WHEN first THEN i0 ELSE i0 + 1 END || ':' || CASE WHEN first THEN j0 ELSE j1 END AS key{passed}
              FROM nearest)
    """


def keyed_params(
    connection: Connection, where: IncidentFilter, unit: str, size_m: float | None, *, place: PlaceSettings
) -> dict:
    """The parameters :func:`keyed_sql` binds (hexagons in :func:`analysis_srid`)."""
    params = where.params()
    if unit == "hex":
        params.update(size=float(size_m), srid=analysis_srid(connection, where, place))
    return params


def no_jit(connection: Connection) -> None:
    """Turn off PostgreSQL's JIT for this transaction: ST_Transform's high cost estimate makes the
    planner compile these queries, which costs a second and saves nothing."""
    connection.execute(text("SET LOCAL jit = off"))


def attach(frame: gpd.GeoDataFrame, values: pd.DataFrame, fill: dict | None = None) -> gpd.GeoDataFrame:
    """``frame`` with the columns of ``values`` (indexed by unit code), missing units filled."""
    merged = frame.merge(values, left_on="code", right_index=True, how="left")
    return merged.fillna(fill or {})
