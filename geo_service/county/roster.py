"""The officers' roster of a county: who holds which post (job title -> role) at which unit, from when.

Reading is in two phases, so a dry run is the first alone and nothing half-writes:
:func:`prepare_roster` checks every row and reports what is wrong on the file's report;
:func:`write_roster` stores what was prepared, set-wise, in the caller's transaction.

* Job titles map to roles through the ``job_titles`` table (data an administrator edits); a role's
  code or Chinese name is accepted as a title too. The unit must be at the level the role is held at
  (``roles.unit_level``): a grid worker on a grid, a party secretary on a village.
* Officers are identified by the roster's officer code where it has one, else by name and phone
  (a stable generated code, ``P`` and 15 hex digits). A 包村 official on several rows (same name and
  phone) is one officer with several assignments. A changed phone makes a new officer.
* A newer roster, imported with the day it takes effect: assignments held before and absent now end
  the day before (one that had not yet begun is removed); new ones start at their start date (or
  the effective day); unchanged ones stay as they are. History is never rewritten, so who was
  responsible on a past date stays answerable. Assignments at units named by rows that could not
  be read are left as they are, so a typo does not end a post.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth import audit
from geo_service.county.people_values import cell, generated_code, phone_number, unit_code
from geo_service.county.report import brief
from geo_service.db.copy import copy_frame
from geo_service.i18n import Message, reason_of, t
from geo_service.times import read_written_day

LEVEL_NAMES = {
    "county": t("the county"),
    "town": t("a town or street"),
    "village": t("a village or community"),
    "grid": t("a grid"),
}
SHOWN_TITLES = 12

_GENDERS = {"男": "M", "m": "M", "male": "M", "女": "F", "f": "F", "female": "F"}

# ---- preparing -------------------------------------------------------------------------------


def _title_key(title: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", title))


@dataclass
class PreparedRoster:
    """What a roster will store: officers (``code, name, phone, gender``) and assignments
    (``officer_code, role, unit_code, valid_from, valid_to, _row``; missing dates as None)."""

    path: str
    officers: pd.DataFrame
    assignments: pd.DataFrame
    counties: list[str]  # 6-digit county prefixes: the scope in which absent assignments end
    held_units: set[str] = field(default_factory=set)  # units of unreadable rows: left as they are

    @property
    def rows(self) -> int:
        return len(self.assignments)


def prepare_roster(connection: Connection, table, *, units: dict[str, str], zone: str) -> PreparedRoster:
    """Check every row of a roster and gather what it would store; problems go on ``table.report``.

    Parameters
    ----------
    connection
        Reads the ``job_titles`` and ``roles`` tables.
    table
        A ``SourceTable`` of kind ``roster`` (text values, ``_row`` numbering).
    units
        Every unit code of the county being loaded -> its level (county, town, village, grid).
    zone
        The county's time zone (days are the county's calendar days).

    Returns
    -------
    PreparedRoster
        The good rows only; a row with any error is left out.
    """
    titles = dict(connection.execute(text("SELECT title, role FROM job_titles ORDER BY title")).all())
    roles = {r.code: r for r in connection.execute(text("SELECT code, name_zh, unit_level FROM roles")).all()}
    by_key = {_title_key(r.code): r.code for r in roles.values()}
    by_key.update({_title_key(r.name_zh): r.code for r in roles.values()})
    by_key.update({_title_key(t): role for t, role in titles.items()})
    report, frame = table.report, table.frame
    column = table.columns.get
    already = {(p.row, p.column) for p in report.errors}
    unreadable = report.bad_rows()  # rows the reader already refused

    def error(row: int, name: str, reason: Message) -> None:
        report.error(row, column(name, name), reason)

    officers: dict[str, dict] = {}
    assignments: list[dict] = []
    seen: dict[tuple[str, str, str], int] = {}
    held: set[str] = set()
    for record in frame.to_dict("records"):
        row = int(record["_row"])
        errors_before = len(report.errors)
        name = cell(record.get("name"))
        if name is None and (row, column("name", "name")) not in already:
            error(row, "name", t("the name is missing"))
        title = cell(record.get("title"))
        role = by_key.get(_title_key(title)) if title else None
        if title is None:
            if (row, column("title", "title")) not in already:
                error(row, "title", t("the job title is missing"))
        elif role is None:
            error(
                row,
                "title",
                t(
                    "the job title {title!r} is not in the job titles table (job_titles); known titles: "
                    "{known}. An administrator can add it there.",
                    title=title,
                    known=brief(list(titles), SHOWN_TITLES),
                ),
            )
        phone = _checked(phone_number, record.get("phone"), error, row, "phone")
        code = _checked(unit_code, record.get("unit_code"), error, row, "unit_code")
        if code is None and cell(record.get("unit_code")) is None:
            if (row, column("unit_code", "unit_code")) not in already:
                error(row, "unit_code", t("the unit code is missing"))
        elif code is not None and code not in units:
            error(
                row,
                "unit_code",
                t("unit code {code} is not a unit of this county's files (towns, villages, grids)", code=code),
            )
        elif code is not None and role is not None and units[code] != roles[role].unit_level:
            wanted, role_name = roles[role].unit_level, roles[role].name_zh
            error(
                row,
                "unit_code",
                t(
                    "{post} is held at {wanted}, but {code} is {level}",
                    post=title if title == role_name else f"{title} ({role_name})",
                    wanted=LEVEL_NAMES.get(wanted, wanted),
                    code=code,
                    level=LEVEL_NAMES.get(units[code], units[code]),
                ),
            )
        start = _checked(lambda v: read_written_day(v, zone), record.get("start_date"), error, row, "start_date")
        end = _checked(lambda v: read_written_day(v, zone), record.get("end_date"), error, row, "end_date")
        if start and end and end < start:
            error(
                row,
                "end_date",
                t("the end date {end} is before the start date {start}", end=end.isoformat(), start=start.isoformat()),
            )
        gender = cell(record.get("gender"))
        if gender is not None and gender.lower() not in _GENDERS:
            report.warn(
                row, column("gender", "gender"), t("gender {gender!r} is not 男 or 女; left empty", gender=gender)
            )
        gender = _GENDERS.get(gender.lower()) if gender else None
        officer_code = cell(record.get("officer_code"))
        if officer_code is not None and len(officer_code) > 20:
            error(row, "officer_code", t("the officer code {code!r} is longer than 20 characters", code=officer_code))
        if name is not None and officer_code is None:
            officer_code = generated_code(name, phone)
        known = officers.get(officer_code) if officer_code else None
        # one code, two people: another name, or another phone where both rows give one
        other_phone = known is not None and None not in (known["phone"], phone) and known["phone"] != phone
        if known and name is not None and (known["name"] != name or other_phone):
            error(
                row,
                "officer_code",
                t(
                    "officer code {code} is {name} ({phone}) on row {row} but {other} ({other_phone}) here",
                    code=officer_code,
                    name=known["name"],
                    phone=known["phone"] or t("no phone"),
                    row=known["_row"],
                    other=name,
                    other_phone=phone or t("no phone"),
                ),
            )
        if len(report.errors) > errors_before or row in unreadable:
            if code is not None:
                held.add(code)
            continue
        if known is None:
            officers[officer_code] = {"code": officer_code, "name": name, "phone": phone, "gender": gender, "_row": row}
        key = (officer_code, role, code)
        if key in seen:
            report.warn(
                row,
                column("unit_code", "unit_code"),
                t("repeats row {row} ({name}, {title}, {code})", row=seen[key], name=name, title=title, code=code),
            )
            continue
        seen[key] = row
        assignments.append(
            {"officer_code": officer_code, "role": role, "unit_code": code, "valid_from": start, "valid_to": end}
            | {"_row": row}
        )
    return PreparedRoster(
        path=table.path,
        officers=pd.DataFrame(officers.values(), columns=["code", "name", "phone", "gender", "_row"]),
        assignments=pd.DataFrame(
            assignments, columns=["officer_code", "role", "unit_code", "valid_from", "valid_to", "_row"]
        ),
        counties=sorted({c[:6] for c, level in units.items() if level == "county"} or {c[:6] for c in units}),
        held_units=held,
    )


def _day_or_none(value: object) -> date | None:
    return None if value is None or pd.isna(value) else value


def _checked(read, value: object, error, row: int, name: str):
    """``read(value)``, or None with the reason reported at ``row`` and the column of ``name``."""
    try:
        return read(value)
    except ValueError as exc:
        error(row, name, reason_of(exc))
        return None


# ---- writing ---------------------------------------------------------------------------------

_UPSERT_OFFICERS = """
    INSERT INTO officers AS o (code, name, phone, gender)
    SELECT code, name, phone, gender FROM _roster_officers
    ON CONFLICT (code) DO UPDATE
       SET name = excluded.name, phone = coalesce(excluded.phone, o.phone), gender = coalesce(excluded.gender, o.gender)
     WHERE (o.name, o.phone, o.gender)
           IS DISTINCT FROM (excluded.name, coalesce(excluded.phone, o.phone), coalesce(excluded.gender, o.gender))
    RETURNING (xmax = 0) AS added
