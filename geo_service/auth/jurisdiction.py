"""A user's jurisdiction, the part of the county they may see, written into the SQL of reads.

A jurisdiction is a unit code of the boundaries in force: the county (everything), a town or
street, a village or community, or a grid (with its sub-grids). Each kind of row has its own
predicate, by code where the row carries codes (incidents, grids, admin units: exact and served
by indexes) and by place where it does not (cameras, tiles: the feature's inner point inside the
jurisdiction's area). A row outside is simply not found: an item asked for by id answers 404,
never a 403 that would confirm it exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service import times
from geo_service.boundaries.versions import version_in_force
from geo_service.errors import Forbidden

Level = Literal["county", "town", "village", "grid"]

_UNIT = text("""
    SELECT level, name, CASE WHEN level = 'county' THEN NULL ELSE ST_AsEWKB(geom) END AS area
      FROM admin_units WHERE version_id = :version AND code = :code
    UNION ALL
    SELECT 'grid', name, ST_AsEWKB(geom) FROM grids WHERE version_id = :version AND code = :code
    LIMIT 1
""")


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    level: Level
    name: str
    area: bytes | None = None  # EWKB of the area in CGCS2000; None for the whole county

    @property
    def whole_county(self) -> bool:
        return self.level == "county"

    def params(self) -> dict:
        return {"scope_code": self.code, "scope_like": self.code + "%", "scope_area": self.area}

    def incidents(self, alias: str = "i") -> str:
        """Incidents recorded in the jurisdiction (by the codes stored with each incident)."""
        return {
            "county": "TRUE",
            "town": f"{alias}.town_code = :scope_code",
            "village": f"{alias}.village_code = :scope_code",
            "grid": f"{alias}.grid_code LIKE :scope_like",
        }[self.level]

    def grids(self, alias: str = "g") -> str:
        """Grids of any version whose village lies in the jurisdiction (or the grid and its sub-grids)."""
        return {
            "county": "TRUE",
            "town": f"""{alias}.village_id IN (SELECT v.id FROM admin_units v JOIN admin_units t ON t.id = v.parent_id
                                                WHERE t.code = :scope_code)""",
            "village": f"{alias}.village_id IN (SELECT id FROM admin_units WHERE code = :scope_code)",
            "grid": f"{alias}.code LIKE :scope_like",
        }[self.level]

    def units(self, alias: str = "u") -> str:
        """Admin units inside the jurisdiction: a town and its villages; a village; none for a grid."""
        return {
            "county": "TRUE",
            "town": f"({alias}.code = :scope_code OR {alias}.parent_id IN "
            "(SELECT id FROM admin_units WHERE code = :scope_code))",
            "village": f"{alias}.code = :scope_code",
            "grid": "FALSE",
        }[self.level]

    def covers(self, geometry: str) -> str:
        """A feature inside the jurisdiction's area (see :func:`area_covers`)."""
        return "TRUE" if self.whole_county else area_covers(geometry)

    def holds(self, town_code: str | None, village_code: str | None, grid_code: str | None) -> bool:
        """Whether a place with these codes lies in the jurisdiction (the same rule as :meth:`incidents`)."""
        return {
            "county": True,
            "town": town_code == self.code,
            "village": village_code == self.code,
            "grid": bool(grid_code) and grid_code.startswith(self.code),
        }[self.level]

    def to_dict(self) -> dict:
        return {"code": self.code, "level": self.level, "name": self.name}


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
    key = (str(connection.engine.url), code)
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
    version = version_in_force(connection, times.now(zone))
    row = connection.execute(_UNIT, {"version": version.id, "code": code}).mappings().first()
    if row is None:
        raise Forbidden(
            f"your jurisdiction {code} is not a unit of the boundaries in force "
            f"({version.name}): ask an administrator to update your account",
            field="jurisdiction",
        )
    return Jurisdiction(code, row["level"], row["name"], bytes(row["area"]) if row["area"] is not None else None)


# No restriction: the command line, run by whoever runs the service.
EVERYTHING = Jurisdiction("", "county", "the whole county")
