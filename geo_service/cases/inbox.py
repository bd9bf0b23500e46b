"""The dispatcher's inbox: the open cases of a jurisdiction that need someone, in buckets, with
their counts, red cases first; what came in since the page last asked; and one urge (催办) over a
selection of cases, each in its own transaction.

The buckets overlap as a dispatcher reads them: ``new`` (reported or reopened, waiting to be sent
to someone), ``dispatched`` (being handled against a deadline), and among those ``overdue`` (the
deadline has passed) and ``due_soon`` (it falls within ``due_soon_hours``), by the same rule as
the time-limit report (``geo_service.cases.sla``). Everything is counted and paged in SQL over the
open cases, which the (status, deadline) index finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.auth.jurisdiction import EVERYTHING, PREFIX_DIGITS, Jurisdiction
from geo_service.cases.queries import require_visible
from geo_service.cases.sla import RUNNING
from geo_service.cases.states import OPEN_STATUSES
from geo_service.cases.steps import take_step
from geo_service.errors import GeoServiceError, InvalidInput
from geo_service.i18n import t
from geo_service.settings import Settings

BUCKETS: tuple[str, ...] = ("new", "dispatched", "overdue", "due_soon")
WAITING = ("reported", "reopened")  # open, and sent to nobody yet
BUCKET_SQL = {
    "new": "i.status = ANY(:waiting)",
    "dispatched": "i.status = ANY(:running)",
    "overdue": "i.status = ANY(:running) AND i.deadline < :at",
    "due_soon": "i.status = ANY(:running) AND i.deadline >= :at AND i.deadline < :soon",
}
MAX_PAGE = 200
MAX_URGE = 200  # cases urged by one click
CHANGES_LIMIT = 50
# A case's id is taken when its transaction starts and seen when it commits, so ids are not seen in
# their order: the cursor handed back stays this far behind the newest case, and a page asking
# again is shown the last few seconds' cases once more (it knows them by id).
SETTLE = timedelta(seconds=30)

_ITEM = """
    SELECT i.id, i.external_id, i.status, i.risk_colour, i.category, i.source, i.tier,
           i.reported_at, i.deadline, i.urge_count, left(i.description, 200) AS description,
           i.deadline < :at AS overdue,
           round((extract(epoch FROM i.deadline - :at) / 3600)::numeric, 1)::float8 AS hours_left,
           i.grid_code, g.name AS grid_name, i.village_code, v.name AS village_name,
           i.town_code, tn.name AS town_name, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
      FROM {cases} i
      LEFT JOIN grids g ON g.id = i.grid_id
      LEFT JOIN admin_units v ON v.version_id = i.boundary_version_id AND v.code = i.village_code
      LEFT JOIN admin_units tn ON tn.version_id = i.boundary_version_id AND tn.code = i.town_code
"""
# Red first, then the nearest deadline; cases with none yet (new) by how long they have waited.
_ORDER = " ORDER BY (i.risk_colour = 'red') DESC, i.deadline ASC NULLS LAST, i.reported_at, i.id"


def _page(clauses: list[str], order: str) -> str:
    """The SQL of a page of the cases matching ``clauses`` in ``order`` (parameters ``limit`` and
    ``offset``): the page's cases are chosen first and only they are joined to their places'
    names, which for a city's tens of thousands of open cases is most of the work saved."""
    chosen = f"(SELECT * FROM incidents i WHERE {' AND '.join(clauses)}{order} LIMIT :limit OFFSET :offset)"
    return _ITEM.format(cases=chosen) + order


@dataclass(frozen=True)
class InboxFilter:
    """Which open cases: in a place (a town, village or grid code, a grid's taking its sub-grids),
    of any of the categories, sources, statuses and colours given, reported in ``[start, end)``,
    matching ``q`` (a case's id or external id, or words of its description)."""

    place: str | None = None
    category: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    risk: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    q: str | None = None


def _place_clause(code: str) -> tuple[str, dict]:
    """SQL for the cases in the place ``code``: a grid (with its sub-grids), a village, a town, a
    county, or a city or province (its counties)."""
    if not code.isdigit() or len(code) < 12 or len(code) > 21 or len(code) % 3:
        raise InvalidInput(
            t("place must be the code of a town, village or grid (12 to 21 digits), got {place!r}", place=code),
            field="place",
        )
    if len(code) > 12:
        return "i.grid_code LIKE :place_like", {"place_like": code + "%"}
    if code[9:] != "000":
        return "i.village_code = :place", {"place": code}
    if code[6:9] != "000":
        return "i.town_code = :place", {"place": code}
    if code[4:6] != "00":
        return "i.county_code = :place", {"place": code}
    level = "city" if code[2:4] != "00" else "province"
    return "i.county_code LIKE :place_like", {"place_like": code[: PREFIX_DIGITS[level]] + "%"}


