"""Continuous archiving of the local cluster's write-ahead log (``wal_archive_dir``).

With a folder set, ``geo-service db up`` runs the cluster with "replica" WAL and copies every
finished WAL segment into the folder; a base backup (``geo_service.db.pitr``) plus the segments
archived since then can rebuild the cluster as it was at any moment after the backup. Without
one, the cluster keeps the minimal WAL that makes bulk loads fast, and archives nothing.
"""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg2 import sql

from geo_service.db.cluster import SUPERUSER, ClusterError, _is_root
from geo_service.i18n import Message, t

if TYPE_CHECKING:
    from geo_service.db.cluster import LocalCluster

# The server settings archiving changes; the other SERVER_OPTIONS stay as they are.
ARCHIVING_OFF = {"wal_level": "minimal", "max_wal_senders": "0", "archive_mode": "off"}
# Read by the server only when it starts: changing one means a restart.
AT_START = {"wal_level", "max_wal_senders", "archive_mode"}


def archiving_options(archive_dir: Path | None) -> dict[str, str]:
    """The server settings that archive the WAL into ``archive_dir`` (None: no archiving).

    The command never copies over a segment already archived, as PostgreSQL's documentation
    advises: a second cluster pointed at the same folder by mistake fails loudly, in its log and
    in ``pg_stat_archiver``, instead of overwriting the first one's history.
    """
    if archive_dir is None:
        return dict(ARCHIVING_OFF)
    folder = shlex.quote(str(archive_dir))
    return {
        "wal_level": "replica",
        "max_wal_senders": "4",  # pg_basebackup streams its WAL through one or two
        "archive_mode": "on",
        "archive_command": f"test ! -f {folder}/%f && cp %p {folder}/%f",
    }


def prepare_archive(cluster: LocalCluster) -> None:
    """Create the archive folder, owned by the server's user, who must be able to write to it."""
    folder = cluster.settings.wal_archive_dir
    if folder is None:
        return
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if not _is_root():
        return
    account = pwd.getpwnam(SUPERUSER)
    os.chown(folder, account.pw_uid, account.pw_gid)
    if subprocess.run(["runuser", "-u", SUPERUSER, "--", "test", "-w", str(folder)]).returncode != 0:
        raise ClusterError(
            t(
                "the `postgres` user cannot write to the WAL archive {folder} (a parent folder is private, "
                "such as /root): set GEO_SERVICE_WAL_ARCHIVE_DIR to a folder it can reach",
                folder=str(folder),
            )
        )


def apply_archiving(cluster: LocalCluster) -> None:
    """Bring the running server's archiving in line with ``wal_archive_dir``; restart it when a
    setting read only at start changes (turning archiving on or off)."""
    archive = cluster.settings.wal_archive_dir
    wanted = archiving_options(archive.resolve() if archive else None)
    with closing(cluster.connect()) as connection, connection.cursor() as cur:
        cur.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (list(wanted),))
        current = dict(cur.fetchall())
        changed = {name: value for name, value in wanted.items() if current.get(name) != value}
        for name, value in changed.items():
            cur.execute(sql.SQL("ALTER SYSTEM SET {} = %s").format(sql.Identifier(name)), (value,))
        if changed:
            cur.execute("SELECT pg_reload_conf()")
    if AT_START & set(changed):
        if archive:
            cluster.log(
                t("restarting PostgreSQL to turn WAL archiving on (into {archive}) ...", archive=str(archive.resolve()))
            )
        else:
            cluster.log(t("restarting PostgreSQL to turn WAL archiving off ..."))
        cluster.restart()


def archiver_state(cluster: LocalCluster) -> dict | None:
    """What the archiver has done (``pg_stat_archiver``), or None when archiving is off."""
    with closing(cluster.connect()) as connection, connection.cursor() as cur:
        cur.execute("SHOW archive_mode")
        if cur.fetchone()[0] == "off":
            return None
        cur.execute("SHOW archive_command")
        command = cur.fetchone()[0]
        cur.execute(
            "SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, "
            "last_failed_time FROM pg_stat_archiver"
        )
        names = [c.name for c in cur.description]
        return {"archive_command": command, **dict(zip(names, cur.fetchone()))}


def describe_archiver(state: dict | None) -> Message:
    """One line on the archiver, for ``geo-service db status``."""
    if state is None:
        return t("WAL archiving off (set GEO_SERVICE_WAL_ARCHIVE_DIR and run `geo-service db up` to turn it on)")
    said = t("WAL archiving on: {count:,} segments archived", count=state["archived_count"])
    if state["last_archived_time"]:
        said = t(
            "{said}, the last {segment} at {at}",
            said=said,
            segment=state["last_archived_wal"],
            at=f"{state['last_archived_time']:%Y-%m-%d %H:%M:%S %Z}",
        )
    if state["failed_count"] and (
        state["last_archived_time"] is None or state["last_failed_time"] > state["last_archived_time"]
    ):
        said = t(
            "{said}; FAILING since {at} on {segment}: see the cluster's postgres.log",
            said=said,
            at=f"{state['last_failed_time']:%Y-%m-%d %H:%M:%S %Z}",
            segment=state["last_failed_wal"],
        )
    return said


def switch_segment(cluster: LocalCluster) -> str:
    """Close the current WAL segment so that it is archived now, not when it fills up; its name."""
    with closing(cluster.connect()) as connection, connection.cursor() as cur:
        cur.execute("SELECT pg_walfile_name(pg_switch_wal())")
        return cur.fetchone()[0]
