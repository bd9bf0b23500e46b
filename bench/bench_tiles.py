"""Grid tiles per second, ours against tipg, both real HTTP servers on loopback, in one run.

    python bench/bench_tiles.py                        # demo county, zoom 11 to 15
    python bench/bench_tiles.py --scale both           # then the city of ten counties (~11,000 grids)
    python bench/bench_tiles.py --tiles 150 --clients 1,4 --zooms 11,13,15 --gzip

Both serve the `grids` table of the same database (the demo county's, or the city's with
``--scale city``) as Mapbox Vector Tiles: ours at /tiles/grids/{z}/{x}/{y}.mvt (declared in
tiles/grids.toml: the grid's properties and its village's, pinned boundary versions, signed in as
an administrator over every county of the database), tipg (`pip install .[bench]`) at its OGC
Tiles endpoint with the same grid properties. Each server runs in its own process with one
worker; a second process requests the same random sweep of tiles over the whole map at each zoom
(every tile once per client, keep-alive). The first pass over a zoom's tiles is timed on its own
("first": ours draws each tile then and keeps it, tipg draws every tile every time); the
measured passes follow. Prints tiles per second and p50/p99 latency per server and zoom, the
ratio ours/tipg per zoom and client count, and the median of the ratios. ``--gzip`` asks both
for gzip-encoded tiles, as MapLibre and GDAL do.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from bench_city import CITY_CODE, county_tiles
from scale import add_scale_argument, scale_database, scales
from signin import bench_headers

OURS = """
from geo_service.serving import serve
serve("127.0.0.1", {port}, 1, log_level="warning", access_log=False)
"""
TIPG = """
import uvicorn
uvicorn.run("tipg.main:app", host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""
TIPG_PROPERTIES = "code,name,level,kind,population,households"
SCALE_NAMES = {"demo": "demo county", "city": "city (ten counties)"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(script: str, port: int, env: dict) -> subprocess.Popen:
    # The servers' own output (our request log's line per request) is not the benchmark's.
    process = subprocess.Popen(
        [sys.executable, "-c", script.format(port=port)],
        env={**os.environ, **env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"server on port {port} did not start")


def stop(process: subprocess.Popen) -> None:
    """Stop a server and whatever it started (a worker pool's helpers outlive a plain SIGTERM)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def fetch_all(port: int, paths: list[str], headers: dict) -> tuple[list[float], int]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    latencies, size = [], 0
    for path in paths:
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        latencies.append(time.perf_counter() - started)
        if response.status not in (200, 204):
            raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
        size += len(body)
    connection.close()
    return latencies, size


def first(port: int, paths: list[str], headers: dict) -> float:
    """Tiles per second of one client's first pass over ``paths``."""
    started = time.perf_counter()
    fetch_all(port, paths, headers)
    return len(paths) / (time.perf_counter() - started)


def run(port: int, paths: list[str], clients: int, headers: dict) -> dict:
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: fetch_all(port, paths, headers), range(clients)))
    elapsed = time.perf_counter() - started
    latencies = np.concatenate([r[0] for r in results]) * 1000
    return {
        "tiles_s": len(latencies) / elapsed,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
        "kb": results[0][1] / len(paths) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zooms", default="11,12,13,14,15")
    parser.add_argument("--tiles", type=int, default=120, help="tiles per zoom (random, over the whole map)")
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip to both servers")
    add_scale_argument(parser)
    args = parser.parse_args()
    for scale in scales(args.scale):
        with scale_database(scale) as url:
            bench_scale(args, scale, url)


def bench_scale(args, scale: str, url: str) -> None:
    """Both servers over the database at ``url``, compared, then stopped."""
    ours_port, tipg_port = free_port(), free_port()
    ours = start(OURS, ours_port, {"GEO_SERVICE_DATABASE_URL": url})
    try:
        tipg = start(
            TIPG,
            tipg_port,
            {
                "DATABASE_URL": url.replace("postgresql+psycopg2://", "postgresql://"),
                "TIPG_DB_SCHEMAS": '["public"]',
                "TIPG_DB_SPATIAL_EXTENT": "false",
                "TIPG_DB_DATETIME_EXTENT": "false",
            },
        )
    except Exception:
        stop(ours)
        raise
    try:
        # An administrator over every county of the database: the city's code for the city.
        with bench_headers(url, None if scale == "demo" else CITY_CODE) as headers:
            compare(args, scale, ours_port, tipg_port, headers)
    finally:
        stop(ours)
        stop(tipg)


def compare(args, scale: str, ours_port: int, tipg_port: int, headers: dict) -> None:
    """Ours (signed in, as every client must be) and tipg on the same random tiles."""
    encoding = {"Accept-Encoding": "gzip"} if args.gzip else {}
    headers = {**headers, **encoding}
    conn = http.client.HTTPConnection("127.0.0.1", ours_port)
    conn.request("GET", "/tiles/grids.json", headers=headers)
    tilejson = json.loads(conn.getresponse().read())
    version = tilejson["tiles"][0].split("version=")[1]
    rng = np.random.default_rng(args.seed)
    print(
        f"grid tiles over the {SCALE_NAMES[scale]}; ours (FastAPI + ST_AsMVT, kept by version) vs tipg "
        f"{_tipg_version()}; {args.tiles} tiles per zoom, 1 worker each{', gzip' if args.gzip else ''}"
    )
    print(
        f"{'zoom':>4} {'clients':>7} {'ours tiles/s':>12} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'tipg tiles/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'KB/tile':>7} {'ratio':>6}"
    )
    ratios, by_zoom, firsts = [], {}, []
    for zoom in (int(z) for z in args.zooms.split(",")):
        tiles = county_tiles(zoom, tilejson["bounds"], args.tiles, rng)
        ours_paths = [f"/tiles/grids/{z}/{x}/{y}.mvt?version={version}" for z, x, y in tiles]
        tipg_paths = [
            f"/collections/public.grids/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={TIPG_PROPERTIES}"
            for z, x, y in tiles
        ]
        # The first pass: ours draws and keeps each tile, tipg draws it (as on every pass).
        firsts.append((zoom, first(ours_port, ours_paths, headers), first(tipg_port, tipg_paths, encoding)))
        for clients in (int(c) for c in args.clients.split(",")):
            a = run(ours_port, ours_paths, clients, headers)
            b = run(tipg_port, tipg_paths, clients, encoding)
            ratio = a["tiles_s"] / b["tiles_s"]
            ratios.append(ratio)
            by_zoom.setdefault(zoom, []).append(ratio)
            print(
                f"{zoom:>4} {clients:>7} {a['tiles_s']:>12.0f} {a['p50']:>7.2f} {a['p99']:>7.2f} "
                f"{b['tiles_s']:>12.0f} {b['p50']:>7.2f} {b['p99']:>7.2f} {a['kb']:>7.1f} {ratio:>6.2f}"
            )
    print(
        "first pass, one client (ours drawing each tile; tiles/s): "
        + ", ".join(f"z{zoom} {o:.0f} vs {t:.0f} ({o / t:.2f})" for zoom, o, t in firsts)
    )
    print("lowest ratio per zoom: " + ", ".join(f"z{zoom} {min(r):.2f}" for zoom, r in by_zoom.items()))
    print(f"median ratio ours/tipg (tiles per second), {scale}: {np.median(ratios):.2f}")


def _tipg_version() -> str:
    from importlib.metadata import version

    return version("tipg")


if __name__ == "__main__":
    main()
