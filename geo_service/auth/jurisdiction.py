"""A user's jurisdiction, the part of the deployment they may see, written into the SQL of reads.

A jurisdiction is a GB/T 2260 code: a province or a prefecture-level city (its counties), a county,
a town or street, a village or community (units of the boundaries in force), or a grid (with its
sub-grids). Codes nest by prefix (511400000000 眉山市 > 511421000000 仁寿县 > 511421100000 a town
> 511421100201 a village > its grids), so each kind of row has its own predicate, by code where the
row carries codes (incidents, grids, admin units: exact and served by indexes) and by place where
it does not (cameras, tiles: the feature's inner point inside the jurisdiction's area). A row
outside is simply not found: an item asked for by id answers 404, never a 403 that would confirm
it exists.

A user of a department (水务局, a town office) sees, within the place, only the incidents routed
to that department (``incidents.department``): their county's maps, grids and boundaries, but
of its cases only their department's, in every list, feature, tile and analysis.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service import times
from geo_service.boundaries.versions import in_force
from geo_service.db.engine import database_name
from geo_service.errors import Forbidden
from geo_service.i18n import t
from geo_service.vocabulary import STORAGE_SRID

_PREPARED_LOCK = threading.Lock()
Level = Literal["all", "province", "city", "county", "town", "village", "grid"]
REGION_LEVELS = ("province", "city")
# Levels whose rows are found by county: the jurisdiction is one or more whole counties.
COUNTY_SETS = ("all", "province", "city", "county")
# Significant digits of a code at each level (the rest are zeros).
PREFIX_DIGITS = {"province": 2, "city": 4, "county": 6, "town": 9, "village": 12}

_UNIT = text("""
    SELECT level, name, ST_AsEWKB(geom) AS area
      FROM admin_units WHERE version_id = ANY(:versions) AND code = :code
    UNION ALL
    SELECT 'grid', name, ST_AsEWKB(geom) FROM grids WHERE version_id = ANY(:versions) AND code = :code
    LIMIT 1
""")
_REGION = text("""
    SELECT (SELECT name_zh FROM regions WHERE code = :code) AS name,
           array_agg(code ORDER BY code) AS counties, ST_AsEWKB(ST_Union(geom)) AS area
      FROM admin_units WHERE version_id = ANY(:versions) AND level = 'county' AND code LIKE :prefix
