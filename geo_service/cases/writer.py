"""The one writer of cases: incidents, their timelines, the people bound to them and the audit log.

Every write of a case comes through here, in the caller's transaction: a single recording (one
row), a batch posted to the API, a file of a million rows, the demo county, and every step of a
case's loop. Writing is set-wise: the rows are COPYed into a staging table and inserted by one
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

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth import audit
from geo_service.cases.outbox import notify_bound
from geo_service.cases.responsibility import Responsible, responsible, time_limit, unit_chain
from geo_service.db.copy import copy_frame
from geo_service.db.partitions import NO_COUNTY, generic_key_checks
from geo_service.progress import Reporter, Silent
from geo_service.times import local_day
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

INSERT = f"""
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
    RETURNING id, external_id
"""
EVENT_COLUMNS = ("incident_id", "county_code", "at", "actor", "action", "from_status", "to_status", "note", "data")


def dispatch_note(grid_code: str, grid_name: str, vacant_roles: list[str]) -> str:
    """The timeline's note on routing a case to its grid (the vacancies it found, if any)."""
    note = f"routed to grid {grid_code} {grid_name}"
    return note + (f"; vacant: {', '.join(vacant_roles)}" if vacant_roles else "")


def outside_note(grid_code: str, grid_name: str, distance_m: float) -> str:
    """The timeline's note on a case outside every grid, left for a person to route."""
    return f"outside every grid; nearest grid {grid_code} {grid_name} at {distance_m:.0f} m: awaiting manual routing"


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
    copy_frame(cursor, STAGING, incidents, columns, advance=reporter.task("staging incidents", len(incidents)))
    reporter.step("writing incidents ...")
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
            data=[json.dumps(d, ensure_ascii=False, default=str) if d else None for d in events["data"]]
        )
    columns = [c for c in EVENT_COLUMNS if c in events.columns]
    advance = (reporter or Silent()).task("timeline", len(events))
    with generic_key_checks(connection):
        return copy_frame(connection.connection.cursor(), "incident_events", events, columns, advance=advance)


def bind(
    connection: Connection,
    cases: pd.DataFrame,
    tier: str,
    now: datetime,
    zone: str,
    *,
    release: bool = False,
    reporter: Reporter | None = None,
) -> dict[int, list[Responsible]]:
    """Bind each case to the people the rules name for its place, colour and ``tier`` on the
    county's day of ``now`` (vacancies recorded as such), resolved once per place and colour.

    ``cases`` has the columns ``id``, ``grid_code``, ``village_code``, ``town_code``,
    ``county_code`` and ``risk_colour``. With ``release``, whoever was bound at ``tier`` before is
    released first. Returns the people bound to each case.
    """
    if cases.empty:
        return {}
    day = local_day(now, zone)
    places = ["grid_code", "village_code", "town_code", "county_code", "risk_colour"]
    people = {
        place: responsible(connection, unit_chain(*place[:4]), day, place[4], tier)[tier]
        for place in cases[places].drop_duplicates().itertuples(index=False, name=None)
    }
    bound = {int(row[0]): people[row[1:]] for row in cases[["id", *places]].itertuples(index=False, name=None)}
    county = dict(zip(cases["id"].astype(int), cases["county_code"].fillna(NO_COUNTY)))  # as the incident has it
    if release:
        connection.execute(
            text("""
            UPDATE incident_officers SET released_at = :now
             WHERE incident_id = ANY(:ids) AND tier = :tier AND released_at IS NULL
        """),
            {"ids": list(bound), "tier": tier, "now": now},
        )
    rows = pd.DataFrame(
        [
            (incident, county[incident], tier, p.position, p.role, p.officer_code, p.unit_code, now)
            for incident, found in bound.items()
            for p in found
        ],
        columns=["incident_id", "county_code", "tier", "position", "role", "officer_code", "unit_code", "bound_at"],
    )
    codes = [c for c in rows["officer_code"].dropna().unique()]
    officer_ids = dict(
        connection.execute(text("SELECT code, id FROM officers WHERE code = ANY(:codes)"), {"codes": codes}).all()
    )
    rows["officer_id"] = rows["officer_code"].map(officer_ids).astype("Int64")
    with generic_key_checks(connection):
        copy_frame(
            connection.connection.cursor(),
            "incident_officers",
            rows,
            ["incident_id", "county_code", "tier", "position", "role", "officer_id", "unit_code", "bound_at"],
            advance=(reporter or Silent()).task("binding officers", len(rows)),
        )
    return bound


# -- what callers write --------------------------------------------------------------------------


