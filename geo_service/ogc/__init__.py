"""OGC API - Features (Part 1 Core + GeoJSON, Part 2 CRS, Part 3 queryables and CQL2 filters)
over the service's tables: :mod:`~geo_service.ogc.collections` declares them,
:mod:`~geo_service.ogc.items` reads them, :mod:`~geo_service.ogc.cql` turns filters into SQL,
:mod:`~geo_service.ogc.openapi` describes them the way OGC clients (QGIS, GDAL) read an API."""

from geo_service.ogc.collections import (
    CONFORMANCE,
    CRS84,
    DEFAULT_LIMIT,
    EPSG,
    MAX_LIMIT,
    STATIC,
    STORAGE_CRS,
    SUPPORTED_CRS,
    Collection,
    collection,
    collections,
)
from geo_service.ogc.items import PageRequest, extent, item, items
from geo_service.ogc.params import BadRequest, parse_bbox, parse_crs, parse_datetime

__all__ = [
    "CONFORMANCE",
    "CRS84",
    "DEFAULT_LIMIT",
    "EPSG",
    "MAX_LIMIT",
    "STATIC",
    "STORAGE_CRS",
    "SUPPORTED_CRS",
    "BadRequest",
    "Collection",
    "PageRequest",
    "collection",
    "collections",
    "extent",
    "item",
    "items",
    "parse_bbox",
    "parse_crs",
    "parse_datetime",
]
