"""What each worker keeps in memory (who a token belongs to, the boundaries in force, the people
the rules name at a place) is forgotten the moment it changes, whichever process changes it.

The service runs as it is deployed, two worker processes behind one port; the changes are made
from other processes (the command line, an administrator's SQL), and every request after them,
to either worker, must answer with the change: a revoked token refused, a withdrawn permission
refused, an officer whose post ended no longer named. With the listening connection cut, the
workers keep nothing and still answer right.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from geo_service.db.engine import get_engine

from .conftest import ENGLISH, scalar, token_for

REQUESTS = 12  # each on a new connection, so both workers answer some


@pytest.fixture(scope="module")
def url(module_demo_copy_url: str) -> str:
    return module_demo_copy_url


@pytest.fixture(scope="module")
def service(url: str) -> Iterator[str]:
    """The service with two workers on a free port, as `geo-service serve --workers 2` runs it."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = f"from geo_service.serving import serve; serve('127.0.0.1', {port}, 2, log_level='warning')"
    env = {**os.environ, "GEO_SERVICE_DATABASE_URL": url}
    server = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and server.poll() is None, "the service did not start"
        time.sleep(0.2)
    try:
        yield base
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture(scope="module")
def point(url: str) -> dict:
    """A point inside a grid whose grid worker (网格员) is named by the rules today."""
    with get_engine(url).connect() as connection:
        lon, lat, code = connection.execute(
            text("""
            SELECT ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)), g.code
              FROM grids g JOIN officer_assignments a ON a.unit_code = g.code AND a.role = 'grid_worker'
             WHERE a.valid_to IS NULL AND g.level = 1
               AND NOT EXISTS (SELECT 1 FROM grids s WHERE s.version_id = g.version_id AND s.level > 1
                                  AND ST_Covers(s.geom, ST_PointOnSurface(g.geom)))
             ORDER BY g.code LIMIT 1""")
        ).one()
    return {"lon": lon, "lat": lat, "grid": code}


@pytest.fixture(scope="module")
def where(point: dict) -> dict:
    """The point as /locate's query."""
    return {"lon": point["lon"], "lat": point["lat"]}


