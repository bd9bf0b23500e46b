"""A bounded load of incident posts from a process of its own, as a reporting system would send
them: each incident has its own external id and is sent again, with the same id, until the
service answers 201 (stored) or 200 (stored already, by an attempt whose answer was lost).

    python -m tests.incident_load URL TOKEN COUNT OUT.json [--clients N] [--prefix P]

A line ``done N`` is printed as each incident is answered, so a test can act part-way through.
Every attempt's outcome (status code, or ``connection`` when no answer came) goes to OUT.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

# Inside the tiny test county (tests/tiny_county.py), spread over its grids.
WEST, SOUTH, EAST, NORTH = 104.005, 29.955, 104.195, 30.045
GIVE_UP_AFTER_S = 120


def payload(prefix: str, number: int) -> dict:
    column, row = number % 37, number // 37 % 23
    return {
        "external_id": f"{prefix}-{number}",
        "category": "dispute",
        "source": "hotline_12345",
        "lon": WEST + (EAST - WEST) * column / 36,
        "lat": SOUTH + (NORTH - SOUTH) * row / 22,
        "reported_at": "2026-11-10T09:00:00+08:00",
        "description": f"load test {number}",
    }


def post_until_stored(client: httpx.Client, body: dict) -> list[str | int]:
    """Send ``body`` until it is stored; the outcome of every attempt."""
    outcomes: list[str | int] = []
    deadline = time.monotonic() + GIVE_UP_AFTER_S
    while time.monotonic() < deadline:
        try:
            answer = client.post("/incidents", json=body)
        except httpx.TransportError:
            outcomes.append("connection")
            time.sleep(0.2)
            continue
        outcomes.append(answer.status_code)
        if answer.status_code in (200, 201):
            return outcomes
        if answer.status_code == 503:
            time.sleep(min(float(answer.headers.get("retry-after", "1")), 1.0) / 4)
            continue
        return outcomes  # anything else is an answer, not a fault to ride out
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("count", type=int)
    parser.add_argument("out")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--prefix", default="LOAD")
    args = parser.parse_args(argv)

    done = 0
    lock = threading.Lock()
    local = threading.local()

    def send(number: int) -> dict:
        nonlocal done
        if not hasattr(local, "client"):
            local.client = httpx.Client(
                base_url=args.url, timeout=30, headers={"Authorization": f"Bearer {args.token}"}
            )
        body = payload(args.prefix, number)
        outcomes = post_until_stored(local.client, body)
        with lock:
            done += 1
            print(f"done {done}", flush=True)
        return {"external_id": body["external_id"], "outcomes": outcomes}

    started = time.monotonic()
    with ThreadPoolExecutor(args.clients) as pool:
        results = list(pool.map(send, range(args.count)))
    with open(args.out, "w") as out:
        json.dump({"elapsed_s": time.monotonic() - started, "results": results}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
