"""Routing by subject: which department a case's matter goes to ("权随事走", "谁主管谁负责"),
beside the territorial "3+N" its place binds, and what the departments hold.

A county describes its departments (county departments 县直部门, town offices), its two-level
list of matters (事项清单: a category > its matters, 公共服务 > 供水) and routing rules, all rule
tables an administrator edits (``geo_service.rules.tables``). A routing rule names a matter and,
if it wishes, a place (a town or village code, or the first digits of one) and a risk colour.
Of the rules that hold for a case (its matter; its village within the rule's place; its colour;
a department of the case's county, and of its town for a town office) the most specific wins:
the longest place first, then a colour named over any colour; ties go to the smaller code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.cases.queries import require_visible
from geo_service.cases.states import HANDLING
from geo_service.errors import InvalidInput, NotFound
from geo_service.i18n import t
from geo_service.rules.tables import key_text

# A rule's place as the digits a code inside it begins with: a county's six, a town's nine.
_PREFIX = (
    r"CASE WHEN r.place ~ '^\d{6}000000$' THEN left(r.place, 6) "
    r"WHEN r.place ~ '^\d{9}000$' THEN left(r.place, 9) ELSE r.place END"
)
ROUTES = text(f"""
    SELECT DISTINCT ON (i.id) i.id, r.department, d.name_zh AS department_name, r.matter, r.place, r.risk_colour
      FROM incidents i
      JOIN routing_rules r ON r.matter = i.matter
      JOIN departments d ON d.code = r.department
     WHERE i.id = ANY(:ids)
       AND d.county_code = i.county_code
       AND (d.town_code IS NULL OR d.town_code = i.town_code)
       AND (r.place IS NULL OR i.village_code LIKE ({_PREFIX}) || '%')
       AND (r.risk_colour IS NULL OR r.risk_colour = i.risk_colour)
     ORDER BY i.id, length({_PREFIX}) DESC NULLS LAST, r.risk_colour IS NULL, r.department
""")
RUNNING = sorted(HANDLING)


@dataclass(frozen=True)
class Route:
    """Where the rules send a case: the department and the rule that chose it (matter/place/colour)."""

    incident_id: int
    department: str
    department_name: str
    rule: str

    def to_dict(self) -> dict:
        return {"department": self.department, "department_name": self.department_name, "rule": self.rule}


def routes(connection: Connection, incident_ids: list[int]) -> dict[int, Route]:
    """The department the routing rules send each case to, by its stored matter, place and colour
    (a case with no matter, or no rule for it, is absent)."""
    rows = connection.execute(ROUTES, {"ids": [int(i) for i in incident_ids]}).mappings()
    return {
        r["id"]: Route(
            r["id"], r["department"], r["department_name"], key_text((r["matter"], r["place"], r["risk_colour"]))
        )
        for r in rows
    }


def matter_categories(connection: Connection) -> dict[str, str]:
    """Each matter of the list and the category it lies under."""
    return dict(connection.execute(text("SELECT code, category FROM matters")).all())


def matter_problem(matter: str, category: str, known: dict[str, str]) -> str | None:
    """Why ``matter`` cannot be a case of ``category``'s matter, or None."""
    if matter not in known:
        return t("unknown matter {matter!r}: it is not in the list of matters (GET /matters)", matter=matter)
    if known[matter] != category:
        return t(
            "matter {matter} lies under category {found}, not {category}",
            matter=matter,
            found=known[matter],
            category=category,
        )
    return None


def check_matter(connection: Connection, matter: str, category: str) -> None:
    """InvalidInput unless ``matter`` is a matter of the list under ``category``."""
    problem = matter_problem(matter, category, matter_categories(connection))
    if problem is not None:
        raise InvalidInput(problem, field="matter")


