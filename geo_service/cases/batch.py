"""Recording many incidents at once: a file of a million rows, or a batch posted to the API.

The rows are checked and assigned in memory (``geo_service.lookup.bulk_assign``), then written set-wise in one
transaction: COPY into a staging table, one INSERT ... ON CONFLICT DO NOTHING into ``incidents``
(so a replayed or concurrent external id is never stored twice), then the bound officers and the
timeline. Each incident gets what ``geo_service.cases.recording.record_with`` would give it one by one:
the grid of the boundaries in force when it was reported, today's people, the time limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.lookup.bulk_assign import canonical_datum, assign_points, snapshot
from geo_service.db.copy import copy_frame
from geo_service.db.models import RISK_COLOURS
from geo_service.errors import InvalidInput
from geo_service.cases.recording import FUTURE_TOLERANCE, dispatch_note, outside_note, time_limit
from geo_service.cases.outbox import notify_bound
from geo_service.progress import Reporter, Silent
from geo_service.cases.responsibility import responsible, unit_chain
from geo_service.settings import Settings, get_settings
from geo_service.boundaries.versions import as_aware, local_day

REQUIRED = ("external_id", "category", "source", "reported_at")
OPTIONAL = ("risk_colour", "description", "reporter_name", "reporter_phone")


@dataclass(frozen=True)
class ImportResult:
    """Per input row: ``status`` created, existing (already stored), duplicate (earlier in the
    same input), or error; the incident's ``id`` where it has one; ``error`` saying why."""

    rows: pd.DataFrame
    committed: bool

    def count(self, status: str) -> int:
        return int((self.rows["status"] == status).sum())


def _row_errors(frame: pd.DataFrame, categories: set[str], sources: set[str], zone: str) -> tuple[np.ndarray, pd.Series]:
    error = np.full(len(frame), "", dtype=object)

    def flag(mask, message):
        mask = np.asarray(mask, dtype=bool) & (error == "")
        error[mask] = message if isinstance(message, str) else np.asarray(message, dtype=object)[mask]

    external = frame["external_id"].fillna("").astype(str).str.strip()
    flag(external == "", "external_id is empty")
    flag(external.str.len() > 100, "external_id is longer than 100 characters")
    category = frame["category"].fillna("").astype(str)
    flag(~category.isin(categories), [f"unknown category {c!r}; known: {', '.join(sorted(categories))}" for c in category])
    source = frame["source"].fillna("").astype(str)
    flag(~source.isin(sources), [f"unknown source {s!r}; known: {', '.join(sorted(sources))}" for s in source])
    colour = frame["risk_colour"].fillna("blue").astype(str)
    flag(~colour.isin(RISK_COLOURS), [f"risk_colour {c!r} is not one of {', '.join(RISK_COLOURS)}" for c in colour])
    raw = frame["reported_at"]
    parsed = {value: _moment(value, zone) for value in raw.dropna().unique()}
    reported = pd.to_datetime(raw.map(parsed), utc=True)
    flag(reported.isna(), [f"reported_at {v!r} is not a time" for v in raw])
    flag(reported > pd.Timestamp(datetime.now(timezone.utc) + FUTURE_TOLERANCE), "reported_at is in the future")
    return error, reported


