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
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager

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

    ensure_city(_cluster(), rebuild=False)
    return CITY


@contextmanager
def scale_database(scale: str, writable: bool = False) -> Iterator[str]:
    """The URL of the database of ``scale``; given ``writable``, of a copy dropped afterwards."""
    cluster = _cluster()
    source = _source(scale)
    if not writable:
        yield cluster.url(source)
        return
    name = f"bench_{scale}_{uuid.uuid4().hex[:8]}"
    with closing(cluster.connect()) as connection, connection.cursor() as cur:
        cur.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {} STRATEGY file_copy").format(
                sql.Identifier(name), sql.Identifier(cluster.settings.pg_user), sql.Identifier(source)
            )
        )
    try:
        yield cluster.url(name)
    finally:
        dispose_engines()
        with closing(cluster.connect()) as connection, connection.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
