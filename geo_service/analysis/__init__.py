"""The analyst's library: where and when incidents concentrate, whether that is chance, how it
changes, how the closed loop performs and what the cameras see. Answers are GeoDataFrames
(EPSG:4490) or DataFrames; the heavy aggregation runs in PostGIS, the statistics (esda,
libpysal, scipy) on what it has aggregated.

The library reads no settings of its own: the caller passes the county's zone and metric
projection (``settings.place``), and ``geojson`` makes the documents the API answers with.

>>> from geo_service.analysis import feature_collection, hotspots, incident_filter, make_span
>>> settings = Settings()
>>> with engine.connect() as c:
...     where = incident_filter(c, make_span("2026-01-01", "2026-07-01", zone=settings.place.timezone), ["dispute"])
>>> spots = hotspots(engine, where, unit="grid", place=settings.place)
>>> doc = feature_collection(spots, COLUMNS["hotspots"])
"""

from geo_service.analysis.clusters import dbscan_clusters
from geo_service.analysis.compare import compare_spans
from geo_service.analysis.counts import counts
from geo_service.analysis.coverage import coverage_by_unit, hotspot_coverage, incident_coverage
from geo_service.analysis.density import kernel_density
from geo_service.analysis.emerging import emerging_hotspots, space_time_cube
from geo_service.analysis.geojson import COLUMNS, feature_collection, json_safe, table
from geo_service.analysis.hotspots import gi_star, hotspots
from geo_service.analysis.rankings import rankings
from geo_service.analysis.span import (
    IncidentFilter,
    Span,
    data_end,
    incident_filter,
    make_span,
    preset_spans,
    two_spans,
)

__all__ = [
    "COLUMNS",
    "IncidentFilter",
    "Span",
    "compare_spans",
    "counts",
    "coverage_by_unit",
    "data_end",
    "dbscan_clusters",
    "emerging_hotspots",
    "feature_collection",
    "gi_star",
    "hotspot_coverage",
    "hotspots",
    "incident_coverage",
    "incident_filter",
    "json_safe",
    "kernel_density",
    "make_span",
    "preset_spans",
    "rankings",
    "space_time_cube",
    "table",
    "two_spans",
]
