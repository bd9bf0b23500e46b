"""A city in one deployment: does a county's work cost what it costs alone, whatever the city?

    python bench/bench_city.py                 # builds the city once (3 minutes), then measures (7 minutes)
    python bench/bench_city.py --quick         # fewer points, tiles and repeats (3 minutes)
    python bench/bench_city.py --repeat 7      # more repeats
    python bench/bench_city.py --rebuild       # build the city database again
    python bench/bench_city.py --explain       # also EXPLAIN ANALYZE what grew with the city

The city: ten counties of one prefecture-level city (眉山市, 5114), about 11,000 grids and 2.4
million incidents of one year, 14 million timeline events. It is made inside PostgreSQL from the
demo county (the test template ``geo_service_test_template``, built by the test suite or
``geo-service demo load`` into it): the demo stays county 511421 and is copied nine times, each copy
translated by its own offset (a 4 x 3 layout, 1.2 degrees apart, four counties in the 102°E
Gauss-Krueger zone and six in the 105°E one), every code of its towns, villages, grids, incidents,
officers' posts and cameras given the copy's county code (the first six digits), its own published
boundary version, new incident ids and external ids, timelines and bound officers. The copies go
into a draft version that is then published (published versions take no rows); where incidents are
partitioned by county (migration 0011), each copy gets its partitions as the service makes them.
Columns are copied by name as the database lists them, so a schema that gains columns needs no
change here; a template behind the newest migration is migrated first. The result is kept as the
database ``geo_service_bench_city`` with a fingerprint (the demo's, the schema's and this build's)
and rebuilt only when that changes; each run measures a file copy of it.

Each run measures, side by side, a copy of the one-county demo and a copy of the city, interleaved,
medians over ``--repeat``; the demo county's users are the same in both (a 领导 "leader" user of
county 511421000000, and one of the city 511400000000):

* locate: ``geo_service.lookup.locate.locate`` within the county user's jurisdiction, and ``GET
  /locate`` through the app, for random points of the county's grids;
* tiles: ``GET /tiles/grids`` at zooms 11 to 14 and ``GET /tiles/incident_counts`` at 11 and 12 (its
  last zoom) over the county, for the county user, drawn for every request (the service's tile
  cache off); and the grid tiles again from the tile cache, where the service has one;
* the county's analyses: ``/analysis/counts`` and ``/analysis/hotspots`` by grid, and
  ``/analysis/rankings`` by town, over the demo year, for the county user;
* the city's rankings: ``/analysis/rankings`` by county and by town for the city user (in the
  one-county database the city holds one county): this work is expected to grow with the city;
* bulk assignment: ``geo_service.lookup.bulk_assign`` of 100,000 points of the county (the grids
  loaded into memory, then the points assigned);
* and two parts of the county's counts: reading its units (``units_for``) and counting its
  incidents (the SQL alone).

Prints, for each, the median in both databases and the ratio city / one county (each sample
timed with the garbage collector off, as timeit does), then what grew and why, with the counts
that explain it (grids read and kept, the bulk raster's cells); ``--explain`` adds, for each
measure that grew, the plan of the SQL statement whose time grew most. The copies are dropped at
the end; the city database is kept.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import inspect
import re
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from psycopg2 import sql
from sqlalchemy import event, text

from geo_service.db import migrate
from geo_service.db.cluster import LocalCluster
from geo_service.db.engine import dispose_engines, get_engine
from geo_service.settings import Settings, get_settings
from geo_service.tiles.mvt import Tile

TEMPLATE = "geo_service_test_template"
TEMPLATE_LOCK = 5114210  # the test suite's lock on the template
CITY = "geo_service_bench_city"
CITY_LOCK = 5114000  # one build or copy of the city at a time
DEMO = "511421"
CITY_CODE = "511400000000"
COUNTY_CODE = DEMO + "000000"
STEP_DEGREES = 1.2
# The nine copies: county code, name, and the offset in steps of STEP_DEGREES (the demo is at 0, 0).
COPIES = (
    ("511402", "东坡区(仿)", -1, 0),
    ("511403", "彭山区(仿)", -1, 1),
    ("511423", "洪雅县(仿)", -1, -1),
    ("511424", "丹棱县(仿)", -2, 0),
    ("511425", "青神县(仿)", 0, 1),
    ("511426", "眉山六县(仿)", 0, -1),
    ("511427", "眉山七县(仿)", 1, 0),
    ("511428", "眉山八县(仿)", 1, 1),
    ("511429", "眉山九县(仿)", 1, -1),
)
# Copied per county, in this order (a table's rows after those they refer to).
PLACES = ("admin_units", "grids")
PEOPLE_AND_THINGS = ("officers", "officer_assignments", "cameras")
CASES = ("incidents", "incident_events", "incident_officers", "incident_extensions")
COPIED = ("boundary_versions", *PLACES, *PEOPLE_AND_THINGS, *CASES)
CODE_TYPES = ("varchar", "text", "bpchar")
# Columns whose copy is not the generic one (ids shifted, codes recoded, geometries translated).
OVERRIDES = {
    ("boundary_versions", "name"): "'bench-' || {code}",
    ("boundary_versions", "status"): "'draft'",
    ("boundary_versions", "effective_from"): "NULL",
    ("boundary_versions", "published_at"): "NULL",
    ("boundary_versions", "note"): "'bench_city.py: a copy of ' || name",
    ("admin_units", "name"): "CASE WHEN level = 'county' THEN {name} ELSE name END",
    ("officers", "code"): "{code} || code",
    ("incidents", "external_id"): "{code} || '-' || external_id",
    ("incidents", "input_lon"): "input_lon + {dx}",
    ("incidents", "input_lat"): "input_lat + {dy}",
}


# -- building the city ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    code: str
    name: str
    dx: float
    dy: float
    number: int  # 1 to 9: ids of the copy are the originals' plus number x the table's step


@dataclass
class Plan:
    """What the build needs to know of the schema, read from the database (not assumed)."""

    columns: dict[str, list[tuple[str, str]]]  # table -> (column, udt_name), generated ones left out
    foreign_ids: dict[str, dict[str, str]]  # table -> column -> table whose id it holds
    max_id: dict[str, int]  # the originals' largest id
    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def step(self, table: str) -> int:
        return 10 ** len(str(self.max_id[table]))


def copies() -> list[Copy]:
    return [
        Copy(code, name, dx * STEP_DEGREES, dy * STEP_DEGREES, n) for n, (code, name, dx, dy) in enumerate(COPIES, 1)
    ]


def read_plan(cur) -> Plan:
    columns, foreign_ids, max_id = {}, {}, {}
    for table in COPIED:
        cur.execute(
            """SELECT column_name, udt_name FROM information_schema.columns
                WHERE table_schema = 'public' AND table_name = %s AND is_generated = 'NEVER'
                ORDER BY ordinal_position""",
            (table,),
        )
        columns[table] = cur.fetchall()
        cur.execute(
            """SELECT a.attname, c.confrelid::regclass::text
                 FROM pg_constraint c
                 JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, fcol) ON TRUE
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col
                 JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = k.fcol
                WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND f.attname = 'id'""",
            (table,),
        )
        foreign_ids[table] = {column: target for column, target in cur.fetchall() if target in COPIED}
        cur.execute(sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(sql.Identifier(table)))
        max_id[table] = cur.fetchone()[0]
    return Plan(columns, foreign_ids, max_id)


def column_copy(plan: Plan, table: str, column: str, udt: str, copy: Copy) -> str:
    """The SQL expression giving ``column`` of a copied row of ``table``."""
    values = {"code": f"'{copy.code}'", "name": f"'{copy.name}'", "dx": repr(copy.dx), "dy": repr(copy.dy)}
    if (table, column) in OVERRIDES:
        return OVERRIDES[(table, column)].format(**values)
    if column == "id":
        return f"id + {copy.number * plan.step(table)}"
    if column in plan.foreign_ids[table]:
        return f"{column} + {copy.number * plan.step(plan.foreign_ids[table][column])}"
    if udt == "geometry":
        return f"ST_Translate({column}, {copy.dx!r}, {copy.dy!r})"
    if udt in CODE_TYPES and (column in ("code", "jurisdiction") or column.endswith("_code")):
        return f"CASE WHEN left({column}, 6) = '{DEMO}' THEN '{copy.code}' || substr({column}, 7) ELSE {column} END"
    return column


def copy_table(cur, plan: Plan, table: str, copy: Copy) -> None:
    names = [column for column, _ in plan.columns[table]]
    expressions = [column_copy(plan, table, column, udt, copy) for column, udt in plan.columns[table]]
    statement = (
        f"INSERT INTO {table} ({', '.join(names)}) "
        f"SELECT {', '.join(expressions)} FROM {table} WHERE id <= {plan.max_id[table]} ORDER BY id"
    )
    started = time.perf_counter()
    cur.execute(statement)
    plan.seconds[table] = plan.seconds.get(table, 0.0) + time.perf_counter() - started
    plan.rows[table] = plan.rows.get(table, 0) + cur.rowcount


def copy_county(connection, plan: Plan, copy: Copy) -> None:
    """One county: its version as a draft, its places, the version published, then its people,
    cameras and cases; one transaction."""
    version = copy.number * plan.step("boundary_versions")
    with connection, connection.cursor() as cur:
        copy_table(cur, plan, "boundary_versions", copy)
        for table in PLACES:
            copy_table(cur, plan, table, copy)
        cur.execute(
            """UPDATE boundary_versions b
                  SET status = 'published', effective_from = d.effective_from, published_at = d.published_at
                 FROM boundary_versions d
                WHERE d.id <= %s AND d.status = 'published' AND b.id = d.id + %s""",
            (plan.max_id["boundary_versions"], version),
        )
        # Each row's foreign key to the (partitioned) incidents is checked with one generic plan,
        # not planned afresh per row: about 11 s for a county's 1.4 million timeline events
        # instead of 55 s (geo_service.db.partitions.generic_key_checks does the same for the
        # service's bulk writes); the setting is this transaction's only.
        cur.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
        for table in PEOPLE_AND_THINGS + CASES:
            copy_table(cur, plan, table, copy)


def is_partitioned(cur) -> bool:
    """Whether incidents are partitioned by county (migration 0011 and later)."""
    cur.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = 'incidents'::regclass")
    return bool(cur.fetchone()[0])


def make_partitions(url: str, plan: Plan, copy: Copy) -> None:
    """The county's partitions of incidents and timelines, made as the service makes them when a
    county's first boundary version is written (``geo_service.db.partitions``)."""
    from geo_service.db.partitions import ensure_county_partitions

    started = time.perf_counter()
    with get_engine(url).begin() as connection:
        ensure_county_partitions(connection, copy.code + "000000")
    plan.seconds["partitions"] = plan.seconds.get("partitions", 0.0) + time.perf_counter() - started


