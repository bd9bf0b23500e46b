"""Backups that restore: a dump restored into a new database answers as the backed-up one did
(rows, sequences, a lookup, cases' timelines, the audit log), and a cluster recovered from a base
backup and its archived WAL holds everything up to a moment and nothing after it.

The point-in-time recovery runs on two PostgreSQL clusters of the test's own (the live one,
archiving, and the recovered one), so the suite's shared cluster is never restarted.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from geo_service.db.backup import BackupError, backup, restore
from geo_service.db.backup_check import BackupCheckError, check_file
from geo_service.db.cluster import ClusterError, LocalCluster
from geo_service.db.engine import dispose_engines, get_engine
from geo_service.db.pitr import base_backup, recover
from geo_service.db.wal import archiver_state, describe_archiver, switch_segment
from geo_service.settings import PROJECT_ROOT, Settings

from .conftest import FIGURES, scalar, signed_in


def _incident(external_id: str, lon: float = 104.03, lat: float = 30.02) -> dict:
    return {
        "external_id": external_id,
        "lon": lon,
        "lat": lat,
        "category": "dispute",
        "source": "hotline_12345",
        "reported_at": "2026-11-10T09:00:00+08:00",
        "risk_colour": "yellow",
        "description": "backed up",
        "reporter_name": "张三",
        "reporter_phone": "13800001234",
    }


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geo_service.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
    )


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.fixture
def restored_names(cluster):
    """Names for restored databases, dropped afterwards."""
    names: list[str] = []

    def new_name() -> str:
        names.append(f"geo_service_restored_{uuid.uuid4().hex[:8]}")
        return names[-1]

    yield new_name
    dispose_engines()
    for name in names:
        cluster.drop_database(name)


def _cases_worked_on(url: str) -> list[int]:
    """Two cases recorded and worked through the API: timelines, bound people, audit entries."""
    with signed_in(url, "dispatcher") as client:
        ids = [client.post("/incidents", json=_incident(f"BACKUP-{uuid.uuid4().hex[:6]}")).json()["id"]]
        ids.append(client.post("/incidents", json=_incident(f"BACKUP-{uuid.uuid4().hex[:6]}", 104.15)).json()["id"])
        for action in ("accept", "start"):
            answer = client.post(f"/incidents/{ids[0]}/{action}", json={"actor": "dispatcher"})
            assert answer.status_code == 200, answer.text
        assert client.get(f"/incidents/{ids[0]}").status_code == 200  # an unmasked read, audited
    return ids


def test_a_backup_restores_and_answers_as_the_database_did_when_it_was_taken(tiny_url, tmp_path, restored_names):
    ids = _cases_worked_on(tiny_url)
    settings = Settings(database_url=tiny_url)
    done = backup(settings, tmp_path / "county.dump")
    answers = done.kept["answers"]
    assert answers["rows in incidents"] == f"{scalar(get_engine(tiny_url), 'SELECT count(*) FROM incidents'):,}"
    assert any(what.startswith("lookup of") and "grid 511421" in answer for what, answer in answers.items())
    assert answers[f"case {ids[0]}'s timeline"].startswith("in_progress, ")  # the case most recently acted on
    assert answers["audit log"].split()[0] != "empty"
    text_kept = check_file(done.path).read_text()
    assert "13800001234" not in text_kept and "张三" not in text_kept  # digests, never personal data

    # The county goes on working after the backup: none of it is in the restore, which answers as
    # the database did at the backup's moment.
    _cases_worked_on(tiny_url)
    into = restored_names()
    restored = restore(settings, done.path, into)
    assert restored.same, [c for c in restored.checks if not c.same]
    assert len(restored.checks) == len(answers)
    engine = get_engine(restored.url)
    assert scalar(engine, "SELECT count(*) FROM incidents") == int(answers["rows in incidents"].replace(",", ""))
    # The restore is a working database: the audit log still refuses changes, ids go on from the sequence.
    with pytest.raises(Exception, match="permission denied|append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log"))
    with signed_in(restored.url, "dispatcher") as client:
        new = client.post("/incidents", json=_incident("AFTER-RESTORE")).json()["id"]
    assert new > max(ids)


def test_restore_exits_non_zero_and_names_what_differs(tiny_url, tmp_path, restored_names):
    dump = tmp_path / "county.dump"
    done = _cli("db", "backup", str(dump), DATABASE_URL=tiny_url)
    assert done.returncode == 0, done.stderr
    assert "已备份到" in done.stderr and "backed up to" in done.stderr
    kept = json.loads(check_file(dump).read_text())
    kept["answers"]["rows in incidents"] = "999,999"  # as if rows had been lost on the way
    check_file(dump).write_text(json.dumps(kept))
    done = _cli("db", "restore", str(dump), "--into", restored_names(), DATABASE_URL=tiny_url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "  不一致  rows in incidents：备份时 999,999，恢复后 " in done.stdout  # Chinese, then the English
    assert "DIFFERENT  rows in incidents: backed up 999,999, restored" in done.stdout
    assert "错误：" in done.stderr and "项核对中有 1 项不一致" in done.stderr
    assert "1 of" in done.stderr and "answers differ" in done.stderr


def test_backup_and_restore_refuse_clearly(tiny_url, tmp_path, restored_names, cluster):
    settings = Settings(database_url=tiny_url)
    dump = backup(settings, tmp_path / "county.dump").path
    with pytest.raises(BackupError, match="never overwrites"):
        backup(settings, dump)
    with pytest.raises(BackupError, match="does not exist"):
        backup(settings, tmp_path / "nowhere" / "county.dump")
    with pytest.raises(BackupError, match="exists: a restore makes a new database"):
        restore(settings, dump, _database(tiny_url))
    with pytest.raises(BackupError, match="lower-case letters"):
        restore(settings, dump, "Robert'); DROP TABLE incidents;--")
    not_a_dump = tmp_path / "notes.dump"
    not_a_dump.write_text("hello")
    check_file(not_a_dump).write_text(check_file(dump).read_text())
    name = restored_names()
    with pytest.raises(BackupError, match="not a backup made by"):
        restore(settings, not_a_dump, name)
    assert not cluster.database_exists(name)
    alone = tmp_path / "alone.dump"
    shutil.copy(dump, alone)
    with pytest.raises(BackupCheckError, match="--no-check"):
        restore(settings, alone, name)
    assert restore(settings, alone, name, check=False).checks == []
    done = _cli("db", "backup", str(dump), DATABASE_URL=tiny_url)
    assert done.returncode == 2 and "错误：" in done.stderr and "备份不会覆盖已有文件" in done.stderr
    assert "never overwrites" in done.stderr  # the English after the Chinese, for scripts


@pytest.mark.slow
def test_the_demo_county_backs_up_and_restores_through_the_local_cluster(
    module_demo_copy_url, tmp_path, restored_names
):
    """The command line against the local cluster (its own pg_dump, as its superuser), timed."""
    dump = tmp_path / "demo.dump"
    database = _database(module_demo_copy_url)
    started = time.perf_counter()
    done = _cli("db", "backup", str(dump), GEO_SERVICE_PG_DATABASE=database)
    backed_up = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    into = restored_names()
    started = time.perf_counter()
    done = _cli("db", "restore", str(dump), "--into", into, GEO_SERVICE_PG_DATABASE=database)
    restored = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DIFFERENT" not in done.stdout
    assert "same       rows in incidents: 236,500" in done.stdout
    assert "same       case 1's timeline" in done.stdout and "same       lookup of" in done.stdout
    FIGURES["demo county backup"] = (
        f"{dump.stat().st_size / 1e6:.0f} MB dumped in {backed_up:.1f} s, restored and checked in {restored:.1f} s"
    )


# -- point-in-time recovery -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_archived(cluster: LocalCluster, segment: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = archiver_state(cluster)
        if state["last_archived_wal"] and state["last_archived_wal"] >= segment:
            return
        time.sleep(0.2)
    raise AssertionError(f"{segment} was not archived: {describe_archiver(archiver_state(cluster))}")


@pytest.fixture
def archiving_cluster(tmp_path):
    """A cluster of the test's own archiving its WAL, holding the tiny county; removed afterwards."""
    from . import tiny_county

    port = _free_port()
    place = LocalCluster(Settings(pg_dir=tmp_path / "live", pg_port=port).database, log=lambda m: None)
    # Beside the cluster's own folder, which the server's user can reach (when we are root,
    # LocalCluster may place it outside tmp_path).
    archive = place.root.parent / f"{place.root.name}-wal"
    settings = Settings(pg_dir=tmp_path / "live", pg_port=port, wal_archive_dir=archive)
    live = LocalCluster(settings.database, log=lambda m: None)
    recovered: list[LocalCluster] = []
    try:
        live.up()
        tiny_county.build(live.url())
        yield live, recovered
    finally:
        dispose_engines()
        for cluster in (*recovered, live):
            cluster.down()
            shutil.rmtree(cluster.root, ignore_errors=True)
        shutil.rmtree(archive, ignore_errors=True)


