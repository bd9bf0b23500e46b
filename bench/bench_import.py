"""Recording a file of new incidents: the set-based intake against the writer it replaced.

    python bench/bench_import.py                          # 100,000 rows on the demo county
    python bench/bench_import.py --rows 1000000 --repeat 1 --scale city
    python bench/bench_import.py --batch                  # also POST /incidents/batch's 10,000 rows

A CSV file of ``--rows`` random points in the grids in force (reported in the last 90 days, in
WGS84, of random categories, sources and colours) is recorded by ``geo-service assign --load``'s
function, ``geo_service.cases.batch.import_file``, two ways, each in a fresh writable copy of the
scale's database (``bench/scale.py``) and in a process of its own (so that its peak memory is its
own):

* intake: today's ``import_file``: the file streamed in chunks, each written by
  ``geo_service.cases.intake.record_new`` (COPY into staging, one ``INSERT ... SELECT`` each for
  the incidents, their timelines, the people bound and their messages; people resolved per place);
* before: the file read whole, the same checks and assignment, then the writer as it was
  (``record_new_before`` below: people resolved per place one query each, bound through a COPY,
  told by one query per routing note, notes built per row).

Medians over ``--repeat`` runs of rows a second and peak resident memory, the intake's ratio to
each other way, and the stored rows counted each way (they must agree); ``--only intake`` runs
one way alone. ``--batch`` times the batch endpoint's largest request (``MAX_INCIDENTS`` rows
through ``import_incidents``, the function it calls) the same ways. ``--ceiling`` times, for the
same number of rows, what no writer of this schema can beat on the machine: the incidents alone,
staged, inserted by one statement (:func:`ceiling`).
``--keys`` also runs the intake on a copy with no foreign key on the four tables it writes
(``unkeyed``): PostgreSQL checks each key of each row on its own, and the difference is what
those checks cost; the service keeps its keys.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scale import add_scale_argument, scale_database, scales
from sqlalchemy import text
from sqlalchemy.engine import Connection

METHODS = ("intake", "before", "unkeyed")
WRITTEN = ("incidents", "incident_events", "incident_officers", "outbox")  # the tables the intake writes
TEMPLATE, TEMPLATE_LOCK = "geo_service_test_template", 5114210  # the test suite's, and its lock
COUNTS = {
    "incidents": "SELECT count(*) FROM incidents",
    "events": "SELECT count(*) FROM incident_events",
    "bound": "SELECT count(*) FROM incident_officers",
    "messages": "SELECT count(*) FROM outbox",
}


def write_file(url: str, rows: int, path: Path, seed: int = 19) -> None:
    """``rows`` random points in the grids in force, as a county's export of new reports has them."""
    from geo_service.db.engine import dispose_engines, get_engine

    engine = get_engine(url)
    with engine.connect() as connection:
        grids = connection.execute(
            text(
                "SELECT count(*) FROM grids g JOIN boundary_versions v ON v.id = g.version_id WHERE v.status = 'published'"
            )
        ).scalar_one()
        points = pd.read_sql(
            text("""
                SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (
                    SELECT (ST_Dump(ST_GeneratePoints(g.geom, :each, :seed))).geom AS p
                      FROM grids g JOIN boundary_versions v ON v.id = g.version_id
                     WHERE v.status = 'published' AND g.level = 1) x"""),
            connection,
            params={"each": rows // max(grids, 1) + 2, "seed": seed},
        )
        categories = list(connection.execute(text("SELECT code FROM categories")).scalars())
        sources = list(connection.execute(text("SELECT code FROM sources")).scalars())
    dispose_engines()  # no connection left open on the database copied next
    rng = np.random.default_rng(seed)
    points = points.sample(rows, replace=len(points) < rows, random_state=seed).reset_index(drop=True)
    reported = pd.Timestamp.now(tz="Asia/Shanghai") - pd.to_timedelta(rng.integers(3600, 90 * 86400, rows), unit="s")
    pd.DataFrame(
        {
            "external_id": [f"IMP-{n}" for n in range(rows)],
            "category": rng.choice(categories, rows),
            "source": rng.choice(sources, rows),
            "reported_at": reported.strftime("%Y-%m-%d %H:%M:%S"),
            "risk_colour": rng.choice(["blue", "yellow", "red"], rows, p=[0.8, 0.15, 0.05]),
            "description": "bench",
            "lon": points["lon"].round(7),
            "lat": points["lat"].round(7),
        }
    ).to_csv(path, index=False)


# -- the writer as it was ---------------------------------------------------------------------


def record_new_before(
    connection: Connection, cases: pd.DataFrame, now: datetime, zone: str, *, actor: str
) -> pd.DataFrame:
    """``geo_service.cases.writer.record_new`` as it was before the intake replaced it (an
    import's path: one audit entry)."""
    from geo_service.auth import audit
    from geo_service.cases.binding import bind_up, nobody
    from geo_service.cases.outbox import notify_bound
    from geo_service.cases.responsibility import time_limit
    from geo_service.cases.writer import (
        INCIDENT_COLUMNS,
        add_events,
        dispatch_note,
        insert_incidents,
        outside_note,
        raised_note,
        with_note,
    )

    cases = cases.reset_index(drop=True)
    if cases.empty:
        return pd.DataFrame(columns=["id", "external_id"])
    inside = cases["inside"].to_numpy(dtype=bool)
    limits = {
        pair: time_limit(connection, *pair)
        for pair in set(zip(cases["category"][inside], cases["risk_colour"][inside]))
    }
    rows = cases[[c for c in INCIDENT_COLUMNS if c in cases.columns]].copy()
    for column in ("grid_code", "village_code", "town_code"):
        rows[column] = np.where(inside, cases[column], None)
    rows["status"] = np.where(inside, "dispatched", "reported")
    rows["dispatched_at"] = pd.Series([now if i else None for i in inside], dtype=object)
    rows["deadline"] = [
        now + limits[(c, r)] if i else None for c, r, i in zip(cases["category"], cases["risk_colour"], inside)
    ]
    rows["reported_at"] = pd.to_datetime(rows["reported_at"], utc=True)
    for column in ("dispatched_at", "deadline"):
        rows[column] = pd.to_datetime(rows[column], utc=True)
    new = insert_incidents(connection, rows)
    if new.empty:
        return new
    written = cases.assign(status=rows["status"]).merge(new, on="external_id")
    dispatched = written[written["status"] == "dispatched"]
    bound, tiers = bind_up(connection, dispatched, "village", now, zone)
    raised = {case: tier for case, tier in tiers.items() if tier != "village"}
    if raised:
        connection.execute(
            text("""UPDATE incidents i SET tier = r.tier
                      FROM unnest(CAST(:ids AS bigint[]), CAST(:tiers AS text[])) AS r(id, tier) WHERE i.id = r.id"""),
            {"ids": list(raised), "tiers": list(raised.values())},
        )
    said = [
        dispatch_note(grid, name, bound[int(i)])
        for i, grid, name in zip(dispatched["id"], dispatched["grid_code"], dispatched["grid_name"])
    ]
    notes = pd.Series(said, index=dispatched.index, dtype=object)
    escalated = pd.DataFrame(
        {
            "incident_id": list(raised),
            "at": pd.Timestamp(now),
            "actor": "system",
            "action": "escalate",
            "note": [raised_note("village", tier, bound[case]) for case, tier in raised.items()],
            "data": [
                with_note(
                    {"from_tier": "village", "to_tier": tier, "unattended": nobody(bound[case])},
                    raised_note("village", tier, bound[case]),
                )
                for case, tier in raised.items()
            ],
        }
    )
    waiting = written[(written["status"] != "dispatched") & written["grid_code"].notna()]
    away = [
        outside_note(code, name, distance)
        for code, name, distance in zip(waiting["grid_code"], waiting["grid_name"], waiting["nearest_distance_m"])
    ]
    report = pd.DataFrame(
        {
            "incident_id": written["id"],
            "at": pd.to_datetime(written["reported_at"], utc=True),
            "actor": written["source"],
            "action": "report",
            "from_status": None,
            "to_status": "reported",
            "note": pd.Series(away, index=waiting.index, dtype=object).reindex(written.index),
            "data": pd.Series([with_note(None, n) for n in away], index=waiting.index, dtype=object).reindex(
                written.index
            ),
        }
    )
    dispatch = pd.DataFrame(
        {
            "incident_id": dispatched["id"],
            "at": pd.Timestamp(now),
            "actor": "system",
            "action": "dispatch",
            "from_status": "reported",
            "to_status": "dispatched",
            "note": notes,
            "data": pd.Series([with_note(None, n) for n in said], index=dispatched.index, dtype=object),
        }
    )
    add_events(connection, pd.concat([report, dispatch, *([escalated] if raised else [])]))
    for note, ids in dispatched["id"].groupby(notes, sort=False):
        notify_bound(connection, [int(i) for i in ids], "dispatch", str(note))
    audit.record(
        connection,
        actor,
        "import",
        "incident",
        after={"created": len(written), "first_id": int(written["id"].min()), "last_id": int(written["id"].max())},
    )
    return new


def import_before(engine, frame, lon, lat, crs: str, settings, problems=None) -> int:
    """The rows checked and assigned as ``import_chunks`` does, in one piece, then written by
    ``record_new_before`` in one transaction and each row's id looked up afterwards. Returns the
    number of incidents stored."""
    from geo_service.auth.jurisdiction import EVERYTHING
    from geo_service.cases import batch
    from geo_service.cases.batch_rows import Chunk, Known, Seen, check_rows
    from geo_service.cases.transfers import route_new
    from geo_service.progress import Silent

    now = datetime.now(UTC)
    with engine.begin() as connection:
        known = Known.read(connection)
        rows, cases, matters = check_rows(
            connection,
            Chunk(frame, lon, lat, crs, problems),
            0,
            known,
            Seen(),
            settings,
            EVERYTHING,
            Silent(),
        )
        written = record_new_before(connection, cases, now, settings.place.timezone, actor="bench")
        routed = {int(i): matters[e] for i, e in zip(written["id"], written["external_id"]) if e in matters}
        route_new(connection, routed, now, signed_in="bench")
    with engine.connect() as connection:
        batch._stored_ids(connection, rows["external_id"].tolist(), rows["county_code"].tolist())
    return len(written)


# -- one run, in a process of its own --------------------------------------------------------


def child(method: str, url: str, path: Path, batch_rows: int) -> None:
    from geo_service.cases.batch import import_file, import_incidents
    from geo_service.db.engine import get_engine
    from geo_service.lookup.point_files import read_points
    from geo_service.settings import Settings

    settings = Settings(database_url=url)
    engine = get_engine(url)
    with engine.connect() as connection:  # the grids in memory before the clock starts, both ways
        from geo_service.lookup.bulk_assign import snapshot

        snapshot(connection, None, settings)
    start = time.perf_counter()
    if batch_rows:  # the batch endpoint's largest request, through the function it calls
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=batch_rows)
        lon, lat = frame["lon"].astype(float).to_numpy(), frame["lat"].astype(float).to_numpy()
        if method in ("intake", "unkeyed"):
            stored = import_incidents(engine, frame, lon, lat, "wgs84", actor="bench", settings=settings).count(
                "created"
            )
        else:
            stored = import_before(engine, frame, lon, lat, "wgs84", settings)
    elif method in ("intake", "unkeyed"):
        stored = import_file(engine, path, crs="wgs84", actor="bench", settings=settings).count("created")
    else:
        frame, lon, lat, problems = read_points(path)
        stored = import_before(engine, frame, lon, lat, "wgs84", settings, problems)
    seconds = time.perf_counter() - start
    with engine.connect() as connection:
        counts = {name: connection.execute(text(sql)).scalar_one() for name, sql in COUNTS.items()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "stored": stored, "peak_mb": peak_mb, "counts": counts}))


