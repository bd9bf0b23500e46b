"""The service under the faults of a working day: a client retrying one incident many times at
once, and the database restarting in the middle of a load of incident posts.

Both speak real HTTP on loopback to the service in a thread of this process; the load comes from
a second process (``tests/incident_load.py``). The restart happens on a PostgreSQL cluster of the
test's own, so the rest of the suite's connections are not disturbed.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from geo_service.db.cluster import LocalCluster
from geo_service.db.engine import dispose_engines, get_engine
from geo_service.settings import PROJECT_ROOT, Settings

from .conftest import FIGURES, live_server, scalar, token_for

STORM = 40


def _incident(external_id: str, lon: float = 104.1, lat: float = 30.0) -> dict:
    return {
        "external_id": external_id,
        "lon": lon,
        "lat": lat,
        "category": "dispute",
        "source": "hotline_12345",
        "reported_at": "2026-11-10T09:00:00+08:00",
        "risk_colour": "yellow",
        "description": "retried",
    }


def test_a_retry_storm_of_one_incident_stores_it_once(demo_copy_url):
    token = token_for(demo_copy_url, "dispatcher")
    engine = get_engine(demo_copy_url)
    with live_server(demo_copy_url) as server:
        headers = {"Authorization": f"Bearer {token}"}
        once = httpx.post(f"{server}/incidents", json=_incident("STORM-CONTROL"), headers=headers, timeout=30)
        assert once.status_code == 201, once.text
        start = threading.Barrier(STORM)

        def post(_: int) -> httpx.Response:
            with httpx.Client(base_url=server, headers=headers, timeout=60) as client:
                start.wait()  # all at once: the same incident, sent by a client that timed out and retried
                return client.post("/incidents", json=_incident("STORM-1"))

        with ThreadPoolExecutor(STORM) as pool:
            answers = list(pool.map(post, range(STORM)))
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 200: STORM - 1}, statuses
    assert len({a.json()["id"] for a in answers}) == 1
    incident = answers[0].json()["id"]
    control = once.json()["id"]

    def written(incident_id: int) -> tuple:
        return tuple(
            scalar(engine, sql, i=incident_id)
            for sql in (
                "SELECT count(*) FROM incident_events WHERE incident_id = :i",
                "SELECT count(*) FROM incident_officers WHERE incident_id = :i",
                "SELECT count(*) FROM outbox WHERE incident_id = :i",
                "SELECT count(*) FROM audit_log WHERE entity = 'incident' AND action <> 'read_personal' "
                "AND entity_id = CAST(:i AS text)",
            )
        )

    assert scalar(engine, "SELECT count(*) FROM incidents WHERE external_id = 'STORM-1'") == 1
    assert written(incident) == written(control)  # the timeline, people, messages and audit of one post
    FIGURES["retry storm"] = f"{STORM} simultaneous posts of one incident: {dict(statuses)}, stored once"


# -- the database restarting under load -------------------------------------------------------------

LOAD = 300
RESTARTS = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_cluster(tmp_path):
    """A PostgreSQL cluster of this test's own, holding the tiny county; removed afterwards."""
    from . import tiny_county

    cluster = LocalCluster(
        Settings(pg_dir=tmp_path / "postgres", pg_port=_free_port()).database, log=lambda message: None
    )
    cluster.up()
    url = cluster.url()
    tiny_county.build(url)
    try:
        yield cluster, url
    finally:
        dispose_engines()
        cluster.down()
        shutil.rmtree(cluster.root, ignore_errors=True)


def test_the_database_going_away_is_recognised_however_it_is_wrapped():
    import psycopg2
    from pandas.errors import DatabaseError

    from geo_service.api.errors import database_gone

    def raised(outer, inner):
        try:
            try:
                raise inner
            except Exception as cause:
                raise outer from cause
        except Exception as exc:
            return exc

    # pandas' read_sql (and so geopandas' read_postgis) wraps the driver's error in one of its own.
    assert database_gone(raised(DatabaseError("Execution failed"), psycopg2.OperationalError("server closed")))
    assert database_gone(psycopg2.InterfaceError("connection already closed"))
    assert not database_gone(raised(DatabaseError("Execution failed"), psycopg2.ProgrammingError("syntax error")))
    assert not database_gone(ValueError("not the database"))


def test_posts_survive_a_database_restart_and_the_service_recovers_by_itself(own_cluster, tmp_path):
    cluster, url = own_cluster
    token = token_for(url, "dispatcher")
    out = tmp_path / "load.json"
    with live_server(url) as server:
        load = subprocess.Popen(
            [sys.executable, "-m", "tests.incident_load", server, token, str(LOAD), str(out), "--clients", "2"],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        restarted_after: list[int] = []
        for line in load.stdout:
            done = int(line.split()[1])
            if len(restarted_after) < RESTARTS and done >= LOAD * (len(restarted_after) + 1) // (RESTARTS + 1):
                restarted_after.append(done)
                cluster.restart()  # fast shutdown: every open connection is cut
        assert load.wait(timeout=300) == 0, load.stderr.read()
        # The same service process answers normally afterwards: no restart of its own was needed.
        health = httpx.get(f"{server}/healthz", timeout=30)
    results = json.loads(out.read_text())["results"]
    outcomes = Counter(o for r in results for o in r["outcomes"])
    acknowledged = {r["external_id"] for r in results if r["outcomes"][-1] in (200, 201)}
    created = {r["external_id"] for r in results if 201 in r["outcomes"]}
    with get_engine(url).connect() as connection:
        stored = Counter(
            connection.execute(text("SELECT external_id FROM incidents WHERE external_id LIKE 'LOAD-%'")).scalars()
        )
        reports = dict(
            connection.execute(
                text("""
            SELECT i.external_id, count(*) FROM incidents i JOIN incident_events e ON e.incident_id = i.id
             WHERE i.external_id LIKE 'LOAD-%' AND e.action = 'report' GROUP BY 1""")
            ).all()
        )

    assert health.status_code == 200 and health.json()["database"]["ok"] is True, health.text
    assert len(restarted_after) == RESTARTS
    assert not [o for o in outcomes if isinstance(o, int) and o >= 500 and o != 503], outcomes  # faults are 503s
    assert outcomes[503] + outcomes["connection"] > 0, "the restart should have cut some requests"
    assert len(acknowledged) == LOAD  # every post was stored in the end, by a retry if need be
    assert created <= set(stored)  # every post answered 201 is stored...
    assert set(stored) == acknowledged and max(stored.values()) == 1  # ...once, and nothing else is
    assert set(reports.values()) == {1}  # one timeline each
    assert all(r["outcomes"][-1] in (200, 201) and r["outcomes"][0] == 201 for r in results[-20:])
    lost = len(created - set(stored))
    FIGURES["database restart"] = (
        f"{LOAD} incidents posted by 2 clients from a second process, database restarted after {' and '.join(map(str, restarted_after))}: "
        f"{sum(outcomes.values())} requests ({dict(outcomes)}), {len(stored)} stored, {lost} answered 201 and lost"
    )
