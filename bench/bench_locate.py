"""`GET /locate` latency and throughput under load from other processes on loopback.

    python bench/bench_locate.py                      # against the demo county
    python bench/bench_locate.py --requests 2000 --clients 1,4
    python bench/bench_locate.py --scale both         # the demo county, then a city of ~11,000 grids

The service runs in its own process (as `geo-service serve --workers N` runs it) with two extra
routes that answer a constant, the cost of the HTTP stack alone: `/floor`, a plain function run
on a thread as most routes are, and `/floor/async`, run on the event loop as /locate is when
what it needs is kept in memory. A second process generates the load: one thread and keep-alive
connection per concurrent client, each sending requests for random points of the county's grids
in all four datums. For each number of concurrent clients it prints p50 and p99 latency and
requests per second for /locate and for both floors, and the ratios to each. The three are loaded
in turn on the same connections, and how those fell on the workers is printed: with two
workers, two keep-alive connections land on one worker about half the time (each worker accepts
whatever is waiting when it wakes), and two clients then share one core.
Bounded: every client sends a fixed number of requests, and the server is stopped at the end.
The signed-in user is an administrator of the first county, whose officers' phones are read (and
so put on the audit log) by every lookup, as a dispatcher's are.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scale import add_scale_argument, scale_database, scales
from signin import bench_headers, first_county

SERVER = """
import sys
sys.path.insert(0, {app_dir!r})
from geo_service.serving import serve
serve("127.0.0.1", {port}, {workers}, app="bench_locate:make_app", log_level="warning", access_log=False)
"""


def make_app():
    """The service's own app as `geo-service serve` makes it, plus `/floor`: the HTTP stack's cost
    with no work behind it."""
    from geo_service.api.app import create_app

    app = create_app(start_analysis_pool=True)

    # Each floor names the worker process that answered: the load tells how its connections fell.
    @app.get("/floor", include_in_schema=False)
    def floor() -> dict:
        return {"ok": True, "worker": os.getpid()}

    # /locate answers on the event loop when all it needs is kept: the same floor without a thread.
    @app.get("/floor/async", include_in_schema=False)
    async def floor_async() -> dict:
        return {"ok": True, "worker": os.getpid()}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_queries(url: str, county: str, n: int, seed: int) -> list[str]:
    """Query strings for random points in the grids of ``county`` in force now, in random datums."""
    from geo_service.coordinates import datum
    from geo_service.db.engine import get_engine

    with get_engine(url).connect() as connection:
        points = connection.exec_driver_sql(
            f"""
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT (ST_Dump(ST_GeneratePoints(geom, 2, {seed}))).geom AS p FROM grids
                 WHERE version_id = (SELECT id FROM boundary_versions WHERE status = 'published'
                                      AND county_code = %s AND effective_from <= now()
                                      ORDER BY effective_from DESC LIMIT 1)
            ) s
        """,
            (county,),
        ).all()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(points), n)
    datums = rng.choice(["cgcs2000", "wgs84", "gcj02", "bd09"], n)
    queries = []
    for pick, name in zip(picks, datums):
        lon, lat = datum.convert(points[pick][0], points[pick][1], "cgcs2000", str(name))
        queries.append(urllib.parse.urlencode({"lon": f"{float(lon):.7f}", "lat": f"{float(lat):.7f}", "crs": name}))
    return queries


def client(
    connection: http.client.HTTPConnection, path: str, queries: list[str], start_at: float, headers: dict
) -> tuple[list[float], int]:
    """Send the queries in order on one keep-alive connection; latencies and the count of errors."""
    latencies: list[float] = []
    errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    for query in queries:
        started = time.perf_counter()
        try:
            connection.request("GET", f"{path}?{query}", headers=headers)
            response = connection.getresponse()
            body = response.read()
            ok = response.status == 200 and (path != "/locate" or b'"grid"' in body)
        except (OSError, http.client.HTTPException):
            connection.close()  # reconnect on the next request
            ok = False
        latencies.append(time.perf_counter() - started)
        errors += not ok
    return latencies, errors


def worker_of(connection: http.client.HTTPConnection, headers: dict) -> int:
    """The server process answering on ``connection`` (a keep-alive connection stays with one)."""
    connection.request("GET", "/floor/async", headers=headers)
    return json.loads(connection.getresponse().read())["worker"]


def generator(port: int, paths: list[str], queries: list[str], clients: int, out: mp.Queue, headers: dict) -> None:
    """The load generator: one process, one thread and connection per concurrent client. Every
    path is loaded in turn on the same connections, so each meets the workers the same way: with
    two workers, two connections may both fall on one of them (the kernel and asyncio place them)."""
    share = len(queries) // clients
    slices = [queries[i * share : (i + 1) * share] for i in range(clients)]
    try:
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(clients)]
        workers = [worker_of(c, headers) for c in connections]
        results = {}
        with ThreadPoolExecutor(clients) as pool:
            for path in paths:
                start_at = time.time() + 0.3
                runs = list(
                    pool.map(client, connections, [path] * clients, slices, [start_at] * clients, [headers] * clients)
                )
                results[path] = (runs, time.time() - start_at)
        out.put((results, sorted(Counter(workers).values(), reverse=True)))
    except BaseException as exc:  # the parent must hear back whatever happens
        out.put(({path: ([([], len(queries))], 1.0) for path in paths}, []))
        raise exc


def warm(port: int, queries: list[str], workers: int, headers: dict, tries: int = 100) -> None:
    """Send every query to each of the ``workers`` server processes: connections are opened until
    one has reached each (where a connection lands is not ours to choose)."""
    reached: dict[int, http.client.HTTPConnection] = {}
    for _ in range(tries):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        reached.setdefault(worker_of(connection, headers), connection)
        if len(reached) == workers:
            break
    else:
        raise SystemExit(f"{tries} connections reached {len(reached)} of the {workers} workers")
    with ThreadPoolExecutor(workers) as pool:
        for latencies, errors in pool.map(
            client, reached.values(), ["/locate"] * workers, [queries] * workers, [0.0] * workers, [headers] * workers
        ):
            if errors:
                raise SystemExit(f"warming: {errors} of {len(latencies)} lookups failed")


def load(port: int, paths: list[str], queries: list[str], clients: int, headers: dict) -> tuple[dict, list[int]]:
    """Each path's p50, p99, rate and errors; and how many of the connections each worker served."""
    out: mp.Queue = mp.Queue()
    process = mp.Process(target=generator, args=(port, paths, queries, clients, out, headers))
    process.start()
    results, spread = out.get(timeout=600)
    process.join()
    measured = {}
    for path, (runs, wall) in results.items():
        latencies = np.concatenate([r[0] for r in runs]) * 1000
        measured[path] = {
            "p50": np.percentile(latencies, 50),
            "p99": np.percentile(latencies, 99),
            "rps": len(latencies) / wall,
            "errors": sum(r[1] for r in runs),
            "n": len(latencies),
        }
    return measured, spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="requests per run (shared by the clients)")
    parser.add_argument("--clients", default="1,4", help="concurrent client processes, comma-separated")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (a 2-core machine: 2)")
    add_scale_argument(parser)
    args = parser.parse_args()
    for scale in scales(args.scale):
        with scale_database(scale) as url:
            run_scale(args, scale, url)