def reset_sequences(cur) -> None:
    for table in COPIED:
        cur.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM " + table + "))",
            (table,),
        )


def build_fingerprint(demo_fingerprint: str | None) -> str:
    """What the city's contents depend on: the demo's, the schema's head and this build's code."""
    digest = hashlib.sha256(f"demo={demo_fingerprint};schema={migrate.head_revision()}".encode())
    for part in (COPIES, OVERRIDES, COPIED, STEP_DEGREES):
        digest.update(repr(part).encode())
    for function in (read_plan, column_copy, copy_table, copy_county, make_partitions, build_city):
        digest.update(inspect.getsource(function).encode())
    return digest.hexdigest()[:16]


def meta_value(cluster: LocalCluster, database: str, key: str) -> str | None:
    if not cluster.database_exists(database):
        return None
    with closing(cluster.connect(database)) as connection, connection.cursor() as cur:
        cur.execute("SELECT to_regclass('service_meta')")
        if cur.fetchone()[0] is None:
            return None
        cur.execute("SELECT value FROM service_meta WHERE key = %s", (key,))
        row = cur.fetchone()
        return row[0] if row else None


def copy_database(cluster: LocalCluster, name: str, template: str) -> float:
    """A file copy of ``template`` (no connections to it may be open); seconds taken."""
    started = time.perf_counter()
    with closing(cluster.connect()) as connection, connection.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {} STRATEGY file_copy").format(
                sql.Identifier(name), sql.Identifier(cluster.settings.pg_user), sql.Identifier(template)
            )
        )
    return time.perf_counter() - started


