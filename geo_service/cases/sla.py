"""Time limits in force: which open cases are overdue, or about to be, by town and village, and
by the department handling them.

Found by one query over the (status, deadline) index, never by a loop over cases.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.cases.states import HANDLING
from geo_service.cases.writer import remind
from geo_service.i18n import t
from geo_service.settings import CaseSettings
from geo_service.times import as_aware

# The states in which a case is being handled against its deadline.
RUNNING = tuple(sorted(HANDLING))

BY_VILLAGE = """
    SELECT t.code AS town_code, t.name AS town_name, v.code AS village_code, v.name AS village_name,
           count(*) FILTER (WHERE i.deadline < :at) AS overdue,
           count(*) FILTER (WHERE i.deadline >= :at) AS due_soon,
           round(max(extract(epoch FROM :at - i.deadline) / 3600)::numeric, 1)::float8 AS worst_overdue_hours
      FROM incidents i
      JOIN admin_units v ON v.version_id = i.boundary_version_id AND v.code = i.village_code
      JOIN admin_units t ON t.id = v.parent_id
     WHERE i.status IN :running AND i.deadline < :soon AND {scope}
     GROUP BY t.code, t.name, v.code, v.name
     ORDER BY overdue DESC, due_soon DESC, v.code
"""

BY_DEPARTMENT = """
    SELECT d.code AS department, d.name_zh AS department_name, d.kind,
           count(*) FILTER (WHERE i.deadline < :at) AS overdue,
           count(*) FILTER (WHERE i.deadline >= :at) AS due_soon,
           round(max(extract(epoch FROM :at - i.deadline) / 3600)::numeric, 1)::float8 AS worst_overdue_hours
      FROM incidents i
      JOIN departments d ON d.code = i.department
     WHERE i.status IN :running AND i.deadline < :soon AND {scope}
     GROUP BY d.code, d.name_zh, d.kind
     ORDER BY overdue DESC, due_soon DESC, d.code
"""

CASES = """
    SELECT i.id, i.external_id, i.status, i.tier, i.category, i.risk_colour, i.deadline, i.urge_count, i.department,
           i.town_code, i.village_code, i.grid_code, i.deadline < :at AS overdue,
           round((extract(epoch FROM :at - i.deadline) / 3600)::numeric, 1)::float8 AS hours_past_deadline
      FROM incidents i
     WHERE i.status IN :running AND i.deadline < :soon AND {scope}
     ORDER BY i.deadline, i.id
     LIMIT :limit
"""

# Cases being handled that no one is bound to at their tier: every post vacant up to where they
# are (``geo_service.cases.binding.bind_up``), nor held by a department's people.
UNATTENDED = """
    SELECT i.id, i.external_id, i.status, i.tier, i.category, i.risk_colour, i.town_code, i.village_code,
           i.grid_code, count(*) OVER () AS total
      FROM incidents i
     WHERE i.status IN :running AND {scope}
       AND NOT EXISTS (SELECT 1 FROM incident_officers b
                        WHERE b.incident_id = i.id AND b.tier = i.tier AND b.released_at IS NULL
                          AND b.officer_id IS NOT NULL)
       AND NOT EXISTS (SELECT 1 FROM incident_staff s WHERE s.incident_id = i.id AND s.released_at IS NULL)
     ORDER BY i.id
     LIMIT :limit
