"""Which cameras see a spot: a camera sees a point inside its view sector, the circular sector of
radius ``range_m`` centred on ``heading_deg`` (clockwise from north) and ``fov_deg`` wide.

Distances and bearings are taken on the spheroid (PostGIS geography), so the answer holds to
the metre whatever the projection. Offline and faulty cameras are reported with their status:
a dispatcher should know a camera points there even if it cannot be watched now.

The rule is written twice, side by side here and tested to agree camera for camera: in SQL
(:func:`sees_sql`), for sets of points (coverage analyses) and for lookups while changes to the
cameras cannot be heard; and in numpy (:meth:`KeptCameras.seeing`), for lookups answered from the
cameras each worker keeps, with no round trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.db.changes import Kept, feed_for
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

    Every camera within its own range of the point is considered, even beyond ``radius_m``. The
    cameras kept in memory answer (:class:`KeptCameras`); the database, by the same rule, while
    the process cannot hear changes to them.
    """
    scope = scope or EVERYTHING
    feed = feed_for(connection.engine)
    kept, generation = _kept.get(feed, feed.key)
    if kept is None and generation is not None:
        kept = KeptCameras.load(connection)
        _kept.put(feed.key, generation, kept)
    if kept is not None:
        return kept.seeing(lon, lat, radius_m, limit, scope, _reach_box(lon, lat, radius_m))
    return cameras_seeing_in_database(connection, lon, lat, radius_m, limit, scope)


def cameras_seeing_in_database(
    connection: Connection, lon: float, lat: float, radius_m: float, limit: int, scope: Jurisdiction
) -> list[CameraView]:
    """:func:`cameras_seeing` by the statement ``NEAR``, reading the table."""
    box = _reach_box(lon, lat, radius_m)
    dlon, dlat = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    rows = execute_prepared(
        connection,
        _near(scope.covers_within("c.geom", box)),
        {
            "lon": lon,
            "lat": lat,
            "radius": radius_m,
            "dlon": dlon,
            "dlat": dlat,
            "mx": _flat_metres_lon(lat, dlat),
            "my": FLAT_METRES_LAT,
            "limit": limit,
            **scope.params(),
        },
    ).mappings()
    return [CameraView(**row) for row in rows]


