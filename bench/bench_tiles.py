"""Grid tiles per second, ours against tipg, both real HTTP servers on loopback, in one run.

    python bench/bench_tiles.py                        # demo county, zoom 11 to 15
    python bench/bench_tiles.py --tiles 150 --clients 1,4 --zooms 11,13,15

Both serve the demo county's `grids` table from the same database as Mapbox Vector Tiles:
ours at /tiles/grids/{z}/{x}/{y}.mvt (declared in tiles/grids.toml: the grid's properties and
its village's, pinned boundary version), tipg (`pip install .[bench]`) at its OGC Tiles endpoint
with the same grid properties. Each server runs in its own process with one worker; a second
process requests the same random sweep of tiles over the county at each zoom (every tile once
per client, keep-alive), after a warm-up pass. Prints tiles per second and p50/p99 latency per
server and zoom, and the ratio ours/tipg.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(script: str, port: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", script.format(port=port)], env={**os.environ, **env}, start_new_session=True
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
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def county_tiles(zoom: int, bounds: list[float], n: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    west, south, east, north = bounds
    side = 1 << zoom

    def x_of(lon: float) -> int:
        return int((lon + 180) / 360 * side)

    def y_of(lat: float) -> int:
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * side)

    tiles = [(zoom, x, y) for x in range(x_of(west), x_of(east) + 1) for y in range(y_of(north), y_of(south) + 1)]
    picks = rng.choice(len(tiles), size=min(n, len(tiles)), replace=False)
    return [tiles[i] for i in picks]


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


def run(port: int, paths: list[str], clients: int, headers: dict | None = None) -> dict:
    headers = headers or {}
    fetch_all(port, paths, headers)  # warm-up: connections, plans, caches
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
    parser.add_argument("--tiles", type=int, default=120, help="tiles per zoom (random, over the county)")
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from geo_service.settings import get_settings

    settings = get_settings()
    url = settings.database.url
    ours_port, tipg_port = free_port(), free_port()
    ours = start(OURS, ours_port, {})
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
    try:
        with bench_headers() as headers:
            compare(args, ours_port, tipg_port, headers)
    finally:
        stop(ours)
        stop(tipg)


def compare(args, ours_port: int, tipg_port: int, headers: dict) -> None:
    """Ours (signed in, as every client must be) and tipg on the same random tiles."""
    conn = http.client.HTTPConnection("127.0.0.1", ours_port)
    conn.request("GET", "/tiles/grids.json", headers=headers)
    tilejson = json.loads(conn.getresponse().read())
    version = tilejson["tiles"][0].split("version=")[1]
    rng = np.random.default_rng(args.seed)
    print(
        f"grid tiles over the demo county; ours (FastAPI + ST_AsMVT) vs tipg {_tipg_version()}; "
        f"{args.tiles} tiles per zoom, 1 worker each"
    )
    print(
        f"{'zoom':>4} {'clients':>7} {'ours tiles/s':>12} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'tipg tiles/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'KB/tile':>7} {'ratio':>6}"
    )
    ratios = []
    for zoom in (int(z) for z in args.zooms.split(",")):
        tiles = county_tiles(zoom, tilejson["bounds"], args.tiles, rng)
        ours_paths = [f"/tiles/grids/{z}/{x}/{y}.mvt?version={version}" for z, x, y in tiles]
        tipg_paths = [
            f"/collections/public.grids/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={TIPG_PROPERTIES}"
            for z, x, y in tiles
        ]
        for clients in (int(c) for c in args.clients.split(",")):
            a = run(ours_port, ours_paths, clients, headers)
            b = run(tipg_port, tipg_paths, clients)
            ratio = a["tiles_s"] / b["tiles_s"]
            ratios.append(ratio)
            print(
                f"{zoom:>4} {clients:>7} {a['tiles_s']:>12.0f} {a['p50']:>7.2f} {a['p99']:>7.2f} "
                f"{b['tiles_s']:>12.0f} {b['p50']:>7.2f} {b['p99']:>7.2f} {a['kb']:>7.1f} {ratio:>6.2f}"
            )
    print(f"median ratio ours/tipg (tiles per second): {np.median(ratios):.2f}")


def _tipg_version() -> str:
    from importlib.metadata import version

    return version("tipg")


if __name__ == "__main__":
    main()