"""


def _scoped(sql: str, scope: Jurisdiction | None) -> tuple:
    scope = scope or EVERYTHING
    return text(sql.format(scope=scope.incidents("i"))).bindparams(bindparam("running", expanding=True)), scope.params()


def sla_by_village(
    connection: Connection, at: datetime, due_within: timedelta, scope: Jurisdiction | None = None
) -> list[dict]:
    """Per village with any: open cases past their deadline at ``at``, and those due within ``due_within``."""
    query, params = _scoped(BY_VILLAGE, scope)
    rows = connection.execute(query, {"at": at, "soon": at + due_within, "running": list(RUNNING), **params})
    return [dict(r) for r in rows.mappings()]


def sla_by_department(
    connection: Connection, at: datetime, due_within: timedelta, scope: Jurisdiction | None = None
) -> list[dict]:
    """Per department handling any: its open cases past their deadline at ``at``, and those due
    within ``due_within`` (the same cases as by village, grouped by who holds them)."""
    query, params = _scoped(BY_DEPARTMENT, scope)
    rows = connection.execute(query, {"at": at, "soon": at + due_within, "running": list(RUNNING), **params})
    return [dict(r) for r in rows.mappings()]


def sla_cases(
    connection: Connection, at: datetime, due_within: timedelta, limit: int = 1000, scope: Jurisdiction | None = None
) -> list[dict]:
    """The open cases overdue or due within ``due_within`` at ``at``, the most overdue first."""
    query, params = _scoped(CASES, scope)
    rows = connection.execute(
        query, {"at": at, "soon": at + due_within, "running": list(RUNNING), "limit": limit, **params}
    )
    return [{**dict(r), "deadline": r["deadline"].isoformat()} for r in rows.mappings()]


def sla_unattended(connection: Connection, limit: int = 100, scope: Jurisdiction | None = None) -> dict:
    """Cases being handled with no one bound to them where they are: how many, and the first ``limit``."""
    query, params = _scoped(UNATTENDED, scope)
    rows = [dict(r) for r in connection.execute(query, {"running": list(RUNNING), "limit": limit, **params}).mappings()]
    total = rows[0].pop("total") if rows else 0
    for row in rows[1:]:
        row.pop("total")
    return {"count": total, "cases": rows}


REMIND = text("""
    UPDATE incidents SET reminded_deadline = deadline
     WHERE status IN :running AND deadline >= :at AND deadline < :soon
       AND reminded_deadline IS DISTINCT FROM deadline
    RETURNING id, deadline
""").bindparams(bindparam("running", expanding=True))


def remind_due(connection: Connection, at: datetime | None, due_within: timedelta, zone: str) -> int:
    """Tell the people of every case whose deadline falls within ``due_within`` of ``at`` (default
    now; without a zone, the county's ``zone``), once per deadline (an extended deadline is reminded
    of again), in the caller's transaction.

    Returns the number of cases reminded.
    """
    at = as_aware(at, zone)
    due = connection.execute(REMIND, {"at": at, "soon": at + due_within, "running": list(RUNNING)}).all()
    local = ZoneInfo(zone)
    return remind(
        connection,
        [
            (
                incident_id,
                t("the deadline draws near: {deadline}", deadline=f"{deadline.astimezone(local):%Y-%m-%d %H:%M}"),
            )
            for incident_id, deadline in due
        ],
        at,
    )


def sla_report(
    connection: Connection,
    at: datetime | None,
    due_within_hours: float | None,
    rules: CaseSettings,
    zone: str,
    *,
    with_cases: bool = False,
    scope: Jurisdiction | None = None,
) -> dict:
    """What the API and the command line show: open cases overdue or due within ``due_within_hours``
    (default the settings' ``due_soon_hours``) at ``at`` (default now; without a zone, the county's),
    by village and by the department handling them, and if asked the cases themselves, the most
    overdue first."""
    moment = as_aware(at, zone)
    within = timedelta(hours=due_within_hours or rules.due_soon_hours)
    villages = sla_by_village(connection, moment, within, scope=scope)
    body = {
        "at": moment.isoformat(),
        "due_within_hours": within.total_seconds() / 3600,
        "overdue": sum(v["overdue"] for v in villages),
        "due_soon": sum(v["due_soon"] for v in villages),
        "villages": villages,
        "departments": sla_by_department(connection, moment, within, scope=scope),
        "unattended": sla_unattended(connection, scope=scope),
    }
    if with_cases:
        body["cases"] = sla_cases(connection, moment, within, scope=scope)
    return body