@pytest.mark.slow
def test_point_in_time_recovery_stops_just_before_a_mistaken_mass_change(archiving_cluster, tmp_path):
    live, recovered = archiving_cluster
    url = live.url()
    assert "WAL archiving on" in describe_archiver(archiver_state(live))
    base = base_backup(live, tmp_path / "base")
    assert (base.data_dir / "PG_VERSION").exists()
    with pytest.raises(ClusterError, match="not empty"):
        base_backup(live, tmp_path / "base")

    # After the base backup the county records cases: replayed from the archived WAL.
    with signed_in(url, "dispatcher") as client:
        for n in range(3):
            assert client.post("/incidents", json=_incident(f"PITR-BEFORE-{n}")).status_code == 201
    engine = get_engine(url)
    state = "SELECT id, external_id, status, updated_at FROM incidents ORDER BY id"
    with engine.connect() as connection:
        before = connection.execute(text(state)).all()
        audit_before = connection.execute(text("SELECT count(*), max(id) FROM audit_log")).one()
        moment = connection.execute(text("SELECT clock_timestamp()")).scalar()
    time.sleep(0.05)
    # The mistake: a script closes every case in the county at once. Then work goes on.
    with engine.begin() as connection:
        mistaken = connection.execute(text("UPDATE incidents SET status = 'rejected', updated_at = now()")).rowcount
    assert mistaken == len(before)
    with signed_in(url, "dispatcher") as client:
        assert client.post("/incidents", json=_incident("PITR-AFTER")).status_code == 201
    _wait_archived(live, switch_segment(live))

    started = time.perf_counter()
    target = recover(tmp_path / "base", moment, tmp_path / "recovered", _free_port(), log=lambda m: None)
    recovered.append(target)
    took = time.perf_counter() - started
    with get_engine(target.url()).connect() as connection:
        assert connection.execute(text(state)).all() == before  # every case as it was, none rejected
        assert connection.execute(text("SELECT count(*), max(id) FROM audit_log")).one() == tuple(audit_before)
        assert not connection.execute(text("SELECT count(*) FROM incidents WHERE external_id = 'PITR-AFTER'")).scalar()
        assert connection.execute(text("SELECT NOT pg_is_in_recovery()")).scalar()  # open for writing
    FIGURES["point-in-time recovery"] = (
        f"base backup {base.size_bytes / 1e6:.0f} MB; recovered to just before a mass update of "
        f"{mistaken} cases in {took:.1f} s, all {len(before)} as they were"
    )


