"""``geo-service boundaries``: planners' versions of the grids."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from geo_service.cli.errors import both, reported
from geo_service.i18n import t
from geo_service.settings import get_settings

app = typer.Typer(
    help="Boundary versions: import a draft, check it, weigh it, publish it, export any version.", no_args_is_help=True
)
out_console = Console()


def _engine():
    from geo_service.cli.context import engine as cli_engine

    return cli_engine()


@app.command("list")
def list_command() -> None:
    """Every version with its phase now (draft, scheduled, in force, superseded, retired)."""
    from geo_service.boundaries.versions import with_phases_now

    with reported(), _engine().connect() as connection:
        versions = with_phases_now(connection)
    table = Table("id", "name", "phase", "takes effect", "note")
    for v, phase in versions:
        table.add_row(str(v.id), v.name, phase, v.effective_from.isoformat() if v.effective_from else "", v.note or "")
    out_console.print(table)


def _print_summary(title: str, counts: dict[str, int]) -> None:
    table = Table(title=title)
    table.add_column("check")
    table.add_column("problems", justify="right")
    for check, n in counts.items():
        table.add_row(check.replace("_", " "), str(n))
    out_console.print(table)


@app.command("import")
def import_command(
    source: Path = typer.Argument(..., help="GeoJSON, GeoPackage or zipped Shapefile of grids."),
    crs: str = typer.Option(
        None, help="Datum of the coordinates (cgcs2000, wgs84, gcj02, bd09); default the file's CRS."
    ),
    layer: str = typer.Option(None, help="The layer holding the grids, if the file has several."),
    name: str = typer.Option(None, help="Name of the new draft."),
    note: str = typer.Option(None, help="A note kept with the draft."),
    partial: bool = typer.Option(False, "--partial", help="The file redraws only the villages it has grids in."),
    into: str = typer.Option(None, help="Replace the grids of this draft (id or name) instead of making a new one."),
) -> None:
    """Import a file of grids as a draft, all or nothing, and report its checks."""
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
            typer.echo(
                f"  feature {problem['feature']} ({problem['code']}): {problem['field']}: {problem['reason']}", err=True
            )
        with reported():
            raise
    scope = "villages " + ", ".join(result.replaced_villages) if result.replaced_villages else "the whole county"
    out_console.print(
        f"draft [bold]{result.version.name}[/] (id {result.version.id}): {result.grids} grids, "
        f"{scope}, read as {result.datum}"
        + (f"; {' and '.join(result.estimated)} estimated from {result.base.name}" if result.estimated else "")
    )
    _print_summary("checks", result.problems)
    out_console.print(f"details: geo-service boundaries check {result.version.id} --out checks.geojson")


@app.command()
def check(
    version: str = typer.Argument(..., help="Version id or name."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the located problems as GeoJSON (open in QGIS)."),
) -> None:
    """What is wrong with a version, per grid, with where each problem is."""
    from geo_service.boundaries.checks import check_version
    from geo_service.boundaries.versions import find_version

    engine = _engine()
    with reported():
        with engine.connect() as connection:
            found = find_version(connection, version)
        report = check_version(engine, found.id, settings=get_settings())
    _print_summary(f"checks of {found.name}", report.summary())
    shown = report.problems[report.problems["severity"] == "error"].head(30)
    for row in shown.itertuples():
        out_console.print(
            f"  [red]{row.check}[/] {escape(row.grid_code or row.unit_code)}: {escape(both(row.message))}"
        )
    if out:
        out.write_text(json.dumps(report.to_geojson(), ensure_ascii=False))
        out_console.print(f"wrote {out}")
    if report.errors:
        raise typer.Exit(1)


@app.command()
def repair(
    version: str = typer.Argument(..., help="Draft id or name."),
    code: list[str] = typer.Option(None, help="Only these grids (default every invalid one)."),
) -> None:
    """Accept the repaired shapes the checks offer for a draft's invalid grids."""
    from geo_service.boundaries.publishing import repair_draft

    with reported():
        repaired = repair_draft(_engine(), version, code or None)
    out_console.print(f"repaired {len(repaired)} grids" + (f": {', '.join(repaired)}" if repaired else ""))


