"""``geo-service boundaries``: planners' versions of the grids."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from geo_service.cli.errors import both, reported
from geo_service.cli.help_text import help_text
from geo_service.cli.terminal import cell, echo, say, table, zh
from geo_service.i18n import Codes, label, t
from geo_service.settings import get_settings

app = typer.Typer(
    help=help_text(t("Boundary versions: import a draft, check it, weigh it, publish it, export any version")),
    no_args_is_help=True,
)
out_console = Console()
# A version's phase now (``versions.phases``), as the list shows it.
PHASES = {
    "draft": t("draft"),
    "scheduled": t("scheduled"),
    "in force": t("in force"),
    "superseded": t("superseded"),
    "retired": t("retired"),
}
# The lines of a draft's impact (``DraftImpact.summary``).
IMPACT_LINES = {
    "villages_changed": t("villages changed"),
    "grids_added": t("grids added"),
    "grids_removed": t("grids removed"),
    "grids_reshaped": t("grids reshaped"),
    "area_moved_m2": t("area moved (m²)"),
    "households_moved": t("households moved"),
    "incidents_moved": t("incidents moved"),
    "cameras_moved": t("cameras moved"),
    "officers_to_reassign": t("officers to reassign"),
    "grids_without_worker": t("grids without a grid worker"),
}
# The lines of the load per grid worker (``Workload.summary``, ``spread``).
WORKLOAD_LINES = {
    "grids": t("grids"),
    "grid_workers": t("grid workers"),
    "vacant_grids": t("grids without a grid worker"),
    "households_in_vacant_grids": t("households in grids without a grid worker"),
    "households_per_worker": t("households per grid worker"),
    "incidents_per_worker": t("incidents per grid worker"),
}
# Help texts several commands share.
DRAFT = help_text(t("Draft id or name"))
VERSION = help_text(t("Version id or name"))
BASE = help_text(t("Compare with this version (default the one in force)"))
SPREAD = {
    "median": t("median"),
    "top_decile_mean": t("mean of the top tenth"),
    "top_decile_to_median": t("top tenth to median"),
    "cv": t("coefficient of variation"),
}


def _engine():
    from geo_service.cli.context import engine as cli_engine

    return cli_engine()


@app.command(
    "list",
    help=help_text(t("Every version with its phase now (draft, scheduled, in force, superseded, retired)")),
)
def list_command() -> None:
    from geo_service.boundaries.versions import with_phases_now

    with reported(), _engine().connect() as connection:
        versions = with_phases_now(connection)
    listed = table(t("id"), t("name"), t("phase"), t("takes effect"), t("note"), right=(0,))
    for v, phase in versions:
        shown = zh(PHASES[phase]) if phase in PHASES else phase
        listed.add_row(
            str(v.id),
            cell(v.name),
            shown,
            v.effective_from.isoformat() if v.effective_from else "",
            cell(v.note),
        )
    out_console.print(listed)


def _print_summary(title: str, counts: dict[str, int]) -> None:
    """How many problems each check found, the checks by their Chinese names."""
    summary = table(t("check"), t("problems"), title=title, right=(1,))
    for check, n in counts.items():
        summary.add_row(label(check, "zh", "check"), str(n))
    out_console.print(summary)


def _wrote(path: Path | str) -> None:
    say(out_console, t("wrote {path}", path=str(path)))


@app.command("import", help=help_text(t("Import a file of grids as a draft, all or nothing, and report its checks")))
def import_command(
    source: Path = typer.Argument(..., help=help_text(t("GeoJSON, GeoPackage or zipped Shapefile of grids"))),
    crs: str = typer.Option(
        None, help=help_text(t("Datum of the coordinates (cgcs2000, wgs84, gcj02, bd09); default the file's CRS"))
    ),
    layer: str = typer.Option(None, help=help_text(t("The layer holding the grids, if the file has several"))),
    name: str = typer.Option(None, help=help_text(t("Name of the new draft"))),
    note: str = typer.Option(None, help=help_text(t("A note kept with the draft"))),
    partial: bool = typer.Option(
        False, "--partial", help=help_text(t("The file redraws only the villages it has grids in"))
    ),
    into: str = typer.Option(
        None, help=help_text(t("Replace the grids of this draft (id or name) instead of making a new one"))
    ),
) -> None:
    from geo_service.boundaries.drafts import import_draft
    from geo_service.boundaries.file_reading import read_boundary_file
    from geo_service.errors import GeoServiceError
    from geo_service.progress import rich_reporter

    settings = get_settings()
    try:
        with rich_reporter() as reporter:
            reporter.step(t("reading {source} ...", source=str(source)))
            boundary_file = read_boundary_file(
                source, crs=crs, layer=layer, max_features=settings.planning.boundary_import_max_features
            )
            result = import_draft(
                _engine(),
                boundary_file,
                name=name,
                note=note,
                partial=partial,
                into=into,
                settings=settings,
                reporter=reporter,
            )
    except GeoServiceError as exc:
        for problem in exc.detail.get("problems", [])[:50]:
            said = t(
                "  feature {feature} ({code}): {field}: {reason}",
                feature=problem["feature"],
                code=problem["code"],
                field=problem["field"],
                reason=problem["reason"],
            )
            echo(said, err=True)
        with reported():
            raise
    scope = (
        t("villages {codes}", codes=", ".join(result.replaced_villages))
        if result.replaced_villages
        else t("the whole county")
    )
    drafted = dict(name=result.version.name, id=result.version.id, grids=result.grids, scope=scope, datum=result.datum)
    if result.estimated:
        said = t(
            "draft {name} (id {id}): {grids} grids, {scope}, read as {datum}; {estimated} estimated from {base}",
            **drafted,
            estimated=Codes(result.estimated),
            base=result.base.name,
        )
    else:
        said = t("draft {name} (id {id}): {grids} grids, {scope}, read as {datum}", **drafted)
    say(out_console, said)
    _print_summary(t("checks"), result.problems)
    say(
        out_console,
        t("details: {command}", command=f"geo-service boundaries check {result.version.id} --out checks.geojson"),
    )


@app.command(help=help_text(t("What is wrong with a version, per grid, with where each problem is")))
def check(
    version: str = typer.Argument(..., help=VERSION),
    out: Path = typer.Option(
        None, "--out", "-o", help=help_text(t("Write the located problems as GeoJSON (open in QGIS)"))
    ),
) -> None:
    from geo_service.boundaries.checks import check_version
    from geo_service.boundaries.versions import find_version

    engine = _engine()
    with reported():
        with engine.connect() as connection:
            found = find_version(connection, version)
        report = check_version(engine, found.id, settings=get_settings())
    _print_summary(t("checks of {name}", name=found.name), report.summary())
    shown = report.problems[report.problems["severity"] == "error"].head(30)
    for row in shown.itertuples():
        line = Text.assemble(
            "  ", (label(row.check, "zh", "check"), "red"), f" {row.grid_code or row.unit_code}：{both(row.message)}"
        )
        out_console.print(line, soft_wrap=True)
    if out:
        out.write_text(json.dumps(report.to_geojson(), ensure_ascii=False))
        _wrote(out)
    if report.errors:
        raise typer.Exit(1)


@app.command(help=help_text(t("Accept the repaired shapes the checks offer for a draft's invalid grids")))
def repair(
    version: str = typer.Argument(..., help=DRAFT),
    code: list[str] = typer.Option(None, help=help_text(t("Only these grids (default every invalid one)"))),
) -> None:
    from geo_service.boundaries.publishing import repair_draft

    with reported():
        repaired = repair_draft(_engine(), version, code or None)
    if repaired:
        say(out_console, t("repaired {count} grids: {codes}", count=len(repaired), codes=", ".join(repaired)))
    else:
        say(out_console, t("repaired {count} grids", count=0))


@app.command(
    help=help_text(t("What publishing a draft would change: grids, area, incidents, cameras, households, officers"))
)
def impact(
    version: str = typer.Argument(..., help=DRAFT),
    base: str = typer.Option(None, help=BASE),
    months: int = typer.Option(
        None, help=help_text(t("Count incidents of this many recent months (default settings)"))
    ),
    out: Path = typer.Option(None, "--out", "-o", help=help_text(t("Write the full impact as JSON"))),
    map_out: Path = typer.Option(None, "--map", help=help_text(t("Write a map of the changed grids (HTML)"))),
) -> None:
    from geo_service.boundaries.impact import draft_impact, impact_map
    from geo_service.maps import save_html

    engine = _engine()
    with reported():
        result = draft_impact(engine, version, base=base, months=months, settings=get_settings())
    changes = table(
        t("change"),
        t("how much"),
        title=t("{draft} against {base}", draft=result.draft.name, base=result.base.name),
        right=(1,),
    )
    for key, value in result.summary().items():
        changes.add_row(zh(IMPACT_LINES[key]) if key in IMPACT_LINES else key.replace("_", " "), f"{value:,}")
    out_console.print(changes)
    if out:
        out.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1, default=str))
        _wrote(out)
    if map_out:
        save_html(impact_map(engine, result), map_out)
        _wrote(map_out)


@app.command(help=help_text(t("Households and incidents per grid worker, now and under the draft, with their spread")))
def workload(
    version: str = typer.Argument(..., help=DRAFT),
    base: str = typer.Option(None, help=BASE),
    months: int = typer.Option(None, help=help_text(t("Count incidents of this many recent months"))),
    village: list[str] = typer.Option(None, help=help_text(t("Only these villages"))),
) -> None:
    from geo_service.boundaries.workload import compare_workload

    with reported():
        compared = compare_workload(
            _engine(), version, base=base, months=months, villages=village or None, settings=get_settings()
        )
    now, draft = compared["now"], compared["draft"]
    load = table(t("measure"), t("now"), t("draft"), title=t("load per grid worker"), right=(1, 2))
    for key in ("grids", "grid_workers", "vacant_grids", "households_in_vacant_grids"):
        load.add_row(zh(WORKLOAD_LINES[key]), str(now[key]), str(draft[key]))
    for measure in ("households_per_worker", "incidents_per_worker"):
        for stat in ("median", "top_decile_mean", "top_decile_to_median", "cv"):
            load.add_row(
                f"{zh(WORKLOAD_LINES[measure])}：{zh(SPREAD[stat])}", str(now[measure][stat]), str(draft[measure][stat])
            )
    out_console.print(load)


@app.command(help=help_text(t("Publish a draft from a moment on (refused while its checks find errors)")))
def publish(
    version: str = typer.Argument(..., help=DRAFT),
    effective_from: datetime = typer.Option(
        ..., "--from", help=help_text(t("When it takes effect (no zone = the county's time)"))
    ),
) -> None:
    from geo_service.boundaries.publishing import publish as publish_version

    with reported():
        published = publish_version(_engine(), version, effective_from, settings=get_settings())
    said = t(
        "{name} is published and takes effect at {moment}",
        name=published.name,
        moment=published.effective_from.isoformat(),
    )
    say(out_console, said)


@app.command(help=help_text(t("Set a draft aside for good (kept for the record)")))
def retire(version: str = typer.Argument(..., help=DRAFT)) -> None:
    from geo_service.boundaries.drafts import retire_draft

    with reported():
        retired = retire_draft(_engine(), version)
    say(out_console, t("{name} is retired", name=retired.name))


@app.command(help=help_text(t("Write any version to a file in the datum the planner's tools use")))
def export(
    version: str = typer.Argument(..., help=VERSION),
    out: Path = typer.Option(
        ..., "--out", "-o", help=help_text(t(".geojson (grids) or .gpkg (county, towns, villages, grids)"))
    ),
    crs: str = typer.Option("cgcs2000", help=help_text(t("Datum of the file: cgcs2000, wgs84, gcj02 or bd09"))),
) -> None:
    from geo_service.boundaries.export import export_version

    with reported():
        path = export_version(_engine(), version, out, datum=crs)
    _wrote(path)
