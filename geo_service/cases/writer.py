"""The one writer of cases: incidents, their timelines, the people bound to them and the audit log.

Every write of a case comes through here, in the caller's transaction: a new incident (one row,
a batch posted to the API or a file of a million rows, through ``geo_service.cases.intake``,
which joins this module's insert to its timeline, people and messages in one statement), the
demo county, a county's past cases, and every step of a case's loop. Writing is set-wise: the
rows are COPYed into a staging table and inserted by one
``INSERT ... SELECT ... ON CONFLICT (external_id, county_code) DO NOTHING``, so a replayed or
concurrent external id is never stored twice in a county, whether it comes alone or among a
million others. The actor is always an argument: the timeline names who a step was taken for, the
audit log who signed in.

Incidents and timelines are partitioned by county (``geo_service.db.partitions``): a case of no
county is stored with ``NO_COUNTY``, and every row that refers to a case (its timeline, people,
extensions, messages) carries the case's ``county_code`` with its id.
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth import audit
from geo_service.cases.binding import bind as bind  # re-exported: every writer of cases binds through it
from geo_service.cases.binding import nobody
from geo_service.cases.notes import kept_note
from geo_service.cases.outbox import notify_bound, notify_staff
from geo_service.cases.responsibility import Responsible
from geo_service.db.copy import copy_frame
from geo_service.db.partitions import NO_COUNTY, generic_key_checks
from geo_service.i18n import Message, t
from geo_service.progress import Reporter, Silent
from geo_service.vocabulary import STORAGE_SRID

# The columns a caller may give for a stored incident (``lon``/``lat`` in the storage CRS; ``id``
# only when the caller numbers the incidents itself, as the demo does); any other is left to the
# table's default.
INCIDENT_COLUMNS = {
    "id": "bigint",
    "external_id": "text",
    "source": "text",
    "category": "text",
    "reported_at": "timestamptz",
    "description": "text",
    "reporter_name": "text",
    "reporter_phone": "text",
    "lon": "float8",
    "lat": "float8",
    "input_datum": "text",
    "input_lon": "float8",
    "input_lat": "float8",
    "version_id": "int",
    "grid_code": "text",
    "village_code": "text",
    "town_code": "text",
    "county_code": "text",
    "risk_colour": "text",
    "status": "text",
    "tier": "text",
    "dispatched_at": "timestamptz",
    "deadline": "timestamptz",
    "resolved_at": "timestamptz",
    "closed_at": "timestamptz",
    "satisfaction": "smallint",
    "visited_at": "timestamptz",
}
STAGING = "incident_staging"

# The incidents of the staging table whose external id is new in their county (without RETURNING:
# the callers say what they need back).
INSERT_NEW = f"""
    INSERT INTO incidents (id, external_id, source, category, reported_at, description, reporter_name,
                           reporter_phone, geom, input_datum, input_lon, input_lat, boundary_version_id,
                           grid_id, grid_code, village_code, town_code, county_code, risk_colour, status,
                           tier, dispatched_at, deadline, resolved_at, closed_at, satisfaction, visited_at)
    SELECT coalesce(s.id, nextval(pg_get_serial_sequence('incidents', 'id'))), s.external_id, s.source,
           s.category, s.reported_at, s.description, s.reporter_name, s.reporter_phone,
           ST_SetSRID(ST_MakePoint(s.lon, s.lat), {STORAGE_SRID}), s.input_datum, s.input_lon, s.input_lat,
           s.version_id, g.id, s.grid_code, s.village_code, s.town_code, coalesce(s.county_code, '{NO_COUNTY}'),
           coalesce(s.risk_colour, 'blue'), coalesce(s.status, 'reported'), coalesce(s.tier, 'village'),
           s.dispatched_at, s.deadline, s.resolved_at, s.closed_at, s.satisfaction, s.visited_at
      FROM {STAGING} s
      LEFT JOIN grids g ON g.version_id = s.version_id AND g.code = s.grid_code
    ON CONFLICT (external_id, county_code) DO NOTHING
"""
INSERT = INSERT_NEW + " RETURNING id, external_id"
EVENT_COLUMNS = ("incident_id", "county_code", "at", "actor", "action", "from_status", "to_status", "note", "data")


def vacancies(people: list[Responsible]) -> dict[str, str]:
    """The posts left vacant among ``people``, as a note names them: their codes (English) and
    their names (``vacant_names``, which the Chinese note shows); empty when none is."""
    vacant = [p for p in people if p.vacant]
    if not vacant:
        return {}
    return {"vacant": ", ".join(p.role for p in vacant), "vacant_names": "、".join(p.role_name for p in vacant)}


def dispatch_note(grid_code: str, grid_name: str, people: list[Responsible]) -> Message:
    """The timeline's note on routing a case to its grid (the vacancies it found, if any)."""
    vacant = vacancies(people)
    if not vacant:
        return t("routed to grid {grid_code} {grid_name}", grid_code=grid_code, grid_name=grid_name)
    return t(
        "routed to grid {grid_code} {grid_name}; vacant: {vacant}", grid_code=grid_code, grid_name=grid_name, **vacant
    )


def outside_note(grid_code: str, grid_name: str, distance_m: float) -> Message:
    """The timeline's note on a case outside every grid, left for a person to route."""
    return t(
        "outside every grid; nearest grid {grid_code} {grid_name} at {distance_m:.0f} m: awaiting manual routing",
        grid_code=grid_code,
        grid_name=grid_name,
        distance_m=float(distance_m),
    )


