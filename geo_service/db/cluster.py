"""The project-local PostgreSQL cluster with PostGIS that ``geo-service db up`` runs.

The cluster lives in a git-ignored folder of the checkout (``var/postgres`` by default), listens
on 127.0.0.1 and a socket of its own at a port of its own, and trusts local connections: it is a
developer's and the test suite's database, not a deployment's (a deployment sets ``DATABASE_URL``).

``initdb`` refuses to run as root, so when we are root the cluster's files belong to the
``postgres`` system user (created by Debian's packages) and every server command runs through
``runuser -u postgres --``.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

from geo_service.i18n import Message, t
from geo_service.settings import DatabaseSettings

SUPERUSER = "postgres"
DEBIAN_PACKAGES = ("postgresql", "postgresql-contrib", "postgresql-postgis")
SERVER_OPTIONS = {
    # Tuned for a 2-core developer machine loading a county: bigger buffers for the bulk load,
    # minimal WAL because nothing replicates from this cluster (unless its WAL is archived:
    # geo_service.db.wal then sets what archiving needs).
    "shared_buffers": "512MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "2GB",
    "max_connections": "100",
    # Containers often give /dev/shm only 64 MB; parallel queries then fail with posix segments.
    "dynamic_shared_memory_type": "mmap",
    "timezone": "'UTC'",
}


class ClusterError(RuntimeError):
    """The local cluster cannot be set up or reached; the message says what to do."""


@dataclass(frozen=True)
class ClusterStatus:
    data_dir: Path
    initialised: bool
    running: bool
    port: int
    bindir: Path | None
    postgis: bool

    def describe(self) -> Message:
        """The cluster's state in one line."""
        if not self.initialised:
            state = t("not initialised")
        else:
            state = t("running") if self.running else t("stopped")
        return t(
            "local cluster {state}: data {data_dir}, port {port}, binaries {bindir}, PostGIS {postgis}",
            state=state,
            data_dir=str(self.data_dir),
            port=self.port,
            bindir=str(self.bindir) if self.bindir else t("not found"),
            postgis=t("available") if self.postgis else t("missing"),
        )


def _is_root() -> bool:
    return os.geteuid() == 0


def _version_key(path: Path) -> float:
    try:
        return float(path.name)
    except ValueError:
        return -1.0


