"""Recording new incidents, one or a million, in one statement per batch.

A new incident is stored with its first steps: the report on its timeline, and, inside a grid,
its dispatch to the people the responsibility rules name today (sent up a tier where every post
is vacant, with an escalation step saying why), those people bound to it and told by message.
What is the same for every case of one place and colour (the people, the tier, the routing note)
is worked out once per place (``geo_service.cases.places``); the rows are COPYed into a staging
table and the incidents, their timelines, their people and the messages written from it by one
``INSERT ... SELECT`` each, joined in SQL, in a single statement: no row goes back and forth
through Python, and a replayed external id is skipped with everything that hangs from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth import audit
from geo_service.cases.binding import nobody
from geo_service.cases.outbox import bound_payload
from geo_service.cases.places import PLACE, Place, resolve_places
from geo_service.cases.responsibility import time_limits
from geo_service.cases.writer import (
    INCIDENT_COLUMNS,
    INSERT_NEW,
    STAGING,
    dispatch_note,
    outside_note,
    raised_note,
    with_note,
)
from geo_service.db.copy import copy_frame
from geo_service.db.partitions import NO_COUNTY, generic_key_checks
from geo_service.i18n import t
from geo_service.progress import Reporter, Silent
from geo_service.times import local_day

# Besides the incident's columns, the staging table holds its place (numbered per batch) and the
# note of its report step (for a case outside every grid).
EXTRA_COLUMNS = {"place": "int", "report_note": "text", "report_data": "jsonb"}

WRITE = f"""
WITH inserted AS ({INSERT_NEW} RETURNING id, external_id, county_code),
new AS MATERIALIZED (
    SELECT i.id, i.county_code, s.external_id, s.source, s.category, s.risk_colour, s.grid_code, s.status,
           s.tier, s.deadline, s.reported_at, s.place, s.report_note, s.report_data
      FROM inserted i
      JOIN {STAGING} s ON s.external_id = i.external_id AND coalesce(s.county_code, '{NO_COUNTY}') = i.county_code
),
places AS (
    SELECT * FROM unnest(CAST(%(places)s AS int[]), CAST(%(dispatch_notes)s AS text[]),
                         CAST(%(dispatch_data)s AS jsonb[]), CAST(%(raised_notes)s AS text[]),
                         CAST(%(raised_data)s AS jsonb[]))
                  AS p(place, dispatch_note, dispatch_data, raised_note, raised_data)
),
people AS (
    SELECT * FROM unnest(CAST(%(bound_places)s AS int[]), CAST(%(bound_order)s AS int[]),
                         CAST(%(bound_tiers)s AS text[]), CAST(%(bound_positions)s AS int[]),
                         CAST(%(bound_roles)s AS text[]), CAST(%(bound_officers)s AS int[]),
                         CAST(%(bound_units)s AS text[]))
                  AS b(place, n, tier, position, role, officer_id, unit_code)
),
steps AS (
    INSERT INTO incident_events (incident_id, county_code, at, actor, action, from_status, to_status, note, data)
    SELECT incident_id, county_code, at, actor, action, from_status, to_status, note, data
      FROM (SELECT 1 AS step, n.id AS incident_id, n.county_code, n.reported_at AS at, n.source AS actor,
                   'report' AS action, CAST(NULL AS text) AS from_status, 'reported' AS to_status,
                   n.report_note AS note, n.report_data AS data
              FROM new n
            UNION ALL
            SELECT 2, n.id, n.county_code, %(now)s, 'system', 'dispatch', 'reported', 'dispatched',
                   p.dispatch_note, p.dispatch_data
              FROM new n JOIN places p ON p.place = n.place
            UNION ALL
            SELECT 3, n.id, n.county_code, %(now)s, 'system', 'escalate', NULL, NULL, p.raised_note, p.raised_data
              FROM new n JOIN places p ON p.place = n.place
             WHERE p.raised_note IS NOT NULL) e
     ORDER BY step, incident_id
),
bound AS (
    INSERT INTO incident_officers (incident_id, county_code, tier, position, role, officer_id, unit_code, bound_at)
    SELECT n.id, n.county_code, b.tier, b.position, b.role, b.officer_id, b.unit_code, %(now)s
      FROM new n JOIN people b ON b.place = n.place
     ORDER BY n.id, b.n
),
-- the people bound at the case's tier are told, with the routing note; sorted before the
-- payload is built, which keeps the sort narrow
told AS (
    INSERT INTO outbox (incident_id, county_code, kind, officer_id, role, payload)
    SELECT id, county_code, 'dispatch', officer_id, role,
           {bound_payload("'dispatch'", case="", person="", role="role", note="note", note_t="note_t")}
      FROM (SELECT n.id, n.county_code, n.external_id, n.category, n.risk_colour, n.grid_code, n.status, n.tier,
                   n.deadline, o.id AS officer_id, o.name, o.phone, b.role, p.dispatch_note AS note,
                   p.dispatch_data -> 'note_t' AS note_t
              FROM new n
              JOIN places p ON p.place = n.place
              JOIN people b ON b.place = n.place AND b.tier = n.tier
              JOIN officers o ON o.id = b.officer_id
             ORDER BY n.id, b.position, o.code
            OFFSET 0) told
)
SELECT id, external_id FROM new ORDER BY id
"""


@contextmanager
def _no_jit(connection: Connection) -> Iterator[None]:
    """The write planned without JIT: its cost estimate always asks for it, and compiling the
    statement took longer (1.4 s) than any part of it gained. Reverts, as the settings of
    ``generic_key_checks`` do; an error rolls the transaction back, which undoes it too."""
    previous = connection.execute(text("SELECT current_setting('jit')")).scalar_one()
    connection.execute(text("SELECT set_config('jit', 'off', true)"))
    yield
    connection.execute(text("SELECT set_config('jit', :previous, true)"), {"previous": previous})


def _json(data: dict | None) -> str | None:
    """An event's data as the timeline stores it (``writer.add_events`` writes it so)."""
    return json.dumps(data, ensure_ascii=False, default=str) if data else None


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
        External ids are unique among the rows.
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
    place, tier, places = _places(connection, cases, inside, local_day(now, zone))
    rows = pd.DataFrame({**_incident_columns(connection, cases, inside, now), "place": place, "tier": tier})
    cursor = connection.connection.cursor()
    columns = {**INCIDENT_COLUMNS, **EXTRA_COLUMNS}
    cursor.execute(f"CREATE TEMP TABLE {STAGING} ({', '.join(f'{c} {t}' for c, t in columns.items())}) ON COMMIT DROP")
    copy_frame(cursor, STAGING, rows, list(rows.columns), advance=reporter.task(t("staging incidents"), len(rows)))
    reporter.step(t("writing {count:,} incidents with their timelines and people ...", count=len(rows)))
    with generic_key_checks(connection), _no_jit(connection):
        cursor.execute(WRITE, {"now": now, **places})
        new = pd.DataFrame(cursor.fetchall(), columns=["id", "external_id"])
    cursor.execute(f"DROP TABLE {STAGING}")
    if not new.empty:
        _audit(connection, cases, new, actor, audit_each)
    return new


