"""Coordinate helpers shared by the generator's steps."""

from __future__ import annotations

import json
from functools import cache, lru_cache

import numpy as np
import shapely
from pyproj import Transformer

from geo_service.settings import PROJECT_ROOT

SOURCES = PROJECT_ROOT / "boundaries" / "sources"
OUTLINE_FILE = SOURCES / "511421.geojson"
STORAGE_CRS = "EPSG:4490"
METRIC_CRS = "EPSG:4544"
PRECISION_M = 0.01  # metric coordinates are snapped to this grid, so shared edges are identical


@cache
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_metric(x, y):
    return _transformer(STORAGE_CRS, METRIC_CRS).transform(np.asarray(x, float), np.asarray(y, float))


def to_storage(x, y):
    return _transformer(METRIC_CRS, STORAGE_CRS).transform(np.asarray(x, float), np.asarray(y, float))


def geoms_to_storage(geoms):
    """Reproject metric geometries to CGCS2000 lon/lat, vertex by vertex (shared vertices stay shared)."""

    def fn(coords):
        lon, lat = to_storage(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), fn)


def geoms_to_metric(geoms):
    def fn(coords):
        x, y = to_metric(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), fn)


def datum_convert(lon, lat, src: str, dst: str):
    """Vectorised datum conversion through ``geo_service.coordinates.datum``."""
    from geo_service.coordinates import datum

    out = datum.convert(np.asarray(lon, float), np.asarray(lat, float), src, dst)
    return np.asarray(out[0], float), np.asarray(out[1], float)


@lru_cache(maxsize=1)
def county_outline_storage() -> shapely.MultiPolygon:
    """The real outline of Renshou county converted from GCJ-02 to CGCS2000."""
    from geo_service.coordinates import datum

    with OUTLINE_FILE.open(encoding="utf-8") as f:
        gcj = shapely.geometry.shape(json.load(f))
    geom = datum.convert_geometry(gcj, "gcj02", "cgcs2000")
    geom = shapely.make_valid(geom) if not geom.is_valid else geom
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    return geom