"""
# Each roster assignment against the latest stored one with the same officer, role and unit.
_MATCH = """
    SELECT t.n, o.id, a.id, a.valid_from, a.valid_to
      FROM _roster_assignments t
      JOIN officers o ON o.code = t.officer_code
      LEFT JOIN LATERAL (
            SELECT x.id, x.valid_from, x.valid_to FROM officer_assignments x
             WHERE x.officer_id = o.id AND x.role = t.role AND x.unit_code = t.unit_code
             ORDER BY x.valid_from DESC, x.id DESC LIMIT 1) a ON true
     ORDER BY t.n
"""
_ABSENT = """
    FROM officer_assignments
   WHERE (valid_to IS NULL OR valid_to >= %(effective)s)
     AND left(unit_code, 6) = ANY(%(counties)s::text[])
     AND NOT unit_code = ANY(%(held)s::text[])
     AND NOT id = ANY(%(keep)s::int[])
"""


def write_roster(connection: Connection, prepared: PreparedRoster, *, effective: date, actor: str) -> dict[str, int]:
    """Store a prepared roster as of ``effective``, in the caller's transaction.

    Returns
    -------
    dict
        ``officers_added``, ``officers_updated``, ``officers_unchanged``, ``assignments_added``,
        ``assignments_ended`` (absent now, or given an end date), ``assignments_unchanged``.
    """
    cursor = connection.connection.cursor()
    cursor.execute("DROP TABLE IF EXISTS _roster_officers, _roster_assignments")
    cursor.execute("CREATE TEMP TABLE _roster_officers (code text, name text, phone text, gender text) ON COMMIT DROP")
    cursor.execute(
        "CREATE TEMP TABLE _roster_assignments (n int, officer_code text, role text, unit_code text) ON COMMIT DROP"
    )
    copy_frame(cursor, "_roster_officers", prepared.officers, ["code", "name", "phone", "gender"])
    cursor.execute(_UPSERT_OFFICERS)
    added = sum(1 for (is_new,) in cursor.fetchall() if is_new)
    updated = cursor.rowcount - added
    counts = {"officers_added": added, "officers_updated": updated}
    counts["officers_unchanged"] = len(prepared.officers) - added - updated

    wanted = prepared.assignments.reset_index(drop=True)
    copy_frame(cursor, "_roster_assignments", wanted.assign(n=wanted.index), ["n", "officer_code", "role", "unit_code"])
    cursor.execute(_MATCH)
    keep, ends, new, unchanged = [], [], [], 0
    for n, officer_id, stored, stored_from, stored_to in cursor.fetchall():
        start, end = _day_or_none(wanted.at[n, "valid_from"]), _day_or_none(wanted.at[n, "valid_to"])
        if stored is not None and (stored_to is None or stored_to >= effective):
            keep.append(stored)  # held now: the same post; only an end date the roster gives changes it
            if end == stored_to:
                unchanged += 1
            else:
                ends.append((stored, None if end is None else max(end, stored_from)))
        elif stored is not None and end is not None:
            unchanged += 1  # ended before, and the roster says so too: history stays as it is
        else:
            start = start or (min(effective, end) if end else effective)
            if stored is not None:
                start = max(start, stored_to + timedelta(days=1))  # back after a gap: from after it
            new.append((officer_id, wanted.at[n, "role"], wanted.at[n, "unit_code"], start, end))
    if ends:
        cursor.execute(
            "UPDATE officer_assignments a SET valid_to = v.valid_to "
            "FROM unnest(%s::int[], %s::date[]) AS v(id, valid_to) WHERE a.id = v.id",
            ([i for i, _ in ends], [d for _, d in ends]),
        )
    params = {
        "effective": effective,
        "before": effective - timedelta(days=1),
        "counties": prepared.counties,
        "held": sorted(prepared.held_units),
        "keep": keep,
    }
    # Absent now: held up to the day before; one that had not begun by then never was.
    cursor.execute(f"DELETE {_ABSENT} AND valid_from >= %(effective)s", params)
    ended = cursor.rowcount
    cursor.execute(f"UPDATE officer_assignments SET valid_to = %(before)s WHERE id IN (SELECT id {_ABSENT})", params)
    ended += cursor.rowcount
    if new:
        frame = pd.DataFrame(new, columns=["officer_id", "role", "unit_code", "valid_from", "valid_to"])
        copy_frame(cursor, "officer_assignments", frame)
    counts |= {
        "assignments_added": len(new),
        "assignments_ended": ended + len(ends),  # absent now, or their end date changed by the roster
        "assignments_unchanged": unchanged,
    }
    audit.record(
        connection,
        actor,
        "county.roster",
        "officer_assignments",
        after={"file": prepared.path, "effective": effective.isoformat(), **counts},
    )
    return counts


# ---- gaps ------------------------------------------------------------------------------------

_HELD = text("""
    SELECT DISTINCT role, unit_code FROM officer_assignments
     WHERE role IN ('grid_worker', 'village_party_secretary', 'community_police')
       AND unit_code = ANY(:codes) AND valid_from <= :day AND (valid_to IS NULL OR valid_to >= :day)
