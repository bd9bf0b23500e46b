"""The rule tables an administrator edits, their columns, and how a row of text is checked.

Each table is named as its default file is (``geo_service/rules/time_limits.csv`` holds the
``time_limit_rules`` table). Rows arrive as text (a CSV cell, an Excel cell, a JSON value made
text) and leave here typed as the database stores them, or with a reason per column in plain words:
a message of the catalogue (``geo_service.i18n.t``), read in the reader's language.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from geo_service.i18n import Message, t
from geo_service.rules.cells import (  # noqa: F401 - the readers, and names other modules import from here
    _COLOUR_WORDS,
    _DUTY_WORDS,
    _KIND_WORDS,
    DEPARTMENT_KINDS,
    DUTIES,
    MAX_LIMIT_HOURS,
    MAX_ROWS,
    NOTICE_FIELDS,
    TRANSFER_STATES,
    Bad,
    Value,
    _own,
    boolean,
    code,
    county_code,
    labelled,
    notice_text,
    one_of,
    optional_code,
    optional_words,
    pattern,
    phone,
    place_code,
    real,
    town_code,
    whole,
    words,
)
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
    # Other names a county's own file gives a column (事项编码 for code), read as the column.
    headers: dict[str, str] = field(default_factory=dict)
    # Columns that may be empty, which a county's own file may therefore leave out.
    may_omit: tuple[str, ...] = field(default=())

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.parsers)


LIMIT_HOURS = t("the limit in hours")
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
                "fov_deg": real(0, 360, t("the field of view in degrees")),
                "range_m": real(0, MAX_CAMERA_RANGE_M, t("the range in metres")),
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
                "position": whole(1, 999, t("the position")),
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
                "limit_hours": whole(1, MAX_LIMIT_HOURS, LIMIT_HOURS),
            },
            "category NULLS FIRST, array_position(ARRAY['red','yellow','blue'], risk_colour) NULLS FIRST",
        ),
        RuleTable(
            "departments",
            "departments",
            ("code",),
            {
                "code": code(40),
                "county_code": county_code,
                "kind": labelled(DEPARTMENT_KINDS, _KIND_WORDS),
                "town_code": town_code,
                "name_zh": words(),
                "name_en": optional_words(),
                "limit_hours": whole(1, MAX_LIMIT_HOURS, LIMIT_HOURS),
            },
            "county_code, array_position(ARRAY['county_department','town_office'], kind), code",
            headers=_own(
                code="部门编码 编码",
                county_code="县区编码 所属县区",
                kind="类型 部门类型",
                town_code="乡镇编码 所属乡镇",
                name_zh="部门名称 名称",
                name_en="英文名称",
                limit_hours="办理时限 办理时限（小时） 时限（小时）",
            ),
            may_omit=("town_code", "name_en"),
        ),
        RuleTable(
            "department_staff",
            "department_staff",
            ("department", "name"),
            {
                "department": code(40),
                "name": words(100),
                "phone": phone,
                "duty": labelled(DUTIES, _DUTY_WORDS),
            },
            "department, array_position(ARRAY['head','member'], duty), name",
            headers=_own(
                department="部门编码 部门", name="姓名", phone="电话 手机 手机号码 联系电话", duty="职责 职务"
            ),
        ),
        RuleTable(
            "matters",
            "matters",
            ("code",),
            {"code": code(40), "category": code(40), "name_zh": words(), "name_en": optional_words()},
            "category, code",
            headers=_own(
                code="事项编码 编码",
                category="事项大类 一级分类 大类",
                name_zh="事项小类 二级分类 小类 事项名称",
                name_en="英文名称",
            ),
            may_omit=("name_en",),
        ),
        RuleTable(
            "routing_rules",
            "routing_rules",
            ("matter", "place", "risk_colour"),
            {
                "matter": code(40),
                "place": place_code,
                "risk_colour": labelled(RISK_COLOURS, _COLOUR_WORDS, optional=True),
                "department": code(40),
            },
            "matter, place NULLS FIRST, array_position(ARRAY['red','yellow','blue'], risk_colour) NULLS FIRST",
            headers=_own(
                matter="事项编码 事项",
                place="区域 属地 区域编码",
                risk_colour="风险等级",
                department="承办部门 责任部门 部门编码",
            ),
            may_omit=("place", "risk_colour"),
        ),
    )
}
# Other names a file or sheet may carry for a table (a county's own list keeps its own name).
ALIASES = {"time_limit_rules": "time_limits", "部门": "departments", "部门清单": "departments"}
ALIASES |= {"部门人员": "department_staff", "事项清单": "matters", "事项": "matters"}
ALIASES |= {"分流规则": "routing_rules", "分流移交规则": "routing_rules"}

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


def parse_row(table: RuleTable, row: Row) -> tuple[dict[str, Value], list[tuple[str, Message]]]:
    """The row's values typed as stored, and the (column, reason) of every cell that is wrong."""
    values: dict[str, Value] = {}
    problems: list[tuple[str, Message]] = []
    for column, parse in table.parsers.items():
        try:
            values[column] = parse(row.cells.get(column))
        except Bad as exc:
            problems.append((column, exc.reason))
    return values, problems


