"""``geo-service county``: a county's own data, loaded from the files it holds."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from geo_service.cli.errors import reported

app = typer.Typer(help="A county's own data: import its files.", no_args_is_help=True)
out = Console()
MAX_PROBLEMS_SHOWN = 60


@app.command("import")
def import_command(
    paths: list[Path] = typer.Argument(..., exists=True, help="Files, or folders of them."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check everything, store nothing."),
    crs: list[str] = typer.Option(
        [], "--crs", help="DATUM for files that do not say theirs, or FILE=DATUM for one file (repeatable)."
    ),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help="Load the good rows, list the others."),
    report_path: Path = typer.Option(None, "--report", help="Write the whole report here as JSON."),
    notify_open: bool = typer.Option(False, "--notify-open", help="Tell the people bound to open cases imported."),
) -> None:
    """Load a county from its files: outline, towns, villages, grids, roster, cameras, past cases.

    Each file's kind is recognised from its columns; every problem is listed with its file, row
    and column. Nothing is stored when any row is in error, unless --skip-bad-rows.
    """
    from geo_service.cli.context import engine, settings
    from geo_service.county.load import crs_options, import_county
    from geo_service.progress import rich_reporter

    default, by_file = crs_options(crs)
    with reported(), rich_reporter() as reporter:
        report = import_county(
            engine(),
            paths,
            settings=settings(),
            actor="cli",
            crs=default,
            crs_by_file=by_file,
            dry_run=dry_run,
            skip_bad_rows=skip_bad_rows,
            notify_open=notify_open,
            reporter=reporter,
        )
    if report_path:
        report.write(report_path)
    show(report)
    if report.error_count and not report.stored:
        raise typer.Exit(2)


def show(report) -> None:
    """The report for a terminal: the files, the first problems, the gaps, and what was stored."""
    files = Table("file", "kind", "datum", "rows", "loaded", "errors", "warnings", title="files")
    for f in report.files:
        errors = len(f.errors)
        files.add_row(
            f.path, f.kind or "?", f.datum or "", str(f.rows), str(f.loaded), str(errors), str(len(f.problems) - errors)
        )
    out.print(files)
    shown = 0
    for f in report.files:
        for p in f.problems:
            if shown == MAX_PROBLEMS_SHOWN:
                break
            where = f"{f.path}" + (f", row {p.row}" if p.row else "") + (f", {p.column}" if p.column else "")
            out.print(f"[{'red' if p.severity == 'error' else 'yellow'}]{p.severity}[/]: {where}: {p.reason}")
            shown += 1
    total = report.error_count + report.warning_count
    if total > shown:
        out.print(f"... and {total - shown} more problems (--report FILE.json lists them all)")
    for gap, items in report.gaps.items():
        if items:
            out.print(f"gap: {gap}: {len(items)}")
    if report.dry_run:
        verdict = "dry run: nothing stored" + (
            " (errors found)" if report.error_count else "; the import would succeed"
        )
    elif not report.stored:
        verdict = f"nothing stored: {report.error_count} errors (fix them, or --skip-bad-rows to load the rest)"
    elif not report.changed:
        verdict = "nothing changed: the database already holds these files' contents"
    else:
        verdict = "stored" + (f", leaving out the rows with {report.error_count} errors" if report.error_count else "")
    out.print(verdict)