# The staging table's columns are built as arrays and made a frame once: a report is one row, and
# a frame's fixed cost per step (tens of microseconds each) was most of its recording.


def _incident_columns(connection: Connection, cases: pd.DataFrame, inside: np.ndarray, now: datetime) -> dict:
    """The staging table's columns but the place: the incidents as stored, and the note of a case
    outside every grid, which waits for a person (its report says where the nearest grid is)."""
    columns = {c: cases[c].array for c in INCIDENT_COLUMNS if c in cases.columns}
    # A case outside every grid still belongs to the county of its nearest grid: that county's
    # centre routes it by hand, and only its users see it.
    for column in ("grid_code", "village_code", "town_code"):
        columns[column] = np.where(inside, cases[column].to_numpy(dtype=object), None)
    columns["status"] = np.where(inside, "dispatched", "reported")
    columns["reported_at"] = pd.to_datetime(cases["reported_at"], utc=True).array
    stamp = np.datetime64(pd.Timestamp(now).tz_convert("UTC").tz_localize(None), "us")
    never = np.datetime64("NaT", "us")
    columns["dispatched_at"] = pd.to_datetime(np.where(inside, stamp, never), utc=True)
    pairs = list(zip(cases["category"].to_numpy()[inside], cases["risk_colour"].to_numpy()[inside], strict=True))
    limits = time_limits(connection, pairs)
    deadline = np.full(len(cases), never)
    deadline[inside] = stamp + np.array([limits[pair] for pair in pairs], dtype="timedelta64[us]")
    columns["deadline"] = pd.to_datetime(deadline, utc=True)
    waiting = np.flatnonzero(~inside & cases["grid_code"].notna().to_numpy())
    notes, data = np.full(len(cases), None, dtype=object), np.full(len(cases), None, dtype=object)
    for n in waiting:
        note = outside_note(cases["grid_code"].iat[n], cases["grid_name"].iat[n], cases["nearest_distance_m"].iat[n])
        notes[n], data[n] = str(note), _json(with_note(None, note))
    columns["report_note"], columns["report_data"] = notes, data
    return columns


