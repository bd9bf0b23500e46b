"""A token for the benchmarks: every endpoint but /healthz needs one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text


@contextmanager
def bench_headers() -> Iterator[dict[str, str]]:
    """An administrator over the county for the length of a run, revoked afterwards."""
    from geo_service.auth.users import add_user, revoke_user
    from geo_service.db.engine import engine_for
    from geo_service.settings import get_settings

    engine = engine_for(get_settings())
    with engine.connect() as connection:
        county = connection.execute(text("SELECT code FROM admin_units WHERE level = 'county' LIMIT 1")).scalar()
    name = f"bench-{uuid.uuid4().hex[:8]}"
    _, token = add_user(engine, name, "admin", county, note="benchmark", actor="bench", settings=get_settings())
    try:
        yield {"Authorization": f"Bearer {token}"}
    finally:
        revoke_user(engine, name, actor="bench")
