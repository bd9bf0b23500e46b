"""The two scales every benchmark runs at: the demo county, and a city of about 11,000 grids.

    --scale demo    the service's own database (``geo-service demo load``), one county
    --scale city    ``geo_service_bench_city``: ten counties, about 11,000 grids and 2.4 million
                    incidents, built once by ``bench_city.py`` from the test template (3 minutes)
    --scale both    one after the other, in the same run

A benchmark that writes asks for a ``writable`` database: a file copy made for the run and dropped
after it, so that neither the demo nor the city is changed by measuring them.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager

import psycopg2
from psycopg2 import sql

from geo_service.db.cluster import LocalCluster
from geo_service.db.engine import dispose_engines
from geo_service.settings import get_settings

SCALES = ("demo", "city")


def add_scale_argument(parser: argparse.ArgumentParser, default: str = "demo") -> None:
    parser.add_argument(
        "--scale",
        choices=[*SCALES, "both"],
        default=default,
        help="demo: the demo county; city: ten counties, about 11,000 grids; both: one then the other",
    )


def scales(chosen: str) -> list[str]:
    return list(SCALES) if chosen == "both" else [chosen]


def _cluster() -> LocalCluster:
    return LocalCluster(get_settings().database)


def _source(scale: str) -> str:
    """The database a scale reads: the service's own for the demo, the built city for the city."""
    if scale == "demo":
        return get_settings().database.pg_database
    from bench_city import CITY, ensure_city

    from geo_service.db import migrate

    cluster = _cluster()
    # A city built from an older demo measures as well as a new one: rebuild only for the schema.
    if not cluster.database_exists(CITY) or migrate.current_revision(cluster.url(CITY)) != migrate.head_revision():
        ensure_city(cluster, rebuild=False)
    return CITY


TEMPLATE, TEMPLATE_LOCK = "geo_service_test_template", 5114210  # the test suite's demo, and its lock
WAIT_S = 300


def _copy(cluster: LocalCluster, source: str, name: str, lock: int | None = None) -> None:
    with closing(cluster.connect()) as connection, connection.cursor() as cur:
        if lock is not None:
            cur.execute("SELECT pg_advisory_lock(%s)", (lock,))
        try:
            cur.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {} STRATEGY file_copy").format(
                    sql.Identifier(name), sql.Identifier(cluster.settings.pg_user), sql.Identifier(source)
                )
            )
        finally:
            if lock is not None:
                cur.execute("SELECT pg_advisory_unlock(%s)", (lock,))


def _writable_copy(cluster: LocalCluster, scale: str, source: str, name: str) -> None:
    """Copy ``source``, which PostgreSQL refuses while anyone else is connected to it: the demo,
    whose service may stay connected all along, is then copied from the test suite's template (the
    same demo county) under the suite's lock; the city is tried again for up to ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return _copy(cluster, source, name)
        except psycopg2.errors.ObjectInUse:
            if scale == "demo" and cluster.database_exists(TEMPLATE):
                from geo_service.db import migrate

                _copy(cluster, TEMPLATE, name, TEMPLATE_LOCK)
                if migrate.current_revision(cluster.url(name)) != migrate.head_revision():
                    migrate.upgrade(cluster.url(name))
                return None
            if time.monotonic() > deadline:
                raise
            time.sleep(3)


@contextmanager
def scale_database(scale: str, writable: bool = False) -> Iterator[str]:
    """The URL of the database of ``scale``; given ``writable``, of a copy dropped afterwards."""
    cluster = _cluster()
    source = _source(scale)
    if not writable:
        yield cluster.url(source)
        return
    name = f"bench_{scale}_{uuid.uuid4().hex[:8]}"
    _writable_copy(cluster, scale, source, name)
    try:
        yield cluster.url(name)
    finally:
        dispose_engines()
        cluster.drop_database(name)


def analysed_places(chosen: str, county: str) -> Iterator[tuple[str, str, str | None]]:
    """For analyses at each scale chosen: the database's URL, a label, and the jurisdiction code
    analysed (None: all of it): the demo county; the city whole, then ``county`` inside it."""
    for scale in scales(chosen):
        with scale_database(scale) as url:
            if scale == "demo":
                yield url, "demo county", None
            else:
                yield url, "city, city-wide", None
                yield url, f"city, one county ({county})", county


def analysed_incidents(url: str | None, scope_code: str | None, start: str, end: str):
    """What an analysis benchmark reads at one place of :func:`analysed_places`: the engine, the
    county's place settings, the filter of the incidents reported from ``start`` to ``end``
    within the jurisdiction ``scope_code`` (None: all), and how many it selects. ``url`` None is
    the configured database."""
    from sqlalchemy import text

    from geo_service.analysis import incident_filter, make_span
    from geo_service.auth.jurisdiction import resolve
    from geo_service.db.engine import engine_for
    from geo_service.settings import Settings

    settings = Settings(**({"database_url": url} if url else {}))
    engine, place = engine_for(settings), settings.place
    with engine.connect() as connection:
        scope = resolve(connection, scope_code, place.timezone) if scope_code else None
        where = incident_filter(connection, make_span(start, end, zone=place.timezone), scope=scope)
        n = connection.execute(text(f"SELECT count(*) FROM incidents i WHERE {where.sql('i')}"), where.params())
        return engine, place, where, n.scalar()
