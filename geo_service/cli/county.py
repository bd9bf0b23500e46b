"""``geo-service county``: a county's own data, loaded from the files it holds."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from geo_service.cli.errors import reported
from geo_service.cli.help_text import help_text
from geo_service.cli.terminal import cell, say, table, zh
from geo_service.county.fields import KIND_NAMES
from geo_service.county.report import ImportReport, Problem
from geo_service.i18n import Message, t

app = typer.Typer(help=help_text(t("A county's own data: import its files")), no_args_is_help=True)
out = Console()
MAX_PROBLEMS_SHOWN = 60
# The gaps of a report as a line names them (the English is the gap's own key).
GAP_NAMES = {
    "grids_without_grid_worker": t("grids_without_grid_worker"),
    "villages_without_party_secretary": t("villages_without_party_secretary"),
    "villages_without_police": t("villages_without_police"),
}


@app.command(
    "import",
    help=help_text(
        t(
            "Load a county from its files: outline, towns, villages, grids, roster, cameras, past cases. "
            "Each file's kind is recognised from its columns; every problem is listed with its file, row "
            "and column. Nothing is stored when any row is in error, unless --skip-bad-rows"
        )
    ),
)
def import_command(
    paths: list[Path] = typer.Argument(..., exists=True, help=help_text(t("Files, or folders of them"))),
    dry_run: bool = typer.Option(False, "--dry-run", help=help_text(t("Check everything, store nothing"))),
    crs: list[str] = typer.Option(
        [],
        "--crs",
        help=help_text(t("DATUM for files that do not say theirs, or FILE=DATUM for one file (repeatable)")),
    ),
    skip_bad_rows: bool = typer.Option(
        False, "--skip-bad-rows", help=help_text(t("Load the good rows, list the others"))
    ),
    report_path: Path = typer.Option(None, "--report", help=help_text(t("Write the whole report here as JSON"))),
    notify_open: bool = typer.Option(
        False, "--notify-open", help=help_text(t("Tell the people bound to open cases imported"))
    ),
) -> None:
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
        report.write(report_path)  # in Chinese: the county office fixing its files reads it
    show(report)
    if report.error_count and not report.stored:
        raise typer.Exit(2)


def show(report: ImportReport) -> None:
    """The report for a terminal, in Chinese with the English after it (``both``): the files, the
    first problems, the gaps, and what was stored."""
    headers = (t("file"), t("kind"), t("datum"), t("rows"), t("loaded"), t("errors"), t("warnings"))
    files = table(*headers, title=t("files"))
    files.columns[0].overflow = "fold"  # a long path wraps within its column
    for f in report.files:
        errors = len(f.errors)
        kind = zh(KIND_NAMES[f.kind]) if f.kind in KIND_NAMES else "?"
        files.add_row(
            cell(f.path), kind, f.datum or "", str(f.rows), str(f.loaded), str(errors), str(len(f.problems) - errors)
        )
    out.print(files)
    shown = 0
    for f in report.files:
        for p in f.problems[: MAX_PROBLEMS_SHOWN - shown]:
            say(out, _problem_line(f.path, p), "red" if p.severity == "error" else "yellow", 2)  # 错误 or 警告
            shown += 1
    total = report.error_count + report.warning_count
    if total > shown:
        say(out, t("... and {count} more problems (--report FILE.json lists them all)", count=total - shown))
    for gap, items in report.gaps.items():
        if items:
            say(out, t("gap: {gap}: {count}", gap=GAP_NAMES.get(gap, gap), count=len(items)))
    say(out, _verdict(report))


def _problem_line(path: str, problem: Problem) -> Message:
    """``error: towns.zip, row 3, 乡镇代码: reason`` (the row and column where it has them)."""
    where: str | Message = path if problem.row is None else t("{file}, row {row}", file=path, row=problem.row)
    if problem.column:
        where = t("{where}, {column}", where=where, column=problem.column)
    if problem.severity == "error":
        return t("error: {where}: {problem}", where=where, problem=problem.reason)
    return t("warning: {where}: {problem}", where=where, problem=problem.reason)


def _verdict(report: ImportReport) -> Message:
    if report.dry_run and report.error_count:
        return t("dry run: nothing stored (errors found)")
    if report.dry_run:
        return t("dry run: nothing stored; the import would succeed")
    if not report.stored:
        return t(
            "nothing stored: {count} errors (fix them, or --skip-bad-rows to load the rest)", count=report.error_count
        )
    if not report.changed:
        return t("nothing changed: the database already holds these files' contents")
    if report.error_count:
        return t("stored, leaving out the rows with {count} errors", count=report.error_count)
    return t("stored")
