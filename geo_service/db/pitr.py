"""Base backups of the local cluster and point-in-time recovery from them.

A base backup (``pg_basebackup``) is a copy of the whole cluster taken while it runs; with the
write-ahead log archived since (``geo_service.db.wal``), PostgreSQL replays the changes up to any
moment after the backup. Recovery never touches the live cluster: it builds a second one in a
folder of its own, on a port of its own, stopped just before the first transaction committed
after the moment asked for, and promoted so that it can be read, dumped, or made the new cluster.
"""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from geo_service.db.cluster import SUPERUSER, ClusterError, LocalCluster, find_bindir
from geo_service.db.wal import archiver_state, switch_segment
from geo_service.i18n import t
from geo_service.settings import DatabaseSettings

INFO = "geo_service_base_backup.json"
RECOVERY_TIMEOUT_S = 600


@dataclass(frozen=True)
class BaseBackup:
    """A base backup's folder (the cluster's files in ``data/``) and what recovery needs to know."""

    folder: Path
    finished_at: datetime
    archive_dir: Path
    port: int
    size_bytes: int

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def to_dict(self) -> dict:
        return {
            "finished_at": self.finished_at.isoformat(),
            "archive_dir": str(self.archive_dir),
            "port": self.port,
            "size_bytes": self.size_bytes,
        }


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _empty_or_absent(folder: Path, what: str) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ClusterError(
            t("{folder} exists and is not empty: {what!v} goes into a new folder", folder=str(folder), what=what)
        )


def base_backup(cluster: LocalCluster, out: Path) -> BaseBackup:
    """Copy the running local cluster into ``out/data`` (pg_basebackup, with the WAL it needs),
    verify the copy (pg_verifybackup), and record where its WAL archive is."""
    archive = cluster.settings.wal_archive_dir
    if archive is None or archiver_state(cluster) is None:
        raise ClusterError(
            t(
                "a base backup is only useful with the WAL archived after it: set GEO_SERVICE_WAL_ARCHIVE_DIR "
                "and run `geo-service db up` (it restarts the cluster to turn archiving on)"
            )
        )
    _empty_or_absent(out, "a base backup")
    bindir, _ = find_bindir()
    if bindir is None:
        raise ClusterError(t("PostgreSQL is not installed: run `geo-service db up`"))
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    done = _client(
        [bindir / "pg_basebackup", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", SUPERUSER]
        + ["-D", str(data), "-Fp", "-X", "stream", "-c", "fast", "-l", "geo-service db basebackup"]
    )
    if done.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise ClusterError(t("pg_basebackup failed: {output}", output=done.stderr.strip()[-2000:]))
    checked = _client([bindir / "pg_verifybackup", str(data)])
    if checked.returncode != 0:
        raise ClusterError(
            t(
                "the base backup in {folder} does not verify: {output}",
                folder=str(data),
                output=checked.stderr.strip()[-2000:],
            )
        )
    switch_segment(cluster)  # the backup's last segment goes to the archive now, not when it fills
    backup = BaseBackup(out.resolve(), datetime.now(UTC), archive.resolve(), cluster.port, _size(data))
    (out / INFO).write_text(json.dumps(backup.to_dict(), indent=2) + "\n")
    return backup


def read_base_backup(folder: Path) -> BaseBackup:
    """The base backup in ``folder``, as ``base_backup`` wrote it."""
    info = folder / INFO
    if not (folder / "data" / "PG_VERSION").exists() or not info.exists():
        raise ClusterError(
            t(
                "{folder} holds no base backup made by `geo-service db basebackup` (no data/, no {info})",
                folder=str(folder),
                info=INFO,
            )
        )
    values = json.loads(info.read_text())
    return BaseBackup(
        folder.resolve(),
        datetime.fromisoformat(values["finished_at"]),
        Path(values["archive_dir"]),
        int(values["port"]),
        int(values["size_bytes"]),
    )


def _client(args: list) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def recover(
    base: Path,
    to: datetime,
    into: Path,
    port: int,
    *,
    archive_dir: Path | None = None,
    log=print,
) -> LocalCluster:
    """A new cluster in ``into``, on ``port``, holding what the backed-up cluster held at ``to``.

    The base backup's files are copied into ``into/data``, and PostgreSQL replays the archived WAL
    up to ``to`` (the last transaction committed at or before it is in, the first one after it is
    not), then opens the cluster for writing on a new timeline. It does not archive: its WAL must
    not mix with the original's in the archive (turn archiving on for it if it becomes the live
    cluster). Raises ClusterError when ``to`` is before the base backup was finished, when the
    archive ends before ``to``, or when ``into`` or ``port`` is taken.
    """
    backup = read_base_backup(base)
    archive = (archive_dir or backup.archive_dir).resolve()
    if to.tzinfo is None:
        raise ValueError("the recovery target must be an aware datetime")
    if to < backup.finished_at:
        raise ClusterError(
            t(
                "{to} is before this base backup was finished ({finished}): recover from an earlier base backup",
                to=to.isoformat(),
                finished=backup.finished_at.isoformat(),
            )
        )
    if not archive.is_dir() or not any(archive.iterdir()):
        raise ClusterError(
            t("the WAL archive {archive} is missing or empty: give the folder with --archive", archive=str(archive))
        )
    if not _port_free(port):
        raise ClusterError(t("port {port} is in use on 127.0.0.1: give another with --port", port=port))
    target = LocalCluster(DatabaseSettings(pg_dir=into, pg_port=port), log=log)
    _empty_or_absent(target.data_dir, "a recovered cluster")
    target.prepare_folders()
    shutil.copytree(backup.data_dir, target.data_dir, dirs_exist_ok=True)
    settings = {
        "restore_command": _quoted(f"cp {shlex.quote(str(archive))}/%f %p"),
        "recovery_target_time": _quoted(to.astimezone(UTC).isoformat(sep=" ")),
        "recovery_target_timeline": "'current'",
        "recovery_target_action": "'promote'",
        "archive_mode": "'off'",
        "port": str(port),
    }
    with (target.data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write("# point-in-time recovery by geo-service db recover\n")
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
    (target.data_dir / "recovery.signal").touch()
    (target.data_dir / "postmaster.pid").unlink(missing_ok=True)
    target.data_dir.chmod(0o700)
    target.prepare_folders()  # everything copied now belongs to the server's user
    log(t("replaying the archived WAL up to {to} ...", to=to.isoformat()))
    try:
        target.start(timeout_s=RECOVERY_TIMEOUT_S)
    except ClusterError as exc:
        raise ClusterError(t("recovery failed: {output}", output=_log_tail(target))) from exc
    _wait_for_promotion(target)
    return target


def _log_tail(cluster: LocalCluster) -> str:
    try:
        lines = cluster.logfile.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    wanted = [line for line in lines if any(w in line for w in ("FATAL", "ERROR", "PANIC", "recovery"))]
    return "\n".join((wanted or lines)[-8:])


def _wait_for_promotion(cluster: LocalCluster) -> None:
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not cluster.status().running:
            raise ClusterError(f"recovery failed, the recovered cluster stopped:\n{_log_tail(cluster)}")
        try:
            with closing(cluster.connect()) as connection, connection.cursor() as cur:
                cur.execute("SELECT pg_is_in_recovery()")
                if not cur.fetchone()[0]:
                    return
        except ClusterError:
            pass  # still starting
        time.sleep(0.2)
    raise ClusterError(f"recovery did not finish within {RECOVERY_TIMEOUT_S} s:\n{_log_tail(cluster)}")
