"""What signing every request in costs: our token check against a slow password hash, and a
town user's jurisdiction-scoped reads against the same reads over the whole county.

Run: ``python bench/bench_auth.py [--runs 5] [--scale demo|city|both]`` on the demo county
(``geo-service demo load``) or the city of ~11,000 grids (``bench/scale.py``).

- Token check: the service keeps only the SHA-256 of a 256-bit random token and finds the user by
  one indexed lookup. The obvious alternative stores tokens as passwords are stored, under a slow
  hash (scrypt, n=2**14): safe for guessable secrets, but paid on every request.
- Kept principal: after a token's first request each worker keeps its principal until a change
  is heard (``geo_service.auth.principal_cache``): the cost of a request's sign-in then, against
  reading it from the database each time.
- Scoped reads: a town dispatcher's incident page and grid tile carry the jurisdiction in their
  SQL; the ratio against an administrator's unscoped read shows what the filter costs.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
import uuid

from scale import add_scale_argument, scale_database, scales
from signin import first_county
from sqlalchemy import text

from geo_service.auth.principal import principal_for_token
from geo_service.auth.principal_cache import PrincipalCache
from geo_service.auth.tokens import token_hash
from geo_service.auth.users import add_user, revoke_user
from geo_service.db.engine import engine_for
from geo_service.settings import Settings
from geo_service.tiles.mvt import Tile

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
    add_scale_argument(parser)
    args = parser.parse_args()
    for scale in scales(args.scale):
        with scale_database(scale) as url:
            print(f"== {scale} scale")
            run(Settings(database_url=url), args.runs)


def run(settings: Settings, runs: int) -> None:
    engine = engine_for(settings)
    with engine.connect() as connection:
        county = first_county(settings.database.url)
        town = connection.execute(
            text("SELECT town_code FROM incidents WHERE county_code = :c GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"),
            {"c": county},
        ).scalar()
        lon, lat = connection.execute(
            text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM admin_units WHERE code = :c) s"),
            {"c": town},
        ).one()
    zoom = 12
    tile = Tile.at(lon, lat, zoom)
    tile_x, tile_y = tile.x, tile.y
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
            ours = median_ms(lambda: principal_for_token(connection, token, settings), 500, runs)
            kept_cache = PrincipalCache(engine)
            kept = median_ms(
                lambda: kept_cache.principal(token, lambda: principal_for_token(connection, token, settings)),
                2000,
                runs,
            )
            by_hash = text("SELECT 1 FROM users WHERE token_hash = :h")

            def slow() -> None:
                assert hashlib.scrypt(token.encode(), salt=salt, **SCRYPT).hex() == stored_slow
                connection.execute(by_hash, {"h": token_hash(token)}).first()

            theirs = median_ms(slow, 20, runs)
        print(f"token check, median of {runs} runs")
        print(f"  ours: SHA-256 + indexed lookup + permissions   {ours:8.3f} ms")
        print(f"  scrypt(n=2**14) per request + lookup          {theirs:8.3f} ms")
        print(f"  ratio: ours is {theirs / ours:.0f}x faster")
        print(f"  kept by the worker (a change heard at once)    {kept:8.4f} ms")
        print(f"  ratio: kept against read each time {ours / kept:.0f}x faster")

        from fastapi.testclient import TestClient

        from geo_service.api.app import create_app

        app = create_app(settings)
        reads = [
            ("incident page (100)", "/incidents", {"limit": 100}),
            ("grid tile z12", f"/tiles/grids/{zoom}/{tile_x}/{tile_y}.mvt", {}),
            ("counts by village", "/analysis/counts", {"unit": "village"}),
        ]
        print(f"\nscoped reads over HTTP (in-process), median of {runs} runs")
        with TestClient(app) as client:
            app.state.settings = settings.model_copy(
                update={"serving": settings.serving.model_copy(update={"expensive_per_minute": 1_000_000})}
            )
            for label, path, params in reads:
                timed = {}
                for who, (_, secret) in users.items():
                    headers = {"Authorization": f"Bearer {secret}", "Cache-Control": "no-cache"}
                    timed[who] = median_ms(lambda: client.get(path, params=params, headers=headers), 10, runs)  # noqa: B023
                print(
                    f"  {label:22s} county {timed['admin']:7.2f} ms   town {timed['town']:7.2f} ms   "
                    f"ratio town/county {timed['town'] / timed['admin']:.2f}"
                )
    finally:
        for record, _ in users.values():
            revoke_user(engine, record.name, actor="bench")


if __name__ == "__main__":
    main()
