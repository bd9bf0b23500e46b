"""Logical backups of the service's database: ``pg_dump`` in its custom format, restored with
``pg_restore`` into a new database, and checked against the answers kept when it was taken
(``geo_service.db.backup_check``).

The dump and the kept answers come from one snapshot: the backup exports the snapshot of a
read-only transaction, ``pg_dump --snapshot`` dumps exactly it, and the questions are answered
inside it while the dump runs. So the comparison after a restore holds even for a database that
kept taking cases during the backup. The programs are the local cluster's own (its version), or
the ones on PATH for an external database (``DATABASE_URL``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from geo_service.db import backup_check
from geo_service.db.backup_check import Check
from geo_service.db.cluster import SUPERUSER, LocalCluster, find_bindir
from geo_service.errors import GeoServiceError
from geo_service.i18n import t
from geo_service.settings import Settings

DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Objects of the extension itself: the new database has PostGIS already, and only its owner may
# comment on it, so these are left out of a restore; so is PostGIS's table of projections when the
# dump holds none of its own rows (writing even none of them needs a right a service role lacks).
_EXTENSION_ENTRY = re.compile(r"^\d+; \d+ \d+ (EXTENSION|COMMENT - EXTENSION) ")
_PROJECTIONS_ENTRY = re.compile(r"^\d+; \d+ \d+ TABLE DATA public spatial_ref_sys ")


class BackupError(GeoServiceError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size_bytes: int
    seconds: float
    kept: dict


@dataclass(frozen=True)
class Restore:
    database: str
    url: str
    seconds: float
    checks: list[Check]

    @property
    def same(self) -> bool:
        return all(c.same for c in self.checks)


def _program(name: str, settings: Settings) -> str:
    """``name`` from the local cluster's binaries, or from PATH for an external database."""
    if settings.database.uses_local_cluster:
        bindir, _ = find_bindir()
        if bindir is not None and (bindir / name).exists():
            return str(bindir / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            t("{name} is not installed: install PostgreSQL's client programs (postgresql-client)", name=name)
        )
    return found


def _libpq(url: str, *, database: str | None = None, superuser: bool = False) -> tuple[str, dict | None]:
    """A libpq connection URI for ``url`` (the password passed in the environment, not argv)."""
    parsed = make_url(url)
    target = parsed.set(drivername="postgresql", password=None, database=database or parsed.database)
    if superuser:
        target = target.set(username=SUPERUSER)
    env = {**os.environ, "PGPASSWORD": parsed.password} if parsed.password else None
    return target.render_as_string(hide_password=False), env


def _utc_engine(url: str):
    """An engine of one connection speaking UTC, so every time is answered alike on both sides."""
    return create_engine(url, poolclass=pool.NullPool, connect_args={"options": "-c timezone=UTC"})


def _run(args: list[str], env: dict | None, what: str) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BackupError(
            t("{what} failed: {value}", what=what, value=done.stderr.strip()[-2000:] or done.stdout.strip()[-2000:])
        )
    return done