def _reach_box(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A box holding every camera that could see the point or lies within ``radius_m`` of it
    (ranges are bounded)."""
    reach = max(radius_m, MAX_CAMERA_RANGE_M)
    dlat = reach / METRES_PER_DEGREE * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return (lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def _flat_metres_lon(lat: float, dlat: float) -> float:
    """Metres a degree of longitude, never more than anywhere within ``dlat`` of ``lat``."""
    return FLAT_METRES_LAT * math.cos(math.radians(min(abs(lat) + dlat, 89.9)))


_kept = Kept("cameras", size=8)  # one entry per database
# The storage datum's ellipsoid, on which PostGIS's geography measures with GeographicLib, as pyproj does.
_GEOD = pyproj.CRS.from_epsg(STORAGE_SRID).get_geod()
_SAME_RADIANS = 1e-12  # PostGIS's FP_TOLERANCE: points closer in both are one point (distance 0)
_RADIANS_PER_DEGREE = 0.0174532925199432957692  # PostgreSQL's, by which degrees() divides


def spheroid_bearing_and_distance(
    lon: np.ndarray, lat: np.ndarray, to_lon: float, to_lat: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From each point to one, to the last bit: ``degrees(ST_Azimuth(a::geography, b::geography))``
    (NaN where PostGIS gives NULL, the same point), ``ST_Distance`` on them (rounded to 1e-8 m)
    and the distance ``ST_DWithin`` compares (not rounded). PostGIS goes through radians."""
    lon1, lat1 = np.pi * lon / 180.0, np.pi * lat / 180.0
    lon2, lat2 = np.pi * to_lon / 180.0, np.pi * to_lat / 180.0
    n = len(lon)
    azimuth, _, metres = _GEOD.inv(
        lon1 * 180.0 / np.pi, lat1 * 180.0 / np.pi, np.full(n, lon2 * 180.0 / np.pi), np.full(n, lat2 * 180.0 / np.pi)
    )
    azimuth = np.asarray(azimuth) * np.pi / 180.0
    bearing = np.where(azimuth < 0, azimuth + 2 * np.pi, azimuth) / _RADIANS_PER_DEGREE
    bearing[(lon == to_lon) & (lat == to_lat)] = np.nan
    metres = np.asarray(metres)
    metres[(np.abs(lat1 - lat2) <= _SAME_RADIANS) & (np.abs(lon1 - lon2) <= _SAME_RADIANS)] = 0.0
    return bearing, np.floor(metres * 1e8 + 0.5) / 1e8, metres


def _in_view(bearing: np.ndarray, heading: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """Whether each bearing lies within ``fov / 2`` of the heading, as ``sees_sql`` decides:
    PostgreSQL casts the sum to numeric (15 significant digits) and takes the rest exactly.
    Floats decide the same but within a hair of the edge, where it is done as there."""
    off_axis = np.abs(np.mod(bearing - heading + 540.0, 360.0) - 180.0)
    for k in np.flatnonzero(np.abs(off_axis - fov / 2) < 1e-9):
        off_axis[k] = float(abs(Decimal(f"{bearing[k] - heading[k] + 540:.15g}") % 360 - 180))
    return off_axis <= fov / 2


@dataclass(frozen=True)
class KeptCameras:
    """Every camera of a database, held by the process for lookups until the table changes."""

    codes: np.ndarray
    names: np.ndarray
    kinds: np.ndarray
    states: np.ndarray
    heading: np.ndarray
    fov: np.ndarray
    range_m: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def load(cls, connection: Connection) -> KeptCameras:
        rows = connection.execute(
            text("""
            SELECT device_code, name, kind, status, heading_deg, fov_deg, range_m, ST_X(geom), ST_Y(geom)
              FROM cameras ORDER BY device_code""")
        ).all()
        columns = list(zip(*rows)) if rows else [()] * 9
        text_columns = [np.array(c, dtype=object) for c in columns[:4]]
        numbers = [np.array(c, dtype=float) for c in columns[4:]]
        return cls(*text_columns, *numbers, shapely.STRtree(shapely.points(numbers[3], numbers[4])))

    def seeing(
        self,
        lon: float,
        lat: float,
        radius_m: float,
        limit: int,
        scope: Jurisdiction,
        box: tuple[float, float, float, float],
    ) -> list[CameraView]:
        """:func:`cameras_seeing` from the cameras held: the same filter, rule and order as the
        statement ``NEAR``."""
        near = np.sort(self.tree.query(shapely.box(*box)))
        reach = np.maximum(radius_m, self.range_m[near])
        flat = ((self.lon[near] - lon) * _flat_metres_lon(lat, (box[3] - box[1]) / 2)) ** 2 + (
            (self.lat[near] - lat) * FLAT_METRES_LAT
        ) ** 2
        keep = flat <= reach**2
        near, reach = near[keep], reach[keep]
        inside = scope.covers_points(box, self.lon[near], self.lat[near])
        near, reach = near[inside], reach[inside]
        bearing, distance, within = spheroid_bearing_and_distance(self.lon[near], self.lat[near], lon, lat)
        keep = distance <= reach
        near, bearing, distance, within = near[keep], bearing[keep], distance[keep], within[keep]
        no_bearing = np.isnan(bearing)  # the camera stands on the point
        sees = (within <= self.range_m[near]) & (
            (self.fov[near] >= 360) | no_bearing | _in_view(bearing, self.heading[near], self.fov[near])
        )
        # Held in the order of their codes, so a camera's index breaks ties as its code would.
        order = np.lexsort((near, distance, ~sees))[:limit]
        return [
            CameraView(
                device_code=self.codes[i],
                name=self.names[i],
                kind=self.kinds[i],
                status=self.states[i],
                heading_deg=float(self.heading[i]),
                fov_deg=float(self.fov[i]),
                range_m=float(self.range_m[i]),
                lon=float(self.lon[i]),
                lat=float(self.lat[i]),
                distance_m=float(distance[k]),
                bearing_deg=None if no_bearing[k] else float(bearing[k]),
                sees=bool(sees[k]),
            )
            for k, i in ((k, near[k]) for k in order)
        ]
