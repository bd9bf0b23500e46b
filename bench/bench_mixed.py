"""A command centre's mixed load: do lookups and tiles stay fast while analyses run?

    python bench/bench_mixed.py                        # the demo county, 60 s of mixed load
    python bench/bench_mixed.py --scale both --seconds 120

The service runs as the README starts it (`geo-service serve`: a worker per core, each with its
analysis process), on a writable copy of the scale's database (posts write incidents), in a
process of its own on a free port. A second process generates the load, one thread and
keep-alive connection per client, every request with `Accept-Encoding: gzip` as a browser sends:

    tiles      4 clients, grid tiles at zooms 11 to 15 around incidents
    locate     2 clients, /locate at incidents' places
    post       2 clients, POST /incidents
    list       1 client,  GET /incidents, 100 a page
    analysis   1 client,  GET /analysis/hotspots?unit=grid, one every --analysis-every seconds

The load is run twice, as two phases:

    saturating  every client sends its next request the moment its answer arrives (a closed
                loop): the machine is always saturated, and a request's wait is its share of it
    paced       each client waits between requests (PACE): four map screens panning without
                pause (40 tiles a second each), two dispatchers locating ten places a second
                each, two intakes posting two reports a second each (4 a second; a county's
                236,500 events a year are 0.0075 a second, so this is about five times the peak
                hour of a city of twenty counties), a list a second, an analysis every 3 s

In each phase, each of tiles and locate first runs alone at that phase's pace (the baseline),
then everything at once for --seconds; analyses alone run once. The same is done against the
service as it ran before (one worker, analyses in the worker's own threads:
`GEO_SERVICE_WORKERS=1 GEO_SERVICE_ANALYSIS_WORKERS=0`), side by side. It prints per phase and
kind p50, p99, count and errors, the ratio of p99 under the mix to p99 alone for lookups and
tiles, and the analyses' latency alone and mixed; and the memory of the service's processes
(proportional set size, which counts pages shared by forked processes once).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scale import add_scale_argument, scale_database, scales
from signin import bench_headers
from sqlalchemy import create_engine, text

from geo_service.tiles.mvt import Tile

ROOT = Path(__file__).resolve().parent.parent
BEFORE = {"GEO_SERVICE_WORKERS": "1", "GEO_SERVICE_ANALYSIS_WORKERS": "0"}
CLIENTS = {"tiles": 4, "locate": 2, "post": 2, "list": 1, "analysis": 1}
HOTSPOTS = "/analysis/hotspots?unit=grid"
# Seconds from one request of a client to its next (the analysis's from --analysis-every).
PACE = {"tiles": 0.025, "locate": 0.1, "post": 0.5, "list": 1.0}


@dataclass
class Inputs:
    """What the clients ask for, drawn once from the database: places of incidents, tiles around
    them, the categories and sources a post may name."""

    points: list[tuple[float, float]]
    tiles: list[str]
    categories: list[str]
    sources: list[str]


def draw_inputs(url: str, n: int = 3000, seed: int = 7) -> Inputs:
    engine = create_engine(url)
    with engine.connect() as connection:
        points = connection.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM incidents TABLESAMPLE SYSTEM (2) REPEATABLE (:seed) LIMIT :n"),
            {"seed": seed, "n": n},
        ).all()
        categories = connection.execute(text("SELECT code FROM categories ORDER BY code")).scalars().all()
        sources = connection.execute(text("SELECT code FROM sources ORDER BY code")).scalars().all()
    engine.dispose()
    rng = random.Random(seed)
    tiles = []
    for lon, lat in points:
        tile = Tile.at(lon, lat, rng.randint(11, 15))
        tiles.append(f"/tiles/grids/{tile.z}/{tile.x}/{tile.y}.mvt")
    return Inputs([(float(a), float(b)) for a, b in points], tiles, list(categories), list(sources))


# -- the load, in a process of its own --------------------------------------------------------------


def request_for(kind: str, inputs: Inputs, rng: random.Random) -> tuple[str, str, bytes | None]:
    if kind == "tiles":
        return "GET", rng.choice(inputs.tiles), None
    if kind == "locate":
        lon, lat = rng.choice(inputs.points)
        return "GET", "/locate?" + urllib.parse.urlencode({"lon": f"{lon:.7f}", "lat": f"{lat:.7f}"}), None
    if kind == "list":
        return "GET", f"/incidents?limit=100&offset={rng.randrange(0, 5000)}", None
    if kind == "analysis":
        return "GET", HOTSPOTS, None
    lon, lat = rng.choice(inputs.points)
    body = {
        "external_id": f"bench-mixed-{uuid.uuid4().hex}",
        "lon": lon + rng.uniform(-1e-4, 1e-4),
        "lat": lat + rng.uniform(-1e-4, 1e-4),
        "category": rng.choice(inputs.categories),
        "source": rng.choice(inputs.sources),
        "reported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "description": "mixed-load benchmark",
    }
    return "POST", "/incidents", json.dumps(body).encode()


def client(port: int, kind: str, inputs: Inputs, headers: dict, until: float, every: float, seed: int) -> list:
    """Requests of one kind on one keep-alive connection until ``until``: (latency s, ok) each."""
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    sent = {**headers, "Accept-Encoding": "gzip", "Content-Type": "application/json"}
    results = []
    while time.time() < until:
        method, path, body = request_for(kind, inputs, rng)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            response.read()
            ok = response.status in (200, 201, 204)
        except (OSError, http.client.HTTPException):
            connection.close()
            ok = False
        took = time.perf_counter() - started
        results.append((took, ok))
        if every:
            time.sleep(max(0.0, min(every - took, until - time.time())))
    connection.close()
    return results


def generator(port: int, mix: dict, inputs: Inputs, headers: dict, seconds: float, every: dict, out) -> None:
    until = time.time() + seconds
    jobs = [(kind, i) for kind, count in mix.items() for i in range(count)]
    seeds = {job: n for n, job in enumerate(jobs)}
    try:
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = {
                (kind, i): pool.submit(
                    client, port, kind, inputs, headers, until, every.get(kind, 0.0), seeds[(kind, i)]
                )
                for kind, i in jobs
            }
            by_kind: dict[str, list] = {kind: [] for kind in mix}
            for (kind, _), future in futures.items():
                by_kind[kind].extend(future.result())
        out.put(by_kind)
    except BaseException:  # the parent must hear back whatever happens
        out.put({})
        raise


def load(port: int, mix: dict, inputs: Inputs, headers: dict, seconds: float, every: dict) -> dict:
    """Run ``mix`` (clients per kind, each waiting ``every[kind]`` seconds from one request to its
    next, none if absent) from a second process for ``seconds``; figures per kind."""
    out: mp.Queue = mp.Queue()
    process = mp.Process(target=generator, args=(port, mix, inputs, headers, seconds, every, out))
    process.start()
    results = out.get(timeout=seconds + 300)
    process.join()
    figures = {}
    for kind, rows in results.items():
        took = np.array([r[0] for r in rows]) * 1000 if rows else np.array([np.nan])
        figures[kind] = {
            "n": len(rows),
            "errors": sum(not r[1] for r in rows),
            "p50": float(np.percentile(took, 50)),
            "p99": float(np.percentile(took, 99)),
        }
    return figures


# -- the service -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(url: str, port: int, extra_env: dict) -> subprocess.Popen:
    """`geo-service serve` as the README runs it, on ``url``'s database."""
    # The bench's one user asks for more analyses a minute than a person would: its latency, not
    # the rate limit, is measured.
    env = {**os.environ, "GEO_SERVICE_DATABASE_URL": url, "GEO_SERVICE_EXPENSIVE_PER_MINUTE": "100000", **extra_env}
    command = [sys.executable, "-m", "geo_service.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = tempfile.TemporaryFile()  # the service's stderr, read back if it fails
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    server.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the service exited: {tail(server)}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz/live")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the service did not start in 120 s")