def _escaped(words: str) -> str:
    """``words`` for an ILIKE pattern, their own % and _ taken literally."""
    return words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check_codes(connection: Connection, field: str, table: str, values: tuple[str, ...]) -> None:
    """Refuse a category or source that is not in its table (a typo would silently match nothing)."""
    if not values:
        return
    known = list(connection.execute(text(f"SELECT code FROM {table} ORDER BY code")).scalars())
    for value in values:
        if value not in known:
            raise InvalidInput(
                t("unknown {field} {value!r}; known: {known}", field=field, value=value, known=", ".join(known)),
                field=field,
            )


def _where(connection: Connection, where: InboxFilter, scope: Jurisdiction) -> tuple[list[str], dict]:
    """The clauses and parameters every inbox query shares: the jurisdiction, open cases, the filters."""
    _check_codes(connection, "category", "categories", where.category)
    _check_codes(connection, "source", "sources", where.source)
    clauses = [scope.incidents("i"), "i.status = ANY(:open)"]
    params: dict = {**scope.params(), "open": list(OPEN_STATUSES)}
    if where.place:
        clause, values = _place_clause(where.place)
        clauses.append(clause)
        params.update(values)
    for name, column in (("category", "category"), ("source", "source"), ("status", "status"), ("risk", "risk_colour")):
        values = getattr(where, name)
        if values:
            clauses.append(f"i.{column} = ANY(:f_{name})")
            params[f"f_{name}"] = list(values)
    if where.start and where.end and where.start >= where.end:
        raise InvalidInput(t("start must be before end"), field="start")
    if where.start:
        clauses.append("i.reported_at >= :start")
        params["start"] = where.start
    if where.end:
        clauses.append("i.reported_at < :end")
        params["end"] = where.end
    words = (where.q or "").strip().lstrip("#").strip()
    if words:
        # A case number is its id or its whole external id (in any case); other words are looked
        # for in the description.
        number = int(words) if words.isdigit() and len(words) <= 18 else None
        clauses.append(
            "(i.id = :q_id OR i.external_id ILIKE :q_exact ESCAPE '\\' OR i.description ILIKE :q_like ESCAPE '\\')"
        )
        params.update(q_id=number, q_exact=_escaped(words), q_like=f"%{_escaped(words)}%")
    return clauses, params


def _moments(at: datetime, settings: Settings) -> dict:
    return {
        "at": at,
        "soon": at + timedelta(hours=settings.cases.due_soon_hours),
        "waiting": list(WAITING),
        "running": list(RUNNING),
    }


def _item(row) -> dict:
    """A case as the inbox lists it."""

    def unit(code, name):
        return {"code": code, "name": name} if code else None

    return {
        "id": row["id"],
        "external_id": row["external_id"],
        "status": row["status"],
        "risk_colour": row["risk_colour"],
        "category": row["category"],
        "source": row["source"],
        "tier": row["tier"],
        "reported_at": row["reported_at"].isoformat(),
        "deadline": row["deadline"].isoformat() if row["deadline"] else None,
        "overdue": bool(row["overdue"]) and row["status"] in RUNNING,
        "hours_left": row["hours_left"],
        "urge_count": row["urge_count"],
        "description": row["description"],
        "grid": unit(row["grid_code"], row["grid_name"]),
        "village": unit(row["village_code"], row["village_name"]),
        "town": unit(row["town_code"], row["town_name"]),
        "location": {"lon": row["lon"], "lat": row["lat"], "crs": "cgcs2000"},
    }


def counts(connection: Connection, clauses: list[str], params: dict) -> dict[str, int]:
    """How many of the cases matching ``clauses`` fall in each bucket, and in all, in one pass."""
    filters = ", ".join(f"count(*) FILTER (WHERE {sql}) AS {name}" for name, sql in BUCKET_SQL.items())
    row = connection.execute(
        text(f"SELECT count(*) AS open, {filters} FROM incidents i WHERE {' AND '.join(clauses)}"), params
    ).mappings()
    return dict(row.one())


def inbox(
    connection: Connection,
    where: InboxFilter,
    bucket: str | None,
    at: datetime,
    settings: Settings,
    *,
    limit: int = 50,
    offset: int = 0,
    scope: Jurisdiction | None = None,
) -> dict:
    """A page of the open cases of ``scope`` in ``bucket`` (all open ones if None) matching
    ``where`` as at ``at``, red first then by deadline, with every bucket's count under the same
    filters (``total`` is the chosen bucket's)."""
    if bucket is not None and bucket not in BUCKETS:
        raise InvalidInput(
            t("bucket must be one of {buckets}, got {bucket!r}", buckets=", ".join(BUCKETS), bucket=bucket),
            field="bucket",
        )
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(
            t("limit must be 1 to {MAX_PAGE}, got {limit}", MAX_PAGE=MAX_PAGE, limit=limit), field="limit"
        )
    scope = scope or EVERYTHING
    clauses, params = _where(connection, where, scope)
    params.update(_moments(at, settings))
    found = counts(connection, clauses, params)
    chosen = clauses + ([BUCKET_SQL[bucket]] if bucket else [])
    rows = connection.execute(text(_page(chosen, _ORDER)), {**params, "limit": limit, "offset": offset}).mappings()
    return {
        "at": at.isoformat(),
        "bucket": bucket,
        "due_soon_hours": settings.cases.due_soon_hours,
        "counts": found,
        "total": found[bucket] if bucket else found["open"],
        "limit": limit,
        "offset": offset,
        "items": [_item(r) for r in rows],
        "statuses": list(OPEN_STATUSES),
    }


