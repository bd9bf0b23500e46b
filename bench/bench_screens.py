"""The screens a command centre keeps open all day, through the library: the wall's summary and
the dispatcher's inbox, each against the way it was read before (kept here, runnable).

    .venv/bin/python bench/bench_screens.py                 # the demo county, then the city
    .venv/bin/python bench/bench_screens.py --scale city --runs 9

Each scale is read on a writable copy of its database (``bench/scale.py``), as at the newest
report in it (a service in use has cases up to the minute): for the county's user (the first
county), and at the city scale for a user of the whole city too. Medians of ``--runs`` calls
after one warm-up, the ratio, and the figures compared (they must agree).

Before: the wall's counts in one pass over every incident of the jurisdiction (no index could
serve it), its open red cases found by walking the reported-time index, and a page of the inbox
joined to its places' names before the page was chosen. Now: each count over the rows its own
index finds in the spans (``analysis.dashboard``), the open red cases by a partial index, and the
page chosen first (``cases.inbox``). The indexes are dropped from the copy for the earlier way.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import datetime

from scale import add_scale_argument, scale_database, scales
from sqlalchemy import text

import geo_service.analysis.dashboard as dashboard
import geo_service.cases.inbox as inbox_module
from geo_service.analysis.span import NOT_COUNTED
from geo_service.auth.jurisdiction import resolve
from geo_service.cases.inbox import InboxFilter, inbox
from geo_service.db.engine import engine_for
from geo_service.settings import Settings

NEW_INDEXES = ("ix_incidents_closed_at", "ix_incidents_open_red_reported_at")


# -- the ways before ----------------------------------------------------------------------------


def kpis_before(connection, spans, scope) -> dict:
    """``analysis.dashboard.kpis`` as it was: every count in one pass over the jurisdiction."""
    sql_of = {
        "received": "i.reported_at >= :{p}_start AND i.reported_at < :{p}_end",
        "closed": "i.status = 'closed' AND i.closed_at >= :{p}_start AND i.closed_at < :{p}_end",
        "overdue": "i.deadline >= :{p}_start AND i.deadline < :{p}_end AND i.deadline < coalesce(i.resolved_at, :{p}_end)",
    }
    columns, params = [], dict(scope.params())
    for period, compared in spans.items():
        for which, span in compared.items():
            name = f"{period}_{which}"
            params[f"{name}_start"], params[f"{name}_end"] = span.start, span.end
            columns += [
                f"count(*) FILTER (WHERE {sql.format(p=name)}) AS {measure}__{name}" for measure, sql in sql_of.items()
            ]
    not_counted = ", ".join(f"'{status}'" for status in NOT_COUNTED)
    params["latest"] = max(span.end for compared in spans.values() for span in compared.values())
    row = (
        connection.execute(
            text(f"""SELECT {", ".join(columns)} FROM incidents i
                  WHERE {scope.incidents("i")} AND i.status NOT IN ({not_counted}) AND i.reported_at < :latest"""),
            params,
        )
        .mappings()
        .one()
    )
    return {
        period: {
            "spans": {which: span.to_dict() for which, span in compared.items()},
            **{
                measure: dashboard._compared({w: row[f"{measure}__{period}_{w}"] for w in dashboard.COMPARED})
                for measure in sql_of
            },
        }
        for period, compared in spans.items()
    }


def page_before(clauses: list[str], order: str) -> str:
    """``cases.inbox._page`` as it was: every matching case joined to its places' names, then paged."""
    return (
        inbox_module._ITEM.format(cases="incidents")
        + " WHERE "
        + " AND ".join(clauses)
        + order
        + (" LIMIT :limit OFFSET :offset")
    )


# -- timing ------------------------------------------------------------------------------------


def median_ms(call: Callable[[], object], runs: int) -> tuple[float, object]:
    result = call()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, result


def read_screens(engine, settings: Settings, scope, at: datetime, runs: int) -> dict[str, tuple[float, object]]:
    def wall():
        return dashboard.wall_summary(engine, at, place=settings.place, scope=scope)

    def inbox_page():
        with engine.connect() as connection:
            return inbox(connection, InboxFilter(), None, at, settings, scope=scope)

    return {"wall summary": median_ms(wall, runs), "inbox, first page": median_ms(inbox_page, runs)}


def run_scale(scale: str, runs: int) -> None:
    with scale_database(scale, writable=True) as url:
        settings = Settings(database_url=url)
        engine = engine_for(settings)
        zone = settings.place.timezone
        with engine.connect() as connection:
            county = connection.execute(
                text("SELECT code FROM admin_units WHERE level = 'county' ORDER BY code LIMIT 1")
            ).scalar_one()
            at = connection.execute(text("SELECT max(reported_at) FROM incidents")).scalar_one()
            users = {"the county's user": resolve(connection, county, zone)}
            if scale == "city":
                users["the city's user"] = resolve(connection, county[:4] + "00000000", zone)
        now = {who: read_screens(engine, settings, scope, at, runs) for who, scope in users.items()}
        with engine.begin() as connection:
            for index in NEW_INDEXES:
                connection.execute(text(f"DROP INDEX {index}"))
            connection.execute(text("ANALYZE incidents"))
        kpis, page = dashboard.kpis, inbox_module._page
        dashboard.kpis, inbox_module._page = kpis_before, page_before
        try:
            before = {who: read_screens(engine, settings, scope, at, runs) for who, scope in users.items()}
        finally:
            dashboard.kpis, inbox_module._page = kpis, page
        engine.dispose()
    print(f"{scale}, as at {at.isoformat()}, medians of {runs}:")
    for who in users:
        for screen, (ms, result) in now[who].items():
            was, earlier = before[who][screen]
            same = _figures(result) == _figures(earlier)
            print(
                f"  {who:<18} {screen:<18} now {ms:8.1f} ms   before {was:8.1f} ms   {was / ms:5.1f}x"
                f"{'' if same else '   THE ANSWERS DIFFER'}"
            )


def _figures(result: dict) -> dict:
    """What must agree between the two ways: the wall's figures and lists, the inbox's counts and page."""
    if "figures" in result:
        return {k: result[k] for k in ("figures", "overdue_by_unit", "red_cases")}
    return {"counts": result["counts"], "ids": [item["id"] for item in result["items"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    add_scale_argument(parser, default="both")
    options = parser.parse_args()
    for scale in scales(options.scale):
        run_scale(scale, options.runs)


if __name__ == "__main__":
    main()
