"""The local cluster: `geo-service db up` is idempotent and `status` tells the truth."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import closing

from geo_service.db import migrate


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geo_service.cli.main", *args], capture_output=True, text=True, timeout=120
    )


def test_up_twice_is_harmless_and_status_reports_running(cluster):
    for _ in range(2):
        done = _cli("db", "up")
        assert done.returncode == 0, done.stderr
    status = cluster.status()
    assert status.running and status.postgis and status.initialised
    done = _cli("db", "status")
    assert done.returncode == 0
    assert "本地数据库集群正在运行" in done.stderr and "running" in done.stderr


def test_status_reports_an_unreachable_database():
    done = subprocess.run(
        [sys.executable, "-m", "geo_service.cli.main", "db", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": "postgresql+psycopg2://nobody@127.0.0.1:9/none"},
    )
    assert done.returncode == 1
    assert "无法连接数据库" in done.stderr and "unreachable" in done.stderr


def test_the_service_database_is_spatial(cluster):
    with closing(cluster.connect(cluster.settings.pg_database)) as connection, connection.cursor() as cur:
        cur.execute("SELECT postgis_lib_version()")
        assert cur.fetchone()[0].startswith("3.")
    assert migrate.head_revision()
