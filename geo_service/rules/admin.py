"""An administrator changing the rules: categories, sources, roles, camera kinds, job titles, the
names of values, who answers (responsibility rules) and in what time (time limits).

The tables go out as files (``export_rules``) and come back (``import_rules``), or are read and
replaced over HTTP (``read_rules``, ``replace_table``). Everything given is checked before anything
is written, each problem named by file, row and column; then each table given is made exactly as
given, in the caller's transaction, one audit entry per table changed. A row still in use (a
category of recorded incidents, a role officers hold) is not removed: the change is refused naming
it. Cases read the rule tables each time, so a change is in effect for the next case recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from geo_service.auth.audit import record
from geo_service.errors import Conflict, InvalidInput, NotFound
from geo_service.i18n import DEFAULT_LANGUAGE, Language, Message, joined, render, rendered, t
from geo_service.rules.files import Reading, Sheet, header_problems, read_path, read_uploads, write_csv, write_xlsx
from geo_service.rules.tables import (
    MAX_ROWS,
    TABLES,
    Problem,
    Row,
    RuleTable,
    Value,
    as_text,
    county_words,
    key_of,
    key_text,
    parse_row,
    references,
)

FORMATS = ("csv", "xlsx")
MAX_PROBLEMS = 1000  # problems listed in an answer; the message counts them all
AUDIT_KEYS = 100  # keys listed per kind of change in an audit entry; more are counted
# What a row of a table with codes is called in a message.
SINGULAR = {"categories": t("category"), "sources": t("source"), "roles": t("role"), "camera_kinds": t("camera kind")}
SINGULAR |= {"departments": t("department"), "matters": t("matter")}
# Rule tables that name codes of another without a foreign key: (table, field, value column).
SOFT_REFERENCES = {"categories": ("value_aliases", "category"), "sources": ("value_aliases", "source")}
_FOREIGN_KEYS = text("""
    SELECT k.conrelid::regclass::text AS referrer, a.attname AS column
      FROM pg_constraint k
      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
     WHERE k.contype = 'f' AND k.confrelid = CAST(:table AS regclass) AND cardinality(k.conkey) = 1
