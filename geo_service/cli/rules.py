"""``geo-service rules``: the county's rules (categories, sources, roles, camera kinds, job titles,
names of values, responsibility rules, time limits) exported to files and imported from them."""

from __future__ import annotations

from pathlib import Path

import typer

from geo_service.cli.errors import both, error_line, reported
from geo_service.cli.help_text import help_text
from geo_service.errors import Conflict, InvalidInput
from geo_service.i18n import t
from geo_service.rules.tables import Problem

app = typer.Typer(
    help=help_text(t("Rules: export to CSV or xlsx files, edit them, import them back")), no_args_is_help=True
)


def _engine():
    from geo_service.cli.context import engine as cli_engine

    return cli_engine()


@app.command(help=help_text(t("Write the rule tables as files to edit and import back")))
def export(
    folder: Path = typer.Argument(..., help=help_text(t("Folder to write into (made if missing)"))),
    fmt: str = typer.Option(
        "csv", "--format", help=help_text(t("csv: a file per table; xlsx: rules.xlsx, a sheet per table"))
    ),
) -> None:
    from geo_service.rules.admin import export_rules

    with reported(), _engine().connect() as connection:
        paths = export_rules(connection, folder, fmt=fmt)
    for path in paths:
        typer.echo(path)


@app.command(
    "import",
    help=help_text(
        t("Make the rule tables given the county's rules (tables not given stay as they are); all or nothing")
    ),
)
def import_command(
    path: Path = typer.Argument(
        ..., help=help_text(t("A folder of CSV/xlsx files named after the tables, or one such file"))
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help=help_text(t("Check and say what would change; store nothing"))
    ),
    actor: str = typer.Option("cli", help=help_text(t("Who makes the change (recorded in the audit log)"))),
) -> None:
    from geo_service.rules.admin import import_rules

    with reported():
        try:
            with _engine().begin() as connection:
                change = import_rules(connection, path, actor=actor, dry_run=dry_run)
        except (InvalidInput, Conflict) as exc:
            if not exc.detail.get("problems"):
                raise
            _print_problems(exc)
            raise typer.Exit(2) from None
    for line in change.lines():
        typer.echo(both(line))


def _print_problems(exc: InvalidInput | Conflict) -> None:
    """Every problem on its own line, in Chinese then English (``reported`` would print only the first)."""
    problems = exc.detail["problems"]
    said = (
        t("1 problem; nothing was changed")
        if len(problems) == 1
        else t("{count} problems; nothing was changed", count=len(problems))
    )
    typer.echo(error_line(said), err=True)
    for problem in problems:
        typer.echo(f"  {both(Problem(**problem).said())}", err=True)
