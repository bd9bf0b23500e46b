"""Fixtures: the tests run against the project's local PostGIS cluster, never a mock.

The demo county is loaded once into a template database, rebuilt only when its fingerprint
(seed, generator, rules, schema) changes; each test session clones the template (a file copy,
seconds) so tests start from the same known contents.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
from sqlalchemy import Engine, text

from geo_service.db import migrate
from geo_service.db.cluster import LocalCluster
from geo_service.db.engine import dispose_engines, get_engine
from geo_service.settings import Settings, get_settings

TEMPLATE = "geo_service_test_template"

# Figures tests measure for the record (requests fuzzed, posts lost under a restart, ...), printed
# at the end of the run.
FIGURES: dict[str, str] = {}


# Tests that need the demo county (236,500 incidents, built once into a template) are marked
# ``demo``; ``pytest -m "not demo and not slow"`` is the quick tier on the hand-made tiny county
# and scratch databases.
DEMO_FIXTURES = {"demo_url", "engine", "client", "demo_copy_url", "module_demo_copy_url"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if DEMO_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.demo)


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("figures")
        for name, figure in FIGURES.items():
            terminalreporter.write_line(f"{name}: {figure}")


SEED = 511421
TEMPLATE_LOCK = 5114210  # advisory lock: one test session at a time builds or copies the template


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def cluster(settings: Settings) -> LocalCluster:
    cluster = LocalCluster(settings.database, log=lambda message: None)
    cluster.up()
    return cluster


def _template_fingerprint(cluster: LocalCluster) -> str | None:
    if not cluster.database_exists(TEMPLATE):
        return None
    with closing(cluster.connect(TEMPLATE)) as connection, connection.cursor() as cur:
        cur.execute("SELECT to_regclass('service_meta')")
        if cur.fetchone()[0] is None:
            return None
        cur.execute("SELECT value FROM service_meta WHERE key = 'demo_fingerprint'")
        row = cur.fetchone()
        return row[0] if row else None


@pytest.fixture(scope="session")
def demo_url(cluster: LocalCluster) -> Iterator[str]:
    """URL of a database holding the demo county, fresh for this test session."""
    from geo_service.demo.loader import fingerprint, load_demo

    session_db = f"geo_service_test_{uuid.uuid4().hex[:8]}"
    with closing(cluster.connect()) as lock, lock.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (TEMPLATE_LOCK,))
        if _template_fingerprint(cluster) != fingerprint(SEED):
            cluster.create_database(TEMPLATE, drop=True)
            url = cluster.url(TEMPLATE)
            migrate.upgrade(url)
            load_demo(get_engine(url), SEED, Settings(database_url=url))
            dispose_engines()  # a template must have no connections when it is copied
        cluster.create_database(session_db, template=TEMPLATE)
        cur.execute("SELECT pg_advisory_unlock(%s)", (TEMPLATE_LOCK,))
    yield cluster.url(session_db)
    dispose_engines()
    cluster.drop_database(session_db)


@pytest.fixture(scope="session")
def engine(demo_url: str) -> Engine:
    return get_engine(demo_url)


@pytest.fixture
def scratch_url(cluster: LocalCluster) -> Iterator[str]:
    """URL of a new, empty database (PostGIS installed, no schema), dropped afterwards."""
    name = f"geo_service_scratch_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)
    yield cluster.url(name)
    dispose_engines()
    cluster.drop_database(name)


def _demo_copy(cluster: LocalCluster) -> Iterator[str]:
    name = f"geo_service_copy_{uuid.uuid4().hex[:8]}"
    with closing(cluster.connect()) as lock, lock.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (TEMPLATE_LOCK,))
        cluster.create_database(name, template=TEMPLATE)
        cur.execute("SELECT pg_advisory_unlock(%s)", (TEMPLATE_LOCK,))
    yield cluster.url(name)
    dispose_engines()
    cluster.drop_database(name)


@pytest.fixture
def demo_copy_url(cluster: LocalCluster, demo_url: str) -> Iterator[str]:
    """URL of a private copy of the demo database, for tests that write; dropped afterwards."""
    yield from _demo_copy(cluster)


@pytest.fixture(scope="module")
def module_demo_copy_url(cluster: LocalCluster, demo_url: str) -> Iterator[str]:
    """A private copy of the demo database shared by one module's tests (a story told in steps)."""
    yield from _demo_copy(cluster)