def drop_keys(url: str) -> None:
    """Drop every foreign key of the tables the intake writes (a partition's go with its parent's)."""
    from geo_service.db.engine import dispose_engines, get_engine

    with get_engine(url).begin() as connection:
        keys = connection.execute(
            text("""SELECT conrelid::regclass::text, conname FROM pg_constraint
                     WHERE contype = 'f' AND conparentid = 0 AND conrelid::regclass::text = ANY(:tables)"""),
            {"tables": list(WRITTEN)},
        ).all()
        for table, name in keys:
            connection.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    dispose_engines()


def run(method: str, scale: str, path: Path, batch_rows: int) -> dict:
    with scale_database(scale, writable=True) as url:
        if method == "unkeyed":
            drop_keys(url)
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                method,
                "--url",
                url,
                "--file",
                str(path),
                "--batch-rows",
                str(batch_rows),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
        )
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(scale: str, path: Path, rows: int, repeat: int, methods: list[str], batch_rows: int = 0) -> None:
    label = f"{scale}, {'batch of ' if batch_rows else ''}{rows:,} rows"
    results: dict[str, list[dict]] = {method: [] for method in methods}
    for n in range(repeat):
        for method in results:  # alternately, so that a noisy minute falls on both
            results[method].append(run(method, scale, path, batch_rows))
            r = results[method][-1]
            print(f"  {label} run {n + 1} {method:>6}: {r['seconds']:.2f} s, {r['peak_mb']:,.0f} MB peak", flush=True)
    medians = {m: statistics.median(r["seconds"] for r in rs) for m, rs in results.items()}
    peaks = {m: statistics.median(r["peak_mb"] for r in rs) for m, rs in results.items()}
    stored = {m: rs[-1]["stored"] for m, rs in results.items()}
    print(f"{label}, median of {repeat}:")
    for method in results:
        print(
            f"  {method:>6}  {stored[method] / medians[method]:>9,.0f} rows/s  ({medians[method]:.2f} s, "
            f"peak {peaks[method]:,.0f} MB; stored {results[method][-1]['counts']})"
        )
    if "intake" in results:
        for other in set(results) - {"intake"}:
            print(f"  intake / {other}: {medians[other] / medians['intake']:.2f}x the rows a second")
            if results["intake"][-1]["counts"] != results[other][-1]["counts"]:
                print(f"  intake and {other} stored different numbers of rows!")


