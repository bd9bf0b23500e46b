"""geo_service: grids, officers, cameras and incidents of a county on PostGIS."""

__version__ = "0.1.0"