def backup(settings: Settings, out: Path) -> Backup:
    """Dump the settings' database into ``out`` (custom format), its answers beside it."""
    out = out.resolve()
    kept_path = backup_check.check_file(out)
    if out.exists() or kept_path.exists():
        raise BackupError(t("{out} exists: a backup never overwrites one, choose a new name", out=out))
    if not out.parent.is_dir():
        raise BackupError(t("the folder {parent} does not exist", parent=out.parent))
    url = settings.database.url
    conninfo, env = _libpq(url, superuser=settings.database.uses_local_cluster)
    partial = out.with_name(out.name + ".partial")
    started = time.perf_counter()
    engine = _utc_engine(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar()
            dump = subprocess.Popen(
                [_program("pg_dump", settings), "--format=custom", f"--snapshot={snapshot}", "--file", str(partial)]
                + ["--dbname", conninfo],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            try:
                kept = backup_check.take(connection, settings)  # the snapshot stays exported meanwhile
            finally:
                _, errors = dump.communicate()
        if dump.returncode != 0:
            raise BackupError(t("pg_dump failed: {value}", value=errors.strip()[-2000:]))
        partial.rename(out)
        kept_path.write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n")
    finally:
        engine.dispose()
        partial.unlink(missing_ok=True)
    return Backup(out, out.stat().st_size, time.perf_counter() - started, kept)


def _create_database(settings: Settings, name: str) -> None:
    if settings.database.uses_local_cluster:
        cluster = LocalCluster(settings.database, log=lambda message: None)
        if cluster.database_exists(name):
            raise BackupError(
                t("database {name} exists: a restore makes a new database, choose another name", name=name)
            )
        cluster.create_database(name)
        return
    engine = create_engine(settings.database.url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                raise BackupError(
                    t("database {name} exists: a restore makes a new database, choose another name", name=name)
                )
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def _drop_database(settings: Settings, name: str) -> None:
    if settings.database.uses_local_cluster:
        LocalCluster(settings.database, log=lambda message: None).drop_database(name)
        return
    engine = create_engine(settings.database.url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def _own_projections(pg_restore: str, dump: Path) -> bool:
    """Whether the dump holds projections added to PostGIS's own (rows of spatial_ref_sys)."""
    data = subprocess.run(
        [pg_restore, "--data-only", "--table=spatial_ref_sys", "--file=-", str(dump)], capture_output=True, text=True
    ).stdout
    rows = data.split("FROM stdin;", 1)[1].split("\\.", 1)[0] if "FROM stdin;" in data else ""
    return bool(rows.strip())


def _with_postgis(url: str) -> None:
    """PostGIS in the new database (a local cluster's databases have it from template1)."""
    engine = _utc_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    finally:
        engine.dispose()


def restore(settings: Settings, dump: Path, into: str, *, check: bool = True, jobs: int = 2) -> Restore:
    """Restore ``dump`` into a new database ``into`` on the settings' server, then (``check``)
    compare its answers with those kept at the backup. Nothing is left of a failed restore."""
    if not DATABASE_NAME.fullmatch(into):
        raise BackupError(t("database name {into!r}: use lower-case letters, digits and _ (at most 63)", into=into))
    if not dump.is_file():
        raise BackupError(t("{dump} is not a file", dump=dump))
    kept = backup_check.read_check_file(dump) if check else None
    pg_restore = _program("pg_restore", settings)
    listing = subprocess.run([pg_restore, "--list", str(dump)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(
            t("{dump} is not a backup made by `geo-service db backup` (pg_dump's custom format)", dump=dump)
        )
    local = settings.database.uses_local_cluster
    started = time.perf_counter()
    _create_database(settings, into)
    url = make_url(settings.database.url).set(database=into).render_as_string(hide_password=False)
    conninfo, env = _libpq(url, superuser=local)
    try:
        skipped = [_EXTENSION_ENTRY] + ([_PROJECTIONS_ENTRY] if not _own_projections(pg_restore, dump) else [])
        with tempfile.NamedTemporaryFile("w", suffix=".list") as entries:
            entries.writelines(
                line + "\n" for line in listing.stdout.splitlines() if not any(p.match(line) for p in skipped)
            )
            entries.flush()
            _with_postgis(url)
            _run(
                [pg_restore, "--exit-on-error", f"--jobs={jobs}", f"--use-list={entries.name}", "--dbname", conninfo]
                + ([] if local else ["--no-owner"])
                + [str(dump)],
                env,
                "pg_restore",
            )
        engine = _utc_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))  # a restored database has no planner statistics
            checks = []
            if kept is not None:
                with engine.connect() as connection:
                    checks = backup_check.compare(kept, connection, settings)
        finally:
            engine.dispose()
    except BaseException:
        _drop_database(settings, into)
        raise
    return Restore(into, url, time.perf_counter() - started, checks)