""")


@dataclass
class TableChange:
    """What a change does to one table: keys (see ``tables.key_text``) added, removed, changed."""

    table: str
    rows_before: int
    rows_after: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
        }

    def line(self) -> Message:
        if not self.any:
            return t("{table}: unchanged ({count} rows)", table=self.table, count=self.unchanged)
        parts = []
        if self.added:
            parts.append(t("{count} added ({keys})", count=len(self.added), keys=_first_keys(self.added)))
        if self.removed:
            parts.append(t("{count} removed ({keys})", count=len(self.removed), keys=_first_keys(self.removed)))
        if self.changed:
            parts.append(t("{count} changed ({keys})", count=len(self.changed), keys=_first_keys(self.changed)))
        changes = joined(parts, ";")
        return t("{table}: {changes}; {count} unchanged", table=self.table, changes=changes, count=self.unchanged)


def _first_keys(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")


@dataclass
class RulesChange:
    """What an import or a replacement changed (or, ``dry_run``, would change), per table given."""

    tables: dict[str, TableChange]
    skipped: list[dict]
    dry_run: bool
    stored: bool

    @property
    def changed(self) -> bool:
        return any(change.any for change in self.tables.values())

    def summary(self) -> Message:
        if not self.changed:
            return t("nothing changed: the rules already are as given")
        names = ", ".join(name for name, change in self.tables.items() if change.any)
        if self.dry_run:
            return t("would change: {tables} (dry run: nothing was stored)", tables=names)
        return t("changed: {tables}", tables=names)

    def lines(self) -> list[Message]:
        """A line per table and per file skipped, then the summary."""
        lines = [change.line() for change in self.tables.values()]
        lines += [t("skipped {file}: {reason}", file=s["file"], reason=s["reason"]) for s in self.skipped]
        return [*lines, self.summary()]

    def to_dict(self, language: Language = DEFAULT_LANGUAGE) -> dict:
        """The change as JSON gives it, the summary and the reasons in ``language``."""
        return {
            "changed": self.changed,
            "dry_run": self.dry_run,
            "stored": self.stored,
            "summary": render(self.summary(), language),
            "tables": {name: change.to_dict() for name, change in self.tables.items()},
            "skipped": rendered(self.skipped, language),
        }


def rule_table(name: str) -> RuleTable:
    """The rule table called ``name`` (as its file is), or NotFound listing the tables."""
    if name not in TABLES:
        raise NotFound(
            t("{name!r} is not a rules table; tables: {TABLES}", name=name, TABLES=", ".join(TABLES)), field="table"
        )
    return TABLES[name]


def read_rules(connection: Connection, names: list[str] | None = None) -> dict[str, list[dict[str, Value]]]:
    """The rows of each rule table (all of them unless ``names``), typed as stored, in a stable order."""
    tables = {}
    for name in names or list(TABLES):
        table = rule_table(name)
        rows = connection.execute(
            text(f"SELECT {', '.join(table.columns)} FROM {table.db_table} ORDER BY {table.order}")
        ).mappings()
        tables[name] = [dict(row) for row in rows]
    return tables


def export_rules(connection: Connection, folder: Path, *, fmt: str = "csv") -> list[Path]:
    """Write the rule tables into ``folder`` (made if missing): a CSV file per table, named and
    laid out as the defaults in ``geo_service/rules/``, or (``fmt="xlsx"``) ``rules.xlsx`` with a
    sheet per table. Returns the files written."""
    if fmt not in FORMATS:
        raise InvalidInput(
            t("format {fmt!r} is not one of {FORMATS}", fmt=fmt, FORMATS=", ".join(FORMATS)), field="format"
        )
    folder.mkdir(parents=True, exist_ok=True)
    tables = read_rules(connection)
    if fmt == "xlsx":
        return [write_xlsx(folder / "rules.xlsx", tables)]
    return [write_csv(folder, TABLES[name], rows) for name, rows in tables.items()]


def import_rules(connection: Connection, folder_or_file: Path, *, actor: str, dry_run: bool = False) -> RulesChange:
    """Make the rule tables in a folder (CSV, xlsx or zip files named after the tables), or in one
    such file, the county's rules; tables not given stay as they are.

    Raises InvalidInput listing every problem (``problems``: file, row, column, reason) and
    Conflict naming rows still in use; in either case nothing is changed. With ``dry_run`` the
    change is worked out and checked but not stored. Run it in a transaction (``engine.begin()``).
    """
    return apply_reading(connection, read_path(folder_or_file), actor=actor, dry_run=dry_run, source=folder_or_file)


def import_uploads(
    connection: Connection, files: list[tuple[str, bytes]], *, actor: str, dry_run: bool = False
) -> RulesChange:
    """``import_rules`` for uploaded files, each given as (its name, its bytes)."""
    names = ", ".join(name for name, _ in files) or "the upload"
    return apply_reading(connection, read_uploads(files), actor=actor, dry_run=dry_run, source=names)


def replace_table(
    connection: Connection, name: str, rows: list[dict[str, object]], *, actor: str, dry_run: bool = False
) -> RulesChange:
    """Make one rule table exactly ``rows`` (values as JSON gives them), checked as an import is;
    problems name ``PUT /rules/<name>`` as the file and the N-th row (1-based)."""
    table = rule_table(name)
    label = f"PUT /rules/{name}"
    header = sorted({str(column).strip().lower() for row in rows for column in row}) or list(table.columns)
    sheet = Sheet(label, table, header, [])
    for number, row in enumerate(rows, start=1):
        cells = {str(column).strip().lower(): as_text(value) for column, value in row.items()}
        sheet.rows.append(Row(number, {column: cells.get(column) for column in header}))
    return apply_reading(connection, Reading(sheets=[sheet]), actor=actor, dry_run=dry_run, source=label)


def apply_reading(
    connection: Connection, reading: Reading, *, actor: str, dry_run: bool, source: object
) -> RulesChange:
    """Check every table read, then (unless ``dry_run``) write each one that differs; see ``import_rules``."""
    problems = list(reading.problems)
    sheets: dict[str, Sheet] = {}
    for sheet in reading.sheets:
        first = sheets.get(sheet.table.name)
        if first is not None:
            problems.append(
                Problem(
                    sheet.file,
                    None,
                    None,
                    t("{table} is given twice (also {file})", table=sheet.table.name, file=first.file),
                )
            )
            continue
        sheets[sheet.table.name] = sheet
    if not sheets and not problems:
        raise InvalidInput(
            t(
                "{source}: no rules table found; name files or sheets after the tables: {TABLES}",
                source=source,
                TABLES=", ".join(TABLES),
            ),
            field="file",
            skipped=reading.skipped,
        )
    # Others changing the rules wait for this change; readers and new cases do not.
    if not dry_run:
        connection.execute(
            text(f"LOCK TABLE {', '.join(t.db_table for t in TABLES.values())} IN SHARE ROW EXCLUSIVE MODE")
        )
    current = read_rules(connection)
    # A county's own lists keep their own column names and name categories in words (事项清单).
    names = {
        name: row["code"] for row in current["categories"] for name in (row["code"], row["name_zh"], row["name_en"])
    }
    for sheet in sheets.values():
        county_words(sheet, names)
    parsed, more = _parse(sheets, current)
    problems += more
    if problems:
        raise InvalidInput(_message(problems), field="file", problems=[p.to_dict() for p in problems[:MAX_PROBLEMS]])
    changes = {name: _diff(TABLES[name], current[name], parsed[name]) for name in TABLES if name in parsed}
    conflicts = _still_used(connection, sheets, changes)
    if conflicts:
        raise Conflict(_message(conflicts), field="file", problems=[p.to_dict() for p in conflicts])
    result = RulesChange(changes, reading.skipped, dry_run, stored=False)
    if dry_run or not result.changed:
        return result
    _write(connection, parsed, current)
    for name, change in changes.items():
        if change.any:
            after = {"rows": change.rows_after, "added": _capped(change.added), "removed": _capped(change.removed)}
            after["changed"] = _capped(change.changed)
            record(
                connection,
                actor,
                "rules.replace",
                "rule_table",
                TABLES[name].db_table,
                before={"rows": change.rows_before},
                after=after,
            )
    result.stored = True
    return result


def _message(problems: list[Problem]) -> Message:
    """The first problem (where, as ``Problem.where`` says it), how many more, and that nothing changed."""
    first, more = problems[0], len(problems) - 1
    where = first.where()
    if more == 0:
        return t("{where}: {reason}; nothing was changed", where=where, reason=first.reason)
    if more == 1:
        return t("{where}: {reason} (and 1 more problem); nothing was changed", where=where, reason=first.reason)
    return t(
        "{where}: {reason} (and {more} more problems); nothing was changed", where=where, reason=first.reason, more=more
    )


def _capped(keys: list[str]) -> list[str]:
    return keys if len(keys) <= AUDIT_KEYS else [*keys[:AUDIT_KEYS], f"... and {len(keys) - AUDIT_KEYS} more"]


def _parse(sheets: dict[str, Sheet], current: dict[str, list[dict]]) -> tuple[dict[str, list[dict]], list[Problem]]:
    """Each sheet's rows typed, and every problem: headers, cells, references, duplicate keys."""
    problems: list[Problem] = []
    readable = {}
    for name, sheet in sheets.items():
        found = header_problems(sheet)
        problems += found
        if len(sheet.rows) > MAX_ROWS:
            problems.append(
                Problem(
                    sheet.file, None, None, t("{count:,} rows; at most {most:,}", count=len(sheet.rows), most=MAX_ROWS)
                )
            )
        elif not found:
            readable[name] = sheet
    # The codes other tables may name, as they will be: as given when the table is given.
    known = {
        name: {r.cells.get("code") for r in sheets[name].rows} if name in sheets else {r["code"] for r in current[name]}
        for name in ("roles", "categories", "sources", "camera_kinds", "departments", "matters")
    }
    parsed: dict[str, list[dict]] = {}
    for name, sheet in readable.items():
        table, rows, first_row, unreadable = sheet.table, [], {}, False
        for row in sheet.rows:
            values, bad = parse_row(table, row)
            bad += references(table, values, known) if not bad else []
            problems += [Problem(sheet.file, row.number, column, reason) for column, reason in bad]
            if bad:
                unreadable = True
                continue
            key = key_of(table, values)
            if key in first_row:
                problems.append(
                    Problem(
                        sheet.file,
                        row.number,
                        table.key[-1],
                        t(
                            "the same {columns} ({key}) as row {row}",
                            columns=" and ".join(table.key),
                            key=key_text(key),
                            row=first_row[key],
                        ),
                    )
                )
                continue
            first_row[key] = row.number
            rows.append(values)
        # A row in error may be the default one: say it is missing only when every row was read.
        if name == "time_limits" and (None, None) not in first_row and not unreadable:
            problems.append(
                Problem(
                    sheet.file,
                    None,
                    "category",
                    t(
                        "no default row: one row must leave category and risk_colour empty "
                        "(the limit of a case no other row matches)"
                    ),
                )
            )
        parsed[name] = rows
    return parsed, problems