def record_new(
    connection: Connection,
    cases: pd.DataFrame,
    now: datetime,
    zone: str,
    *,
    actor: str,
    audit_each: bool,
    reporter: Reporter | None = None,
) -> pd.DataFrame:
    """Record new incidents assigned to their places, as a single recording and an import do.

    Parameters
    ----------
    cases
        One row per incident: the incident's own columns (``external_id``, ``source``,
        ``category``, ``reported_at``, ``description``, ``reporter_name``, ``reporter_phone``,
        ``risk_colour``, ``lon``/``lat`` in the storage CRS, ``input_datum``, ``input_lon``,
        ``input_lat``, ``version_id``) and its place: ``inside`` (in a grid), ``grid_code``,
        ``grid_name``, ``village_code``, ``town_code``, ``county_code``, and for a case outside
        every grid the nearest grid in ``grid_code``/``grid_name`` with ``nearest_distance_m``.
    now
        The moment of recording: a case inside a grid is dispatched then, to the people the rules
        name for that day, with the time its category and colour allow.
    actor
        Who is recorded in the audit log as having written them.
    audit_each
        One audit entry per incident (``create``), or one for all (``import``).

    Returns
    -------
    The ``id`` and ``external_id`` of the incidents stored; those whose external id was stored
    already are left as they were.
    """
    reporter = reporter or Silent()
    cases = cases.reset_index(drop=True)
    if cases.empty:
        return pd.DataFrame(columns=["id", "external_id"])
    inside = cases["inside"].to_numpy(dtype=bool)
    limits = {
        pair: time_limit(connection, *pair)
        for pair in set(zip(cases["category"][inside], cases["risk_colour"][inside]))
    }
    rows = cases[[c for c in INCIDENT_COLUMNS if c in cases.columns]].copy()
    # A case outside every grid still belongs to the county of its nearest grid: that county's
    # centre routes it by hand, and only its users see it.
    for column in ("grid_code", "village_code", "town_code"):
        rows[column] = np.where(inside, cases[column], None)
    rows["status"] = np.where(inside, "dispatched", "reported")
    rows["dispatched_at"] = pd.Series([now if i else None for i in inside], dtype=object)
    rows["deadline"] = [
        now + limits[(c, r)] if i else None for c, r, i in zip(cases["category"], cases["risk_colour"], inside)
    ]
    rows["reported_at"] = pd.to_datetime(rows["reported_at"], utc=True)
    for column in ("dispatched_at", "deadline"):
        rows[column] = pd.to_datetime(rows[column], utc=True)
    new = insert_incidents(connection, rows, reporter)
    if new.empty:
        return new
    written = cases.assign(status=rows["status"]).merge(new, on="external_id")
    dispatched = written[written["status"] == "dispatched"]
    bound = bind(connection, dispatched, "village", now, zone, reporter=reporter)
    notes = pd.Series(
        [
            dispatch_note(grid, name, [p.role for p in bound[int(i)] if p.vacant])
            for i, grid, name in zip(dispatched["id"], dispatched["grid_code"], dispatched["grid_name"])
        ],
        index=dispatched.index,
        dtype=object,
    )
    waiting = written[(written["status"] != "dispatched") & written["grid_code"].notna()]
    outside = pd.Series(
        [
            outside_note(code, name, distance)
            for code, name, distance in zip(waiting["grid_code"], waiting["grid_name"], waiting["nearest_distance_m"])
        ],
        index=waiting.index,
        dtype=object,
    )
    add_events(
        connection,
        pd.concat(
            [
                pd.DataFrame(
                    {
                        "incident_id": written["id"],
                        "at": pd.to_datetime(written["reported_at"], utc=True),
                        "actor": written["source"],
                        "action": "report",
                        "from_status": None,
                        "to_status": "reported",
                        "note": outside.reindex(written.index),
                    }
                ),
                pd.DataFrame(
                    {
                        "incident_id": dispatched["id"],
                        "at": pd.Timestamp(now),
                        "actor": "system",
                        "action": "dispatch",
                        "from_status": "reported",
                        "to_status": "dispatched",
                        "note": notes,
                    }
                ),
            ]
        ),
        reporter,
    )
    # The people are told of each case with its routing note (one message query per distinct note).
    for note, ids in dispatched["id"].groupby(notes, sort=False):
        notify_bound(connection, [int(i) for i in ids], "dispatch", note)
    if audit_each:
        for case in written.itertuples(index=False):
            audit.record(
                connection,
                actor,
                "create",
                "incident",
                int(case.id),
                after={
                    "external_id": case.external_id,
                    "category": case.category,
                    "risk_colour": case.risk_colour,
                    "grid_code": case.grid_code if case.status == "dispatched" else None,
                },
            )
    else:
        audit.record(
            connection,
            actor,
            "import",
            "incident",
            after={"created": len(written), "first_id": int(written["id"].min()), "last_id": int(written["id"].max())},
        )
    return new


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
) -> None:
    """A step of a case's loop on its timeline (taken for ``actor``), in the audit log (by
    ``signed_in``, the user who took it) and as a message to the people bound to the case at its
    tier, all in the step's transaction."""
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
                    "data": data or None,
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
    notify_bound(connection, [incident_id], action, note)


def remind(connection: Connection, due: list[tuple[int, str]], now: datetime) -> int:
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
            }
        ),
    )
    notify_bound(connection, [i for i, _ in due], "deadline_near", "the deadline draws near")
    return len(due)