def _places(
    connection: Connection, cases: pd.DataFrame, inside: np.ndarray, day: date
) -> tuple[np.ndarray, np.ndarray, dict[str, list]]:
    """Each place (and colour) of the cases inside a grid resolved once: its people, the tier
    its cases end at, the notes of their dispatch and of their escalation. Returns each row's
    place (numbered in order of first appearance; None outside every grid) and tier, and the
    places and the people bound as the parameters of ``WRITE``."""
    numbers: dict[Place, int] = {}
    located = zip(*(cases[c].to_numpy(dtype=object)[inside] for c in PLACE), strict=True)
    numbered = [numbers.setdefault(Place(*key), len(numbers)) for key in located]
    places = list(numbers)
    resolved = resolve_places(connection, places, day)
    place = np.full(len(cases), None, dtype=object)
    place[inside] = numbered
    tier = np.full(len(cases), "village", dtype=object)
    tier[inside] = np.asarray(resolved.tiers, dtype=object)[np.asarray(numbered, dtype=int)]
    said = [dispatch_note(p.grid_code, p.grid_name, resolved.people[n]) for n, p in enumerate(places)]
    raised = [
        raised_note("village", tier, resolved.people[n]) if tier != "village" else None
        for n, tier in enumerate(resolved.tiers)
    ]
    unattended = [nobody(resolved.people[n]) for n in range(len(places))]
    bound = resolved.bound
    return (
        place,
        tier,
        {
            "places": list(range(len(places))),
            "dispatch_notes": [str(n) for n in said],
            "dispatch_data": [_json(with_note(None, n)) for n in said],
            "raised_notes": [None if n is None else str(n) for n in raised],
            "raised_data": [
                None
                if note is None
                else _json(with_note({"from_tier": "village", "to_tier": tier, "unattended": alone}, note))
                for tier, note, alone in zip(resolved.tiers, raised, unattended, strict=True)
            ],
            "bound_places": [b.place for b in bound],
            "bound_order": list(range(len(bound))),
            "bound_tiers": [b.tier for b in bound],
            "bound_positions": [b.position for b in bound],
            "bound_roles": [b.role for b in bound],
            "bound_officers": [b.officer_id for b in bound],
            "bound_units": [b.unit_code for b in bound],
        },
    )


def _audit(connection: Connection, cases: pd.DataFrame, new: pd.DataFrame, actor: str, audit_each: bool) -> None:
    if not audit_each:
        first, last = int(new["id"].min()), int(new["id"].max())
        audit.record(
            connection, actor, "import", "incident", after={"created": len(new), "first_id": first, "last_id": last}
        )
        return
    ids = dict(zip(new["external_id"], new["id"].astype(int), strict=True))
    described = zip(cases["external_id"], cases["category"], cases["risk_colour"], cases["grid_code"], cases["inside"])
    for external_id, category, colour, grid_code, inside in described:
        if external_id not in ids:
            continue
        audit.record(
            connection,
            actor,
            "create",
            "incident",
            ids[external_id],
            after={
                "external_id": external_id,
                "category": category,
                "risk_colour": colour,
                "grid_code": grid_code if inside else None,
            },
        )
