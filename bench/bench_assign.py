"""Bulk assignment of points to grids: ours against geopandas sjoin and a plain PostGIS join.

    python bench/bench_assign.py                 # demo county grids and 10,000 synthetic grids
    python bench/bench_assign.py --points 200000 --scenario demo

For each scenario, one million points (half spread evenly over the area, half clustered around
a few centres, as incidents are) are assigned by:

* ours: ``geo_service.lookup.grid_index.GridIndex`` (STR-tree in memory, the documented tie rule included);
* sjoin: ``geopandas.sjoin(points, grids, predicate="intersects")`` (no tie rule: it returns every
  covering grid, so it does strictly less work);
* postgis: COPY the points into a table, index it, and ``JOIN grids ON ST_Covers`` as the planner
  chooses, fetching the result (end to end from Python, as an application would).

Each is run ``--repeat`` times; medians are printed with the ratio of ours to each alternative,
and the agreement of the answers (ours against the smallest-code covering grid of the others).
The demo scenario needs the demo county loaded (``./scripts/demo.sh`` or ``geo-service demo load``).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import uuid
from contextlib import closing

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo_service.db.cluster import LocalCluster
from geo_service.db.engine import engine_for, get_engine
from geo_service.lookup.grid_index import GridIndex
from geo_service.settings import get_settings


def sample_points(area: shapely.Geometry, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Half uniform over the area's bounding box (so some fall outside), half around 8 centres."""
    minx, miny, maxx, maxy = area.bounds
    half = n // 2
    ux, uy = rng.uniform(minx, maxx, half), rng.uniform(miny, maxy, half)
    centres = np.column_stack([rng.uniform(minx, maxx, 8), rng.uniform(miny, maxy, 8)])
    pick = rng.integers(0, 8, n - half)
    spread = (maxx - minx) / 60
    cx = centres[pick, 0] + rng.normal(0, spread, n - half)
    cy = centres[pick, 1] + rng.normal(0, spread, n - half)
    return np.concatenate([ux, cx]), np.concatenate([uy, cy])


def demo_grids() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    engine = engine_for(get_settings())
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("""
            SELECT g.code, g.level, ST_AsBinary(g.geom) FROM grids g
             WHERE g.version_id = (SELECT id FROM boundary_versions WHERE status = 'published'
                                    AND effective_from <= now() ORDER BY effective_from DESC LIMIT 1)
        """).all()
    if not rows:
        raise SystemExit("no demo grids: run ./scripts/demo.sh or geo-service demo load first")
    codes = np.array([r[0] for r in rows], dtype=object)
    levels = np.array([r[1] for r in rows])
    return codes, levels, shapely.from_wkb([bytes(r[2]) for r in rows]), get_settings().database.url


