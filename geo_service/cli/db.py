"""``geo-service db``: the local cluster's life and the schema's migrations."""

from __future__ import annotations

import typer
from rich.console import Console

from geo_service.cli import backup
from geo_service.cli.errors import reported
from geo_service.cli.help_text import help_text
from geo_service.cli.terminal import fail, line, say
from geo_service.db import migrate, wal
from geo_service.db.cluster import ClusterError, LocalCluster
from geo_service.i18n import reason_of, t
from geo_service.settings import get_settings

app = typer.Typer(help=help_text(t("The database: the local PostgreSQL cluster and the schema")), no_args_is_help=True)
console = Console(stderr=True, log_path=False)


def _cluster() -> LocalCluster:
    return LocalCluster(get_settings().database, log=lambda message: console.log(line(message)))


def _fail(exc: Exception) -> None:
    fail(console, reason_of(exc))


@app.command(help=help_text(t("Install what is missing, start the local cluster and create the database (idempotent)")))
def up() -> None:
    settings = get_settings()
    if not settings.database.uses_local_cluster:
        say(console, t("DATABASE_URL is set: the service uses that database, no local cluster is started"))
        return
    try:
        status = _cluster().up()
    except ClusterError as exc:
        _fail(exc)
    say(console, status.describe())


@app.command(help=help_text(t("Stop the local cluster (its data stays)")))
def down() -> None:
    try:
        say(console, _cluster().down().describe())
    except ClusterError as exc:
        _fail(exc)


@app.command(help=help_text(t("Say whether the local cluster runs and which schema revision the database is at")))
def status() -> None:
    settings = get_settings()
    if settings.database.uses_local_cluster:
        cluster = _cluster()
        state = cluster.status()
        say(console, state.describe())
        if state.running:
            say(console, wal.describe_archiver(wal.archiver_state(cluster)))
    try:
        current = migrate.current_revision(settings.database.url)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is reported, not raised
        say(console, t("database unreachable: {reason}", reason=str(exc).splitlines()[0]))
        raise typer.Exit(1) from None
    head = migrate.head_revision()
    revision = current or t("none")
    if current == head:
        say(console, t("schema revision {revision}, up to date", revision=revision))
    else:
        say(
            console,
            t(
                "schema revision {revision}, behind: run `geo-service db migrate` (head is {head})",
                revision=revision,
                head=head,
            ),
        )


@app.command("migrate", help=help_text(t("Upgrade the schema to a revision (default: the newest)")))
def migrate_command(revision: str = typer.Argument("head", help=help_text(t("Target revision")))) -> None:
    with reported():
        migrate.upgrade(get_settings().database.url, revision)
    say(console, t("schema at {revision}", revision=migrate.current_revision(get_settings().database.url)))


@app.command(help=help_text(t("Downgrade the schema to a revision")))
def downgrade(
    revision: str = typer.Argument(..., help=help_text(t("Target revision, or 'base' for an empty schema"))),
) -> None:
    with reported():
        migrate.downgrade(get_settings().database.url, revision)
    say(console, t("schema at {revision}", revision=migrate.current_revision(get_settings().database.url) or "base"))


backup.register(app)