def department_of(connection: Connection, code: str) -> dict:
    """A department's row (NotFound naming the field ``department`` if there is none)."""
    row = (
        connection.execute(
            text("""SELECT code, name_zh, name_en, kind, county_code, town_code, limit_hours
                      FROM departments WHERE code = :code"""),
            {"code": code},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(t("no department {department!r}", department=code), field="department")
    return dict(row)


def serves(department: dict, county_code: str, town_code: str | None) -> bool:
    """Whether ``department`` handles cases at this place: its county's, and its town's for a town office."""
    return department["county_code"] == county_code and (
        department["town_code"] is None or department["town_code"] == town_code
    )


# -- what the departments hold ----------------------------------------------------------------------


def _departments_seen(scope: Jurisdiction) -> str:
    """The departments a user may name: their own alone for a department's user; else the
    departments of their counties, a town's user's town offices among them only their town's."""
    if scope.department is not None:
        return "d.code = :scope_department"
    if scope.unrestricted:
        return "TRUE"
    if scope.level in ("all", "province", "city", "county"):
        return "d.county_code = ANY(:scope_counties)"
    return "d.county_code = :scope_county AND (d.town_code IS NULL OR d.town_code = left(:scope_code, 9) || '000')"


def _counts(scope: Jurisdiction) -> str:
    return f"""
        SELECT i.department,
               count(*) FILTER (WHERE tr.state = 'pending' AND i.status = ANY(:running)) AS pending,
               count(*) FILTER (WHERE tr.state = 'accepted' AND i.status = ANY(:running)) AS handling,
               count(*) FILTER (WHERE i.status = ANY(:running) AND i.deadline < :at) AS overdue,
               count(*) FILTER (WHERE i.status IN ('resolved', 'closed')) AS done
          FROM incidents i
          JOIN incident_transfers tr ON tr.incident_id = i.id AND tr.county_code = i.county_code
                                    AND tr.state IN ('pending', 'accepted')
         WHERE i.department IS NOT NULL AND {scope.incidents("i")}
         GROUP BY i.department"""


def list_departments(connection: Connection, at: datetime, scope: Jurisdiction | None = None) -> list[dict]:
    """The departments the user may name, each with the cases it holds within the user's
    jurisdiction: waiting for it (pending), being handled, overdue at ``at``, and done."""
    scope = scope or EVERYTHING
    rows = connection.execute(
        text(f"""
        SELECT d.code, d.name_zh, d.name_en, d.kind, d.county_code, d.town_code, d.limit_hours,
               (SELECT count(*) FROM department_staff s WHERE s.department = d.code) AS staff,
               coalesce(c.pending, 0) AS pending, coalesce(c.handling, 0) AS handling,
               coalesce(c.overdue, 0) AS overdue, coalesce(c.done, 0) AS done
          FROM departments d
          LEFT JOIN ({_counts(scope)}) c ON c.department = d.code
         WHERE {_departments_seen(scope)}
         ORDER BY d.county_code, d.kind, d.code
    """),
        {**scope.params(), "at": at, "running": RUNNING},
    ).mappings()
    return [dict(r) for r in rows]


def read_department(connection: Connection, code: str, at: datetime, scope: Jurisdiction | None = None) -> dict:
    """One department the user may name, with its people (head first) and the matters its routing
    rules send it; NotFound for any other."""
    scope = scope or EVERYTHING
    found = [d for d in list_departments(connection, at, scope) if d["code"] == code]
    if not found:
        raise NotFound(t("no department {department!r}", department=code), field="department")
    department = found[0]
    department["staff"] = [
        dict(r)
        for r in connection.execute(
            text("""SELECT name, phone, duty FROM department_staff WHERE department = :code
                     ORDER BY array_position(ARRAY['head', 'member'], duty), name"""),
            {"code": code},
        ).mappings()
    ]
    department["routes"] = [
        dict(r)
        for r in connection.execute(
            text("""SELECT r.matter, m.name_zh AS matter_name, m.category, r.place, r.risk_colour
                      FROM routing_rules r JOIN matters m ON m.code = r.matter
                     WHERE r.department = :code ORDER BY m.category, r.matter, r.place NULLS FIRST"""),
            {"code": code},
        ).mappings()
    ]
    return department


def list_matters(connection: Connection) -> list[dict]:
    """The list of matters, two levels: each category with its matters."""
    rows = connection.execute(
        text("""SELECT c.code AS category, c.name_zh AS category_name, c.name_en AS category_name_en,
                       m.code, m.name_zh, m.name_en
                  FROM matters m JOIN categories c ON c.code = m.category ORDER BY c.code, m.code""")
    ).mappings()
    categories: dict[str, dict] = {}
    for r in rows:
        category = categories.setdefault(
            r["category"],
            {"code": r["category"], "name_zh": r["category_name"], "name_en": r["category_name_en"], "matters": []},
        )
        category["matters"].append({"code": r["code"], "name_zh": r["name_zh"], "name_en": r["name_en"]})
    return list(categories.values())


INBOX_STATES = ("pending", "handling", "overdue", "done", "all")
_INBOX_WHERE = {
    "pending": "tr.state = 'pending' AND i.status = ANY(:running)",
    "handling": "tr.state = 'accepted' AND i.status = ANY(:running)",
    "overdue": "i.status = ANY(:running) AND i.deadline < :at",
    "done": "i.status IN ('resolved', 'closed')",
    "all": "TRUE",
}


def department_cases(
    connection: Connection,
    code: str,
    at: datetime,
    *,
    state: str = "all",
    limit: int = 100,
    offset: int = 0,
    scope: Jurisdiction | None = None,
) -> tuple[list[dict], int]:
    """A department's inbox within the user's jurisdiction: the cases it holds (``state``: waiting
    for it, being handled, overdue at ``at``, done, or all), those waiting first, then by deadline."""
    scope = scope or EVERYTHING
    if state not in INBOX_STATES:
        raise InvalidInput(
            t("state must be one of {states}, not {state!r}", states=", ".join(INBOX_STATES), state=state),
            field="state",
        )
    read_department(connection, code, at, scope)  # NotFound for a department the user may not name
    source = f"""
          FROM incidents i
          JOIN incident_transfers tr ON tr.incident_id = i.id AND tr.county_code = i.county_code
                                    AND tr.state IN ('pending', 'accepted')
          LEFT JOIN matters m ON m.code = i.matter
         WHERE i.department = :department AND {scope.incidents("i")} AND {_INBOX_WHERE[state]}"""
    params = {**scope.params(), "department": code, "at": at, "running": RUNNING}
    rows = connection.execute(
        text(f"""
        SELECT i.id, i.external_id, i.category, i.matter, m.name_zh AS matter_name, i.status, i.risk_colour,
               i.tier, i.county_code, i.town_code, i.village_code, i.grid_code, i.reported_at, i.deadline,
               i.status = ANY(:running) AND i.deadline < :at AS overdue,
               tr.id AS transfer_id, tr.state AS transfer_state, tr.transferred_at, tr.transferred_by,
               tr.reason, tr.rule
        {source}
         ORDER BY tr.state = 'pending' DESC, i.deadline NULLS LAST, i.id
         LIMIT :limit OFFSET :offset"""),
        {**params, "limit": limit, "offset": offset},
    ).mappings()
    items = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(r).items()} for r in rows]
    total = connection.execute(text(f"SELECT count(*) {source}"), params).scalar_one()
    return items, total