_PLACES = """
    WITH open_cases AS (
        SELECT i.town_code, i.village_code, count(*) AS n
          FROM incidents i WHERE {scope} AND i.status = ANY(:open) AND i.village_code IS NOT NULL
         GROUP BY 1, 2
    ), named AS (
        SELECT o.*, (SELECT u.name FROM admin_units u WHERE u.code = o.town_code ORDER BY u.version_id DESC LIMIT 1)
                        AS town_name,
               (SELECT u.name FROM admin_units u WHERE u.code = o.village_code ORDER BY u.version_id DESC LIMIT 1)
                        AS village_name
          FROM open_cases o
    )
    SELECT town_code, town_name, village_code, village_name, n FROM named ORDER BY town_code, village_code
"""


def places(connection: Connection, scope: Jurisdiction | None = None) -> list[dict]:
    """The towns of ``scope`` holding open cases, each with its villages holding any and their
    counts: what the inbox's place filter offers."""
    scope = scope or EVERYTHING
    rows = connection.execute(
        text(_PLACES.format(scope=scope.incidents("i"))), {**scope.params(), "open": list(OPEN_STATUSES)}
    )
    towns: dict[str, dict] = {}
    for town_code, town_name, village_code, village_name, n in rows:
        town = towns.setdefault(town_code, {"code": town_code, "name": town_name, "open": 0, "villages": []})
        town["open"] += n
        town["villages"].append({"code": village_code, "name": village_name, "open": n})
    return list(towns.values())


def changes(
    connection: Connection,
    since: int,
    at: datetime,
    settings: Settings,
    scope: Jurisdiction | None = None,
) -> dict:
    """What a page that last saw the case ``since`` has not seen: the open cases of ``scope``
    recorded after it (newest first, at most ``CHANGES_LIMIT``), the buckets' counts now (a page
    whose counts moved reloads its list), and the ``cursor`` to ask from next time."""
    scope = scope or EVERYTHING
    clauses = [scope.incidents("i"), "i.status = ANY(:open)"]
    params = {**scope.params(), "open": list(OPEN_STATUSES), **_moments(at, settings)}
    found = counts(connection, clauses, params)
    rows = connection.execute(
        text(_page([*clauses, "i.id > :since"], " ORDER BY i.id DESC")),
        {**params, "since": since, "limit": CHANGES_LIMIT, "offset": 0},
    ).mappings()
    settled = connection.execute(
        text(f"SELECT max(i.id) FROM incidents i WHERE {scope.incidents('i')} AND i.created_at < now() - :settle"),
        {**scope.params(), "settle": SETTLE},
    ).scalar()
    return {
        "at": at.isoformat(),
        "since": since,
        "cursor": max(since, settled or 0),
        "counts": found,
        "items": [_item(r) for r in rows],
    }


@dataclass(frozen=True)
class Urged:
    """One case's answer to a bulk urge: urged (its status and urge count) or refused (the error)."""

    id: int
    ok: bool
    status: str | None = None
    urge_count: int | None = None
    error: GeoServiceError | None = None


def urge_each(
    engine: Engine,
    ids: list[int],
    actor: str,
    *,
    signed_in: str,
    settings: Settings,
    note: str | None = None,
    scope: Jurisdiction | None = None,
) -> list[Urged]:
    """Urge (催办) every case of ``ids`` (in order, each once) through the state machine, each in a
    transaction of its own, so that one refused (not handled now, outside ``scope``: not found)
    leaves the others urged."""
    if not ids:
        raise InvalidInput(t("give the ids of the cases to urge"), field="ids")
    if len(ids) > MAX_URGE:
        raise InvalidInput(
            t("at most {most} cases are urged at once, got {count}", most=MAX_URGE, count=len(ids)), field="ids"
        )
    results = []
    for incident_id in dict.fromkeys(ids):
        try:
            with engine.begin() as connection:
                require_visible(connection, incident_id, scope)
                status = take_step(
                    connection, incident_id, "urge", actor, signed_in=signed_in, settings=settings, note=note
                )
                count = connection.execute(
                    text("SELECT urge_count FROM incidents WHERE id = :id"), {"id": incident_id}
                ).scalar()
            results.append(Urged(incident_id, True, status, count))
        except GeoServiceError as error:
            results.append(Urged(incident_id, False, error=error))
    return results
