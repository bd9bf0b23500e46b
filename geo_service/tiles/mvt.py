"""Mapbox Vector Tiles made by PostGIS: ``ST_AsMVT`` over ``ST_AsMVTGeom`` of a layer's source.

The source query is filtered by the tile's area in CGCS2000 (``:bbox``), so the stored geometry's
own GiST index finds the rows; only the rows found are transformed to Web Mercator and clipped.

For a GCJ-02 or BD-09 basemap the features are shifted in SQL by an affine map fitted, per tile,
to the shift ``geo_service.coordinates.datum`` computes at nine points of the tile. The shift varies slowly
(its shortest wavelength is about a third of a degree), so the fit is off by at most a few metres
at zoom 12 and finer, and by about a pixel at zoom 10; the datum logic stays in one place.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import TextClause

from geo_service.auth.jurisdiction import Jurisdiction, area_covers
from geo_service.coordinates.datum import convert, parse_datum
from geo_service.coordinates.projection import metric_srid
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.settings import PlaceSettings
from geo_service.tiles.layers import Layer
from geo_service.times import parse_moment
from geo_service.vocabulary import DISPLAY_DATUMS, STORAGE_SRID

EARTH_RADIUS = 6378137.0
HALF_WORLD = math.pi * EARTH_RADIUS
# Farther than any datum shift in China (GCJ-02 up to ~700 m, BD-09 up to ~1.7 km from WGS84).
SHIFT_MARGIN_M = 2500.0
__all__ = ["DISPLAY_DATUMS", "Tile", "bind_values", "render_tile", "source_sql", "tile_statement"]


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    @classmethod
    def at(cls, lon: float, lat: float, z: int) -> Tile:
        """The tile of zoom ``z`` holding a WGS84 (or CGCS2000) point."""
        side = 1 << z
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * side)
        return cls(z, int((lon + 180) / 360 * side), y)

    @classmethod
    def checked(cls, z: int, x: int, y: int) -> Tile:
        if not 0 <= z <= 24:
            raise InvalidInput(t("z: zoom {z} is outside 0..24", z=z), field="z")
        side = 1 << z
        for name, value in (("x", x), ("y", y)):
            if not 0 <= value < side:
                raise InvalidInput(
                    t(
                        "{name}: {value} is outside 0..{value2} at zoom {z}",
                        name=name,
                        value=value,
                        value2=side - 1,
                        z=z,
                    ),
                    field=name,
                )
        return cls(z, x, y)

    @property
    def size_m(self) -> float:
        return 2 * HALF_WORLD / (1 << self.z)

    def mercator_bounds(self) -> tuple[float, float, float, float]:
        """West, south, east, north in EPSG:3857, as ``ST_TileEnvelope`` gives them."""
        size = self.size_m
        west = -HALF_WORLD + self.x * size
        north = HALF_WORLD - self.y * size
        return west, north - size, west + size, north


def mercator_to_lonlat(x: np.ndarray | float, y: np.ndarray | float) -> tuple[Any, Any]:
    lon = np.degrees(np.asarray(x) / EARTH_RADIUS)
    lat = np.degrees(np.arctan(np.sinh(np.asarray(y) / EARTH_RADIUS)))
    return lon, lat


def lonlat_to_mercator(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[Any, Any]:
    x = np.radians(np.asarray(lon)) * EARTH_RADIUS
    y = np.log(np.tan(np.pi / 4 + np.radians(np.asarray(lat)) / 2)) * EARTH_RADIUS
    return x, y


def query_bbox(tile: Tile, buffer_fraction: float, extra_m: float = 0.0) -> dict[str, float]:
    """The tile's area plus its buffer (and ``extra_m``), as CGCS2000 lon/lat bind parameters."""
    west, south, east, north = tile.mercator_bounds()
    margin = tile.size_m * buffer_fraction + extra_m
    lon, lat = mercator_to_lonlat(
        np.array([max(west - margin, -HALF_WORLD), min(east + margin, HALF_WORLD)]),
        np.array([max(south - margin, -HALF_WORLD), min(north + margin, HALF_WORLD)]),
    )
    return {"west": float(lon[0]), "east": float(lon[1]), "south": float(lat[0]), "north": float(lat[1])}


def datum_affine(tile: Tile, datum: str) -> dict[str, float]:
    """``ST_Affine`` coefficients moving WGS84 Web Mercator onto ``datum`` over this tile."""
    west, south, east, north = tile.mercator_bounds()
    xs, ys = np.meshgrid(np.linspace(west, east, 3), np.linspace(south, north, 3))
    xs, ys = xs.ravel(), ys.ravel()
    lon, lat = mercator_to_lonlat(xs, ys)
    lat = np.clip(lat, -85.0, 85.0)
    slon, slat = convert(lon, lat, "wgs84", datum)
    tx, ty = lonlat_to_mercator(slon, slat)
    cx, cy = xs.mean(), ys.mean()
    design = np.column_stack([xs - cx, ys - cy, np.ones_like(xs)])
    (a, b, sx), *_ = np.linalg.lstsq(design, tx - cx, rcond=None)
    (d, e, sy), *_ = np.linalg.lstsq(design, ty - cy, rcond=None)
    coefficients = {
        "a": a,
        "b": b,
        "d": d,
        "e": e,
        "xoff": cx + sx - a * cx - b * cy,
        "yoff": cy + sy - d * cx - e * cy,
    }
    return {k: float(v) for k, v in coefficients.items()}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def source_sql(layer: Layer) -> str:
    """The layer's source with ``:bbox`` written out as a CGCS2000 rectangle."""
    return re.sub(r":bbox\b", f"ST_MakeEnvelope(:west, :south, :east, :north, {STORAGE_SRID})", layer.source_sql)