def _moment(value, zone: str) -> datetime | None:
    """A row's time, aware; a time without a zone is the county's (as everywhere in the service)."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    return as_aware(value, zone)


def import_incidents(
    engine: Engine,
    frame: pd.DataFrame,
    lon: np.ndarray,
    lat: np.ndarray,
    datums: np.ndarray | str,
    *,
    problems: np.ndarray | None = None,
    all_or_nothing: bool = False,
    actor: str = "system",
    reporter: Reporter | None = None,
    settings: Settings | None = None,
) -> ImportResult:
    """Record the rows of ``frame`` (columns of ``REQUIRED``, optionally ``OPTIONAL``) as incidents.

    Rows in error are reported and skipped, unless ``all_or_nothing``: then nothing is written.
    Rows whose external id is stored already, or repeated within the input, are not written again.
    """
    settings = settings or get_settings()
    reporter = reporter or Silent()
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InvalidInput(f"the rows have no column {', '.join(missing)} (needed: {', '.join(REQUIRED)})", field="file")
    frame = frame.reset_index(drop=True).copy()
    for column in OPTIONAL:
        if column not in frame.columns:
            frame[column] = None
    frame["risk_colour"] = frame["risk_colour"].fillna("blue").replace("", "blue")
    n = len(frame)
    with engine.connect() as connection:
        categories = {r[0] for r in connection.execute(text("SELECT code FROM categories"))}
        sources = {r[0] for r in connection.execute(text("SELECT code FROM sources"))}
    error, reported = _row_errors(frame, categories, sources, settings.timezone)
    if problems is not None:
        error = np.where((problems != "") & (error == ""), problems, error)

    # Assign each row with the boundaries in force when it was reported: the published version
    # with the latest start at or before that moment.
    assigned = pd.DataFrame(index=range(n), columns=["status", "error", "grid_code", "village_code", "town_code",
                                                     "county_code", "lon_cgcs2000", "lat_cgcs2000", "version_id"])
    datums = np.broadcast_to(np.asarray(datums, dtype=object), (n,))
    with engine.connect() as connection:
        published = connection.execute(text(
            "SELECT id, effective_from FROM boundary_versions WHERE status = 'published' ORDER BY effective_from"
        )).all()
        starts = pd.to_datetime([start for _, start in published], utc=True).tz_convert(None).to_numpy()
        which = np.searchsorted(starts, reported.dt.tz_convert(None).to_numpy(), side="right") - 1
        which[reported.isna().to_numpy()] = -2  # unreadable times are reported as such already
        error[(which == -1) & (error == "")] = "no boundary version was in force at reported_at"
        for position in np.unique(which[which >= 0]):
            rows = np.flatnonzero((which == position) & (error == ""))
            if not len(rows):
                continue
            snap = snapshot(connection, published[position][1], settings)
            result = assign_points(snap, lon[rows], lat[rows], datums[rows], reporter)
            result["version_id"] = snap.version.id
            assigned.loc[rows, result.columns] = result.to_numpy()
    failed = (error == "") & (assigned["status"].to_numpy() == "error")
    error[failed] = assigned["error"].to_numpy()[failed]

    external = frame["external_id"].astype(str).str.strip()
    # A repeat of an earlier valid row; a refused row does not claim its external id.
    duplicate = external.where(error == "").duplicated() & (error == "")
    rows = pd.DataFrame({"row": np.arange(1, n + 1), "external_id": external, "status": "created", "id": pd.NA,
                         "error": np.where(error == "", None, error)})
    rows.loc[error != "", "status"] = "error"
    rows.loc[duplicate.to_numpy(), "status"] = "duplicate"
    if all_or_nothing and (error != "").any():
        return ImportResult(rows, committed=False)

    todo = (rows["status"] == "created").to_numpy()
    now = datetime.now(timezone.utc)
    inside = todo & (assigned["status"].to_numpy() == "assigned")
    frame["_lon"], frame["_lat"] = lon, lat
    frame["_datum"] = pd.Series(datums).map(canonical_datum).to_numpy()
    with engine.begin() as connection:
        created = _write(connection, frame[todo], assigned[todo], reported[todo], inside[todo], now, actor,
                         reporter, settings)
    ids = _stored_ids(engine, external[todo | duplicate.to_numpy()].tolist())
    rows["id"] = external.map(ids).astype("Int64")
    rows.loc[todo & ~external.isin(created).to_numpy(), "status"] = "existing"
    return ImportResult(rows, committed=True)


def _stored_ids(engine: Engine, external_ids: list[str]) -> dict[str, int]:
    with engine.connect() as connection:
        found = connection.execute(text("SELECT external_id, id FROM incidents WHERE external_id = ANY(:ids)"),
                                   {"ids": external_ids})
        return dict(found.all())


def _write(connection: Connection, frame, assigned, reported, inside, now, actor, reporter: Reporter,
           settings: Settings) -> set[str]:
    """Write the rows in the caller's transaction; returns the external ids that were new."""
    if frame.empty:
        return set()
    # COPY goes through the DBAPI cursor of the same connection, inside the same transaction.
    cursor = connection.connection.cursor()
    limits = {
        pair: time_limit(connection, *pair)
        for pair in set(zip(frame["category"][inside], frame["risk_colour"][inside]))
    }
    deadline = [now + limits[(c, r)] if is_in else None
                for c, r, is_in in zip(frame["category"], frame["risk_colour"], inside)]
    staging = pd.DataFrame({
        "external_id": frame["external_id"].astype(str).str.strip().to_numpy(),
        "source": frame["source"].to_numpy(), "category": frame["category"].to_numpy(),
        "reported_at": reported.to_numpy(), "description": frame["description"].to_numpy(),
        "reporter_name": frame["reporter_name"].to_numpy(), "reporter_phone": frame["reporter_phone"].to_numpy(),
        "lon": assigned["lon_cgcs2000"].astype(float).to_numpy(), "lat": assigned["lat_cgcs2000"].astype(float).to_numpy(),
        "input_datum": frame["_datum"].to_numpy(), "input_lon": frame["_lon"].to_numpy(), "input_lat": frame["_lat"].to_numpy(),
        "version_id": assigned["version_id"].astype(int).to_numpy(),
        "grid_code": np.where(inside, assigned["grid_code"], None),
        "village_code": np.where(inside, assigned["village_code"], None),
        "town_code": np.where(inside, assigned["town_code"], None),
        "county_code": np.where(inside, assigned["county_code"], None),
        "risk_colour": frame["risk_colour"].to_numpy(),
        "status": np.where(inside, "dispatched", "reported"),
        "dispatched_at": np.where(inside, now, None),
        "deadline": deadline,
    })
    staging["reported_at"] = pd.to_datetime(staging["reported_at"], utc=True)
    # For the timeline's notes: the grid routed to, or the nearest one for a case outside them all.
    places = pd.DataFrame({"external_id": staging["external_id"], "grid_name": assigned["grid_name"].to_numpy(),
                           "nearest_code": assigned["grid_code"].to_numpy(),
                           "nearest_distance_m": assigned["nearest_distance_m"].to_numpy()})
    cursor.execute("""
        CREATE TEMP TABLE incident_staging (
            external_id text, source text, category text, reported_at timestamptz, description text,
            reporter_name text, reporter_phone text, lon float8, lat float8, input_datum text,
            input_lon float8, input_lat float8, version_id int, grid_code text, village_code text,
            town_code text, county_code text, risk_colour text, status text, dispatched_at timestamptz,
            deadline timestamptz) ON COMMIT DROP
    """)
    copy_frame(cursor, "incident_staging", staging, advance=reporter.task("staging incidents", len(staging)))
    reporter.step("writing incidents ...")
    cursor.execute("""
        INSERT INTO incidents (external_id, source, category, reported_at, description, reporter_name,
                               reporter_phone, geom, input_datum, input_lon, input_lat, boundary_version_id,
                               grid_id, grid_code, village_code, town_code, county_code, risk_colour, status,
                               tier, dispatched_at, deadline)
        SELECT s.external_id, s.source, s.category, s.reported_at, s.description, s.reporter_name,
               s.reporter_phone, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4490), s.input_datum, s.input_lon,
               s.input_lat, s.version_id, g.id, s.grid_code, s.village_code, s.town_code, s.county_code,
               s.risk_colour, s.status, 'village', s.dispatched_at, s.deadline
          FROM incident_staging s
          LEFT JOIN grids g ON g.version_id = s.version_id AND g.code = s.grid_code
        ON CONFLICT (external_id) DO NOTHING
        RETURNING id, external_id
    """)
    new = pd.DataFrame(cursor.fetchall(), columns=["id", "external_id"])
    if new.empty:
        return set()
    written = staging.merge(new, on="external_id").merge(places, on="external_id")
    dispatched = written[written["status"] == "dispatched"]
    people = bind_officers(connection, cursor, dispatched, now, reporter, settings)
    notify_bound(connection, [int(i) for i in dispatched["id"]], "dispatch")
    waiting = written[(written["status"] != "dispatched") & written["nearest_code"].notna()]
    report_notes = pd.Series(
        [outside_note(code, name, distance) for code, name, distance
         in zip(waiting["nearest_code"], waiting["grid_name"], waiting["nearest_distance_m"])],
        index=waiting.index, dtype=object)
    events = pd.concat([
        pd.DataFrame({"incident_id": written["id"], "at": written["reported_at"], "actor": written["source"],
                      "action": "report", "from_status": None, "to_status": "reported",
                      "note": report_notes.reindex(written.index)}),
        pd.DataFrame({"incident_id": dispatched["id"], "at": now, "actor": "system", "action": "dispatch",
                      "from_status": "reported", "to_status": "dispatched",
                      "note": [dispatch_note(grid, name, [role for _, role, officer, _ in people[(grid, colour)]
                                                          if officer is None])
                               for grid, name, colour in zip(dispatched["grid_code"], dispatched["grid_name"],
                                                             dispatched["risk_colour"])]}),
    ])
    copy_frame(cursor, "incident_events", events, advance=reporter.task("timeline", len(events)))
    connection.execute(
        text("INSERT INTO audit_log (actor, action, entity, after) VALUES (:actor, 'import', 'incident', CAST(:after AS jsonb))"),
        {"actor": actor, "after": json.dumps({"created": len(written), "first_id": int(written["id"].min()),
                                               "last_id": int(written["id"].max())})},
    )
    return set(new["external_id"])