def token_for(url: str, role: str = "admin", jurisdiction: str | None = None, name: str | None = None) -> str:
    """A bearer token for a new user of the database at ``url`` (default: an admin over the county)."""
    from geo_service.auth.users import add_user

    engine = get_engine(url)
    if jurisdiction is None:
        with engine.connect() as connection:
            jurisdiction = connection.execute(
                text("SELECT code FROM admin_units WHERE level = 'county' LIMIT 1")
            ).scalar()
    name = name or f"{role}-{jurisdiction}-{uuid.uuid4().hex[:6]}"
    return add_user(engine, name, role, jurisdiction, settings=Settings(database_url=url), actor="tests")[1]


def signed_in(
    url: str,
    role: str = "admin",
    jurisdiction: str | None = None,
    name: str | None = None,
    *,
    accept_language: str | None = "en",
    **settings,
):
    """A TestClient on a new app over ``url`` whose requests carry a token of ``role`` over ``jurisdiction``.

    Its requests ask for English (``Accept-Language: en``), the language the tests' assertions on
    messages are written in; ``accept_language=None`` sends no header, as a reader who gets Chinese."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    token = token_for(url, role, jurisdiction, name)
    headers = {"Authorization": f"Bearer {token}"} | ({"Accept-Language": accept_language} if accept_language else {})
    return TestClient(create_app(Settings(database_url=url, **settings)), headers=headers)


# For clients the tests build themselves (a TestClient without a token, httpx on a live server):
# the header that asks for the English the assertions are written in.
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture(scope="session")
def client(demo_url: str):
    """The API on the demo county, signed in as an administrator over the whole county."""
    with signed_in(demo_url) as test_client:
        yield test_client


def scalar(engine: Engine, sql: str, **params):
    """One value from the database."""
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


@pytest.fixture(scope="module")
def tiny_url(cluster: LocalCluster) -> Iterator[str]:
    """A database holding the hand-made tiny county (``tests/tiny_county.py``), one per module."""
    from . import tiny_county

    name = f"geo_service_tiny_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)
    url = cluster.url(name)
    tiny_county.build(url)
    yield url
    dispose_engines()
    cluster.drop_database(name)


@pytest.fixture(scope="module")
def tiny_engine(tiny_url: str) -> Engine:
    return get_engine(tiny_url)


@pytest.fixture(scope="module")
def tiny_client(tiny_url: str):
    with signed_in(tiny_url) as test_client:
        yield test_client


@contextmanager
def live_server(url: str, record: list[str] | None = None) -> Iterator[str]:
    """The service on a free loopback port, in a thread, for clients that speak real HTTP; with
    ``record``, every request's path and query, and its status, are appended to it (the server's
    own request log)."""
    import socket
    import threading
    import time

    import uvicorn

    from geo_service.api.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(Settings(database_url=url))
    if record is not None:
        app = _recording(app, record)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _recording(app, record: list[str]):
    """An ASGI app that logs ``GET /path?query -> status`` of each request into ``record``."""

    async def recorded(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        query = scope.get("query_string", b"").decode()
        line = f"{scope['method']} {scope['path']}" + (f"?{query}" if query else "")

        async def sending(message):
            if message["type"] == "http.response.start":
                record.append(f"{line} -> {message['status']}")
            await send(message)

        return await app(scope, receive, sending)

    return recorded


def ground_truth() -> dict:
    """The demo county's planted patterns (``ground_truth.json``), written by the generator if a
    fresh clone does not have them yet (the demo's outputs are not committed)."""
    import json

    demo = Settings().demo
    path = demo.demo_dir / "ground_truth.json"
    if not path.exists():
        from geo_service.demo.generator import generate, write_outputs

        write_outputs(generate(demo.demo_seed), demo.demo_dir)
    return json.loads(path.read_text())