def raised_note(from_tier: str, to_tier: str, people: list[Responsible]) -> Message:
    """The timeline's note on a case sent up because no one at its tier could take it."""
    if nobody(people):
        return t(
            "no one to answer at the {from_tier} or above it: every post up to the {to_tier} is vacant; "
            "the case waits for the command centre",
            from_tier=from_tier,
            to_tier=to_tier,
        )
    return t(
        "no one to answer at the {from_tier}: every post there is vacant; sent to the {to_tier}",
        from_tier=from_tier,
        to_tier=to_tier,
    )


def with_note(data: dict | None, note: object) -> dict | None:
    """An event's ``data`` with what a timeline keeps of a note the service wrote
    (``geo_service.cases.notes.kept_note``), so that it can be shown in the reader's language."""
    kept = kept_note(note)
    if kept is None:
        return data or None
    return {**(data or {}), "note_t": kept}


# -- the set-based primitives --------------------------------------------------------------------


def insert_incidents(connection: Connection, incidents: pd.DataFrame, reporter: Reporter | None = None) -> pd.DataFrame:
    """Store the rows of ``incidents`` (columns of ``INCIDENT_COLUMNS``) whose external id is new.

    Returns the ``id`` and ``external_id`` of the rows stored; a row whose external id is stored
    already (before, or by a concurrent transaction) is not written and not returned.
    """
    reporter = reporter or Silent()
    columns = [c for c in INCIDENT_COLUMNS if c in incidents.columns]
    # COPY goes through the DBAPI cursor of the same connection, inside the same transaction.
    cursor = connection.connection.cursor()
    cursor.execute(
        f"CREATE TEMP TABLE {STAGING} ({', '.join(f'{c} {t}' for c, t in INCIDENT_COLUMNS.items())}) ON COMMIT DROP"
    )
    copy_frame(cursor, STAGING, incidents, columns, advance=reporter.task(t("staging incidents"), len(incidents)))
    reporter.step(t("writing incidents ..."))
    cursor.execute(INSERT)
    new = pd.DataFrame(cursor.fetchall(), columns=["id", "external_id"])
    if "id" in columns and not new.empty:  # numbered by the caller: the sequence continues after them
        cursor.execute("SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT max(id) FROM incidents))")
    cursor.execute(f"DROP TABLE {STAGING}")
    return new


def _counties_of(connection: Connection, incident_ids) -> dict[int, str]:
    """The stored county (the partition key) of each incident."""
    ids = sorted({int(i) for i in incident_ids})
    rows = connection.execute(text("SELECT id, county_code FROM incidents WHERE id = ANY(:ids)"), {"ids": ids})
    return dict(rows.all())


def add_events(connection: Connection, events: pd.DataFrame, reporter: Reporter | None = None) -> int:
    """Append ``events`` (columns of ``EVENT_COLUMNS``; ``data`` a dict or None) to the timelines.

    ``county_code`` is the incident's as stored; without it, it is looked up.
    """
    if events.empty:
        return 0
    if "county_code" not in events.columns:
        events = events.assign(county_code=events["incident_id"].map(_counties_of(connection, events["incident_id"])))
    if "data" in events.columns:
        events = events.assign(
            data=[
                json.dumps(d, ensure_ascii=False, default=str) if isinstance(d, dict) and d else None
                for d in events["data"]
            ]
        )
    columns = [c for c in EVENT_COLUMNS if c in events.columns]
    advance = (reporter or Silent()).task(t("timeline"), len(events))
    with generic_key_checks(connection):
        return copy_frame(connection.connection.cursor(), "incident_events", events, columns, advance=advance)


# -- what callers write --------------------------------------------------------------------------


def record_step(
    connection: Connection,
    incident_id: int,
    action: str,
    now: datetime,
    *,
    actor: str,
    signed_in: str,
    before: str | None = None,
    after: str | None = None,
    note: str | None = None,
    data: dict | None = None,
    notify: bool = True,
) -> None:
    """A step of a case's loop on its timeline (taken for ``actor``), in the audit log (by
    ``signed_in``, the user who took it) and, unless ``notify`` is false (a record such as a call,
    which tells nobody anything new), as a message to the people bound to the case at its tier,
    all in the step's transaction."""
    add_events(
        connection,
        pd.DataFrame(
            [
                {
                    "incident_id": incident_id,
                    "at": pd.Timestamp(now),
                    "actor": actor,
                    "action": action,
                    "from_status": before,
                    "to_status": after,
                    "note": note,
                    "data": with_note(data, note),
                }
            ]
        ),
    )
    audit.record(
        connection,
        signed_in,
        action,
        "incident",
        incident_id,
        before={"status": before},
        after={"status": after, **(data or {})},
    )
    if notify:
        notify_bound(connection, [incident_id], action, note)
        notify_staff(connection, [incident_id], action, note)  # a department's people, when it holds the case


def remind(connection: Connection, due: list[tuple[int, str | Message]], now: datetime) -> int:
    """Remind the people of each ``(incident id, note)``: on the timeline, by the system, and by message."""
    if not due:
        return 0
    add_events(
        connection,
        pd.DataFrame(
            {
                "incident_id": [i for i, _ in due],
                "at": pd.Timestamp(now),
                "actor": "system",
                "action": "remind",
                "note": [n for _, n in due],
                "data": [with_note(None, n) for _, n in due],
            }
        ),
    )
    notify_bound(connection, [i for i, _ in due], "deadline_near")
    notify_staff(connection, [i for i, _ in due], "deadline_near")
    return len(due)
