"""A county's past cases: each stored as it stood in the county's own records, at its own times.

Two phases, so that a dry run is the first alone. :func:`prepare_history` reads, checks and places
every row of an ``incidents`` table in memory and writes nothing; :func:`write_history` stores the
prepared cases through ``geo_service.cases.writer`` (the one writer of cases) in the caller's
transaction. Problems are reported by row on ``table.report``, never raised.

What a row becomes:

* Category, source, status, satisfaction and risk colour are read by their code or by the names
  an administrator keeps in the tables (``categories``/``sources`` by code or ``name_zh``, and
  ``value_aliases``). An unknown name is a row error naming the known ones. A row without a source
  (no column, or an empty cell) is recorded as ``DEFAULT_SOURCE`` (grid_app, 网格员上报: most cases
  of a grid county come from its grid workers), with one warning for the file counting them. A row
  without a status takes the furthest one its times show (closed, resolved, dispatched, reported).
* Times are read in the county's zone; the report time is required, the others optional; times
  out of order or in the future are row errors. A closed case needs its closing time, a resolved
  one its resolving time; an open case (reported, dispatched, accepted, in progress) must not have
  either.
* Each row is placed in the grid of the boundary version in force at its own report time; a row
  in no grid of the county is reported (with the nearest grid) and never stored.
* A case keeps its status and times: dispatched at its own dispatch time (else its report time),
  a deadline from the file's own or from that dispatch time and the time-limit rules, resolved and
  closed at its own times, with its satisfaction. Its timeline holds a step at each known time by
  the actor ``import``, each noting the file and row; a step whose time the file does not give
  (accepting, starting, reopening) is dated at the import. Nothing historical notifies anyone and
  nobody is bound to a finished case; cases being handled (dispatched, accepted, in progress) are
  bound to the people the rules name on the import day, and told only with ``notify_open``.
  Reported and reopened cases wait for a dispatcher, as in the loop (``geo_service.cases.steps``).
* External ids are idempotent in the writer: importing the same file again stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from geo_service.auth import audit
from geo_service.cases import writer
from geo_service.cases.outbox import notify_bound
from geo_service.cases.recording import FUTURE_TOLERANCE
from geo_service.cases.responsibility import time_limits
from geo_service.cases.states import HANDLING
from geo_service.county.case_places import place_cases
from geo_service.county.case_problems import RowProblems
from geo_service.county.case_timeline import timeline_steps
from geo_service.county.case_values import column_text, read_case_times, read_satisfaction, to_stored, vocabularies
from geo_service.i18n import t
from geo_service.progress import Reporter, Silent
from geo_service.settings import Settings

DEFAULT_SOURCE = "grid_app"
TIMES = ("reported_at", "dispatched_at", "resolved_at", "closed_at")  # in the order a case lives them
OPEN_NOW = ("reported", "dispatched", "accepted", "in_progress")  # may not carry a resolving or closing time
DISPATCHED = ("dispatched", "accepted", "in_progress", "resolved", "closed")  # were dispatched, so have a deadline
CASE_COLUMNS = [c for c in writer.INCIDENT_COLUMNS if c != "id"]
# The times as a reason names them (the English is the field's own name).
TIME_NAMES = {
    "reported_at": t("reported_at"),
    "dispatched_at": t("dispatched_at"),
    "resolved_at": t("resolved_at"),
    "closed_at": t("closed_at"),
}


@dataclass
class PreparedHistory:
    """The cases of one file ready to store (nothing written yet).

    ``cases`` has the writer's incident columns plus ``_row`` (the file's row) and ``grid_name``;
    ``rows`` counts the file's rows and ``skipped`` those left out for errors.
    """

    path: str
    cases: pd.DataFrame
    rows: int
    skipped: int

    @property
    def by_status(self) -> dict[str, int]:
        return {s: int(n) for s, n in self.cases["status"].value_counts().items()}


def prepare_history(
    connection: Connection, table, *, settings: Settings, county_units: set[str] | None = None
) -> PreparedHistory:
    """Read, check and place the past cases of ``table`` (a ``SourceTable`` of kind ``incidents``).

    Parameters
    ----------
    connection
        The database: its rule tables name the values, its published boundary versions place the rows.
    table
        The file's rows with canonical field names (``geo_service.county.fields.FIELDS['incidents']``),
        ``lon``/``lat`` in CGCS2000 and ``_row``; problems go to ``table.report``.
    settings
        The county's zone (``settings.place.timezone``) and the lookups' settings.
    county_units
        The codes of the county's units (county, town, village or grid codes): a row placed in a
        grid none of whose codes is among them is outside the county. None: every published grid is.

    Returns
    -------
    PreparedHistory
        The rows without errors (the file's own and those found here), ready for :func:`write_history`.
    """
    zone = settings.place.timezone
    frame = table.frame.reset_index(drop=True)
    n = len(frame)
    problems = RowProblems(table)
    names = vocabularies(connection)
    col = table.columns.get

    values: dict[str, pd.Series] = {}
    for field in ("category", "source", "status", "risk_colour"):
        raw = column_text(frame, field)
        values[field] = to_stored(raw, names[field][0])
        unknown = raw.notna() & values[field].isna()
        problems.add(
            unknown,
            field,
            lambda i, r=raw, f=field: t(
                "unknown {field} {value!r}; known: {known}", field=f, value=r[i], known=names[f][1]
            ),
        )
    missing_category = column_text(frame, "category").isna()
    problems.add(missing_category, "category", lambda i: t("the category is empty"))
    no_source = column_text(frame, "source").isna()
    values["source"] = values["source"].where(~no_source, DEFAULT_SOURCE)
    if no_source.any():
        table.report.warn(
            None,
            col("source", "source"),
            t(
                "rows without a source: {count:,}; recorded as {source} (网格员上报)",
                count=int(no_source.sum()),
                source=DEFAULT_SOURCE,
            ),
        )
    values["risk_colour"] = values["risk_colour"].where(column_text(frame, "risk_colour").notna(), "blue")
    raw_satisfaction = column_text(frame, "satisfaction")
    satisfaction = read_satisfaction(raw_satisfaction, names["satisfaction"][0])
    problems.add(
        raw_satisfaction.notna() & satisfaction.isna(),
        "satisfaction",
        lambda i: t(
            "satisfaction {value!r} is not 1 to 5 or a known name ({known})",
            value=raw_satisfaction[i],
            known=names["satisfaction"][1],
        ),
    )

    external = column_text(frame, "external_id").astype(object)
    external = external.where(external.isna(), external.astype(str).str.strip())
    problems.add(external.isna(), "external_id", lambda i: t("the case number is empty"))
    problems.add(external.str.len() > 100, "external_id", lambda i: t("the case number is longer than 100 characters"))
    phone = column_text(frame, "reporter_phone")
    problems.add(
        phone.str.len() > 20,
        "reporter_phone",
        lambda i: t("the phone {value!r} is longer than 20 characters", value=phone[i]),
    )

    # Times: readable, in order, not in the future.
    times: dict[str, pd.Series] = {}
    latest = pd.Timestamp(datetime.now(UTC) + FUTURE_TOLERANCE)
    for field in (*TIMES, "deadline"):
        raw = column_text(frame, field)
        times[field], unreadable = read_case_times(raw, zone)
        if field == "deadline":  # a time limit given as a duration (三个工作日) is left to the rules
            problems.add(
                unreadable,
                field,
                lambda i, r=raw: t(
                    "{value!r} is not a time: the deadline is taken from the time-limit rules", value=r[i]
                ),
                error=False,
            )
            continue
        problems.add(
            unreadable,
            field,
            lambda i, r=raw, f=field: t("{field} {value!r} is not a time", field=TIME_NAMES[f], value=r[i]),
        )
        problems.add(
            times[field] > latest,
            field,
            lambda i, r=raw, f=field: t("{field} {value!r} is in the future", field=TIME_NAMES[f], value=r[i]),
        )
    problems.add(
        column_text(frame, "reported_at").isna(),
        "reported_at",
        lambda i: t("the report time is empty (it is required)"),
    )
    disordered = np.zeros(n, dtype=bool)  # one complaint per row: its first pair out of order
    for later_at, later in enumerate(TIMES[1:], start=1):
        for earlier in TIMES[:later_at]:
            wrong = (times[later] < times[earlier]).to_numpy() & ~disordered
            say = t(
                "{later} is before {earlier} ({column})",
                later=TIME_NAMES[later],
                earlier=TIME_NAMES[earlier],
                column=col(earlier, earlier),
            )
            problems.add(wrong, later, lambda i, s=say: s)
            disordered |= wrong

    # Status: as given, else the furthest the times show.
    inferred = np.select(
        [times["closed_at"].notna(), times["resolved_at"].notna(), times["dispatched_at"].notna()],
        ["closed", "resolved", "dispatched"],
        "reported",
    )
    status = values["status"].where(column_text(frame, "status").notna(), pd.Series(inferred, dtype=object))
    problems.add(
        (status == "closed") & times["closed_at"].isna(),
        "closed_at",
        lambda i: t("the case is closed but its closing time is empty"),
    )
    problems.add(
        (status == "resolved") & times["resolved_at"].isna(),
        "resolved_at",
        lambda i: t("the case is resolved but its resolving time is empty"),
    )
    still_open = status.isin(OPEN_NOW) & (times["resolved_at"].notna() | times["closed_at"].notna())
    shown = column_text(frame, "status").fillna(status)
    problems.add(
        still_open,
        "status",
        lambda i: t(
            "the case is {shown} ({status}) but has a resolving or closing time", shown=shown[i], status=status[i]
        ),
    )

    placed = place_cases(connection, frame, times["reported_at"], problems, settings, county_units)

    # The same case number twice: an exact repeat loads once (warned), a different case is an error.
    again = external.notna() & external.duplicated()
    same = first = again
    if again.any():
        data = [c for c in frame.columns if c not in ("_row", "geometry")]
        same = frame[data].astype(str).duplicated()
        first = pd.Series(frame["_row"].to_numpy(), index=frame.index).groupby(external).transform("first")
    problems.add(
        again & same, "external_id", lambda i: t("repeats row {row} exactly: loaded once", row=first[i]), error=False
    )
    problems.add(
        again & ~same,
        "external_id",
        lambda i: t("case number {number} is also row {row}'s, with other contents", number=external[i], row=first[i]),
    )
    problems.flush()

    # The case as it stood: dispatched at its own time (else when reported), its deadline its own or the rules'.
    dispatched_at = times["dispatched_at"].where(~status.isin(["reported"]))
    dispatched_at = dispatched_at.where(~(status.isin(DISPATCHED) & dispatched_at.isna()), times["reported_at"])
    keep = ~problems.bad & ~again.to_numpy()
    keep &= ~frame["_row"].isin(table.report.bad_rows()).to_numpy()
    pairs = set(zip(values["category"][keep], values["risk_colour"][keep]))
    hours = time_limits(connection, pairs)
    limit = pd.to_timedelta([hours.get(pair, pd.NaT) for pair in zip(values["category"], values["risk_colour"])])
    deadline = times["deadline"].where(times["deadline"].notna(), dispatched_at + limit)
    resolved_at = times["resolved_at"].where(~((status == "closed") & times["resolved_at"].isna()), times["closed_at"])
    cases = pd.DataFrame(
        {
            "_row": frame["_row"],
            "external_id": external,
            "source": values["source"],
            "category": values["category"],
            "reported_at": times["reported_at"],
            "description": _description(frame),
            "reporter_name": column_text(frame, "reporter_name"),
            "reporter_phone": phone,
            "lon": placed["lon_cgcs2000"].astype(float),
            "lat": placed["lat_cgcs2000"].astype(float),
            "input_datum": "cgcs2000",  # the reader hands on CGCS2000; the file's datum is in its report
            "input_lon": placed["lon_cgcs2000"].astype(float),
            "input_lat": placed["lat_cgcs2000"].astype(float),
            "version_id": placed["version_id"].astype("Int64"),
            "grid_code": placed["grid_code"],
            "grid_name": placed["grid_name"],
            "village_code": placed["village_code"],
            "town_code": placed["town_code"],
            "county_code": placed["county_code"],
            "risk_colour": values["risk_colour"],
            "status": status,
            "tier": "village",
            "dispatched_at": dispatched_at,
            "deadline": deadline.where(dispatched_at.notna()),
            "resolved_at": resolved_at,
            "closed_at": times["closed_at"],
            "satisfaction": satisfaction,
            "visited_at": times["closed_at"].where(satisfaction.notna().to_numpy()),  # the follow-up visit
        }
    )[keep].reset_index(drop=True)
    return PreparedHistory(table.path, cases, n, n - len(cases))


def _description(frame: pd.DataFrame) -> pd.Series:
    """The description, with the subcategory before it and the address after (no columns of their own)."""
    text_ = column_text(frame, "description").fillna("")
    sub = column_text(frame, "subcategory")
    address = column_text(frame, "address")
    text_ = ("[" + sub + "] ").fillna("") + text_
    text_ = text_ + ("；地址：" + address).fillna("")
    return text_.str.strip().replace("", None).astype(object)


def write_history(
    connection: Connection,
    prepared: PreparedHistory,
    *,
    settings: Settings,
    actor: str,
    notify_open: bool = False,
    reporter: Reporter | None = None,
) -> dict[str, int]:
    """Store the prepared cases whose case number is new, with their timelines, in the caller's
    transaction; bind the cases being handled to today's people (and tell them if ``notify_open``).

    ``actor`` is who the audit log names for the import (one entry, when anything was stored).

    Returns
    -------
    dict
        ``rows`` (in the file), ``created``, ``existing`` (stored before: left as they were),
        ``skipped`` (in error), ``events``, ``bound`` (people and vacancies), ``notified``
        (messages queued), and per status the number of cases created (``closed``, ...).
    """
    reporter = reporter or Silent()
    cases = prepared.cases
    counts = {"rows": prepared.rows, "created": 0, "existing": 0, "skipped": prepared.skipped}
    counts |= {"events": 0, "bound": 0, "notified": 0}
    if cases.empty:
        return counts
    now = datetime.now(UTC)
    new = writer.insert_incidents(connection, cases[CASE_COLUMNS], reporter)
    written = cases.merge(new, on="external_id")
    counts.update(created=len(written), existing=len(cases) - len(written))
    if written.empty:
        return counts
    counts["events"] = writer.add_events(connection, timeline_steps(written, now, prepared.path), reporter)
    handling = written[written["status"].isin(HANDLING)]
    bound = writer.bind(connection, handling, "village", now, settings.place.timezone, reporter=reporter)
    counts["bound"] = sum(len(people) for people in bound.values())
    if notify_open and bound:
        note = t("an open case imported from {path}", path=prepared.path)
        counts["notified"] = notify_bound(connection, list(bound), "dispatch", note)
    by_status = {s: int(k) for s, k in written["status"].value_counts().items()}
    counts |= by_status
    audit.record(
        connection,
        actor,
        "import",
        "incident",
        after={
            "file": prepared.path,
            "created": len(written),
            "existing": counts["existing"],
            "first_id": int(written["id"].min()),
            "last_id": int(written["id"].max()),
            "by_status": by_status,
            "notified": counts["notified"],
        },
    )
    return counts
