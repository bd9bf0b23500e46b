"""Which metric projection measures a place: the 3-degree Gauss-Krueger zone of CGCS2000 it lies in.

China's surveying practice (and its county GIS data) measures in the 3-degree zone whose central
meridian is nearest: within 1.5 degrees of it a distance or area is off by less than 0.04%. The
21 zones from 75 E to 135 E are EPSG:4534 to EPSG:4554. A deployment may fix one projection
(``place.metric_srid``); by default each county, or each area analysed, is measured in its own zone.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.settings import PlaceSettings

FIRST_ZONE_SRID = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E
FIRST_MERIDIAN, LAST_MERIDIAN = 75, 135


def zone_srid(lon: float) -> int:
    """The EPSG code of the CGCS2000 3-degree Gauss-Krueger zone (no false-easting prefix) for ``lon``."""
    meridian = min(max(3 * round(float(lon) / 3), FIRST_MERIDIAN), LAST_MERIDIAN)
    return FIRST_ZONE_SRID + (meridian - FIRST_MERIDIAN) // 3


def metric_srid(place: PlaceSettings, lon: float) -> int:
    """The projection that measures an area centred near ``lon``: the deployment's fixed one if it
    sets ``metric_srid``, else the area's own zone."""
    return int(place.metric_srid) if place.metric_srid else zone_srid(lon)


def metric_srid_of(place: PlaceSettings, bounds: tuple[float, float, float, float]) -> int:
    """:func:`metric_srid` for an area given by its bounds (minx, miny, maxx, maxy) in degrees."""
    return metric_srid(place, (bounds[0] + bounds[2]) / 2)


_VERSION_MIDDLE = text("""
    SELECT (ST_XMin(e) + ST_XMax(e)) / 2
      FROM (SELECT ST_Extent(geom) AS e FROM (
                SELECT geom FROM admin_units WHERE version_id = :v AND level = 'county'
                UNION ALL SELECT geom FROM grids WHERE version_id = :v AND level = 1) p) b
""")


def version_srid(connection: Connection, place: PlaceSettings, version_id: int) -> int:
    """The projection that measures a boundary version: its county's zone (a version is one county's)."""
    if place.metric_srid:
        return int(place.metric_srid)
    middle = connection.execute(_VERSION_MIDDLE, {"v": version_id}).scalar()
    return zone_srid(middle if middle is not None else 105.0)


_COUNTIES_MIDDLE = text("""
    SELECT (ST_XMin(e) + ST_XMax(e)) / 2
      FROM (SELECT ST_Extent(geom) AS e FROM admin_units WHERE version_id = ANY(:versions) AND level = 'county') b
""")


def counties_srid(connection: Connection, place: PlaceSettings, version_ids: list[int]) -> int:
    """The projection that measures the counties of ``version_ids`` together: the zone of their middle."""
    if place.metric_srid:
        return int(place.metric_srid)
    middle = connection.execute(_COUNTIES_MIDDLE, {"versions": version_ids}).scalar()
    return zone_srid(middle if middle is not None else 105.0)
