"""Stopping cleanly: SIGTERM to `geo-service serve` under load finishes every request in flight,
refuses new connections meanwhile, and the process exits 0 within seconds.

The service runs as a second process, as systemd runs it; the requests come over loopback.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from geo_service.settings import PROJECT_ROOT

from .conftest import FIGURES, token_for

IN_FLIGHT = 6
SLOW = "/analysis/kde"  # about a second of work each on the demo county; several at once take longer


@dataclass
class Answer:
    status: int
    request_id: str | None
    complete: bool
    finished: float


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _in_flight(base: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("geo_service_http_requests_in_flight "):
            return float(line.split()[1])
    raise AssertionError("/metrics has no geo_service_http_requests_in_flight")


def _wait(predicate, timeout_s: float, what: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the server exited ({server.returncode}) while waiting until {what}"
        try:
            if predicate():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


@pytest.fixture
def server(demo_url, tmp_path):
    port = _free_port()
    log = (tmp_path / "stdout.log").open("w"), (tmp_path / "stderr.log").open("w")
    process = subprocess.Popen(
        # One worker: the in-flight count it reads from /metrics is its own.
        [
            sys.executable,
            "-m",
            "geo_service.cli.main",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": demo_url},
        stdout=log[0],
        stderr=log[1],
    )
    try:
        yield process, f"http://127.0.0.1:{port}", port, tmp_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for f in log:
            f.close()


def test_sigterm_finishes_the_requests_in_flight_refuses_new_ones_and_exits_0(server, demo_url):
    process, base, port, folder = server
    name = "shutdown-analyst"
    headers = {"Authorization": f"Bearer {token_for(demo_url, 'analyst', name=f'{name}-{port}')}"}
    _wait(lambda: httpx.get(f"{base}/healthz/live", timeout=2).status_code == 200, 60, "the service is up", process)

    def slow(n: int) -> Answer:
        with httpx.Client(timeout=120) as client:  # a connection of its own, as separate clients have
            answer = client.get(f"{base}{SLOW}", headers={**headers, "X-Request-ID": f"slow-{n}"})
        try:
            complete = answer.status_code == 200 and bool(answer.json()["features"])
        except ValueError:
            complete = False
        return Answer(answer.status_code, answer.headers.get("x-request-id"), complete, time.monotonic())

    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        futures = [pool.submit(slow, n) for n in range(IN_FLIGHT)]
        # All of them are in the server's hands (the scrape that asks is one more).
        _wait(lambda: _in_flight(base) >= IN_FLIGHT + 1, 60, f"{IN_FLIGHT} requests are in flight", process)
        terminated = time.monotonic()
        process.send_signal(signal.SIGTERM)
        refused = None
        while refused is None and time.monotonic() < terminated + 10:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except ConnectionRefusedError:
                refused = time.monotonic()
            time.sleep(0.02)
        answers = [f.result(timeout=120) for f in futures]
    code = process.wait(timeout=30)
    exited = time.monotonic()

    assert code == 0, (folder / "stderr.log").read_text()[-2000:]
    assert [a.status for a in answers] == [200] * IN_FLIGHT
    assert all(a.complete for a in answers), "an answer was cut off"
    assert sorted(a.request_id for a in answers) == sorted(f"slow-{n}" for n in range(IN_FLIGHT))
    first_done = min(a.finished for a in answers)
    assert refused is not None and refused < first_done, "new connections were still accepted while finishing"
    last_done = max(a.finished for a in answers)
    assert exited - last_done < 5, f"the process took {exited - last_done:.1f} s to exit after the last answer"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz/live", timeout=2)

    lines = [json.loads(line) for line in (folder / "stdout.log").read_text().splitlines() if line.startswith("{")]
    slow_lines = [line for line in lines if line["route"] == SLOW]
    assert sorted(line["request_id"] for line in slow_lines) == sorted(f"slow-{n}" for n in range(IN_FLIGHT))
    assert all(line["status"] == 200 and line["user"] == f"{name}-{port}" for line in slow_lines)
    FIGURES["SIGTERM under load"] = (
        f"{IN_FLIGHT} requests in flight all answered in full; new connections refused "
        f"{refused - terminated:.2f} s after the signal; exit 0 {exited - terminated:.1f} s after it"
    )


def test_sigterm_to_an_idle_server_exits_0_at_once(server):
    process, base, _, folder = server
    _wait(lambda: httpx.get(f"{base}/healthz/live", timeout=2).status_code == 200, 60, "the service is up", process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0, (folder / "stderr.log").read_text()[-2000:]


# -- running it as a service --------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", [None, "postgresql+psycopg2://county:pw@db.example/county"])
def test_systemd_units_for_the_service_the_outbox_and_the_cluster(tmp_path, database_url):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GEO_SERVICE_DATABASE_URL")}
    if database_url:
        env["DATABASE_URL"] = database_url
    out = tmp_path / "units"
    done = subprocess.run(
        [sys.executable, "-m", "geo_service.cli.main", "systemd", "--out", str(out), "--user", "geo"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    units = {p.name: p.read_text() for p in out.iterdir()}
    expected = {"geo-service.service", "geo-service-outbox.service"}
    assert set(units) == expected | (set() if database_url else {"geo-service-db.service"})
    service = units["geo-service.service"]
    assert "serve --host 127.0.0.1 --port 8000" in service and "KillSignal=SIGTERM" in service
    assert "User=geo" in service and f"WorkingDirectory={PROJECT_ROOT}" in service
    assert ("Requires=geo-service-db.service" in service) == (database_url is None)
    assert "outbox run" in units["geo-service-outbox.service"]
    assert "Restart=on-failure" in units["geo-service-outbox.service"]
    assert "systemctl enable --now" in done.stderr
    if shutil.which("systemd-analyze"):
        for name, body in units.items():  # verified as the local machine's user would run them
            (out / name).write_text(body.replace("User=geo", f"User={getpass.getuser()}"))
        checked = subprocess.run(
            ["systemd-analyze", "verify", *sorted(str(p) for p in out.iterdir())], capture_output=True, text=True
        )
        assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr
