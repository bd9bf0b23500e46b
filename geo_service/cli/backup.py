"""``geo-service db backup | restore | basebackup | recover``: backups that are known to restore."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from geo_service.cli.errors import reported
from geo_service.cli.help_text import help_text
from geo_service.cli.terminal import fail, line, say
from geo_service.db.backup import backup as dump_database
from geo_service.db.backup import restore as restore_database
from geo_service.db.cluster import ClusterError, LocalCluster
from geo_service.errors import InvalidInput
from geo_service.i18n import reason_of, t
from geo_service.settings import get_settings
from geo_service.times import read_time

console = Console(stderr=True, log_path=False, soft_wrap=True)


def _fail(message: str) -> None:
    fail(console, message)


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB"


def backup(
    out: Path = typer.Argument(
        ..., help=help_text(t("The file to write (pg_dump's custom format); never overwritten"))
    ),
) -> None:
    """``geo-service db backup`` (its help: in :func:`register`)."""
    with reported():
        done = dump_database(get_settings(), out)
    answers = done.kept["answers"]
    said = t(
        "backed up to {path} ({size}) in {seconds:.1f} s, as at {taken_at}; {count} answers kept in {kept}",
        path=str(done.path),
        size=_megabytes(done.size_bytes),
        seconds=done.seconds,
        taken_at=done.kept["taken_at"],
        count=len(answers),
        kept=f"{done.path.name}.check.json",
    )
    say(console, said)


def restore(
    dump: Path = typer.Argument(..., help=help_text(t("A file made by `geo-service db backup`"))),
    into: str = typer.Option(
        ..., "--into", help=help_text(t("Name of the new database to restore into (on the same server)"))
    ),
    check: bool = typer.Option(
        True, "--check/--no-check", help=help_text(t("Compare the restored database with the backup"))
    ),
) -> None:
    """``geo-service db restore`` (its help: in :func:`register`)."""
    with reported():
        done = restore_database(get_settings(), dump, into, check=check)
    said = t(
        "restored {dump} into the database {database} in {seconds:.1f} s",
        dump=str(dump),
        database=done.database,
        seconds=done.seconds,
    )
    say(console, said)
    if not check:
        return
    out = Console(highlight=False, soft_wrap=True)
    say(out, t("{database} against the backup:", database=done.database))
    for c in done.checks:
        if c.same:
            say(out, t("  same       {what}: {restored}", what=c.what, restored=c.restored), "green", len("  一致"))
        else:
            said = t(
                "  DIFFERENT  {what}: backed up {backed_up}, restored {restored}",
                what=c.what,
                backed_up=c.backed_up,
                restored=c.restored,
            )
            say(out, said, "red", len("  不一致"))
    different = [c for c in done.checks if not c.same]
    if different:
        _fail(
            t(
                "{count} of {total} answers differ: the restore is not the backed-up database",
                count=len(different),
                total=len(done.checks),
            )
        )
    say(console, t("all {total} answers are the same: the restore holds what was backed up", total=len(done.checks)))


def _local_cluster() -> LocalCluster:
    settings = get_settings()
    if not settings.database.uses_local_cluster:
        _fail(
            t(
                "DATABASE_URL is set: base backups and point-in-time recovery are for the local cluster; "
                "an external database's are its administrator's (`geo-service db backup` works for both)"
            )
        )
    return LocalCluster(settings.database, log=lambda message: console.log(line(message)))


def basebackup(
    out: Path = typer.Argument(..., help=help_text(t("A new folder for the copy of the cluster (OUT/data)"))),
) -> None:
    """``geo-service db basebackup`` (its help: in :func:`register`)."""
    from geo_service.db.pitr import base_backup

    try:
        done = base_backup(_local_cluster(), out)
    except ClusterError as exc:
        _fail(reason_of(exc))
    said = t(
        "base backup in {folder} ({size}), finished {finished}; recovery replays the WAL archived in {archive} after it",
        folder=str(done.folder),
        size=_megabytes(done.size_bytes),
        finished=done.finished_at.isoformat(),
        archive=str(done.archive_dir),
    )
    say(console, said)


def recover(
    base: Path = typer.Argument(..., help=help_text(t("A folder made by `geo-service db basebackup`"))),
    to: str = typer.Option(
        ..., "--to", help=help_text(t("The moment to recover to (without a zone: the county's time)"))
    ),
    into: Path = typer.Option(..., "--into", help=help_text(t("A new folder for the recovered cluster"))),
    port: int = typer.Option(55433, help=help_text(t("Port of the recovered cluster (127.0.0.1)"))),
    archive: Path = typer.Option(
        None, help=help_text(t("The WAL archive (default: the one the base backup recorded)"))
    ),
) -> None:
    """``geo-service db recover`` (its help: in :func:`register`)."""
    from geo_service.db.pitr import recover as recover_cluster

    settings = get_settings()
    moment = read_time(to, settings.place.timezone)
    if moment is None:
        with reported():
            raise InvalidInput(
                t("--to {to!r} is not a time: give e.g. 2026-11-10T09:30:00 or 2026-11-10 09:30+08:00", to=to)
            )
    try:
        cluster = recover_cluster(base, moment, into, port, archive_dir=archive, log=lambda m: console.log(line(m)))
    except ClusterError as exc:
        _fail(reason_of(exc))
    env = f"GEO_SERVICE_PG_DIR={into} GEO_SERVICE_PG_PORT={port}"
    url = cluster.url()
    said = dict(moment=moment.isoformat(), root=str(cluster.root), port=port, url=url)
    say(console, t("recovered to {moment}: a cluster in {root} on 127.0.0.1:{port}, database {url}", **said))
    say(
        console,
        t(
            "  look:  {command}   (or {other})",
            command=f"{env} geo-service db status",
            other=f"DATABASE_URL={url} geo-service ...",
        ),
    )
    say(console, t("  keep what you need: {command}", command=f"DATABASE_URL={url} geo-service db backup FILE"))
    say(console, t("  stop it: {command}", command=f"{env} geo-service db down"))


def register(app: typer.Typer) -> None:
    """Add these commands to ``geo-service db``, with their help."""
    said = t("Back up the database with pg_dump; what it answers is kept beside it (OUT.check.json)")
    app.command(help=help_text(said))(backup)
    said = t("Restore a backup into a new database and check it answers as the backed-up one did")
    app.command(help=help_text(said))(restore)
    said = t("Copy the whole running local cluster (pg_basebackup), the start of point-in-time recovery")
    app.command(help=help_text(said))(basebackup)
    said = t("Build a second cluster as the local one was at a moment (point-in-time recovery)")
    app.command(help=help_text(said))(recover)
