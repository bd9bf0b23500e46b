"""``geo-service audit``: read the audit log."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.console import Console

from geo_service.cli.errors import reported
from geo_service.cli.help_text import help_text
from geo_service.cli.terminal import cell, cells, table
from geo_service.i18n import t

out = Console()
HELP = help_text(t("Who changed or read what, when: every write and every unmasked read of personal data"))


def audit_command(
    since: datetime = typer.Option(None, help=help_text(t("At or after (no zone = the county's time)"))),
    actor: str = typer.Option(None, help=help_text(t("Only this user's entries"))),
    action: str = typer.Option(None, help=help_text(t("e.g. read_personal, user.add, boundaries.publish"))),
    entity: str = typer.Option(None, help=help_text(t("e.g. incident, user, boundary_version"))),
    entity_id: str = typer.Option(None, help=help_text(t("One entity's entries"))),
    limit: int = typer.Option(50, help=help_text(t("How many, newest first"))),
    as_json: bool = typer.Option(False, "--json", help=help_text(t("JSON lines instead of a table"))),
) -> None:
    """``geo-service audit`` (its help: :data:`HELP`)."""
    from geo_service.auth.audit import query
    from geo_service.cli.context import engine as cli_engine
    from geo_service.cli.context import settings

    with reported():
        rows, total = query(
            cli_engine(),
            zone=settings().place.timezone,
            since=since,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            limit=limit,
        )
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False, default=str))
        return
    entries = table(
        t("at"),
        t("actor"),
        t("action"),
        t("entity"),
        t("id"),
        t("after"),
        title=t("{count:,} of {total:,} entries", count=len(rows), total=total),
    )
    for r in rows:
        entries.add_row(
            *cells(r["at"][:19], r["actor"], r["action"], r["entity"], r["entity_id"]),
            cell(json.dumps(r["after"], ensure_ascii=False)[:60] if r["after"] else ""),
        )
    out.print(entries)
