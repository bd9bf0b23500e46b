"""Which cameras see a spot: a camera sees a point inside its view sector, the circular sector of
radius ``range_m`` centred on ``heading_deg`` (clockwise from north) and ``fov_deg`` wide.

Distances and bearings are taken on the spheroid (PostGIS geography), so the answer holds to
the metre whatever the projection. Offline and faulty cameras are reported with their status:
a dispatcher should know a camera points there even if it cannot be watched now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.db.prepared import execute_prepared
from geo_service.vocabulary import MAX_CAMERA_RANGE_M, STORAGE_SRID

METRES_PER_DEGREE = 111_320.0
# Fewer metres a degree than the spheroid has anywhere (110,574 m a degree of latitude at the
# equator; a degree of longitude is at least 111,320 m x cos(lat)): a flat distance with these
# is below the true distance, so a filter on it drops no camera that could be in reach.
FLAT_METRES_LAT = 110_000.0


def sees_sql(camera: str, point: str) -> str:
    """SQL true when camera ``camera`` (a table alias) sees the point expression ``point``: the
    one statement of the view rule, used by lookups here and by coverage analyses."""
    bearing = f"ST_Azimuth({camera}.geom::geography, {point}::geography)"
    return f"""(ST_DWithin({camera}.geom::geography, {point}::geography, {camera}.range_m)
        AND ({camera}.fov_deg >= 360 OR {bearing} IS NULL
             OR abs(mod((degrees({bearing}) - {camera}.heading_deg + 540)::numeric, 360) - 180)
                <= {camera}.fov_deg / 2))"""


NEAR = f"""
    WITH spot AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), {STORAGE_SRID}) AS g),
    near AS (
        SELECT c.*, ST_Distance(c.geom::geography, spot.g::geography) AS distance_m,
               degrees(ST_Azimuth(c.geom::geography, spot.g::geography)) AS bearing_deg,
               {sees_sql("c", "spot.g")} AS sees
          FROM cameras c, spot
         WHERE c.geom && ST_Expand(spot.g, :dlon, :dlat)
           -- a flat distance never above the true one: skips the spheroid for cameras out of reach
           AND ((ST_X(c.geom) - :lon) * :mx) ^ 2 + ((ST_Y(c.geom) - :lat) * :my) ^ 2
               <= greatest(:radius, c.range_m) ^ 2
           AND {{scope}}
    )
    SELECT device_code, name, kind, status, heading_deg, fov_deg, range_m,
           ST_X(geom) AS lon, ST_Y(geom) AS lat, distance_m, bearing_deg, sees
      FROM near
     WHERE distance_m <= greatest(:radius, range_m)
     ORDER BY sees DESC, distance_m, device_code
     LIMIT :limit
"""


@lru_cache(maxsize=8)
def _near(scope: str) -> str:
    return NEAR.format(scope=scope)


@dataclass(frozen=True)
class CameraView:
    device_code: str
    name: str
    kind: str
    status: str
    heading_deg: float
    fov_deg: float
    range_m: float
    lon: float
    lat: float
    distance_m: float
    bearing_deg: float | None
    sees: bool

    def to_dict(self) -> dict:
        return {
            "device_code": self.device_code,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "sees": self.sees,
            "viewable_now": self.sees and self.status == "online",
            "distance_m": round(self.distance_m, 1),
            "bearing_from_camera_deg": None if self.bearing_deg is None else round(self.bearing_deg, 1),
            "heading_deg": self.heading_deg,
            "fov_deg": self.fov_deg,
            "range_m": self.range_m,
            "lon": self.lon,
            "lat": self.lat,
        }


def cameras_seeing(
    connection: Connection,
    lon: float,
    lat: float,
    radius_m: float = 300.0,
    limit: int = 20,
    scope: Jurisdiction | None = None,
) -> list[CameraView]:
    """Cameras whose sector holds the point, nearest first; then others within ``radius_m``.

    Every camera within its own range of the point is considered, even beyond ``radius_m``.
    """
    # The bounding box must hold the farthest camera that could see the point (ranges are bounded).
    reach = max(radius_m, MAX_CAMERA_RANGE_M)
    dlat = reach / METRES_PER_DEGREE * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    scope = scope or EVERYTHING
    rows = execute_prepared(
        connection,
        _near(scope.covers_within("c.geom", (lon - dlon, lat - dlat, lon + dlon, lat + dlat))),
        {
            "lon": lon,
            "lat": lat,
            "radius": radius_m,
            "dlon": dlon,
            "dlat": dlat,
            "mx": FLAT_METRES_LAT * math.cos(math.radians(min(abs(lat) + dlat, 89.9))),
            "my": FLAT_METRES_LAT,
            "limit": limit,
            **scope.params(),
        },
    ).mappings()
    return [CameraView(**row) for row in rows]