def _statuses(service: str, token: str, path: str = "/locate", params: dict | None = None) -> list[int]:
    headers = {"Authorization": f"Bearer {token}", **ENGLISH}
    return [httpx.get(f"{service}{path}", params=params, headers=headers).status_code for _ in range(REQUESTS)]


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {"GEO_SERVICE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "geo_service.cli.main", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_a_token_revoked_from_the_command_line_is_refused_by_every_worker_at_once(url, service, where):
    token = token_for(url, "dispatcher", name="kept-dispatcher")
    assert _statuses(service, token, params=where) == [200] * REQUESTS  # now kept by both
    revoked = _cli(url, "users", "revoke", "kept-dispatcher")
    assert revoked.returncode == 0, revoked.stderr
    assert _statuses(service, token, params=where) == [401] * REQUESTS


def test_a_role_changed_in_the_database_takes_effect_at_once(url, service, where):
    token = token_for(url, "dispatcher", name="kept-changing")
    assert _statuses(service, token, params=where) == [200] * REQUESTS
    with get_engine(url).begin() as connection:  # an administrator's SQL, another process's connection
        connection.execute(text("UPDATE users SET role = 'analyst' WHERE name = 'kept-changing'"))
    assert _statuses(service, token, params=where) == [403] * REQUESTS  # analysts do not locate
    assert _statuses(service, token, "/auth/me") == [200] * REQUESTS


def test_an_officer_whose_post_ends_is_no_longer_named_by_any_worker(url, service, point):
    token = token_for(url, "dispatcher", name="kept-people")
    headers = {"Authorization": f"Bearer {token}", **ENGLISH}
    params = {"lon": point["lon"], "lat": point["lat"]}

    def grid_workers() -> list[list[str | None]]:
        answers = []
        for _ in range(REQUESTS):
            body = httpx.get(f"{service}/locate", params=params, headers=headers).json()
            assert body["grid"]["code"] == point["grid"]
            answers.append(sorted(o["officer_code"] or "" for o in body["officers"] if o["role"] == "grid_worker"))
        return answers

    before = grid_workers()
    assert before[0] and before[0] != [""] and before == [before[0]] * REQUESTS
    with get_engine(url).begin() as connection:
        connection.execute(
            text("""UPDATE officer_assignments SET valid_to = current_date - 1
                     WHERE unit_code = :grid AND role = 'grid_worker' AND valid_to IS NULL"""),
            {"grid": point["grid"]},
        )
    after = grid_workers()
    # The post is empty now: shown as a vacancy (or filled from a level above), never the ended officer.
    assert all(not set(answer) & set(before[0]) for answer in after)


def test_with_the_listening_connection_cut_nothing_is_kept_and_answers_stay_right(url, service, where):
    token = token_for(url, "dispatcher", name="kept-cut")
    assert _statuses(service, token, params=where) == [200] * REQUESTS
    cut = scalar(
        get_engine(url),
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'geo_service changes' AND datname = current_database()",
    )
    assert cut >= 2  # one per worker
    assert _statuses(service, token, params=where) == [200] * REQUESTS
    assert _cli(url, "users", "revoke", "kept-cut").returncode == 0
    assert _statuses(service, token, params=where) == [401] * REQUESTS


def test_a_camera_added_turned_and_removed_by_another_process_is_seen_so_by_every_worker(url, service, point):
    token = token_for(url, "dispatcher", name="kept-cameras")
    headers = {"Authorization": f"Bearer {token}", **ENGLISH}
    params = {"lon": point["lon"], "lat": point["lat"]}
    code = "51142100001320999901"

    def ours() -> list[dict | None]:
        answers = []
        for _ in range(REQUESTS):
            cameras = httpx.get(f"{service}/locate", params=params, headers=headers).json()["cameras"]
            answers.append(next((c for c in cameras if c["device_code"] == code), None))
        return answers

    assert ours() == [None] * REQUESTS  # the cameras are now kept by both workers
    engine = get_engine(url)
    with engine.begin() as connection:  # 30 m south of the point, looking north at it
        connection.execute(
            text("""
            INSERT INTO cameras (device_code, name, kind, heading_deg, fov_deg, range_m, status, geom)
            SELECT :code, '测试路口北向', min(code), 0, 60, 80, 'online',
                   ST_Project(ST_SetSRID(ST_MakePoint(:lon, :lat), 4490)::geography, 30, pi())::geometry
              FROM camera_kinds"""),
            {"code": code, **params},
        )
    added = ours()
    assert all(c is not None and c["sees"] and c["viewable_now"] for c in added)
    assert all(abs(c["distance_m"] - 30) < 0.2 and abs(c["bearing_from_camera_deg"]) < 0.1 for c in added)
    with engine.begin() as connection:  # turned away, and gone dark
        connection.execute(
            text("UPDATE cameras SET heading_deg = 180, status = 'offline' WHERE device_code = :code"), {"code": code}
        )
    turned = ours()
    assert all(c is not None and not c["sees"] and c["status"] == "offline" for c in turned)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM cameras WHERE device_code = :code"), {"code": code})
    assert ours() == [None] * REQUESTS


def test_every_lookup_answered_from_memory_has_its_read_on_record_when_it_answers(url, service, where):
    """A dispatcher reads the officers' phones: each answer's audit entry is committed before the
    answer arrives, on the worker's own connection or, with that connection cut, as a thread writes it."""
    token = token_for(url, "dispatcher", name="kept-reads")
    headers = {"Authorization": f"Bearer {token}", **ENGLISH}
    engine = get_engine(url)

    def entries() -> int:
        return scalar(engine, "SELECT count(*) FROM audit_log WHERE actor = 'kept-reads' AND action = 'read_personal'")

    for round_ in range(3):
        if round_ == 2:
            cut = scalar(
                engine,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'geo_service reads' AND datname = current_database()",
            )
            assert cut >= 1
        for _ in range(REQUESTS):
            before = entries()
            body = httpx.get(f"{service}/locate", params=where, headers=headers).json()
            assert body["officers"] and not any("*" in (o["phone"] or "") for o in body["officers"])
            assert entries() == before + 1
    # Lookups at once: entries arriving while one is written go together, none lost or doubled.
    before = entries()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: httpx.get(f"{service}/locate", params=where, headers=headers), range(48)))
    assert [a.status_code for a in answers] == [200] * 48
    assert entries() == before + 48