""")


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    level: Level
    name: str
    area: bytes | None = None  # EWKB of the area in CGCS2000; None for the whole deployment
    counties: tuple[str, ...] = ()  # the counties it is made of (province, city, county levels)
    whole_deployment: bool = False  # it holds every county the deployment serves
    department: str | None = None  # a department's user: only the cases routed to it
    department_name: str | None = None

    @property
    def unrestricted(self) -> bool:
        """No restriction at all (the command line)."""
        return self.level == "all"

    @property
    def prefix(self) -> str:
        return self.code[: PREFIX_DIGITS[self.level]] if self.level in PREFIX_DIGITS else self.code

    def params(self) -> dict:
        return {
            "scope_code": self.code,
            "scope_like": self.prefix + "%",
            "scope_area": self.area,
            "scope_counties": list(self.counties),
            "scope_county": self.code[:6] + "000000",
            "scope_department": self.department,
        }

    def incidents(self, alias: str = "i") -> str:
        """Incidents recorded in the jurisdiction (by the codes stored with each incident); for a
        department's user, those of them the department handles."""
        place = self._place_incidents(alias)
        if self.department is None:
            return place
        return f"{place} AND {alias}.department = :scope_department"

    def _place_incidents(self, alias: str) -> str:
        return {
            "all": "TRUE",
            "province": f"{alias}.county_code = ANY(:scope_counties)",
            "city": f"{alias}.county_code = ANY(:scope_counties)",
            "county": f"{alias}.county_code = :scope_code",
            # The county too, so that a query reads only the county's partition.
            "town": f"{alias}.county_code = :scope_county AND {alias}.town_code = :scope_code",
            "village": f"{alias}.county_code = :scope_county AND {alias}.village_code = :scope_code",
            "grid": f"{alias}.county_code = :scope_county AND {alias}.grid_code LIKE :scope_like",
        }[self.level]

    def grids(self, alias: str = "g") -> str:
        """Grids of any version whose village lies in the jurisdiction (or the grid and its sub-grids):
        a grid's code begins with its village's, which begins with its town's and county's."""
        return "TRUE" if self.unrestricted else f"{alias}.code LIKE :scope_like"

    def units(self, alias: str = "u") -> str:
        """Admin units inside the jurisdiction: its counties, a town and its villages, a village;
        none for a grid."""
        if self.unrestricted:
            return "TRUE"
        if self.level == "grid":
            return "FALSE"
        return f"{alias}.code LIKE :scope_like"

    def covers(self, geometry: str) -> str:
        """A feature inside the jurisdiction's area (see :func:`area_covers`)."""
        return "TRUE" if self.unrestricted else area_covers(geometry)

    def covers_within(self, geometry: str, box: tuple[float, float, float, float]) -> str:
        """:meth:`covers` for features known to lie in ``box`` (minx, miny, maxx, maxy): TRUE,
        with no test per feature, when the area covers the whole box (most of a jurisdiction is
        far from its edge)."""
        return "TRUE" if self._covers_box(box) else area_covers(geometry)

    def covers_points(self, box: tuple[float, float, float, float], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Per point lying in ``box``, whether the jurisdiction covers it: :meth:`covers_within`'s
        rule in memory (a point is its own inner point)."""
        if self._covers_box(box):
            return np.ones(len(lon), dtype=bool)
        if self.area is None:
            return np.zeros(len(lon), dtype=bool)
        with _PREPARED_LOCK:
            return shapely.covers(self._prepared_area, shapely.points(lon, lat))

    def area_in(self, box: tuple[float, float, float, float]) -> bytes | bool:
        """The jurisdiction's area within ``box``, to bind as ``:scope_area`` for features lying in
        it (a tile's points): True when the area covers the whole box (no test needed), False when
        it meets none of it (nothing to show), else the area clipped to the box, as EWKB. Whether a
        point of the box is covered is the same for the clipped area as for the whole: a
        city-wide user's tile sends kilobytes, not the city's outline."""
        if self._covers_box(box):
            return True
        if self.area is None:
            return False
        shape = shapely.box(*box)
        with _PREPARED_LOCK:
            if not shapely.intersects(self._prepared_area, shape):
                return False
            part = shapely.intersection(self._prepared_area, shape)
        return shapely.to_wkb(shapely.set_srid(part, STORAGE_SRID), include_srid=True)

    def _covers_box(self, box: tuple[float, float, float, float]) -> bool:
        """Whether every point of ``box`` lies in the jurisdiction (always, unrestricted)."""
        if self.unrestricted:
            return True
        if self.area is None:
            return False
        with _PREPARED_LOCK:  # GEOS's prepared geometries are not safe across threads (libgeos/geos#825)
            return bool(shapely.covers(self._prepared_area, shapely.box(*box)))

    @cached_property
    def _prepared_area(self) -> shapely.Geometry:
        area = shapely.from_wkb(self.area)
        shapely.prepare(area)
        return area

    def holds(
        self, county_code: str | None, town_code: str | None, village_code: str | None, grid_code: str | None
    ) -> bool:
        """Whether a place with these codes lies in the jurisdiction (the same rule as :meth:`incidents`
        by place; a department's user holds the place, of whose cases they see their department's)."""
        if self.level in ("province", "city"):
            return county_code in self.counties
        return {
            "all": True,
            "county": county_code == self.code,
            "town": town_code == self.code,
            "village": village_code == self.code,
            "grid": bool(grid_code) and grid_code.startswith(self.code),
        }[self.level]

    def holds_rows(self, rows) -> np.ndarray:
        """:meth:`holds` for each row of a frame with columns county_code, town_code, village_code
        and grid_code (a row with no grid is held only by an unrestricted jurisdiction)."""
        if self.unrestricted:
            return np.ones(len(rows), dtype=bool)
        column = {"town": "town_code", "village": "village_code", "county": "county_code"}.get(self.level)
        if self.level in REGION_LEVELS:
            return rows["county_code"].isin(self.counties).to_numpy()
        if column is not None:
            return (rows[column] == self.code).fillna(False).to_numpy(dtype=bool)
        return rows["grid_code"].fillna("").astype(str).str.startswith(self.code).to_numpy()

    def holds_county(self, county_code: str | None) -> bool:
        """Whether the whole county ``county_code`` lies in the jurisdiction (who may plan its
        boundaries); never for a department's user, who holds only the department's cases."""
        if self.department is not None:
            return False
        if self.unrestricted:
            return True
        if self.level in REGION_LEVELS:  # a county the region will hold, as well as those it holds
            return bool(county_code) and county_code.startswith(self.prefix)
        return self.level == "county" and county_code == self.code

    def meets_county(self, county_code: str | None) -> bool:
        """Whether the jurisdiction holds the county or lies within it (whose boundary versions the
        user may read): a department's user reads their place's as anyone there does."""
        if self.department is not None:
            return replace(self, department=None).meets_county(county_code)
        if self.holds_county(county_code):
            return True
        return self.level in ("town", "village", "grid") and bool(county_code) and self.code[:6] == county_code[:6]

    def to_dict(self) -> dict:
        found = {"code": self.code, "level": self.level, "name": self.name, "counties": list(self.counties)}
        if self.department is not None:
            found["department"] = {"code": self.department, "name": self.department_name}
        return found

    def of_department(self, code: str, name: str | None) -> Jurisdiction:
        """This place as a department's user holds it: the department's cases within it, and
        nothing shared by the whole deployment (rules, the audit log)."""
        return replace(self, department=code, department_name=name, whole_deployment=False)


def area_covers(geometry: str) -> str:
    """SQL: the feature lies in the area bound as ``:scope_area``, judged by its inner point (a
    polygon on the edge belongs to the side its body is on, not to both)."""
    return f"ST_Covers(ST_GeomFromEWKB(:scope_area), ST_PointOnSurface({geometry}))"


# Resolved jurisdictions are kept briefly per database and code: every request needs one, and a
# unit's area changes only when a new boundary version comes into force (seen within the TTL).
_CACHE: dict[tuple[str, str], tuple[float, Jurisdiction]] = {}
_CACHE_SECONDS = 30.0
_CACHE_SIZE = 1024


def resolve(connection: Connection, code: str, zone: str) -> Jurisdiction:
    """The unit ``code`` names in the boundaries in force now."""
    key = (database_name(connection), code)
    now = time.monotonic()
    cached = _CACHE.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    found = _resolve(connection, code, zone)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[key] = (now + _CACHE_SECONDS, found)
    return found


def _resolve(connection: Connection, code: str, zone: str) -> Jurisdiction:
    boundaries = in_force(connection, times.now(zone))
    everywhere = set(boundaries.county_codes)
    params = {"versions": boundaries.ids, "code": code}
    level = region_level(code)
    if level is not None:
        row = connection.execute(_REGION, {**params, "prefix": code[: PREFIX_DIGITS[level]] + "%"}).mappings().first()
        if row["counties"]:
            counties = tuple(row["counties"])
            return Jurisdiction(
                code, level, row["name"] or code, bytes(row["area"]), counties, everywhere <= set(counties)
            )
    row = connection.execute(_UNIT, params).mappings().first()
    if row is None:
        raise Forbidden(
            t(
                "your jurisdiction {code} is not a unit of the boundaries in force ({value}): ask an administrator to update your account",
                code=code,
                value=boundaries.name(),
            ),
            field="jurisdiction",
        )
    counties = (code,) if row["level"] == "county" else ()
    return Jurisdiction(code, row["level"], row["name"], bytes(row["area"]), counties, everywhere == set(counties))


def region_level(code: str) -> Level | None:
    """``province`` or ``city`` for a GB/T 2260 code of one (510000000000, 511400000000), else None."""
    if len(code) != 12 or not code.isdigit() or code[6:] != "000000" or code[4:6] != "00":
        return None
    return "province" if code[2:4] == "00" else "city"


# No restriction: the command line, run by whoever runs the service.
EVERYTHING = Jurisdiction("", "all", "everything", whole_deployment=True)