""")
_NAMES = text("""
    SELECT DISTINCT ON (code) code, name FROM (
        SELECT code, name, version_id FROM grids WHERE code = ANY(:codes)
        UNION ALL SELECT code, name, version_id FROM admin_units WHERE code = ANY(:codes)) u
     ORDER BY code, version_id DESC
""")


def roster_gaps(connection: Connection, units: dict[str, str], day: date) -> dict[str, list[dict]]:
    """Posts nobody holds on ``day`` among ``units`` (code -> level).

    Returns
    -------
    dict
        ``grids_without_grid_worker``: the finest grids for which neither they nor a grid they lie
        in has a grid worker (a case there would find none); ``villages_without_party_secretary``;
        ``villages_without_police``. Each entry: ``code``, ``name`` (where stored) and for grids
        ``village_code``.
    """
    codes = sorted(units)
    held: dict[str, set[str]] = {}
    for role, code in connection.execute(_HELD, {"codes": codes, "day": day}).all():
        held.setdefault(role, set()).add(code)
    names = dict(connection.execute(_NAMES, {"codes": codes}).all())
    grids = [c for c in codes if units[c] == "grid"]
    inner = {g[:n] for g in grids for n in range(len(g) - 3, 14, -3)}
    workers = held.get("grid_worker", set())
    villages = [c for c in codes if units[c] == "village"]
    return {
        "grids_without_grid_worker": [
            {"code": g, "name": names.get(g), "village_code": g[:12]}
            for g in grids
            if g not in inner and not any(g[:n] in workers for n in range(len(g), 14, -3))
        ],
        "villages_without_party_secretary": [
            {"code": v, "name": names.get(v)} for v in villages if v not in held.get("village_party_secretary", set())
        ],
        "villages_without_police": [
            {"code": v, "name": names.get(v)} for v in villages if v not in held.get("community_police", set())
        ],
    }