@app.command()
def impact(
    version: str = typer.Argument(..., help="Draft id or name."),
    base: str = typer.Option(None, help="Compare with this version (default the one in force)."),
    months: int = typer.Option(None, help="Count incidents of this many recent months (default settings)."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the full impact as JSON."),
    map_out: Path = typer.Option(None, "--map", help="Write a map of the changed grids (HTML)."),
) -> None:
    """What publishing a draft would change: grids, area, incidents, cameras, households, officers."""
    from geo_service.boundaries.impact import draft_impact, impact_map
    from geo_service.maps import save_html

    engine = _engine()
    with reported():
        result = draft_impact(engine, version, base=base, months=months, settings=get_settings())
    table = Table(title=f"{result.draft.name} against {result.base.name}")
    table.add_column("")
    table.add_column("", justify="right")
    for key, value in result.summary().items():
        table.add_row(key.replace("_", " "), str(value))
    out_console.print(table)
    if out:
        out.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1, default=str))
        out_console.print(f"wrote {out}")
    if map_out:
        save_html(impact_map(engine, result), map_out)
        out_console.print(f"wrote {map_out}")


@app.command()
def workload(
    version: str = typer.Argument(..., help="Draft id or name."),
    base: str = typer.Option(None, help="Compare with this version (default the one in force)."),
    months: int = typer.Option(None, help="Count incidents of this many recent months."),
    village: list[str] = typer.Option(None, help="Only these villages."),
) -> None:
    """Households and incidents per grid worker, now and under the draft, with their spread."""
    from geo_service.boundaries.workload import compare_workload

    with reported():
        both = compare_workload(
            _engine(), version, base=base, months=months, villages=village or None, settings=get_settings()
        )
    table = Table("", "now", "draft", title="load per grid worker")
    for key in ("grids", "grid_workers", "vacant_grids", "households_in_vacant_grids"):
        table.add_row(key.replace("_", " "), str(both["now"][key]), str(both["draft"][key]))
    for measure in ("households_per_worker", "incidents_per_worker"):
        for stat in ("median", "top_decile_mean", "top_decile_to_median", "cv"):
            table.add_row(
                f"{measure.replace('_', ' ')}: {stat.replace('_', ' ')}",
                str(both["now"][measure][stat]),
                str(both["draft"][measure][stat]),
            )
    out_console.print(table)


@app.command()
def publish(
    version: str = typer.Argument(..., help="Draft id or name."),
    effective_from: datetime = typer.Option(..., "--from", help="When it takes effect (no zone = the county's time)."),
) -> None:
    """Publish a draft from a moment on (refused while its checks find errors)."""
    from geo_service.boundaries.publishing import publish as publish_version

    with reported():
        published = publish_version(_engine(), version, effective_from, settings=get_settings())
    out_console.print(f"{published.name} is published and takes effect at {published.effective_from.isoformat()}")


@app.command()
def retire(version: str = typer.Argument(..., help="Draft id or name.")) -> None:
    """Set a draft aside for good (kept for the record)."""
    from geo_service.boundaries.drafts import retire_draft

    with reported():
        retired = retire_draft(_engine(), version)
    out_console.print(f"{retired.name} is retired")


@app.command()
def export(
    version: str = typer.Argument(..., help="Version id or name."),
    out: Path = typer.Option(..., "--out", "-o", help=".geojson (grids) or .gpkg (county, towns, villages, grids)."),
    crs: str = typer.Option("cgcs2000", help="Datum of the file: cgcs2000, wgs84, gcj02 or bd09."),
) -> None:
    """Write any version to a file in the datum the planner's tools use."""
    from geo_service.boundaries.export import export_version

    with reported():
        path = export_version(_engine(), version, out, datum=crs)
    out_console.print(f"wrote {path}")