def copy_demo(cluster: LocalCluster, name: str) -> float:
    """A copy of the demo template, under the test suite's lock on it, at the newest schema."""
    with closing(cluster.connect()) as lock, lock.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (TEMPLATE_LOCK,))
        try:
            seconds = copy_database(cluster, name, TEMPLATE)
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (TEMPLATE_LOCK,))
    url = cluster.url(name)
    if migrate.current_revision(url) != migrate.head_revision():
        print(f"  {name}: schema behind ({migrate.current_revision(url)}): migrating to {migrate.head_revision()}")
        migrate.upgrade(url)
    return seconds


def build_city(cluster: LocalCluster, fingerprint: str) -> float:
    """Build the city into a staging database, then put it in place as CITY; seconds taken."""
    started = time.perf_counter()
    staging = f"{CITY}_building"
    copy_demo(cluster, staging)
    with closing(cluster.connect(staging)) as connection:
        connection.autocommit = False
        with connection.cursor() as cur:
            plan = read_plan(cur)
            partitioned = is_partitioned(cur)
        connection.commit()
        print(f"  incidents partitioned by county: {'yes, a partition per county' if partitioned else 'no'}")
        for copy in copies():
            if partitioned:
                make_partitions(cluster.url(staging), plan, copy)
            copy_county(connection, plan, copy)
            print(f"  county {copy.code} copied ({time.perf_counter() - started:.0f} s)", flush=True)
        with connection, connection.cursor() as cur:
            reset_sequences(cur)
            cur.execute(
                """INSERT INTO service_meta (key, value) VALUES ('bench_city_fingerprint', %s)
                   ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
                (fingerprint,),
            )
        connection.autocommit = True
        vacuum_started = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")
        plan.seconds["VACUUM (ANALYZE)"] = time.perf_counter() - vacuum_started
    dispose_engines()  # no connection may stay open on a database being renamed
    with closing(cluster.connect()) as connection, connection.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(CITY)))
        cur.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(staging), sql.Identifier(CITY)))
    print_build(plan)
    return time.perf_counter() - started


def print_build(plan: Plan) -> None:
    print("  build, by table (all nine copies):")
    for table, seconds in plan.seconds.items():
        rows = plan.rows.get(table)
        shown = f"{rows:>12,} rows" if rows is not None else " " * 17
        print(f"    {table:<22}{shown}  {seconds:7.1f} s")


def ensure_city(cluster: LocalCluster, rebuild: bool) -> None:
    """The city database, built unless one with the right fingerprint is there."""
    if not cluster.database_exists(TEMPLATE):
        raise SystemExit(f"no {TEMPLATE}: run the demo tests once (or load the demo into it) first")
    fingerprint = build_fingerprint(meta_value(cluster, TEMPLATE, "demo_fingerprint"))
    if not rebuild and meta_value(cluster, CITY, "bench_city_fingerprint") == fingerprint:
        print(f"city database {CITY} is up to date (fingerprint {fingerprint})")
        return
    print(f"building the city database {CITY} (fingerprint {fingerprint}) ...", flush=True)
    seconds = build_city(cluster, fingerprint)
    print(f"city built in {seconds:.0f} s ({seconds / 60:.1f} min)", flush=True)


# -- the two databases and their users --------------------------------------------------------------


@dataclass
class Side:
    """One database measured: its engine, settings, the county user's scope and signed-in clients."""

    label: str
    url: str
    settings: Settings
    county: object  # TestClient of a leader of county 511421000000 (tiles drawn every time)
    city: object  # TestClient of a leader of the city 511400000000
    scope: object  # the county user's Jurisdiction
    cached: object | None  # the county leader on an app keeping boundary tiles (None: no tile cache)

    @property
    def engine(self):
        return get_engine(self.url, timezone=self.settings.place.timezone)


def token(url: str, settings: Settings, jurisdiction: str) -> str:
    """The token of a new leader (领导: locate, analyses, map) over ``jurisdiction``."""
    from geo_service.auth.users import add_user

    engine = get_engine(url, timezone=settings.place.timezone)
    name = f"bench-city-{jurisdiction}-{uuid.uuid4().hex[:6]}"
    return add_user(engine, name, "leader", jurisdiction, note="bench_city.py", actor="bench", settings=settings)[1]


def client(settings: Settings, bearer: str):
    """A TestClient on a new app with ``settings``, its requests carrying ``bearer``."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    return TestClient(create_app(settings), headers={"Authorization": f"Bearer {bearer}"})


def has_tile_cache() -> bool:
    """Whether the service keeps boundary tiles in memory (``tile_cache_mb``, newer versions)."""
    from geo_service.settings import ServingSettings

    return "tile_cache_mb" in ServingSettings.model_fields


@contextmanager
def side(label: str, url: str) -> Iterator[Side]:
    """Users and clients over ``url``: tiles are drawn for every request (the tile cache off) but
    for the ``cached`` client, which keeps them as the service does by default."""
    from geo_service.auth.jurisdiction import resolve

    settings = Settings(database_url=url, expensive_per_minute=1_000_000)
    drawn = settings
    if has_tile_cache():
        drawn = settings.model_copy(update={"serving": settings.serving.model_copy(update={"tile_cache_mb": 0})})
    county_token, city_token = token(url, settings, COUNTY_CODE), token(url, settings, CITY_CODE)
    with ExitStack() as stack:
        county = stack.enter_context(client(drawn, county_token))
        city = stack.enter_context(client(drawn, city_token))
        cached = stack.enter_context(client(settings, county_token)) if has_tile_cache() else None
        with get_engine(url, timezone=settings.place.timezone).connect() as connection:
            scope = resolve(connection, COUNTY_CODE, settings.place.timezone)
        yield Side(label, url, settings, county, city, scope, cached)


# -- the work, the same in both databases -------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    points: np.ndarray  # (n, 2) random points of the county's grids, CGCS2000
    bulk: np.ndarray  # (m, 2) points of the county's incidents
    tiles: dict[int, list[tuple[int, int, int]]]  # zoom -> tiles over the county
    span: dict[str, str]  # the demo year, as query parameters


def county_tiles(zoom: int, bounds: list[float], n: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """``n`` tiles of ``zoom`` drawn at random from those over ``bounds`` (west, south, east,
    north), as (z, x, y) in the order drawn (this benchmark and bench_tiles.py draw them so)."""
    west, south, east, north = bounds
    first, last = Tile.at(west, north, zoom), Tile.at(east, south, zoom)
    tiles = [(zoom, x, y) for x in range(first.x, last.x + 1) for y in range(first.y, last.y + 1)]
    picks = rng.choice(len(tiles), size=min(n, len(tiles)), replace=False)
    return [tiles[i] for i in picks]


def make_work(one: Side, points: int, bulk: int, tiles: int, seed: int) -> Work:
    rng = np.random.default_rng(seed)
    zone = one.settings.place.timezone
    with one.engine.connect() as connection:
        inside = connection.execute(
            text("""
                SELECT ST_X(p), ST_Y(p) FROM (
                    SELECT (ST_Dump(ST_GeneratePoints(g.geom, 1, :seed))).geom AS p
                      FROM grids g JOIN boundary_versions v ON v.id = g.version_id
                     WHERE v.status = 'published' AND v.county_code = :county AND g.level = 1 ORDER BY g.code) s"""),
            {"seed": seed, "county": COUNTY_CODE},
        ).all()
        located = connection.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE county_code = :county ORDER BY id LIMIT :n"),
            {"county": COUNTY_CODE, "n": bulk},
        ).all()
        bounds = connection.execute(
            text("""SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
                        SELECT ST_Extent(u.geom) AS e FROM admin_units u JOIN boundary_versions v ON v.id = u.version_id
                         WHERE v.status = 'published' AND u.code = :county) b"""),
            {"county": COUNTY_CODE},
        ).one()
        first, last = connection.execute(
            text(
                "SELECT (min(reported_at) AT TIME ZONE :zone)::date, (max(reported_at) AT TIME ZONE :zone)::date FROM incidents"
            ),
            {"zone": zone},
        ).one()
    picks = rng.choice(len(inside), size=points, replace=points > len(inside))
    return Work(
        points=np.array(inside, dtype=float)[picks],
        bulk=np.array(located, dtype=float),
        tiles={z: sorted(county_tiles(z, list(bounds), tiles, rng)) for z in (11, 12, 13, 14)},
        span={"start": first.isoformat(), "end": (last + timedelta(days=1)).isoformat()},
    )


# -- what is measured: each returns the seconds one sample took ------------------------------------------


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def get(client, path: str, params: dict | None = None) -> bytes:
    response = client.get(path, params=params)
    if response.status_code not in (200, 204):
        raise RuntimeError(f"{path} {params}: {response.status_code} {response.text[:300]}")
    return response.content


def locate_library(s: Side, work: Work) -> float:
    from geo_service.lookup.locate import locate

    def run() -> None:
        for lon, lat in work.points:
            locate(s.engine, float(lon), float(lat), settings=s.settings, scope=s.scope)

    return timed(run)


def locate_http(s: Side, work: Work) -> float:
    return timed(lambda: [get(s.county, "/locate", {"lon": lon, "lat": lat}) for lon, lat in work.points])


def tiles(layer: str, zoom: int, params: Callable[[Work], dict]) -> Callable[[Side, Work], float]:
    def run(s: Side, work: Work) -> float:
        query = params(work)
        return timed(lambda: [get(s.county, f"/tiles/{layer}/{z}/{x}/{y}.mvt", query) for z, x, y in work.tiles[zoom]])

    return run


def cached_tiles(s: Side, work: Work) -> float:
    """Every zoom's grid tiles from the service's tile cache (filled by the warm-up)."""
    paths = [f"/tiles/grids/{z}/{x}/{y}.mvt" for zoom in sorted(work.tiles) for z, x, y in work.tiles[zoom]]
    return timed(lambda: [get(s.cached, path) for path in paths])


def analysis_params(path: str, work: Work, **params) -> dict:
    """The demo year, and for rankings a fixed ``as_of`` (its end): the same question in both databases."""
    return {**work.span, **({"as_of": work.span["end"]} if path == "rankings" else {}), **params}


def analysis(path: str, user: str, **params) -> Callable[[Side, Work], float]:
    def run(s: Side, work: Work) -> float:
        client = s.county if user == "county" else s.city
        return timed(lambda: get(client, f"/analysis/{path}", analysis_params(path, work, **params)))

    return run


def bulk_load(s: Side, work: Work) -> float:
    from geo_service.boundaries.versions import in_force
    from geo_service.lookup.bulk_assign import GridSnapshot
    from geo_service.times import now

    with s.engine.connect() as connection:
        return timed(
            lambda: GridSnapshot.load(connection, in_force(connection, now(s.settings.place.timezone)), s.settings)
        )


def bulk_assign(s: Side, work: Work) -> float:
    from geo_service.lookup.bulk_assign import assign_points, snapshot

    with s.engine.connect() as connection:
        snap = snapshot(connection, None, s.settings)  # loaded once per process, as the service keeps it
    return timed(lambda: assign_points(snap, work.bulk[:, 0], work.bulk[:, 1]))


def county_filter(s: Side, work: Work, connection):
    from geo_service.analysis.span import incident_filter, make_span

    span = make_span(work.span["start"], work.span["end"], zone=s.settings.place.timezone)
    return incident_filter(connection, span, scope=s.scope)


def units_read(s: Side, work: Work) -> float:
    """The part of a county's counts and hot spots that reads its units: ``units_for``."""
    from geo_service.analysis.units import units_for

    with s.engine.connect() as connection:
        where = county_filter(s, work, connection)
        return timed(lambda: units_for(connection, where, "grid", place=s.settings.place))


