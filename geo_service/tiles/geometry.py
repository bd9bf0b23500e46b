"""Geometry a lookup's answer refers to by code: a grid's outline, cameras' view sectors."""

from __future__ import annotations

import geopandas
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine

from geo_service.vocabulary import STORAGE_SRID

GRID = text("""
    SELECT g.code, g.name, g.level, g.kind, g.geom AS geometry
      FROM grids g WHERE g.code = :code AND g.version_id = :version
""")
# camera_view_sector() (migration 0004) draws the sector that geo_service.lookup.cameras tests points against.
SECTORS = text("""
    SELECT c.device_code, c.name, c.kind, c.status, c.heading_deg, c.fov_deg, c.range_m,
           camera_view_sector(c.geom, c.heading_deg, c.fov_deg, c.range_m) AS geometry
      FROM cameras c WHERE c.device_code IN :codes
     ORDER BY c.device_code
""").bindparams(bindparam("codes", expanding=True))


def grid_outline(engine: Engine, code: str, version_id: int) -> geopandas.GeoDataFrame:
    """The grid ``code`` of boundary version ``version_id`` (empty if there is none)."""
    with engine.connect() as connection:
        return geopandas.read_postgis(
            GRID, connection, geom_col="geometry", params={"code": code, "version": version_id}, crs=STORAGE_SRID
        )


def camera_sectors(engine: Engine, device_codes: list[str]) -> geopandas.GeoDataFrame:
    """The view sectors of the cameras ``device_codes``, as polygons (CGCS2000)."""
    if not device_codes:
        return geopandas.GeoDataFrame({"device_code": []}, geometry=[], crs=STORAGE_SRID)
    with engine.connect() as connection:
        return geopandas.read_postgis(
            SECTORS, connection, geom_col="geometry", params={"codes": list(device_codes)}, crs=STORAGE_SRID
        )