CEILING = """
    CREATE TEMP TABLE staged AS SELECT * FROM incidents WHERE merged_into_id IS NULL LIMIT {rows};
    UPDATE staged SET id = nextval('incidents_id_seq'), external_id = external_id || '-again';
    CREATE TEMP TABLE bare (LIKE incidents INCLUDING DEFAULTS);
"""


def ceiling(scale: str, rows: int, repeat: int) -> None:
    """The most any writer could reach with this schema on this machine: ``rows`` incidents
    already read, checked, assigned and staged, inserted by one statement, with nothing else
    written (no timeline, no people, no messages); beside the same rows into a temporary table
    with no index, key, partition or WAL (the machine itself)."""
    timings: dict[str, list[float]] = {"incidents": [], "bare": []}
    for _ in range(repeat):
        with scale_database(scale, writable=True) as url:
            from geo_service.db.engine import get_engine

            with get_engine(url).begin() as connection:
                connection.exec_driver_sql(CEILING.format(rows=int(rows)))
                for table in timings:
                    start = time.perf_counter()
                    connection.exec_driver_sql(f"INSERT INTO {table} SELECT * FROM staged")
                    timings[table].append(time.perf_counter() - start)
    medians = {table: statistics.median(times) for table, times in timings.items()}
    print(f"{scale}, the incidents alone, staged, median of {repeat}:")
    print(f"  incidents {rows / medians['incidents']:>9,.0f} rows/s  (its 12 indexes, keys and partitions)")
    print(f"  bare      {rows / medians['bare']:>9,.0f} rows/s  (a temporary table: no index, key, partition or WAL)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--batch", action="store_true", help="also the batch endpoint's largest request")
    parser.add_argument("--ceiling", action="store_true", help="also the incidents alone, staged, as a ceiling")
    parser.add_argument("--keys", action="store_true", help="also the intake with no foreign keys: what they cost")
    parser.add_argument(
        "--only", choices=METHODS, help="one way alone (the peak memory of a file of millions of rows, say)"
    )
    add_scale_argument(parser)
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch-rows", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child, options.url, options.file, options.batch_rows)
        return
    from geo_service.api.bulk import MAX_INCIDENTS

    for scale in scales(options.scale):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "incidents.csv"
            with scale_database(scale) as url:
                write_file(url, options.rows, path)
            methods = [options.only] if options.only else ["intake", "before", *(["unkeyed"] if options.keys else [])]
            compare(scale, path, options.rows, options.repeat, methods)
            if options.batch:
                compare(scale, path, MAX_INCIDENTS, options.repeat, methods, batch_rows=MAX_INCIDENTS)
        if options.ceiling:
            ceiling(scale, options.rows, options.repeat)


if __name__ == "__main__":
    main()