def synthetic_grids(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` Voronoi grids over 50 x 50 km around the demo county's centre, in CGCS2000."""
    to_geo = Transformer.from_crs(4544, 4490, always_xy=True)
    x0, y0 = 420_000.0, 3_320_000.0
    seeds = shapely.points(rng.uniform(x0, x0 + 50_000, n), rng.uniform(y0, y0 + 50_000, n))
    frame = shapely.box(x0, y0, x0 + 50_000, y0 + 50_000)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame))
    cells = shapely.intersection(cells, frame)
    cells = shapely.transform(cells, to_geo.transform, interleaved=False)
    codes = np.array([f"511421{i:09d}" for i in range(len(cells))], dtype=object)
    return codes, np.ones(len(cells), dtype=int), cells


def load_synthetic(cluster: LocalCluster, codes, geometries) -> str:
    name = f"geo_service_bench_{uuid.uuid4().hex[:6]}"
    cluster.create_database(name)
    url = cluster.url(name)
    with closing(cluster.connect(name, user=cluster.settings.pg_user)) as connection, connection.cursor() as cur:
        cur.execute("CREATE TABLE grids (code text, level int, version_id int, geom geometry(MultiPolygon, 4490))")
        buffer = io.StringIO()
        multi = [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geometries]
        wkb = shapely.to_wkb(shapely.set_srid(np.array(multi, dtype=object), 4490), hex=True, include_srid=True)
        pd.DataFrame({"code": codes, "level": 1, "version_id": 1, "geom": wkb}).to_csv(
            buffer, index=False, header=False
        )
        buffer.seek(0)
        cur.copy_expert("COPY grids FROM STDIN WITH (FORMAT csv)", buffer)
        cur.execute("CREATE INDEX ON grids USING gist (geom); ANALYZE grids")
    return url


def run_ours(codes, levels, geometries, lon, lat) -> np.ndarray:
    index = GridIndex(codes, levels, geometries)
    found = index.assign(lon, lat)
    return np.where(found >= 0, index.codes[np.maximum(found, 0)], None)


def run_sjoin(codes, geometries, lon, lat) -> np.ndarray:
    grids = gpd.GeoDataFrame({"code": codes}, geometry=geometries, crs=4490)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4490)
    joined = gpd.sjoin(points, grids, predicate="intersects", how="left")
    # The smallest covering code per point (no level rule): the same answer for level-1-only grids.
    first = joined["code"].groupby(level=0).min().reindex(range(len(lon)))
    return first.astype(object).where(first.notna(), None).to_numpy(dtype=object)


def run_postgis(url: str, lon, lat) -> np.ndarray:
    engine = get_engine(url)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE pts (id int, geom geometry(Point, 4490)) ON COMMIT DROP")
            buffer = io.StringIO()
            pd.DataFrame({"id": np.arange(len(lon)), "x": lon, "y": lat}).to_csv(buffer, index=False, header=False)
            buffer.seek(0)
            cur.execute("CREATE TEMP TABLE raw_pts (id int, x float8, y float8) ON COMMIT DROP")
            cur.copy_expert("COPY raw_pts FROM STDIN WITH (FORMAT csv)", buffer)
            cur.execute("INSERT INTO pts SELECT id, ST_SetSRID(ST_MakePoint(x, y), 4490) FROM raw_pts")
            cur.execute("CREATE INDEX ON pts USING gist (geom); ANALYZE pts")
            cur.execute("""
                SELECT p.id, min(g.code) FROM pts p JOIN grids g ON ST_Covers(g.geom, p.geom)
                 GROUP BY p.id
            """)
            result = np.full(len(lon), None, dtype=object)
            for point_id, code in cur.fetchall():
                result[point_id] = code
        raw.rollback()
    finally:
        raw.close()
    return result


def timed(function, *args, repeat: int):
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = function(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times), answer


def scenario(name: str, codes, levels, geometries, url: str, points: int, repeat: int, rng) -> None:
    area = shapely.union_all(geometries)
    lon, lat = sample_points(area, points, rng)
    print(f"\n== {name}: {len(codes):,} grids, {points:,} points, median of {repeat} ==")
    ours_s, ours = timed(run_ours, codes, levels, geometries, lon, lat, repeat=repeat)
    sjoin_s, sjoin = timed(run_sjoin, codes, geometries, lon, lat, repeat=repeat)
    postgis_s, postgis = timed(run_postgis, url, lon, lat, repeat=max(1, repeat - 1))
    level1 = levels.max() == 1
    for label, seconds in (
        ("ours (in memory, with tie rule)", ours_s),
        ("geopandas sjoin", sjoin_s),
        ("PostGIS join, end to end", postgis_s),
    ):
        print(f"{label:<34} {seconds:8.2f} s  {points / seconds / 1e6:6.2f} M points/s")
    print(f"ours vs sjoin:   {sjoin_s / ours_s:5.2f}x faster")
    print(f"ours vs PostGIS: {postgis_s / ours_s:5.2f}x faster")
    if level1:
        agree = lambda other: np.mean([a == b for a, b in zip(ours, other)])
        print(f"agreement: sjoin {agree(sjoin):.4%}, PostGIS {agree(postgis):.4%}")
    else:
        # With sub-grids the finest level wins in ours; compare the level-1 grid it lies in.
        top = lambda codes_: [c[:15] if c else None for c in codes_]
        agree = lambda other: np.mean([a == b for a, b in zip(top(ours), top(other))])
        print(f"agreement on the level-1 grid: sjoin {agree(sjoin):.4%}, PostGIS {agree(postgis):.4%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenario", choices=["demo", "synthetic", "both"], default="both")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    if args.scenario in ("demo", "both"):
        codes, levels, geometries, url = demo_grids()
        scenario("demo county", codes, levels, geometries, url, args.points, args.repeat, rng)
    if args.scenario in ("synthetic", "both"):
        cluster = LocalCluster(get_settings().database, log=lambda m: None)
        codes, levels, geometries = synthetic_grids(10_000, rng)
        url = load_synthetic(cluster, codes, geometries)
        try:
            scenario(
                "synthetic 10,000 Voronoi grids, 50 x 50 km",
                codes,
                levels,
                geometries,
                url,
                args.points,
                args.repeat,
                rng,
            )
        finally:
            get_engine(url).dispose()
            cluster.drop_database(url.rsplit("/", 1)[1])


if __name__ == "__main__":
    main()