def bind_officers(connection: Connection, cursor, dispatched: pd.DataFrame, now, reporter: Reporter,
                   settings: Settings) -> dict:
    """Bind each dispatched incident to the people of its place, resolved once per place and colour.

    Returns the people found per (grid code, colour): (position, role, officer code or None, unit).
    """
    if dispatched.empty:
        return {}
    day = local_day(now, settings.timezone)
    people = {}
    for grid, village, town, county, colour in dispatched[
        ["grid_code", "village_code", "town_code", "county_code", "risk_colour"]
    ].drop_duplicates().itertuples(index=False):
        found = responsible(connection, unit_chain(grid, village, town, county), day, colour, "village")["village"]
        people[(grid, colour)] = [(p.position, p.role, p.officer_code, p.unit_code) for p in found]
    bound = [
        (incident, "village", position, role, officer, unit, now)
        for incident, grid, colour in dispatched[["id", "grid_code", "risk_colour"]].itertuples(index=False)
        for position, role, officer, unit in people[(grid, colour)]
    ]
    officers = pd.DataFrame(bound, columns=["incident_id", "tier", "position", "role", "officer_code", "unit_code", "bound_at"])
    cursor.execute("SELECT code, id FROM officers")
    officer_ids = dict(cursor.fetchall())
    officers["officer_id"] = officers["officer_code"].map(officer_ids).astype("Int64")
    copy_frame(cursor, "incident_officers", officers,
               ["incident_id", "tier", "position", "role", "officer_id", "unit_code", "bound_at"],
               advance=reporter.task("binding officers", len(officers)))
    return people