def _diff(table: RuleTable, before: list[dict], after: list[dict]) -> TableChange:
    old = {key_of(table, row): row for row in before}
    new = {key_of(table, row): row for row in after}
    change = TableChange(table.name, len(before), len(after))
    for key, row in new.items():
        if key not in old:
            change.added.append(key_text(key))
        elif any(row[c] != old[key][c] for c in table.columns):
            change.changed.append(key_text(key))
        else:
            change.unchanged += 1
    change.removed = [key_text(key) for key in old if key not in new]
    return change


def _still_used(connection: Connection, sheets: dict[str, Sheet], changes: dict[str, TableChange]) -> list[Problem]:
    """A problem for each row to be removed that something not being replaced still names."""
    by_db_table = {t.db_table: t.name for t in TABLES.values()}
    problems = []
    for name, change in changes.items():
        if name not in SINGULAR or not change.removed:
            continue
        uses: list[tuple[str, str, str]] = [
            (r.referrer, r.column, "")
            for r in connection.execute(_FOREIGN_KEYS, {"table": TABLES[name].db_table})
            if by_db_table.get(r.referrer) not in sheets
        ]
        if name in SOFT_REFERENCES and SOFT_REFERENCES[name][0] not in sheets:
            uses.append(("value_aliases", "value", f" AND field = '{SOFT_REFERENCES[name][1]}'"))
        for referrer, column, extra in uses:
            counts = connection.execute(
                text(
                    f"SELECT {column}, count(*) FROM {referrer} "
                    f"WHERE {column} = ANY(CAST(:keys AS text[])){extra} GROUP BY 1 ORDER BY 1"
                ),
                {"keys": change.removed},
            ).all()
            what = by_db_table.get(referrer, referrer).replace("_", " ")
            for code, count in counts:
                problems.append(
                    Problem(
                        sheets[name].file,
                        None,
                        "code",
                        t(
                            "{what} {code!r} is still used in {referrer} ({count:,} rows): it cannot be removed (keep its row)",
                            what=SINGULAR[name],
                            code=code,
                            referrer=what,
                            count=count,
                        )
                        if count > 1
                        else t(
                            "{what} {code!r} is still used in {referrer} (1 row): it cannot be removed (keep its row)",
                            what=SINGULAR[name],
                            code=code,
                            referrer=what,
                        ),
                    )
                )
    return problems


