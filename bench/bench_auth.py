"""What signing every request in costs: our token check against a slow password hash, and a
town user's jurisdiction-scoped reads against the same reads over the whole county.

Run: ``python bench/bench_auth.py [--runs 5]`` on the demo county (``geo-service demo load``).

- Token check: the service keeps only the SHA-256 of a 256-bit random token and finds the user by
  one indexed lookup. The obvious alternative stores tokens as passwords are stored, under a slow
  hash (scrypt, n=2**14): safe for guessable secrets, but paid on every request.
- Scoped reads: a town dispatcher's incident page and grid tile carry the jurisdiction in their
  SQL; the ratio against an administrator's unscoped read shows what the filter costs.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
import uuid

from sqlalchemy import text

from geo_service.auth.principal import principal_for_token
from geo_service.auth.tokens import token_hash
from geo_service.auth.users import add_user, revoke_user
from geo_service.db.engine import engine_for
from geo_service.settings import get_settings

SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def median_ms(fn, repeat: int, runs: int) -> float:
    """Median over ``runs`` of the mean time of one call, in milliseconds."""
    fn()  # warm caches and the connection
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - started) / repeat * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = get_settings()
    engine = engine_for(get_settings())
    with engine.connect() as connection:
        county = connection.execute(text("SELECT code FROM admin_units WHERE level = 'county' LIMIT 1")).scalar()
        town = connection.execute(
            text("SELECT town_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        ).scalar()
    suffix = uuid.uuid4().hex[:6]
    users = {
        "admin": add_user(
            engine, f"bench-admin-{suffix}", "admin", county, note="benchmark", actor="bench", settings=settings
        ),
        "town": add_user(
            engine, f"bench-town-{suffix}", "dispatcher", town, note="benchmark", actor="bench", settings=settings
        ),
    }
    try:
        token = users["admin"][1]
        salt = uuid.uuid4().bytes
        stored_slow = hashlib.scrypt(token.encode(), salt=salt, **SCRYPT).hex()
        with engine.connect() as connection:
            ours = median_ms(lambda: principal_for_token(connection, token, settings), 500, args.runs)
            by_hash = text("SELECT 1 FROM users WHERE token_hash = :h")

            def slow() -> None:
                assert hashlib.scrypt(token.encode(), salt=salt, **SCRYPT).hex() == stored_slow
                connection.execute(by_hash, {"h": token_hash(token)}).first()

            theirs = median_ms(slow, 20, args.runs)
        print(f"token check, median of {args.runs} runs")
        print(f"  ours: SHA-256 + indexed lookup + permissions   {ours:8.3f} ms")
        print(f"  scrypt(n=2**14) per request + lookup          {theirs:8.3f} ms")
        print(f"  ratio: ours is {theirs / ours:.0f}x faster")

        from fastapi.testclient import TestClient

        from geo_service.api.app import create_app

        app = create_app(settings)
        reads = [
            ("incident page (100)", "/incidents", {"limit": 100}),
            ("grid tile z12", "/tiles/grids/12/3282/1699.mvt", {}),
            ("counts by village", "/analysis/counts", {"unit": "village"}),
        ]
        print(f"\nscoped reads over HTTP (in-process), median of {args.runs} runs")
        with TestClient(app) as client:
            app.state.settings = settings.model_copy(
                update={"serving": settings.serving.model_copy(update={"expensive_per_minute": 1_000_000})}
            )
            for label, path, params in reads:
                timed = {}
                for who, (_, secret) in users.items():
                    headers = {"Authorization": f"Bearer {secret}", "Cache-Control": "no-cache"}
                    timed[who] = median_ms(lambda: client.get(path, params=params, headers=headers), 10, args.runs)  # noqa: B023
                print(
                    f"  {label:22s} county {timed['admin']:7.2f} ms   town {timed['town']:7.2f} ms   "
                    f"ratio town/county {timed['town'] / timed['admin']:.2f}"
                )
    finally:
        for record, _ in users.values():
            revoke_user(engine, record.name, actor="bench")


if __name__ == "__main__":
    main()