def find_bindir() -> tuple[Path | None, bool]:
    """The newest installed PostgreSQL server's binaries, preferring one with PostGIS."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: _version_key(p.parent.parent), reverse=True
    )
    with_postgis = [
        v for v in versions if Path(f"/usr/share/postgresql/{v.parent.parent.name}/extension/postgis.control").exists()
    ]
    if with_postgis:
        return with_postgis[0].parent, True
    if versions:
        return versions[0].parent, False
    initdb = shutil.which("initdb")
    if initdb:
        bindir = Path(initdb).parent
        share = subprocess.run([bindir / "pg_config", "--sharedir"], capture_output=True, text=True)
        has_postgis = share.returncode == 0 and Path(share.stdout.strip(), "extension", "postgis.control").exists()
        return bindir, has_postgis
    return None, False


def install_packages(log=print) -> None:
    """Install PostgreSQL and PostGIS from the distribution, when we may."""
    command = ["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES]
    if not _is_root():
        raise ClusterError(
            t(
                "PostgreSQL with PostGIS is not installed and installing it needs root: run\n"
                "  sudo apt-get update && sudo {command}\n"
                "or point DATABASE_URL at an existing PostGIS database.",
                command=" ".join(command),
            )
        )
    if shutil.which("apt-get") is None:
        raise ClusterError(
            t(
                "PostgreSQL with PostGIS is not installed and this system has no apt-get: install them "
                "with the system's package manager, or set DATABASE_URL to an existing PostGIS database."
            )
        )
    log(t("installing PostgreSQL and PostGIS from the distribution's packages ..."))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["apt-get", "update", "-q"], command):
        done = subprocess.run(step, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise ClusterError(t("`{command}` failed:\n{output}", command=" ".join(step), output=done.stderr[-2000:]))


class LocalCluster:
    """Life of the project-local cluster: ``up``, ``down``, ``status``."""

    def __init__(self, settings: DatabaseSettings, log=print) -> None:
        self.settings = settings
        self.log = log
        self.root = self._reachable(settings.pg_dir.resolve())
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "run"
        self.logfile = self.root / "postgres.log"
        self.port = settings.pg_port

    def _reachable(self, wanted: Path) -> Path:
        """``wanted``, or when we are root and the ``postgres`` user cannot reach it (a checkout
        under /root, say), a folder of its own under /var/lib named after ``wanted``."""
        if not _is_root() or shutil.which("runuser") is None:
            return wanted
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return wanted  # up() installs the packages, which create the user; checked again then
        existing = next(p for p in (wanted, *wanted.parents) if p.exists())
        if subprocess.run(["runuser", "-u", SUPERUSER, "--", "test", "-x", str(existing)]).returncode == 0:
            return wanted
        digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:12]
        return Path("/var/lib/geo-service") / f"postgres-{digest}"

    # -- running server commands as the right user -------------------------------------------
    def _run(self, args: list[str | Path], check: bool = True) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if _is_root():
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if check and done.returncode != 0:
            output = done.stdout[-1500:] + done.stderr[-2500:]
            raise ClusterError(t("`{command}` failed:\n{output}", command=" ".join(command), output=output))
        return done

    def _prepare_folders(self) -> None:
        if self.root != self.settings.pg_dir.resolve():
            self.log(
                t(
                    "the postgres user cannot reach {asked}: the cluster lives in {root}",
                    asked=str(self.settings.pg_dir),
                    root=str(self.root),
                )
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if not _is_root():
            return
        try:
            account = pwd.getpwnam(SUPERUSER)
        except KeyError as exc:  # the packages create this user; without it we cannot drop root
            raise ClusterError(t("there is no `postgres` system user: install the postgresql package")) from exc
        for path in _tree(self.root, self.socket_dir):
            try:
                if os.lstat(path).st_uid != account.pw_uid:
                    os.chown(path, account.pw_uid, account.pw_gid)
            except FileNotFoundError:  # a running cluster's temporary files come and go
                continue
        probe = subprocess.run(["runuser", "-u", SUPERUSER, "--", "test", "-w", str(self.root)])
        if probe.returncode != 0:
            raise ClusterError(
                t(
                    "the `postgres` user cannot reach {root} (a parent folder is private, such as "
                    "/root): set GEO_SERVICE_PG_DIR to a folder it can reach, e.g. /var/tmp/geo_service",
                    root=str(self.root),
                )
            )

    # -- state ---------------------------------------------------------------------------------
    def status(self) -> ClusterStatus:
        bindir, postgis = find_bindir()
        initialised = (self.data_dir / "PG_VERSION").exists()
        running = False
        if initialised and bindir is not None:
            running = self._run([bindir / "pg_ctl", "status", "-D", self.data_dir], check=False).returncode == 0
        return ClusterStatus(self.data_dir, initialised, running, self.port, bindir, postgis)

    # -- up and down ---------------------------------------------------------------------------
    def up(self) -> ClusterStatus:
        """Install what is missing, initialise, start, and create the service's role and database.

        Idempotent: on a running cluster it only checks the role and database exist.
        """
        bindir, postgis = find_bindir()
        if bindir is None or not postgis:
            install_packages(self.log)
            bindir, postgis = find_bindir()
            if bindir is None or not postgis:
                raise ClusterError(t("PostgreSQL or PostGIS still missing after installing the packages"))
        self._prepare_folders()
        if not (self.data_dir / "PG_VERSION").exists():
            self.log(t("initialising a PostgreSQL cluster in {folder} ...", folder=str(self.data_dir)))
            self._run(
                [
                    bindir / "initdb",
                    "-D",
                    self.data_dir,
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                ]
            )
            self._write_config()
        from geo_service.db import wal  # archiving builds on this module

        wal.prepare_archive(self)
        if self._run([bindir / "pg_ctl", "status", "-D", self.data_dir], check=False).returncode != 0:
            self.start()
        wal.apply_archiving(self)
        self._ensure_role_and_database()
        return self.status()

    def start(self, timeout_s: int = 60) -> None:
        """Start the server of an initialised data folder (on this cluster's port and socket)."""
        bindir, _ = find_bindir()
        if bindir is None:
            raise ClusterError(t("PostgreSQL is not installed: run `geo-service db up`"))
        self.log(t("starting PostgreSQL on 127.0.0.1:{port} ...", port=self.port))
        self._run(
            [
                bindir / "pg_ctl",
                "-D",
                self.data_dir,
                "-l",
                self.logfile,
                "-w",
                "-t",
                str(timeout_s),
                "-o",
                f"-p {self.port} -k {self.socket_dir}",
                "start",
            ]
        )

    def down(self) -> ClusterStatus:
        bindir, _ = find_bindir()
        status = self.status()
        if status.running and bindir is not None:
            self.log(t("stopping PostgreSQL ..."))
            self._run([bindir / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop"])
        return self.status()

    def restart(self) -> ClusterStatus:
        """Stop and start the server (fast shutdown: clients are disconnected)."""
        bindir, _ = find_bindir()
        if bindir is None:
            raise ClusterError(t("PostgreSQL is not installed"))
        self._run(
            [
                bindir / "pg_ctl",
                "-D",
                self.data_dir,
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "-l",
                self.logfile,
                "-o",
                f"-p {self.port} -k {self.socket_dir}",
                "restart",
            ]
        )
        return self.status()

    def prepare_folders(self) -> None:
        """Create the cluster's folders, owned by the server's user (everything under them too)."""
        self._prepare_folders()

    def _write_config(self) -> None:
        from geo_service.db.wal import archiving_options

        archive = self.settings.wal_archive_dir
        archiving = archiving_options(archive.resolve() if archive else None)
        if "archive_command" in archiving:  # a string in the file: quotes doubled
            archiving["archive_command"] = "'" + archiving["archive_command"].replace("'", "''") + "'"
        options = {**SERVER_OPTIONS, **archiving}
        lines = [f"{key} = {value}" for key, value in options.items()]
        lines += ["listen_addresses = '127.0.0.1'", f"port = {self.port}"]
        conf = self.data_dir / "postgresql.auto.conf"
        text = self._run(["cat", conf]).stdout + "\n".join(lines) + "\n"
        # Written through the cluster's owner so file ownership stays right when we are root.
        subprocess.run(
            (["runuser", "-u", SUPERUSER, "--"] if _is_root() else []) + ["tee", str(conf)],
            input=text,
            text=True,
            capture_output=True,
            check=True,
        )

    # -- role, database, extension ----------------------------------------------------------------
    def connect(self, database: str = "postgres", user: str = SUPERUSER):
        """A psycopg2 connection to the local cluster (autocommit)."""
        try:
            connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=user, dbname=database)
        except psycopg2.OperationalError as exc:
            raise ClusterError(
                t(
                    "cannot connect to the local cluster on 127.0.0.1:{port}: run `geo-service db up` ({reason})",
                    port=self.port,
                    reason=str(exc).strip(),
                )
            ) from exc
        connection.autocommit = True
        return connection

    def _ensure_role_and_database(self) -> None:
        role, database = self.settings.pg_user, self.settings.pg_database
        with closing(self.connect()) as connection, connection.cursor() as cur:
            # PostGIS in template1 makes every database created afterwards spatial, tests' included.
            with closing(self.connect("template1")) as template, template.cursor() as tcur:
                tcur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(role)))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                self.log(t("creating database {database} ...", database=database))
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role))
                )
        with closing(self.connect(database)) as connection, connection.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute(sql.SQL("ALTER TABLE spatial_ref_sys OWNER TO {}").format(sql.Identifier(role)))

    def create_database(self, name: str, template: str | None = None, drop: bool = False) -> None:
        """Create a database owned by the service's role (from a template if given)."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"database name {name!r}: use lower-case letters, digits and _")
        with closing(self.connect()) as connection, connection.cursor() as cur:
            if drop:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            query = sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(self.settings.pg_user)
            )
            if template:
                query = query + sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            cur.execute(query)

    def drop_database(self, name: str) -> None:
        with closing(self.connect()) as connection, connection.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def database_exists(self, name: str) -> bool:
        with closing(self.connect()) as connection, connection.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None

    def url(self, database: str | None = None) -> str:
        return (
            f"postgresql+psycopg2://{self.settings.pg_user}@127.0.0.1:{self.port}/"
            f"{database or self.settings.pg_database}"
        )


def _tree(*roots: Path) -> Iterator[str]:
    """Every folder and file under ``roots`` (os.walk skips a folder that vanishes mid-walk)."""
    for root in roots:
        yield str(root)
        for folder, folders, files in os.walk(root):
            for name in (*folders, *files):
                yield os.path.join(folder, name)