@pytest.mark.slow
def test_recovery_from_a_folder_without_a_base_backup_is_refused_in_chinese_at_the_terminal(tmp_path):
    done = _cli("db", "recover", str(tmp_path), "--to", "2026-11-10T09:30:00", "--into", str(tmp_path / "r"))
    assert done.returncode == 1, done.stderr
    assert "错误：" in done.stderr and "中没有由 `geo-service db basebackup` 生成的基础备份" in done.stderr
    assert "holds no base backup made by `geo-service db basebackup`" in done.stderr  # the English after it
    assert not (tmp_path / "r").exists()


def test_recovery_refuses_a_moment_before_the_backup_and_a_folder_in_use(archiving_cluster, tmp_path):
    live, recovered = archiving_cluster
    base = base_backup(live, tmp_path / "base")
    with pytest.raises(ClusterError, match="before this base backup was finished"):
        recover(tmp_path / "base", base.finished_at.replace(year=2020), tmp_path / "r", _free_port())
    with pytest.raises(ClusterError, match="port .* is in use"):
        recover(tmp_path / "base", base.finished_at, tmp_path / "r", live.port)
    with pytest.raises(ClusterError, match="holds no base backup"):
        recover(tmp_path, base.finished_at, tmp_path / "r", _free_port())
    assert not Path(tmp_path / "r" / "data").exists()