def tail(server: subprocess.Popen) -> str:
    server.log.seek(0)  # type: ignore[attr-defined]
    return server.log.read().decode(errors="replace")[-3000:]  # type: ignore[attr-defined]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory_mb(pid: int) -> tuple[int, float, float]:
    """Processes of the service, their summed resident and proportional set sizes in MB."""
    pids = descendants(pid)
    rss = pss = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
        except OSError:
            continue
    return len(pids), rss, pss


def stop(server: subprocess.Popen) -> None:
    """SIGTERM, as systemd stops it; past a minute, kill every process of it (killing the
    supervisor alone would leave its workers running)."""
    family = descendants(server.pid)
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        for pid in reversed(family):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        server.wait()


# -- the runs --------------------------------------------------------------------------------------


def measure(url: str, inputs: Inputs, headers: dict, extra_env: dict, args) -> dict:
    port = free_port()
    server = start_service(url, port, extra_env)
    analysis = {"analysis": args.analysis_every}
    try:
        # Warm every worker: connections, caches, the analysis process (untimed).
        load(port, {"tiles": 4, "locate": 4, "analysis": 1}, inputs, headers, 5, {})
        phases = {}
        for phase, every in (("saturating", analysis), ("paced", {**PACE, **analysis})):
            alone = {}
            for kind in ("locate", "tiles"):
                alone.update(load(port, {kind: CLIENTS[kind]}, inputs, headers, args.baseline_seconds, every))
            phases[phase] = {"alone": alone, "mixed": load(port, CLIENTS, inputs, headers, args.seconds, every)}
        analysis_alone = load(port, {"analysis": 1}, inputs, headers, args.baseline_seconds, {})["analysis"]
        processes, rss, pss = memory_mb(server.pid)
        if server.poll() is not None:
            print(f"  the service exited during the run ({server.returncode}):\n{tail(server)}")
    finally:
        stop(server)
    return {"phases": phases, "analysis_alone": analysis_alone, "memory": (processes, rss, pss)}