def incidents_counted(s: Side, work: Work) -> float:
    """The part of a county's counts that counts its incidents by grid, in SQL."""
    from geo_service.analysis.units import keyed_sql

    with s.engine.connect() as connection:
        where = county_filter(s, work, connection)
        statement = text(f"WITH {keyed_sql('grid', where)} SELECT key, count(*) FROM keyed GROUP BY key")
        return timed(lambda: connection.execute(statement, where.params()).all())


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str  # how the median is shown: ms per item, or s
    run: Callable[[Side, Work], float]
    items: Callable[[Work], int] = lambda work: 1
    expected: str = "flat"  # "flat": a county's work; "grows": the city's own work

    def shown(self, seconds: float, work: Work) -> float:
        return seconds * 1000 / self.items(work) if self.unit.startswith("ms") else seconds


def measures() -> list[Measure]:
    span = lambda work: work.span  # noqa: E731
    found = [
        Measure("locate, library, county scope", "ms/point", locate_library, lambda w: len(w.points)),
        Measure("GET /locate, county user", "ms/request", locate_http, lambda w: len(w.points)),
    ]
    found += [
        Measure(f"tiles grids z{z}", "ms/tile", tiles("grids", z, lambda work: {}), lambda w, z=z: len(w.tiles[z]))
        for z in (11, 12, 13, 14)
    ]
    if has_tile_cache():
        found.append(
            Measure(
                "tiles grids z11-14, tile cache", "ms/tile", cached_tiles, lambda w: sum(map(len, w.tiles.values()))
            )
        )
    found += [
        Measure(
            f"tiles incident_counts z{z}", "ms/tile", tiles("incident_counts", z, span), lambda w, z=z: len(w.tiles[z])
        )
        for z in (11, 12)
    ]
    found += [
        Measure("counts unit=grid, county user", "s", analysis("counts", "county", unit="grid")),
        Measure("hotspots unit=grid, county user", "s", analysis("hotspots", "county", unit="grid")),
        Measure("rankings level=town, county user", "s", analysis("rankings", "county", level="town")),
        Measure(
            "rankings level=county, city user", "s", analysis("rankings", "city", level="county"), expected="grows"
        ),
        Measure("rankings level=town, city user", "s", analysis("rankings", "city", level="town"), expected="grows"),
        Measure("bulk: load the grids in force", "s", bulk_load, expected="grows"),
        Measure("bulk: assign the points", "ms/1k points", bulk_assign, lambda w: len(w.bulk) / 1000),
        Measure("  part: units_for (county, grid)", "s", units_read),
        Measure("  part: incidents counted by grid (SQL)", "s", incidents_counted),
    ]
    return found


