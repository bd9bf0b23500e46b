"""The rule tables an administrator edits, their columns, and how a row of text is checked.

Each table is named as its default file is (``geo_service/rules/time_limits.csv`` holds the
``time_limit_rules`` table). Rows arrive as text (a CSV cell, an Excel cell, a JSON value made
text) and leave here typed as the database stores them, or with a reason per column in plain words.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from geo_service.vocabulary import (
    ADMIN_KINDS,
    CAMERA_STATES,
    GRID_KINDS,
    MAX_CAMERA_RANGE_M,
    RISK_COLOURS,
    STATUSES,
    TIERS,
    UNIT_LEVELS,
)

MAX_ROWS = 10_000
MAX_LIMIT_HOURS = 24 * 366 * 5  # five years: a longer limit is a typing slip, not a rule
_CODE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_TRUE = {"true", "1", "yes", "y", "t", "是", "真"}
_FALSE = {"false", "0", "no", "n", "f", "否", "假"}

Value = str | int | float | bool | None


class Bad(ValueError):
    """A cell that cannot be used: the message is the reason, in plain words."""


def code(max_len: int) -> Callable[[str | None], str]:
    def parse(text: str | None) -> str:
        if text is None:
            raise Bad("empty: a code is needed")
        if len(text) > max_len:
            raise Bad(f"{text!r} is longer than {max_len} characters")
        if not _CODE.match(text):
            raise Bad(f"{text!r} is not a code: use lower-case letters, digits and _ (like public_service)")
        return text

    return parse


def words(max_len: int = 200) -> Callable[[str | None], str]:
    def parse(text: str | None) -> str:
        if text is None:
            raise Bad("empty: a value is needed")
        if len(text) > max_len:
            raise Bad(f"longer than {max_len} characters")
        return text

    return parse


def one_of(values: tuple[str, ...], *, optional: bool = False) -> Callable[[str | None], str | None]:
    def parse(text: str | None) -> str | None:
        if text is None:
            if optional:
                return None
            raise Bad(f"empty: one of {', '.join(values)} is needed")
        if text not in values:
            raise Bad(f"{text!r} is not one of {', '.join(values)}{' (or empty for any)' if optional else ''}")
        return text

    return parse


def optional_code(max_len: int) -> Callable[[str | None], str | None]:
    required = code(max_len)
    return lambda text: None if text is None else required(text)


def whole(low: int, high: int, what: str) -> Callable[[str | None], int]:
    def parse(text: str | None) -> int:
        if text is None:
            raise Bad(f"empty: {what} is needed")
        try:
            number = float(text)
        except ValueError:
            raise Bad(f"{text!r} is not a number") from None
        if not math.isfinite(number) or number != int(number):
            raise Bad(f"{text!r} is not a whole number")
        if not low <= number <= high:
            raise Bad(f"{text} is out of range: {what} must be {low} to {high}")
        return int(number)

    return parse


def real(low: float, high: float, what: str) -> Callable[[str | None], float]:
    def parse(text: str | None) -> float:
        if text is None:
            raise Bad(f"empty: {what} is needed")
        try:
            number = float(text)
        except ValueError:
            raise Bad(f"{text!r} is not a number") from None
        if not (math.isfinite(number) and low < number <= high):
            raise Bad(f"{text} is out of range: {what} must be more than {low:g} and at most {high:g}")
        return number

    return parse


def boolean(text: str | None) -> bool:
    if text is None:
        raise Bad("empty: write true or false")
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise Bad(f"{text!r} is neither true nor false")


# What a notification's template may name (``geo_service.cases.notices`` fills them in).
NOTICE_FIELDS = ("to", "role", "case", "category", "risk", "place", "deadline", "note", "action", "status")


def notice_text(text: str | None) -> str:
    if text is None:
        raise Bad("empty: a message text is needed")
    if len(text) > 500:
        raise Bad("longer than 500 characters (a text message)")
    try:
        named = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as e:
        raise Bad(f"{text!r} is not a template: {e} (write a value's name in braces, like {{case}})") from None
    unknown = sorted(named - set(NOTICE_FIELDS))
    if unknown:
        raise Bad(f"{', '.join(unknown)} is not a value a message can show; use {', '.join(NOTICE_FIELDS)}")
    return text


@dataclass(frozen=True)
class RuleTable:
    """A rule table: its name in files and the API, its table in the database, its columns (in
    the order files write them), the columns that identify a row, and how each cell is read."""

    name: str
    db_table: str
    key: tuple[str, ...]
    parsers: dict[str, Callable[[str | None], Value]]
    order: str
    # Columns a default file may carry that the database does not keep (read and ignored).
    extra: tuple[str, ...] = field(default=())

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.parsers)


# In the order rows are written: a table before those that refer to it.
TABLES: dict[str, RuleTable] = {
    t.name: t
    for t in (
        RuleTable(
            "categories",
            "categories",
            ("code",),
            {"code": code(40), "name_zh": words(), "name_en": words()},
            "code",
            extra=("annual_share",),
        ),
        RuleTable("sources", "sources", ("code",), {"code": code(40), "name_zh": words(), "name_en": words()}, "code"),
        RuleTable(
            "roles",
            "roles",
            ("code",),
            {"code": code(40), "name_zh": words(), "name_en": words(), "unit_level": one_of(UNIT_LEVELS)},
            "code",
        ),
        RuleTable(
            "camera_kinds",
            "camera_kinds",
            ("code",),
            {
                "code": code(10),
                "name_zh": words(),
                "name_en": words(),
                "fov_deg": real(0, 360, "the field of view in degrees"),
                "range_m": real(0, MAX_CAMERA_RANGE_M, "the range in metres"),
            },
            "code",
        ),
        RuleTable(
            "notice_templates",
            "notice_templates",
            ("kind",),
            {"kind": code(40), "text_zh": notice_text, "text_en": notice_text},
            "kind",
        ),
        RuleTable("job_titles", "job_titles", ("title",), {"title": words(100), "role": code(40)}, "role, title"),
        RuleTable(
            "value_aliases",
            "value_aliases",
            ("field", "alias"),
            {"field": code(20), "alias": words(100), "value": words(100)},
            "field, value, alias",
        ),
        RuleTable(
            "responsibility_rules",
            "responsibility_rules",
            ("tier", "risk_colour", "position"),
            {
                "tier": one_of(TIERS),
                "risk_colour": one_of(RISK_COLOURS, optional=True),
                "position": whole(1, 999, "the position"),
                "role": code(40),
                "core": boolean,
            },
            "array_position(ARRAY['village','town','county'], tier), position, risk_colour NULLS FIRST",
        ),
        RuleTable(
            "time_limits",
            "time_limit_rules",
            ("category", "risk_colour"),
            {
                "category": optional_code(40),
                "risk_colour": one_of(RISK_COLOURS, optional=True),
                "limit_hours": whole(1, MAX_LIMIT_HOURS, "the limit in hours"),
            },
            "category NULLS FIRST, array_position(ARRAY['red','yellow','blue'], risk_colour) NULLS FIRST",
        ),
    )
}
# Other names a file or sheet may carry for a table.
ALIASES = {"time_limit_rules": "time_limits"}

# The fields whose values counties name in their own words, and the values each may name: a set
# of values, or the rule table whose codes it names.
ALIAS_FIELDS: dict[str, tuple[str, ...] | str] = {
    "status": STATUSES,
    "satisfaction": ("1", "2", "3", "4", "5"),
    "risk_colour": RISK_COLOURS,
    "camera_status": CAMERA_STATES,
    "grid_kind": GRID_KINDS,
    "unit_kind": ADMIN_KINDS,
    "source": "sources",
    "category": "categories",
    "camera_kind": "camera_kinds",
}


def table_named(name: str) -> RuleTable | None:
    """The rule table a file, sheet or path names (case and spaces aside), or None."""
    name = name.strip().lower()
    return TABLES.get(ALIASES.get(name, name))


@dataclass
class Row:
    """One row as given: its number (the N-th data row, 1-based) and its cells as text."""

    number: int
    cells: dict[str, str | None]


def parse_row(table: RuleTable, row: Row) -> tuple[dict[str, Value], list[tuple[str, str]]]:
    """The row's values typed as stored, and the (column, reason) of every cell that is wrong."""
    values: dict[str, Value] = {}
    problems: list[tuple[str, str]] = []
    for column, parse in table.parsers.items():
        try:
            values[column] = parse(row.cells.get(column))
        except Bad as exc:
            problems.append((column, str(exc)))
    return values, problems


