"""Where is this? A point's grid, village, town and county, the people to call, the cameras.

The grid is found by the rule of ``geo_service.lookup.grid_index`` (covering grids, finest level,
then smallest code) in the grids held in memory, among those of the boundaries in force at ``at``
(each county's version). A point inside the covered area but outside every grid gets the nearest
grid and its distance, found by PostGIS, so a dispatcher still knows whom to call.

Everything but that nearest grid is kept by the worker (boundaries, coverage, grids, officers,
cameras): given a :class:`geo_service.db.kept_only.KeptOnly` for a connection, a lookup is
answered from memory or raises ``NotKept`` (``GET /locate`` then answers it on a thread).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.boundaries.in_force_cache import in_force_now
from geo_service.boundaries.versions import InForce, VersionInForce, in_force
from geo_service.cases.responsibility import Responsible, check_colour, responsible_kept
from geo_service.coordinates.coverage import coverage, require_covered, to_storage
from geo_service.errors import NotFound
from geo_service.i18n import t
from geo_service.lookup.bulk_assign import snapshot_of
from geo_service.lookup.cameras import CameraView, cameras_seeing
from geo_service.lookup.hierarchy import GRID_HIERARCHY
from geo_service.lookup.place import Place
from geo_service.settings import Settings
from geo_service.times import as_aware, local_day
from geo_service.vocabulary import STORAGE_SRID

_POINT = f"ST_SetSRID(ST_MakePoint(:lon, :lat), {STORAGE_SRID})"
_PLACE = (
    """
    SELECT g.code AS grid_code, g.name AS grid_name, g.level AS grid_level, g.kind AS grid_kind,
           v.code AS village_code, v.name AS village_name,
           t.code AS town_code, t.name AS town_name,
           c.code AS county_code, c.name AS county_name, g.version_id, {distance} AS distance_m
"""
    + GRID_HIERARCHY
)
# The index orders by planar distance in degrees; the few nearest are re-ranked on the spheroid.
NEAREST = text(
    """
    SELECT * FROM ("""
    + _PLACE.format(distance=f"ST_Distance(g.geom::geography, {_POINT}::geography)")
    + """
         WHERE g.version_id = ANY(:versions) AND g.level = 1
         ORDER BY g.geom <-> """
    + _POINT
    + """
         LIMIT 8) near
     ORDER BY distance_m, grid_code
     LIMIT 1
"""
)


@dataclass(frozen=True)
class Location:
    """The answer to "where is this?"."""

    query: dict
    lon: float
    lat: float
    at: datetime
    boundaries: InForce
    place: Place | None
    inside: bool
    officers: dict[str, list[Responsible]] = field(default_factory=dict)
    cameras: list[CameraView] = field(default_factory=list)

    @property
    def version(self) -> VersionInForce | None:
        """The version in force in the county of the point's grid."""
        return self.boundaries.of(self.place.county_code) if self.place else None

    def to_dict(self) -> dict:
        place = self.place
        grid = None
        nearest = None
        if place is not None:
            summary = {
                "code": place.grid_code,
                "name": place.grid_name,
                "level": place.grid_level,
                "kind": place.grid_kind,
            }
            if self.inside:
                grid = summary
            else:
                nearest = {**summary, "distance_m": round(place.distance_m, 1)}
        tiers = list(self.officers)
        return {
            "query": self.query,
            "point": {"lon": self.lon, "lat": self.lat, "crs": "cgcs2000"},
            "at": self.at.isoformat(),
            "boundary_version": self.version.to_dict() if self.version else None,
            "inside": self.inside,
            "grid": grid,
            "nearest_grid": nearest,
            "village": place and {"code": place.village_code, "name": place.village_name},
            "town": place and {"code": place.town_code, "name": place.town_name},
            "county": place and {"code": place.county_code, "name": place.county_name},
            "officers": [o.to_dict() for o in self.officers.get(tiers[0], [])] if tiers else [],
            "escalation": [
                {"tier": tier, "officers": [o.to_dict() for o in self.officers[tier]]} for tier in tiers[1:]
            ],
            "cameras": [c.to_dict() for c in self.cameras],
        }