def run_scale(args, scale: str, url: str) -> None:
    from geo_service.db import migrate

    if migrate.current_revision(url) != migrate.head_revision():
        raise SystemExit(f"the {scale} database is not at the newest schema: run `geo-service db migrate` first")
    port = free_port()
    code = SERVER.format(app_dir=os.path.dirname(os.path.abspath(__file__)), port=port, workers=args.workers)
    # The server's request log (a JSON line a request) is not this benchmark's output.
    env = {**os.environ, "GEO_SERVICE_DATABASE_URL": url}
    server = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL)
    county = first_county(url)
    with bench_headers(url, county) as headers:
        try:
            run_all(args, port, headers, url, county, scale)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)


def run_all(args, port: int, headers: dict, url: str, county: str, scale: str) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit("the server did not start")
    queries = sample_queries(url, county, args.requests, seed=7)
    # Warm every worker with every query once: a service up for a while has been asked about
    # every grid, and keeps its officers (the first lookup of a grid reads them on a thread).
    warm(port, queries, args.workers, headers)
    print(
        f"/locate, {scale} scale (points of county {county[:6]}), {args.requests:,} requests a run, "
        f"server: {args.workers} uvicorn worker(s); medians"
    )
    print(f"{'clients':>7} {'endpoint':>11} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
    for clients in [int(c) for c in args.clients.split(",")]:
        measured, spread = load(port, ["/floor", "/floor/async", "/locate"], queries, clients, headers)
        floor, floor_async, found = measured["/floor"], measured["/floor/async"], measured["/locate"]
        for name, r in (("floor", floor), ("floor/async", floor_async), ("locate", found)):
            print(f"{clients:>7} {name:>11} {r['p50']:8.2f} {r['p99']:8.2f} {r['rps']:8.0f} {r['errors']:>6}")
        print(f"{'':>7} connections per worker: {' + '.join(map(str, spread))}")
        for name, r in (("floor", floor), ("async floor", floor_async)):
            print(
                f"{'':>7} /locate costs {found['p50'] / r['p50']:.1f}x the {name} at p50; "
                f"{found['rps'] / r['rps']:.2f}x its throughput"
            )


if __name__ == "__main__":
    main()
