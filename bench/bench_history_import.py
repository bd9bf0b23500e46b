"""A county's past cases: the history import against today's batch import, on a copy of the demo.

    python bench/bench_history_import.py                  # 236,500 rows, once each
    python bench/bench_history_import.py --rows 20000 --repeat 3

Synthetic past cases are drawn at the demo's own incident locations and times (so every one falls
in a grid of the version then in force), most closed with their dispatch, resolving and closing
times and a satisfaction, some still being handled, a few rejected. Each run loads them by:

* history: ``geo_service.county.history.prepare_history`` then ``write_history`` (statuses, times,
  timelines of up to four steps, people bound to the open cases), in one transaction rolled back
  after timing;
* batch: ``geo_service.cases.batch.import_incidents`` with the same rows (every case recorded as
  new and dispatched now: one report and one dispatch step, people bound and told), committed.

Medians over ``--repeat`` runs: rows a second for each (and for the history's write alone), and
the ratio. The copy of the demo is made from the test template (``geo_service_test_template``,
built by the test suite or ``geo-service demo load`` into it) and dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from contextlib import closing

import numpy as np
import pandas as pd
from sqlalchemy import text

from geo_service.cases.batch import import_incidents
from geo_service.county.history import prepare_history, write_history
from geo_service.county.report import FileReport
from geo_service.county.sources import SourceTable as Table
from geo_service.db import migrate
from geo_service.db.cluster import LocalCluster
from geo_service.db.engine import dispose_engines, get_engine
from geo_service.rules.seed import seed_rules
from geo_service.settings import Settings, get_settings

TEMPLATE = "geo_service_test_template"
TEMPLATE_LOCK = 5114210  # the test suite's lock on the template


def synthetic(engine, n: int, prefix: str, zone: str, seed: int) -> pd.DataFrame:
    """``n`` past cases at the demo's incident places and times, as a county's export has them."""
    with engine.connect() as connection:
        base = pd.read_sql(
            text("SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, reported_at FROM incidents ORDER BY id LIMIT :n"),
            connection,
            params={"n": n},
        )
    base = base.sample(n, replace=len(base) < n, random_state=seed).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    reported = base["reported_at"].dt.tz_convert(zone)
    dispatched = reported + pd.to_timedelta(rng.integers(5, 120, n), unit="min")
    resolved = dispatched + pd.to_timedelta(rng.integers(1, 96, n), unit="h")
    closed = resolved + pd.to_timedelta(rng.integers(1, 48, n), unit="h")
    status = rng.choice(["已办结", "办理中", "已分拨", "不予受理"], n, p=[0.9, 0.05, 0.03, 0.02])
    finished = status == "已办结"

    def shown(times: pd.Series, keep: np.ndarray) -> pd.Series:
        return times.dt.strftime("%Y-%m-%d %H:%M:%S").where(keep, None)

    return pd.DataFrame(
        {
            "external_id": [f"{prefix}-{i}" for i in range(n)],
            "category": rng.choice(["公共服务", "矛盾纠纷类", "治安隐患", "宣传教育类"], n),
            "source": rng.choice(["网格员", "12345热线", "视频巡查"], n),
            "status": status,
            "reported_at": shown(reported, np.ones(n, dtype=bool)),
            "dispatched_at": shown(dispatched, status != "不予受理"),
            "resolved_at": shown(resolved, finished),
            "closed_at": shown(closed, finished),
            "satisfaction": pd.Series(rng.choice(["满意", "5", "基本满意"], n)).where(finished, None),
            "lon": base["lon"].to_numpy(),
            "lat": base["lat"].to_numpy(),
            "_row": np.arange(1, n + 1),
        }
    )


def run_history(engine, frame: pd.DataFrame, settings: Settings) -> tuple[float, float, dict]:
    table = Table("bench.csv", "incidents", frame, {}, FileReport("bench.csv", "incidents", "cgcs2000"))
    with engine.connect() as connection:
        transaction = connection.begin()
        start = time.perf_counter()
        prepared = prepare_history(connection, table, settings=settings)
        middle = time.perf_counter()
        counts = write_history(connection, prepared, settings=settings, actor="bench")
        end = time.perf_counter()
        transaction.rollback()
    assert not table.report.errors, table.report.errors[:5]
    return end - start, end - middle, counts


def run_batch(engine, frame: pd.DataFrame, settings: Settings) -> float:
    # Today's path knows codes only: the same rows with the codes its checks accept.
    rows = pd.DataFrame(
        {
            "external_id": frame["external_id"] + "-b",
            "category": "public_service",
            "source": "grid_app",
            "reported_at": frame["reported_at"],
        }
    )
    lon, lat = frame["lon"].to_numpy(), frame["lat"].to_numpy()
    start = time.perf_counter()
    result = import_incidents(engine, rows, lon, lat, "cgcs2000", actor="bench", settings=settings)
    elapsed = time.perf_counter() - start
    assert result.count("error") == 0, result.errors.head()
    return elapsed  # its rows stay (deleting them is slow: merged_into_id has no index); the copy is dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=236_500)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=14)
    options = parser.parse_args()

    base = get_settings()
    cluster = LocalCluster(base.database, log=lambda message: None)
    if not cluster.status().running:
        cluster.up()
    if not cluster.database_exists(TEMPLATE):
        raise SystemExit(f"no {TEMPLATE}: run the demo tests once (or load the demo into it) first")
    name = f"geo_service_bench_history_{uuid.uuid4().hex[:8]}"
    with closing(cluster.connect()) as lock, lock.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (TEMPLATE_LOCK,))
        cluster.create_database(name, template=TEMPLATE)
        cur.execute("SELECT pg_advisory_unlock(%s)", (TEMPLATE_LOCK,))
    try:
        url = cluster.url(name)
        migrate.upgrade(url)  # a template built before the newest migrations: bring the copy up to date
        settings = Settings(database_url=url)
        engine = get_engine(url)
        raw = engine.raw_connection()
        with raw.cursor() as cursor:
            seed_rules(cursor)
        raw.commit()
        raw.close()
        history, write, batch = [], [], []
        for run in range(options.repeat):
            prefix = f"H{run}"
            frame = synthetic(engine, options.rows, prefix, settings.place.timezone, options.seed + run)
            total, written, counts = run_history(engine, frame, settings)
            history.append(total)
            write.append(written)
            print(
                f"run {run + 1}: history {total:.2f} s (write {written:.2f} s, {counts['events']:,} steps, "
                f"{counts['bound']:,} bound)",
                flush=True,
            )
            batch.append(run_batch(engine, frame, settings))
            print(f"run {run + 1}: batch {batch[-1]:.2f} s", flush=True)
        n = options.rows
        h, w, b = (statistics.median(x) for x in (history, write, batch))
        print(f"{n:,} rows, median of {options.repeat}:")
        print(f"  history import  {n / h:>10,.0f} rows/s  (prepare and write, {h:.2f} s)")
        print(f"  history write   {n / w:>10,.0f} rows/s  ({w:.2f} s)")
        print(f"  batch import    {n / b:>10,.0f} rows/s  ({b:.2f} s)")
        print(f"  history / batch: {b / h:.2f}x the rows a second")
    finally:
        dispose_engines()
        cluster.drop_database(name)


if __name__ == "__main__":
    main()