def references(table: RuleTable, values: dict[str, Value], known: dict[str, set[str]]) -> list[tuple[str, str]]:
    """The (column, reason) of every value naming a role, category, source or kind of value that
    ``known`` (codes per rule table, as they will be) does not hold."""
    problems = []
    if table.name in ("job_titles", "responsibility_rules") and values.get("role") is not None:
        if values["role"] not in known["roles"]:
            problems.append(("role", f"unknown role {values['role']!r}: it is not in the roles table"))
    if table.name == "time_limits" and values.get("category") is not None:
        if values["category"] not in known["categories"]:
            problems.append(("category", f"unknown category {values['category']!r}: it is not in the categories table"))
    if table.name == "value_aliases" and values.get("field") is not None:
        allowed = ALIAS_FIELDS.get(values["field"])
        if allowed is None:
            problems.append(
                ("field", f"{values['field']!r} is not a field with aliases; known: {', '.join(ALIAS_FIELDS)}")
            )
        elif values.get("value") is not None:
            choices = sorted(known[allowed]) if isinstance(allowed, str) else allowed
            if values["value"] not in choices:
                where = f"the {allowed} table" if isinstance(allowed, str) else ", ".join(choices)
                problems.append(("value", f"{values['value']!r} is not a {values['field']} value (see {where})"))
    return problems


def key_of(table: RuleTable, values: dict[str, Value]) -> tuple:
    return tuple(values[c] for c in table.key)


def key_text(key: tuple) -> str:
    """A row's key as people read it: parts joined by ``/``, an empty part (any) as ``*``."""
    return "/".join("*" if part is None else str(part) for part in key)


def as_text(value: object) -> str | None:
    """A cell's value as text: whole numbers without ``.0``, booleans as true/false, blanks as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class Problem:
    """What is wrong, where: the file (or sheet, or ``PUT /rules/<table>``), the N-th data row
    (None: the file as a whole) and the column as the file names it."""

    file: str
    row: int | None
    column: str | None
    reason: str

    def to_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        where = self.file + (f" row {self.row}" if self.row is not None else "")
        return f"{where}{f', column {self.column}' if self.column else ''}: {self.reason}"
