"""The analyst's library: where and when incidents concentrate, whether that is chance, how it
changes, how the closed loop performs and what the cameras see. Answers are GeoDataFrames
(EPSG:4490) or DataFrames; the heavy aggregation runs in PostGIS, the statistics (esda,
libpysal, scipy) on what it has aggregated.

>>> from geo_service.analysis import incident_filter, make_span, hotspots
>>> with engine.connect() as c:
...     where = incident_filter(c, make_span("2026-01-01", "2026-07-01"), ["dispute"])
>>> spots = hotspots(engine, where, unit="grid")
"""

from geo_service.analysis.clusters import dbscan_clusters
from geo_service.analysis.compare import compare_spans
from geo_service.analysis.counts import counts
from geo_service.analysis.coverage import coverage_by_unit, hotspot_coverage, incident_coverage
from geo_service.analysis.density import kernel_density
from geo_service.analysis.emerging import emerging_hotspots, space_time_cube
from geo_service.analysis.hotspots import gi_star, hotspots
from geo_service.analysis.rankings import rankings
from geo_service.analysis.span import IncidentFilter, Span, data_end, incident_filter, make_span, preset_spans

__all__ = [
    "IncidentFilter", "Span", "compare_spans", "counts", "coverage_by_unit", "data_end", "dbscan_clusters",
    "emerging_hotspots", "gi_star", "hotspot_coverage", "hotspots", "incident_coverage", "incident_filter",
    "kernel_density", "make_span", "preset_spans", "rankings", "space_time_cube",
]