def _where_key(table: RuleTable) -> str:
    return " AND ".join(f"{c} IS NOT DISTINCT FROM :{c}" for c in table.key)


def _write(connection: Connection, parsed: dict[str, list[dict]], current: dict[str, list[dict]]) -> None:
    """Rows added and changed, tables referred to first; then rows removed, referring tables first."""
    for name in TABLES:
        if name not in parsed:
            continue
        table = TABLES[name]
        old = {key_of(table, row): row for row in current[name]}
        values = [c for c in table.columns if c not in table.key]
        for row in parsed[name]:
            before = old.get(key_of(table, row))
            if before is None:
                connection.execute(
                    text(
                        f"INSERT INTO {table.db_table} ({', '.join(table.columns)}) "
                        f"VALUES ({', '.join(':' + c for c in table.columns)})"
                    ),
                    row,
                )
            elif any(row[c] != before[c] for c in values):
                connection.execute(
                    text(
                        f"UPDATE {table.db_table} SET {', '.join(f'{c} = :{c}' for c in values)} "
                        f"WHERE {_where_key(table)}"
                    ),
                    row,
                )
    for name in reversed(TABLES):
        if name not in parsed:
            continue
        table = TABLES[name]
        keep = {key_of(table, row) for row in parsed[name]}
        for row in current[name]:
            if key_of(table, row) in keep:
                continue
            try:
                with connection.begin_nested():
                    connection.execute(text(f"DELETE FROM {table.db_table} WHERE {_where_key(table)}"), row)
            except IntegrityError:  # named by a row written since the check (a case recorded meanwhile)
                raise Conflict(
                    t(
                        "{name}: {value} is in use: it cannot be removed (keep its row); nothing was changed",
                        name=name,
                        value=key_text(key_of(table, row)),
                    ),
                    field="file",
                ) from None