@lru_cache(maxsize=256)
def tile_statement(layer: Layer, shifted: bool, scoped: bool = False, department: bool = False) -> TextClause:
    """The tile's SQL; ``scoped`` keeps only features whose inner point lies in ``:scope_area``
    (a user's jurisdiction, see ``geo_service.auth.jurisdiction``); ``department`` reads, for a
    department's user, only the incidents of ``:scope_department`` wherever the layer's source
    reads incidents (a query's own ``incidents`` shadows the table), counts included."""
    geom = f"ST_Transform(src.{_quoted(layer.geometry_column)}, 3857)"
    scope_sql = area_covers(f"src.{_quoted(layer.geometry_column)}")
    if shifted:
        geom = f"ST_Affine({geom}, :a, :b, :d, :e, :xoff, :yoff)"
    columns = [f"src.{_quoted(p)}" for p in layer.properties]
    id_arg = ""
    if layer.id_column:
        columns.append(f"src.{_quoted(layer.id_column)}")
        id_arg = f", '{layer.id_column}'"
    only = "WITH incidents AS (SELECT * FROM incidents WHERE department = :scope_department) " if department else ""
    return text(f"""
        {only}SELECT ST_AsMVT(mvt, '{layer.name}', {layer.extent}, 'geom'{id_arg}) FROM (
            SELECT ST_AsMVTGeom({geom}, ST_MakeEnvelope(:tx0, :ty0, :tx1, :ty1, 3857),
                                {layer.extent}, {layer.buffer}, true) AS geom,
                   {", ".join(columns)}
              FROM ({source_sql(layer)}) src
             {"WHERE " + scope_sql if scoped else ""}
        ) mvt
        WHERE mvt.geom IS NOT NULL
    """)


def bind_values(layer: Layer, values: dict[str, Any], place: PlaceSettings, lon: float = 105.0) -> dict[str, Any]:
    """Every declared parameter bound (NULL when not given), and the county's ``:zone``, the
    ``:metric_srid`` of the area around ``lon`` and the ``:storage_srid``. Times are read by
    :func:`geo_service.times.parse_moment`: a date is the county's midnight, a time without a zone
    the county's time."""
    out: dict[str, Any] = {"zone": place.timezone, "metric_srid": metric_srid(place, lon), "storage_srid": STORAGE_SRID}
    for name, parameter in layer.parameters.items():
        value = values.get(name)
        if value is not None and parameter.type == "datetime":
            value = parse_moment(value, name, place.timezone)
        out[name] = value
    return out


def render_tile(
    connection: Connection,
    layer: Layer,
    tile: Tile,
    *,
    version_ids: list[int],
    values: dict[str, Any] | None = None,
    datum: str = "wgs84",
    place: PlaceSettings,
    scope: Jurisdiction | None = None,
) -> bytes:
    """One tile of ``layer``: MVT bytes, empty when no feature falls in it.

    Parameters
    ----------
    values
        The layer's parameters as :meth:`Parameter.parse` gives them.
    datum
        The basemap's datum: ``wgs84`` (also for CGCS2000 and no basemap), ``gcj02`` or ``bd09``.
    place
        The county's zone and metric projection (``settings.place``), bound for the source.
    """
    datum = parse_datum(datum)
    shifted = datum in ("gcj02", "bd09")
    if tile.z < layer.minzoom or tile.z > layer.maxzoom:
        return b""
    west, south, east, north = tile.mercator_bounds()
    params: dict[str, Any] = {
        "tx0": west,
        "ty0": south,
        "tx1": east,
        "ty1": north,
        "z": tile.z,
        "versions": version_ids,
    }
    params.update(query_bbox(tile, layer.buffer / layer.extent, SHIFT_MARGIN_M if shifted else 0.0))
    if shifted:
        params.update(datum_affine(tile, datum))
    params.update(bind_values(layer, values or {}, place, lon=float(np.degrees((west + east) / 2 / EARTH_RADIUS))))
    scoped = scope is not None and not scope.unrestricted
    department = scoped and scope.department is not None
    area_test = scoped
    if scoped:
        params.update(scope.params())
        if layer.geometry_type == "point":
            # A point the tile keeps lies in its query box (ST_AsMVTGeom drops the others): the
            # area there decides it as the whole area would.
            near = scope.area_in(_widened(params))
            if near is False:
                return b""
            area_test = near is not True
            params["scope_area"] = near if area_test else None
    data = connection.execute(tile_statement(layer, shifted, area_test, department), params).scalar()
    return bytes(data) if data else b""


def _widened(box: dict[str, float]) -> tuple[float, float, float, float]:
    """The query box, a tenth wider each way: no point at its edge is lost to rounding between
    the storage datum and Web Mercator."""
    dx, dy = (box["east"] - box["west"]) / 10, (box["north"] - box["south"]) / 10
    return (box["west"] - dx, box["south"] - dy, box["east"] + dx, box["north"] + dy)