# -- the same answers in both -----------------------------------------------------------------------


def county_answers(s: Side, work: Work) -> dict:
    """What the county user is told, reduced to what must not depend on the city around it."""
    import json

    from geo_service.lookup.bulk_assign import assign_points, snapshot

    def features(path: str, **params) -> list:
        return json.loads(get(s.county, f"/analysis/{path}", {**work.span, **params}))["features"]

    counts = features("counts", unit="grid")
    hot = features("hotspots", unit="grid")
    with s.engine.connect() as connection:
        snap = snapshot(connection, None, s.settings)
    assigned = assign_points(snap, work.bulk[:, 0], work.bulk[:, 1])
    return {
        "locate": [
            json.loads(get(s.county, "/locate", {"lon": x, "lat": y}))["grid"]["code"] for x, y in work.points[:50]
        ],
        "counts": sorted((f["properties"]["code"], f["properties"]["count"]) for f in counts),
        "hotspots": sorted((f["properties"]["code"], f["properties"]["class"]) for f in hot),
        "rankings": json.loads(get(s.county, "/analysis/rankings", analysis_params("rankings", work, level="town"))),
        "bulk": assigned["grid_code"].fillna("").tolist(),
    }


def check_same(one: Side, city: Side, work: Work) -> None:
    a, b = county_answers(one, work), county_answers(city, work)
    differ = [name for name in a if a[name] != b[name]]
    print(
        f"the county user's answers in both databases: {'the same' if not differ else 'DIFFER in ' + ', '.join(differ)}"
    )


