"""Entry point of the ``geo-service`` command."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import typer

from geo_service.cli import audit, boundaries, county, db, demo, rules, systemd, users
from geo_service.cli.errors import error_line, reported
from geo_service.cli.help_text import HelpedGroup, help_text
from geo_service.cli.outbox import outbox_app
from geo_service.cli.terminal import echo
from geo_service.i18n import Codes, t

app = typer.Typer(
    cls=HelpedGroup,
    help=help_text(t("geo_service: grids, officers, cameras and incidents of a county on PostGIS")),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")
app.add_typer(boundaries.app, name="boundaries")
app.add_typer(users.app, name="users")
app.add_typer(rules.app, name="rules")
app.add_typer(county.app, name="county")
app.command("audit", help=audit.HELP)(audit.audit_command)
app.command("systemd", help=systemd.HELP)(systemd.systemd_command)


@app.command(help=help_text(t("Where is this point: grid, village, town, officers to call and cameras that see it")))
def locate(
    lon: float = typer.Argument(..., help=help_text(t("Longitude"))),
    lat: float = typer.Argument(..., help=help_text(t("Latitude"))),
    crs: str = typer.Option("cgcs2000", help=help_text(t("Datum: cgcs2000, wgs84, gcj02 or bd09"))),
    at: datetime = typer.Option(None, help=help_text(t("Moment whose boundaries and officers apply (default now)"))),
    risk_colour: str = typer.Option("blue", help=help_text(t("Risk colour of the case: red, yellow or blue"))),
    as_json: bool = typer.Option(False, "--json", help=help_text(t("Print the API's JSON instead of a summary"))),
) -> None:
    from geo_service.cli.context import engine as cli_engine
    from geo_service.cli.context import settings as cli_settings
    from geo_service.cli.show import print_location
    from geo_service.lookup.locate import locate as locate_point

    with reported():
        location = locate_point(cli_engine(), lon, lat, crs, at, risk_colour=risk_colour, settings=cli_settings())
    if as_json:
        typer.echo(json.dumps(location.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_location(location.to_dict())


@app.command(
    help=help_text(
        t("Assign every point of a file to its grid, village and town; write them out or load them as incidents")
    )
)
def assign(
    source: Path = typer.Argument(
        ..., help=help_text(t("CSV (lon, lat columns), GeoJSON, GeoPackage or GeoParquet of points"))
    ),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help=help_text(t("Where to write the rows with their grids (.csv, .geojson, .gpkg, .parquet)")),
    ),
    load: bool = typer.Option(
        False,
        "--load",
        help=help_text(t("Record the rows as incidents (columns external_id, category, source, reported_at)")),
    ),
    crs: str = typer.Option("cgcs2000", help=help_text(t("Datum of every row: cgcs2000, wgs84, gcj02 or bd09"))),
    crs_column: str = typer.Option(None, help=help_text(t("Column giving each row's datum instead of --crs"))),
    at: datetime = typer.Option(
        None,
        help=help_text(
            t("Use the boundaries in force at this moment (default now; --load uses each row's reported_at)")
        ),
    ),
    all_or_nothing: bool = typer.Option(
        False, "--all-or-nothing", help=help_text(t("Write or load nothing if any row is in error"))
    ),
    lon_column: str = typer.Option("lon", help=help_text(t("CSV column of longitudes"))),
    lat_column: str = typer.Option("lat", help=help_text(t("CSV column of latitudes"))),
    errors_out: Path = typer.Option(None, help=help_text(t("Also write the rows in error (row, error) to this CSV"))),
) -> None:
    from geo_service.cases.batch import import_file
    from geo_service.cli.context import engine as cli_engine
    from geo_service.cli.context import settings as cli_settings
    from geo_service.lookup.bulk_assign import assign_file
    from geo_service.progress import rich_reporter

    if out is None and not load:
        typer.echo(error_line(t("give --out FILE, --load, or both")), err=True)
        raise typer.Exit(2)
    options = dict(
        crs=crs,
        crs_column=crs_column,
        all_or_nothing=all_or_nothing,
        lon_column=lon_column,
        lat_column=lat_column,
        settings=cli_settings(),
    )
    with reported(), rich_reporter() as reporter:
        if load:
            result = import_file(cli_engine(), source, out, actor="cli", reporter=reporter, **options)
            errors, summary_line, written = result.errors, result.summary(), result.committed
        else:
            summary = assign_file(cli_engine(), source, out, at=at, reporter=reporter, **options)
            errors, summary_line, written = summary.errors, summary.summary(), summary.written
    echo(summary_line, err=True)
    for row in errors.head(20).itertuples():
        echo(t("  row {row}: {problem}", row=row.row, problem=row.error), err=True)
    if len(errors) > 20:
        echo(t("  ... and {count:,} more", count=len(errors) - 20), err=True)
    if errors_out is not None:
        errors.to_csv(errors_out, index=False)
    if not written:
        said = (
            t("nothing loaded: --all-or-nothing and {count:,} rows in error", count=len(errors))
            if load
            else t("nothing written: --all-or-nothing and {count:,} rows in error", count=len(errors))
        )
        echo(said, err=True)
        raise typer.Exit(1)


@app.command(
    help=help_text(t("Take a step of a case's loop, as {request} does", request="POST /incidents/{id}/{action}"))
)
def case(
    action: str = typer.Argument(
        ...,
        help=help_text(
            t(
                "dispatch, accept, start, resolve, close, reject, merge, reopen, urge, "
                "escalate, request_extension or decide_extension"
            )
        ),
    ),
    incident_id: int = typer.Argument(..., help=help_text(t("The case's id"))),
    actor: str = typer.Option(..., help=help_text(t("Who takes the step (recorded on the timeline)"))),
    note: str = typer.Option(None, help=help_text(t("A note for the timeline"))),
    satisfaction: int = typer.Option(
        None, min=1, max=5, help=help_text(t("close: the follow-up visit's satisfaction, 1 to 5"))
    ),
    into: int = typer.Option(None, help=help_text(t("merge: the case this one duplicates"))),
    hours: int = typer.Option(None, min=1, help=help_text(t("request_extension: how many hours more"))),
    grant: bool = typer.Option(None, "--grant/--refuse", help=help_text(t("decide_extension: grant or refuse"))),
) -> None:
    from geo_service.cases.queries import get_incident
    from geo_service.cases.steps import take_step
    from geo_service.cli.context import engine as cli_engine
    from geo_service.cli.context import settings as cli_settings

    engine = cli_engine()
    with reported():
        with engine.begin() as connection:
            # Nobody signs in at the command line: the actor named is the one on record.
            status = take_step(
                connection,
                incident_id,
                action,
                actor,
                signed_in=actor,
                settings=cli_settings(),
                note=note,
                satisfaction=satisfaction,
                into=into,
                hours=hours,
                grant=grant,
            )
        with engine.connect() as connection:
            incident = get_incident(connection, incident_id)
    last = incident["timeline"][-1]
    said = dict(
        incident_id=incident_id,
        external_id=incident["external_id"],
        status=status,
        tier=incident["tier"],
        action=last["action"],
    )
    if last["note"]:
        echo(
            t(
                "incident {incident_id} ({external_id}): {status}, tier {tier}; {action}: {note}",
                **said,
                note=last["note"],
            )
        )
    else:
        echo(t("incident {incident_id} ({external_id}): {status}, tier {tier}; {action}", **said))
    allowed = Codes(incident["allowed_actions"], none="nothing (the case is finished)")
    echo(t("allowed now: {actions}", actions=allowed))


@app.command(help=help_text(t("What is overdue or about to be, by town and village")))
def sla(
    due_within: float = typer.Option(
        None, help=help_text(t("Also list what is due within this many hours (default: settings, 24)"))
    ),
    at: datetime = typer.Option(None, help=help_text(t("As at this moment (default now)"))),
    cases: bool = typer.Option(
        False, "--cases", help=help_text(t("List the cases themselves, the most overdue first"))
    ),
) -> None:
    from rich.console import Console

    from geo_service.cases.sla import sla_report
    from geo_service.cli.context import engine as cli_engine
    from geo_service.cli.context import settings as cli_settings
    from geo_service.cli.terminal import cell, cells, say, table
    from geo_service.i18n import label

    settings = cli_settings()
    with reported(), cli_engine().connect() as connection:
        report = sla_report(connection, at, due_within, settings.cases, settings.place.timezone, with_cases=cases)
    villages, listed = report["villages"], report.get("cases", [])
    moment = datetime.fromisoformat(report["at"])
    within = timedelta(hours=report["due_within_hours"])
    by_village = table(
        t("town"),
        t("village"),
        t("overdue"),
        t("due in {hours:g} h", hours=within.total_seconds() / 3600),
        t("worst (h late)"),
        title=t("time limits as at {moment} (county time)", moment=f"{moment:%Y-%m-%d %H:%M}"),
        right=(2, 3, 4),
    )
    for v in villages:
        by_village.add_row(
            *cells(v["town_name"], v["village_name"]),
            f"{v['overdue']:,}",
            f"{v['due_soon']:,}",
            ""
            if v["worst_overdue_hours"] is None or v["worst_overdue_hours"] <= 0
            else f"{v['worst_overdue_hours']:,}",
        )
    console = Console()
    console.print(by_village)
    say(
        console, t("{overdue:,} overdue, {due_soon:,} due soon", overdue=report["overdue"], due_soon=report["due_soon"])
    )
    if listed:
        detail = table(
            t("id"),
            t("external id"),
            t("status"),
            t("tier"),
            t("category"),
            t("colour"),
            t("deadline"),
            t("h late"),
            t("urged"),
            right=(0, 7, 8),
        )
        for c in listed:
            detail.add_row(
                str(c["id"]),
                cell(c["external_id"]),
                label(c["status"], "zh", "status"),
                label(c["tier"], "zh", "tier"),
                cell(c["category"]),
                label(c["risk_colour"], "zh", "risk"),
                c["deadline"][:16],
                f"{c['hours_past_deadline']}",
                str(c["urge_count"]),
            )
        console.print(detail)


app.add_typer(outbox_app, name="outbox")


@app.command(
    help=help_text(
        t("Serve the API (and its OpenAPI document at /docs); SIGTERM finishes the requests in flight and exits 0")
    )
)
def serve(
    host: str = typer.Option(None, help=help_text(t("Address to listen on (default: settings)"))),
    port: int = typer.Option(None, help=help_text(t("Port (default: settings)"))),
    workers: int = typer.Option(
        None,
        min=0,
        help=help_text(t("Worker processes (default: settings, GEO_SERVICE_WORKERS; 0: one per core)")),
    ),
) -> None:
    from geo_service.cli.context import settings as cli_settings
    from geo_service.serving import serve as run
    from geo_service.serving import worker_count

    serving = cli_settings().serving
    count = worker_count(serving.workers if workers is None else workers)
    run(host or serving.host, port or serving.port, count, graceful_timeout_s=serving.graceful_timeout_s)


if __name__ == "__main__":
    app()