def find_place(
    connection: Connection, boundaries: InForce, lon: float, lat: float, settings: Settings
) -> tuple[Place | None, bool]:
    """The grid covering a CGCS2000 point and its hierarchy, else the nearest grid's (inside False),
    among the grids of every county's version in ``boundaries``.

    The covering grid is found in the grids held in memory (``geo_service.lookup.grid_index``'s
    rule, the database's); the nearest, for the rare point between grids, by the database.
    """
    snap = snapshot_of(connection, boundaries, settings)
    row = int(snap.index.assign(np.array([lon]), np.array([lat]), use_raster=False)[0])
    if row >= 0:
        return snap.places[row], True
    params = {"versions": boundaries.ids, "lon": lon, "lat": lat}
    found = connection.execute(NEAREST, params).mappings().first()
    return (Place(**found) if found is not None else None), False


def locate_with(
    connection: Connection,
    lon: float,
    lat: float,
    crs: str = "cgcs2000",
    at: datetime | None = None,
    *,
    risk_colour: str = "blue",
    tier: str = "village",
    camera_radius_m: float | None = None,
    settings: Settings,
    scope: Jurisdiction | None = None,
    with_cameras: bool = True,
) -> Location:
    """Locate a point on an open connection: see :func:`locate`. Within a ``scope`` (a user's
    jurisdiction), a point whose grid lies outside it is not found, and only cameras inside it
    are listed. ``with_cameras=False`` leaves the cameras to :func:`cameras_around`, for a
    caller with other work to start once the officers are known."""
    place_settings = settings.place
    check_colour(risk_colour)
    stored = to_storage(lon, lat, crs)
    moment = as_aware(at, place_settings.timezone)
    boundaries = in_force_now(connection, moment) if at is None else in_force(connection, moment)
    area = coverage(connection, boundaries, place_settings.coverage_margin_m)
    require_covered(area, lon, lat, crs, stored)
    place, inside = find_place(connection, boundaries, *stored, settings)
    if scope is not None and not (
        place and scope.holds(place.county_code, place.town_code, place.village_code, place.grid_code)
    ):
        raise NotFound(
            t("no grid of your jurisdiction ({name}) holds or is nearest to this point", name=scope.name), field="lon"
        )
    officers = {}
    if place is not None:
        officers = responsible_kept(
            connection, place.units, local_day(moment, place_settings.timezone), risk_colour, tier
        )
    query = {
        "lon": lon,
        "lat": lat,
        "crs": crs,
        "at": at.isoformat() if at else None,
        "risk_colour": risk_colour,
        "tier": tier,
    }
    location = Location(query, stored[0], stored[1], moment, boundaries, place, inside, officers)
    if not with_cameras:
        return location
    return replace(location, cameras=cameras_around(connection, location, camera_radius_m, settings, scope))


def cameras_around(
    connection: Connection,
    location: Location,
    camera_radius_m: float | None,
    settings: Settings,
    scope: Jurisdiction | None = None,
) -> list[CameraView]:
    """The cameras :func:`locate_with` lists for ``location``: those seeing the point, then
    others within ``camera_radius_m`` (default ``settings.place.camera_radius_m``), in ``scope``."""
    radius_m = camera_radius_m or settings.place.camera_radius_m
    return cameras_seeing(connection, location.lon, location.lat, radius_m=radius_m, scope=scope)


def locate(
    engine: Engine,
    lon: float,
    lat: float,
    crs: str = "cgcs2000",
    at: datetime | None = None,
    **options,
) -> Location:
    """Where is this point, who answers for it and which cameras see it.

    Parameters
    ----------
    engine
        The service's database.
    lon, lat
        The point, in the datum ``crs``.
    crs
        ``cgcs2000`` (default), ``wgs84``, ``gcj02`` (AMap, Tencent) or ``bd09`` (Baidu).
    at
        The moment whose boundaries and officers apply (default: now); a naive time is read in
        the county's time zone.
    risk_colour, tier
        The case's colour (``blue`` by default) and the tier handling it, which choose the
        responsibility rules.
    settings
        The county's zone, the area covered around it and how far cameras are listed
        (``settings.place``); required, as a keyword.
    camera_radius_m, scope
        As :func:`locate_with`.

    Returns
    -------
    Location
        ``to_dict()`` gives the JSON the API answers.

    Raises
    ------
    InvalidInput
        Coordinates that are not numbers or are out of range, an unknown datum or colour.
    OutsideCoverage
        A point outside the deployment's area (with a hint when latitude and longitude look swapped).
    NotFound
        No boundary version was in force at ``at``.
    """
    with engine.connect() as connection:
        return locate_with(connection, lon, lat, crs, at, **options)