def sizes(s: Side) -> str:
    with s.engine.connect() as connection:
        counties, grids, incidents, events = connection.execute(
            text("""SELECT (SELECT count(*) FROM boundary_versions WHERE status = 'published'),
                           (SELECT count(*) FROM grids g JOIN boundary_versions v ON v.id = g.version_id
                             WHERE v.status = 'published'),
                           (SELECT count(*) FROM incidents), (SELECT count(*) FROM incident_events)""")
        ).one()
    return f"{s.label}: {counties} counties, {grids:,} grids, {incidents:,} incidents, {events:,} timeline events"


# -- running and reporting ----------------------------------------------------------------------------


def sample(measure: Measure, s: Side, work: Work) -> float:
    """One sample, as timeit takes one: garbage collected before, the collector off during it (else
    a sample pays for the garbage of the one before, in the other database: up to 2.5x here)."""
    gc.collect()
    gc.disable()
    try:
        return measure.run(s, work)
    finally:
        gc.enable()


def run_all(sides: list[Side], work: Work, repeat: int) -> dict[str, dict[str, list[float]]]:
    found = measures()
    samples = {m.name: {s.label: [] for s in sides} for m in found}
    print("warming up (plans, caches, numba) ...", flush=True)
    for measure in found:
        for s in sides:
            sample(measure, s, work)
    for run in range(repeat):
        started = time.perf_counter()
        order = sides if run % 2 == 0 else sides[::-1]  # neither database always goes first
        for measure in found:
            for s in order:
                samples[measure.name][s.label].append(sample(measure, s, work))
        print(f"run {run + 1}/{repeat}: {time.perf_counter() - started:.0f} s", flush=True)
    return samples


