"""A token for the benchmarks: every endpoint but /healthz needs one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text


@contextmanager
def bench_headers(database_url: str | None = None, jurisdiction: str | None = None) -> Iterator[dict[str, str]]:
    """An administrator over ``jurisdiction`` (default: the first county) of the database (the
    service's own unless ``database_url``) for the length of a run, revoked afterwards."""
    from geo_service.auth.users import add_user, revoke_user
    from geo_service.db.engine import engine_for
    from geo_service.settings import Settings, get_settings

    settings = Settings(database_url=database_url) if database_url else get_settings()
    engine = engine_for(settings)
    county = jurisdiction or first_county(settings.database.url)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    _, token = add_user(engine, name, "admin", county, note="benchmark", actor="bench", settings=settings)
    try:
        yield {"Authorization": f"Bearer {token}"}
    finally:
        revoke_user(engine, name, actor="bench")


def first_county(database_url: str) -> str:
    """The code of the database's first county (by code): the one the benchmarks' user serves."""
    from geo_service.db.engine import get_engine

    with get_engine(database_url).connect() as connection:
        return connection.execute(
            text("SELECT code FROM admin_units WHERE level = 'county' ORDER BY code LIMIT 1")
        ).scalar()
