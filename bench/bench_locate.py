"""`GET /locate` latency and throughput under load from other processes on loopback.

    python bench/bench_locate.py                      # against the demo county
    python bench/bench_locate.py --requests 2000 --clients 1,4

The service runs in its own process (uvicorn, as `geo-service serve` runs it) with one extra
route, `/floor`, that answers a constant: the cost of the HTTP stack alone. Client processes send
requests over keep-alive connections to random points of the county (in its grids, near its
edges and in all four datums). For each number of concurrent clients it prints p50 and p99
latency and requests per second for /locate and for the floor, and the ratio of the two.
Bounded: every client sends a fixed number of requests, and the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import numpy as np

SERVER = """
import uvicorn
from geo_service.api.app import create_app

app = create_app()

@app.get("/floor", include_in_schema=False)
def floor() -> dict:
    return {"ok": True}

uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False, workers=1)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_queries(n: int, seed: int) -> list[str]:
    """Query strings for random points in the county's grids, in random datums."""
    from geo_service import datum
    from geo_service.db.engine import get_engine

    with get_engine().connect() as connection:
        points = connection.exec_driver_sql(f"""
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT (ST_Dump(ST_GeneratePoints(geom, 2, {seed}))).geom AS p FROM grids
                 WHERE version_id = (SELECT id FROM boundary_versions WHERE status = 'published'
                                      AND effective_from <= now() ORDER BY effective_from DESC LIMIT 1)
            ) s
        """).all()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(points), n)
    datums = rng.choice(["cgcs2000", "wgs84", "gcj02", "bd09"], n)
    queries = []
    for pick, name in zip(picks, datums):
        lon, lat = datum.convert(points[pick][0], points[pick][1], "cgcs2000", str(name))
        queries.append(urllib.parse.urlencode({"lon": f"{float(lon):.7f}", "lat": f"{float(lat):.7f}", "crs": name}))
    return queries


def client(port: int, path: str, queries: list[str], start_at: float, out: mp.Queue) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    for query in queries:
        started = time.perf_counter()
        connection.request("GET", f"{path}?{query}")
        response = connection.getresponse()
        body = response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200 or (path == "/locate" and b'"grid"' not in body):
            errors += 1
    out.put((latencies, errors))


def load(port: int, path: str, queries: list[str], clients: int) -> dict:
    out: mp.Queue = mp.Queue()
    share = len(queries) // clients
    start_at = time.time() + 0.5
    workers = [mp.Process(target=client, args=(port, path, queries[i * share:(i + 1) * share], start_at, out))
               for i in range(clients)]
    for w in workers:
        w.start()
    results = [out.get() for _ in workers]
    for w in workers:
        w.join()
    wall = time.time() - start_at
    latencies = np.concatenate([r[0] for r in results]) * 1000
    return {"p50": np.percentile(latencies, 50), "p99": np.percentile(latencies, 99), "rps": len(latencies) / wall,
            "errors": sum(r[1] for r in results), "n": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="requests per run (shared by the clients)")
    parser.add_argument("--clients", default="1,4", help="concurrent client processes, comma-separated")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER.replace("{port}", str(port))], env=os.environ.copy())
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        queries = sample_queries(args.requests, seed=7)
        warm = http.client.HTTPConnection("127.0.0.1", port)
        for query in queries[:200]:
            warm.request("GET", f"/locate?{query}")
            warm.getresponse().read()
        print(f"/locate against the demo county, {args.requests:,} requests a run, server: 1 uvicorn worker")
        print(f"{'clients':>7} {'endpoint':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
        for clients in [int(c) for c in args.clients.split(",")]:
            floor = load(port, "/floor", queries, clients)
            found = load(port, "/locate", queries, clients)
            for name, r in (("floor", floor), ("locate", found)):
                print(f"{clients:>7} {name:>8} {r['p50']:8.2f} {r['p99']:8.2f} {r['rps']:8.0f} {r['errors']:>6}")
            print(f"{'':>7} /locate costs {found['p50'] / floor['p50']:.1f}x the HTTP floor at p50; "
                  f"{found['rps'] / floor['rps']:.2f}x its throughput")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