def report(name: str, figures: dict) -> None:
    print(f"  {name}")
    for phase, runs in figures["phases"].items():
        alone, mixed = runs["alone"], runs["mixed"]
        print(
            f"    {phase:<11} {'kind':<9} {'clients':>7} {'n':>6} {'errors':>6} {'p50 ms':>9} {'p99 ms':>9} "
            f"{'p99 alone':>10} {'ratio':>6}"
        )
        for kind, clients in CLIENTS.items():
            m = mixed.get(kind, {"n": 0, "errors": 0, "p50": float("nan"), "p99": float("nan")})
            base = alone.get(kind)
            ratio = f"{m['p99'] / base['p99']:6.2f}" if base else ""
            base_p99 = f"{base['p99']:10.1f}" if base else ""
            print(
                f"    {'':<11} {kind:<9} {clients:>7} {m['n']:>6} {m['errors']:>6} {m['p50']:9.1f} {m['p99']:9.1f} "
                f"{base_p99:>10} {ratio:>6}"
            )
        a, m = figures["analysis_alone"], mixed.get("analysis", {"p50": float("nan")})
        print(
            f"    {'':<11} hot spots (grid): {a['p50']:.0f} ms alone, {m['p50']:.0f} ms under the mix ({m['p50'] / a['p50']:.1f}x)"
        )
    processes, rss, pss = figures["memory"]
    print(f"    memory: {processes} processes, {rss:,.0f} MB resident, {pss:,.0f} MB proportional")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # 60 s: paced, the two dispatchers make 1,200 lookups, whose p99 is then their 12th slowest;
    # over 20 s it is the 4th, and its ratio moved between 2x and 4x from run to run.
    parser.add_argument("--seconds", type=float, default=60, help="length of the mixed load (default 60)")
    parser.add_argument("--baseline-seconds", type=float, default=10, help="length of each kind alone (default 10)")
    parser.add_argument("--analysis-every", type=float, default=3, help="seconds between hot-spot analyses")
    parser.add_argument("--only-now", action="store_true", help="skip the service as it ran before")
    add_scale_argument(parser)
    args = parser.parse_args()
    print(
        f"mixed load from a second process: {CLIENTS}, {args.seconds:g} s; each kind alone {args.baseline_seconds:g} s; "
        f"paced: seconds between a client's requests {PACE}, analyses every {args.analysis_every:g} s"
    )
    for scale in scales(args.scale):
        with scale_database(scale, writable=True) as url, bench_headers(database_url=url) as headers:
            inputs = draw_inputs(url)
            print(f"{scale}: {len(inputs.points):,} places drawn")
            runs = {"now (as the README starts it)": measure(url, inputs, headers, {}, args)}
            if not args.only_now:
                runs["before (1 worker, analyses in its threads)"] = measure(url, inputs, headers, BEFORE, args)
            for name, figures in runs.items():
                report(name, figures)
            if len(runs) == 2:
                now, before = (figures["phases"] for figures in runs.values())
                for phase in now:
                    for kind in ("locate", "tiles"):
                        was, is_now = before[phase]["mixed"][kind]["p99"], now[phase]["mixed"][kind]["p99"]
                        print(
                            f"  {phase}: {kind} p99 under the mix: now {is_now:.1f} ms, before {was:.1f} ms "
                            f"({was / is_now:.1f}x better)"
                        )


if __name__ == "__main__":
    main()