# -- reading transfers back ------------------------------------------------------------------------

_TRANSFERS = """
    SELECT tr.id, tr.incident_id, tr.department, d.name_zh AS department_name, d.name_en AS department_name_en,
           tr.state, tr.transferred_at, tr.transferred_by, tr.reason, tr.rule, tr.decided_at, tr.decided_by,
           tr.return_reason,
           coalesce((SELECT json_agg(json_build_object('name', s.name, 'duty', s.duty, 'bound_at', s.bound_at,
                                                       'released_at', s.released_at)
                                     ORDER BY array_position(ARRAY['head', 'member'], s.duty), s.name)
                       FROM incident_staff s WHERE s.transfer_id = tr.id), '[]') AS staff
      FROM incident_transfers tr JOIN departments d ON d.code = tr.department
"""


def _transfer_dict(row) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


def read_transfer(connection: Connection, transfer_id: int, scope: Jurisdiction | None = None) -> dict:
    """One transfer within ``scope`` (NotFound outside it), with the department's people it bound."""
    scope = scope or EVERYTHING
    row = (
        connection.execute(
            text(
                _TRANSFERS
                + f""" JOIN incidents i ON i.id = tr.incident_id AND i.county_code = tr.county_code
                 WHERE tr.id = :id AND {scope.incidents("i")}"""
            ),
            {"id": transfer_id, **scope.params()},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(t("no transfer with id {transfer_id}", transfer_id=transfer_id), field="transfer_id")
    return _transfer_dict(row)


def case_transfers(connection: Connection, incident_id: int, scope: Jurisdiction | None = None) -> dict:
    """A case within ``scope``: its matter, the department holding it, every transfer (oldest
    first) and the department the routing rules would send it to now."""
    scope = scope or EVERYTHING
    require_visible(connection, incident_id, scope)
    case = (
        connection.execute(
            text("""SELECT i.id, i.matter, m.name_zh AS matter_name, i.category, i.department,
                           d.name_zh AS department_name, i.status, i.deadline
                      FROM incidents i LEFT JOIN matters m ON m.code = i.matter
                      LEFT JOIN departments d ON d.code = i.department WHERE i.id = :id"""),
            {"id": incident_id},
        )
        .mappings()
        .one()
    )
    found = routes(connection, [incident_id]).get(incident_id)
    return {
        **_transfer_dict(case),
        "suggested": found.to_dict() if found else None,
        "transfers": [
            _transfer_dict(r)
            for r in connection.execute(
                text(_TRANSFERS + " WHERE tr.incident_id = :id ORDER BY tr.transferred_at, tr.id"), {"id": incident_id}
            ).mappings()
        ],
    }
