"""Does a restored database answer as the backed-up one did?

When a backup is taken, the same questions are put to the database in the dump's own snapshot
(the rows of every table, where each sequence stands, the lookup of a point through the service's
own ``locate``, cases' timelines through ``get_incident``, the audit log) and the answers are
kept beside the dump. After a restore the questions are put again to the new database and the
answers compared. The file holds counts, codes and digests only, never personal data (the
timelines and lookups name officers and reporters: they are digested, not copied).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, text

from geo_service.boundaries.versions import in_force_or_none
from geo_service.cases.queries import get_incident
from geo_service.errors import GeoServiceError
from geo_service.i18n import t
from geo_service.lookup.locate import locate_with
from geo_service.settings import Settings

FORMAT = 1

_TABLES = text("""
    SELECT quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND c.relname <> 'spatial_ref_sys'
     ORDER BY c.relname
""")
_SEQUENCES = text("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1")
_POINT = text("""
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (
        SELECT ST_PointOnSurface(g.geom) AS p FROM grids g
         WHERE g.version_id = ANY(:versions) ORDER BY g.level DESC, g.code LIMIT 1) s
""")
# The oldest case, and the case most recently acted on.
_INCIDENTS = text("""
    SELECT id FROM (SELECT min(id) AS id FROM incidents
                    UNION SELECT incident_id FROM (SELECT incident_id FROM incident_events
                                                   ORDER BY id DESC LIMIT 1) e) ids
     WHERE id IS NOT NULL ORDER BY id
""")
_AUDIT = text("""
    SELECT count(*) AS n, max(id) AS last_id, md5(string_agg(md5(CAST(a AS text)), '' ORDER BY id)) AS digest
      FROM audit_log a
""")


class BackupCheckError(GeoServiceError):
    """A check file that cannot be read."""


@dataclass(frozen=True)
class Check:
    """One question, and the answers before and after."""

    what: str
    backed_up: str
    restored: str

    @property
    def same(self) -> bool:
        return self.backed_up == self.restored


def _digest(value: object) -> str:
    encoded = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def _exists(connection: Connection, table: str) -> bool:
    return connection.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}).scalar()


def probes(connection: Connection, at: datetime) -> dict:
    """What to ask of this database: a point inside a grid in force at ``at``, and two cases."""
    point = None
    if _exists(connection, "grids") and _exists(connection, "boundary_versions"):
        boundaries = in_force_or_none(connection, at)
        if boundaries is not None:
            row = connection.execute(_POINT, {"versions": boundaries.ids}).mappings().first()
            point = [row["lon"], row["lat"]] if row else None
    incidents = []
    if _exists(connection, "incidents") and _exists(connection, "incident_events"):
        incidents = list(connection.execute(_INCIDENTS).scalars())
    return {"at": at.isoformat(), "point": point, "incidents": incidents}


def answers(connection: Connection, asked: dict, settings: Settings) -> dict[str, str]:
    """The database's answers to ``asked`` (from :func:`probes`), each a short text."""
    found: dict[str, str] = {}
    if _exists(connection, "alembic_version"):
        found["schema revision"] = str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())
    for table in connection.execute(_TABLES).scalars():
        found[f"rows in {table}"] = f"{connection.execute(text(f'SELECT count(*) FROM {table}')).scalar():,}"
    for name, value in connection.execute(_SEQUENCES):
        found[f"sequence {name}"] = str(value)
    at = datetime.fromisoformat(asked["at"])
    if asked["point"]:
        lon, lat = asked["point"]
        try:
            location = locate_with(connection, lon, lat, "cgcs2000", at, settings=settings).to_dict()
            grid = (location["grid"] or location["nearest_grid"] or {}).get("code")
            answer = f"grid {grid}, {len(location['officers'])} officers ({_digest(location)})"
        except GeoServiceError as exc:
            answer = f"refused: {exc.message}"
        found[f"lookup of {lon:.6f}, {lat:.6f}"] = answer
    for incident_id in asked["incidents"]:
        try:
            incident = get_incident(connection, incident_id)
            answer = f"{incident['status']}, {len(incident['timeline'])} events ({_digest(incident)})"
        except GeoServiceError as exc:
            answer = f"refused: {exc.message}"
        found[f"case {incident_id}'s timeline"] = answer
    if _exists(connection, "audit_log"):
        audit = connection.execute(_AUDIT).mappings().one()
        found["audit log"] = (
            f"{audit['n']:,} entries, the last #{audit['last_id']} ({audit['digest'][:16]})" if audit["n"] else "empty"
        )
    return found


def take(connection: Connection, settings: Settings) -> dict:
    """The questions and this database's answers, in the connection's transaction (the dump's snapshot)."""
    at = connection.execute(text("SELECT now()")).scalar()
    asked = probes(connection, at)
    return {
        "format": FORMAT,
        "taken_at": at.isoformat(),
        "asked": asked,
        "answers": answers(connection, asked, settings),
    }


def compare(kept: dict, connection: Connection, settings: Settings) -> list[Check]:
    """Each kept answer beside the answer of the database behind ``connection`` now."""
    now = answers(connection, kept["asked"], settings)
    names = list(kept["answers"]) + [n for n in now if n not in kept["answers"]]
    return [Check(n, kept["answers"].get(n, "(absent)"), now.get(n, "(absent)")) for n in names]


def check_file(dump: Path) -> Path:
    """Where the answers of the backup ``dump`` are kept: beside it."""
    return dump.with_name(dump.name + ".check.json")


def read_check_file(dump: Path) -> dict:
    path = check_file(dump)
    if not path.exists():
        raise BackupCheckError(
            t(
                "{name} is not beside {dump}: without it the restored database cannot be compared with the backed-up one (restore with --no-check to skip the comparison)",
                name=path.name,
                dump=dump,
            )
        )
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupCheckError(t("{path} cannot be read: {exc}", path=path, exc=exc)) from None
    if not isinstance(kept, dict) or kept.get("format") != FORMAT:
        raise BackupCheckError(t("{path} is not a check file of this version of geo_service", path=path))
    return kept