# Why a measure grows with the city, where it does (found with --explain; see docs/scaling.md).
_TILE_COUNTS = (
    "the layer joins incidents to grids by grid_id (indexed since migration 0012; before it, each tile read "
    "every incident of the city): what remains is the plan reaching into every county's partition (--explain)"
)
_RANKINGS = (
    "the city's own work: every county's incidents scanned and sorted for the medians (JIT is off for "
    "rankings, as for the other analyses, since a city's plan passed jit_above_cost)"
)
_LOCATE = (
    "the grid lookup's plan ANDs the geometry index with ix_grids_version_id_level, reading an entry for "
    "every grid in force (--explain)"
)
WHY = {
    "locate, library, county scope": _LOCATE,
    "GET /locate, county user": _LOCATE,
    "tiles incident_counts z11": _TILE_COUNTS,
    "tiles incident_counts z12": _TILE_COUNTS,
    "counts unit=grid, county user": "units_for reads every county's grids (areas on the spheroid, geometries "
    "parsed), then keeps the county's in Python",
    "hotspots unit=grid, county user": "the same units_for as counts",
    "  part: units_for (county, grid)": "unit_frame binds the versions of every county in force, not the user's",
    "bulk: load the grids in force": "a snapshot holds every county's grids: one process serves the whole city",
    "bulk: assign the points": "the snapshot's raster spans the city's bounding box in at most 16 M cells: coarser "
    "cells, so more points fall to the exact STR-tree test",
    "rankings level=county, city user": _RANKINGS,
    "rankings level=town, city user": _RANKINGS,
}
GREW = 1.3  # a ratio above this is reported as growth (runs differ by about 20% on this machine)
EXPLAINED = 1.1  # --explain looks into every ratio above this


def report(samples: dict, work: Work, labels: list[str], repeat: int) -> list[Measure]:
    one, city = labels
    print(
        f"\nmedians of {repeat} runs; {len(work.points)} points, up to {max(map(len, work.tiles.values()))} tiles a zoom, "
        f"{len(work.bulk):,} bulk points, span {work.span['start']} to {work.span['end']}"
    )
    print(f"{'measure':<42}{'unit':<14}{one:>12}{city:>12}{'city/one':>10}")
    grew, explained = [], []
    for measure in measures():
        a = measure.shown(statistics.median(samples[measure.name][one]), work)
        b = measure.shown(statistics.median(samples[measure.name][city]), work)
        ratio = b / a
        print(f"{measure.name:<42}{measure.unit:<14}{a:>12.3f}{b:>12.3f}{ratio:>9.2f}x", flush=True)
        if ratio > GREW:
            grew.append((measure, ratio))
        if ratio > EXPLAINED:
            explained.append(measure)
    for measure, ratio in grew:
        kind = "expected: the city's own work" if measure.expected == "grows" else "a county's work grew"
        why = WHY.get(measure.name, "not explained: its SQL did not grow (--explain); try more --repeat")
        print(f"grew {ratio:.1f}x: {measure.name.strip()} ({kind}): {why}")
    for measure in explained:
        if measure.name in WHY and measure not in [m for m, _ in grew]:
            print(f"grew a little (under {GREW}x, near the noise): {measure.name.strip()}: {WHY[measure.name]}")
    return explained


def facts(s: Side, work: Work) -> str:
    """What explains the growths, counted: grids an analysis reads and keeps, the bulk raster."""
    from geo_service.analysis.units import unit_frame, units_for
    from geo_service.lookup.bulk_assign import snapshot
    from geo_service.lookup.grid_index import NEAR_BOUNDARY

    with s.engine.connect() as connection:
        where = county_filter(s, work, connection)
        end = where.span.end - timedelta(microseconds=1)
        # Every county's grids in force, against those a county's analysis reads (its own versions only).
        read = len(unit_frame(connection, "grid", end, place=s.settings.place))
        kept = len(units_for(connection, where, "grid", place=s.settings.place))
        snap = snapshot(connection, None, s.settings)
    raster = snap.index.raster
    near = float(np.mean(raster.lookup(work.bulk[:, 0], work.bulk[:, 1]) == NEAR_BOUNDARY))
    return (
        f"{s.label}: {read:,} grids in force, a county analysis reads {kept:,}; the bulk snapshot holds "
        f"{len(snap.table):,} grids, its raster {raster.nrows * raster.ncols / 1e6:.1f} M cells of "
        f"{raster.dy * 110_574:.0f} m, where {near:.0%} of the county's points need the exact test"
    )