def references(table: RuleTable, values: dict[str, Value], known: dict[str, set[str]]) -> list[tuple[str, Message]]:
    """The (column, reason) of every value naming a role, category, source or kind of value that
    ``known`` (codes per rule table, as they will be) does not hold."""
    problems: list[tuple[str, Message]] = []
    if table.name in ("job_titles", "responsibility_rules") and values.get("role") is not None:
        if values["role"] not in known["roles"]:
            problems.append(("role", _unknown("role", values["role"], "roles")))
    if table.name == "time_limits" and values.get("category") is not None:
        if values["category"] not in known["categories"]:
            problems.append(("category", _unknown("category", values["category"], "categories")))
    problems += _department_references(table, values, known)
    if table.name == "value_aliases" and values.get("field") is not None:
        allowed = ALIAS_FIELDS.get(values["field"])
        if allowed is None:
            problems.append(
                (
                    "field",
                    t(
                        "{value!r} is not a field with aliases; known: {known}",
                        value=values["field"],
                        known=", ".join(ALIAS_FIELDS),
                    ),
                )
            )
        elif values.get("value") is not None:
            choices = sorted(known[allowed]) if isinstance(allowed, str) else allowed
            if values["value"] not in choices:
                said = {"value": values["value"], "field": values["field"]}
                problems.append(
                    (
                        "value",
                        t("{value!r} is not a {field} value (see the {table} table)", table=allowed, **said)
                        if isinstance(allowed, str)
                        else t("{value!r} is not a {field} value (see {choices})", choices=", ".join(choices), **said),
                    )
                )
    return problems


def _unknown(column: str, value: Value, table: str) -> Message:
    return t("unknown {column} {value!r}: it is not in the {table} table", column=column, value=value, table=table)


def _department_references(
    table: RuleTable, values: dict[str, Value], known: dict[str, set[str]]
) -> list[tuple[str, Message]]:
    """What the department tables name (departments, matters, categories) must exist, and a town
    office must name its town, in its county; a county department names none."""
    problems: list[tuple[str, Message]] = []
    for name, column, referred in (
        ("matters", "category", "categories"),
        ("department_staff", "department", "departments"),
        ("routing_rules", "matter", "matters"),
        ("routing_rules", "department", "departments"),
    ):
        value = values.get(column)
        if table.name == name and value is not None and value not in known.get(referred, set()):
            problems.append((column, _unknown(column, value, referred)))
    if table.name == "departments":
        kind, town, county = values.get("kind"), values.get("town_code"), values.get("county_code")
        if kind == "town_office" and town is None:
            problems.append(("town_code", t("empty: a town office names its town's code")))
        elif kind == "county_department" and town is not None:
            problems.append(("town_code", t("a county department serves the whole county: leave town_code empty")))
        elif town is not None and county is not None and town[:6] != county[:6]:
            problems.append(("town_code", t("town {town} is not in county {county}", town=town, county=county)))
    return problems


def county_words(sheet, categories: dict[str, str]) -> None:
    """Read a county's own list as the table's: its column names (``RuleTable.headers``: 事项编码
    for code), without the columns it may leave out (``RuleTable.may_omit``: empty then) and, in a
    matters list, the category as its name (公共服务) as well as its code.

    ``sheet`` is a ``geo_service.rules.files.Sheet``, changed in place; ``categories`` maps each
    category's code, Chinese name and English name to its code."""
    table = sheet.table
    if not table.headers:
        return
    renamed = {own.lower(): column for own, column in table.headers.items()}
    named = [renamed.get(h, h) if h not in table.columns else h for h in sheet.header]
    omitted = [column for column in table.may_omit if column not in named]
    sheet.header = named + omitted
    for row in sheet.rows:
        row.cells = {renamed.get(h, h) if h not in table.columns else h: v for h, v in row.cells.items()}
        row.cells.update(dict.fromkeys(omitted))
        if table.name == "matters" and row.cells.get("category") in categories:
            row.cells["category"] = categories[row.cells["category"]]


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
    reason: Message

    def to_dict(self) -> dict:
        """As an error's ``problems`` list it (the reason still a message, rendered in the reader's language by the answer)."""
        return {"file": self.file, "row": self.row, "column": self.column, "reason": self.reason}

    def where(self) -> str | Message:
        """``time_limits.csv row 3, column limit_hours``, as much of it as the problem has."""
        where: str | Message = self.file
        if self.row is not None:
            where = t("{file} row {row}", file=self.file, row=self.row)
        if self.column:
            where = t("{where}, column {column}", where=where, column=self.column)
        return where

    def said(self) -> Message:
        """Where and what: ``time_limits.csv row 3, column limit_hours: '-1' is out of range ...``."""
        return t("{where}: {problem}", where=self.where(), problem=self.reason)

    def __str__(self) -> str:
        return str(self.said())