@contextmanager
def recorded(engine) -> Iterator[list[tuple[float, str, object]]]:
    """Every statement run on ``engine`` meanwhile: (seconds, SQL, parameters as the driver got them)."""
    seen: list[tuple[float, str, object]] = []

    def before(connection, cursor, statement, parameters, context, executemany) -> None:
        connection.info.setdefault("bench_city_started", []).append(time.perf_counter())

    def after(connection, cursor, statement, parameters, context, executemany) -> None:
        started = connection.info["bench_city_started"].pop()
        seen.append((time.perf_counter() - started, statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def costly_nodes(plan: list[str], share: float = 0.1) -> list[str]:
    """The plan's nodes that took at least ``share`` of its execution time (time x loops), JIT's
    time, and the execution time."""
    total = float(re.search(r"Execution Time: ([\d.]+)", plan[-1]).group(1))
    kept = []
    for line in plan:
        found = re.search(r"actual time=[\d.]+\.\.([\d.]+) rows=(\d+) loops=(\d+)", line)
        if found and float(found.group(1)) * int(found.group(3)) >= share * total:
            node = line.strip().removeprefix("-> ").split("  (cost")[0]
            spent = float(found.group(1)) * int(found.group(3))
            kept.append(f"{node}: {spent:.1f} ms, rows={found.group(2)} x {found.group(3)}")
        elif "Timing: Generation" in line:
            kept.append("JIT " + line.strip())
    return kept + [plan[-1].strip()]


def statements_of(measure: Measure, s: Side, work: Work) -> tuple[float, dict[str, list]]:
    """The measure's time, and per distinct statement: [seconds in all, slowest run, SQL, parameters of that run]."""
    with recorded(s.engine) as seen:
        total = sample(measure, s, work)
    found: dict[str, list] = {}
    for seconds, statement, parameters in seen:
        entry = found.setdefault(" ".join(statement.split()), [0.0, 0.0, statement, parameters])
        entry[0] += seconds
        if seconds > entry[1]:
            entry[1:] = [seconds, statement, parameters]
    return total, found


def explain(sides: list[Side], work: Work, grown: list[Measure]) -> None:
    """For each measure that grew: the SQL statement whose time grew most from one county to the
    city, EXPLAIN ANALYZEd in both (the nodes that took a tenth of its time or more), if it grew by
    a quarter or more and its growth is 3% of the measure's time or more."""
    one, city = sides
    for measure in grown:
        (a_total, a), (b_total, b) = statements_of(measure, one, work), statements_of(measure, city, work)
        growth = {key: b[key][0] - a.get(key, [0.0])[0] for key in b}
        key = max(growth, key=growth.get)
        items = max(1, measure.items(work))
        print(
            f"\n{measure.name.strip()}: {a_total / items * 1000:.2f} ms an item in one county, "
            f"{b_total / items * 1000:.2f} in the city; the statement that grew most took "
            f"{a.get(key, [0.0])[0] / items * 1000:.2f} and {b[key][0] / items * 1000:.2f} ms an item"
        )
        before = a.get(key, [0.0])[0]
        if b[key][0] < 1.25 * before or growth[key] < 0.03 * b_total or not key.upper().startswith(("SELECT", "WITH")):
            print("  (no SQL statement grew by a quarter and a noticeable share of the time: the growth is elsewhere)")
            continue
        share = growth[key] / (b_total - a_total) if b_total > a_total else 1.0
        note = "" if share >= 0.5 else f" (this statement is {share:.0%} of the growth; the rest is outside SQL)"
        print(f"  {key[:160]} ...{note}")
        for s, found in ((one, a), (city, b)):
            if key in found:
                with s.engine.connect() as connection:
                    plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + found[key][2], found[key][3])
                    lines = plan.scalars().all()
                print(f"  {s.label}, its slowest run:")
                for line in costly_nodes(lines):
                    print(f"    {line}")


@contextmanager
def locked(cluster: LocalCluster, key: int) -> Iterator[None]:
    with closing(cluster.connect()) as connection, connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (key,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=None, help="runs whose median is shown (default 5; --quick 2)")
    parser.add_argument("--quick", action="store_true", help="fewer points, tiles and runs")
    parser.add_argument("--rebuild", action="store_true", help="build the city database again")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest statement of what grew")
    parser.add_argument("--points", type=int, default=None, help="points located per run (default 300; --quick 60)")
    parser.add_argument("--tiles", type=int, default=None, help="tiles per zoom per run (default 40; --quick 10)")
    parser.add_argument("--bulk", type=int, default=100_000, help="points assigned in bulk")
    parser.add_argument("--seed", type=int, default=14)
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))  # the copies are dropped
    repeat = options.repeat or (2 if options.quick else 5)
    points = options.points or (60 if options.quick else 300)
    tiles_per_zoom = options.tiles or (10 if options.quick else 40)

    cluster = LocalCluster(get_settings().database, log=lambda message: None)
    if not cluster.status().running:
        cluster.up()
    tag = uuid.uuid4().hex[:8]
    one_db, city_db = f"geo_service_bench_one_{tag}", f"geo_service_bench_city_{tag}"
    try:
        with locked(cluster, CITY_LOCK):
            ensure_city(cluster, options.rebuild)
            print(f"copies: city {copy_database(cluster, city_db, CITY):.1f} s, ", end="", flush=True)
        print(f"one county {copy_demo(cluster, one_db):.1f} s", flush=True)
        with closing(cluster.connect(one_db)) as connection, connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")  # as the city was left after its build
        with side("one county", cluster.url(one_db)) as one, side("city", cluster.url(city_db)) as city:
            sides = [one, city]
            for s in sides:
                print(sizes(s))
            work = make_work(one, points, options.bulk, tiles_per_zoom, options.seed)
            check_same(one, city, work)
            samples = run_all(sides, work, repeat)
            grown = report(samples, work, [s.label for s in sides], repeat)
            for s in sides:
                print(facts(s, work))
            if options.explain:
                explain(sides, work, grown)
    finally:
        dispose_engines()
        cluster.drop_database(one_db)
        cluster.drop_database(city_db)


if __name__ == "__main__":
    main()
