"""Running the API under uvicorn, one process or several, and stopping it cleanly.

On SIGTERM (systemd's stop, ``kill``) uvicorn stops accepting connections at once, lets the
requests in flight finish (for at most ``serving.graceful_timeout_s``), closes the database
pool, and the process exits 0: a stop is not a failure. (uvicorn re-raises the signal once it is
done, which would end the process "killed by SIGTERM"; our handler turns that into a clean exit.)

Every request is logged as one JSON line on stdout by ``geo_service.api.request_log``; uvicorn's
own access log, which would say the same in another shape, is off.

With several workers uvicorn binds the listening socket itself with ``proto`` 0, and asyncio
then leaves Nagle's algorithm on for every accepted connection: each keep-alive request after
the first waits ~40 ms for the client's delayed ACK (uvicorn issue #3149, open). We bind the
socket with ``IPPROTO_TCP`` and hand it to uvicorn's own supervisor, so accepted sockets get
TCP_NODELAY as they do with a single worker.

By default the service uses the machine: one worker per core it may run on
(``serving.workers = 0``), each with its own analysis processes (``geo_service.api.analysis_pool``),
started and warmed with the worker rather than on the first analysis asked.
"""

from __future__ import annotations

import copy
import inspect
import os
import signal
import socket
from types import FrameType

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

APP = "geo_service.api.app:create_served_app"


def worker_count(configured: int) -> int:
    """``configured`` workers, or for 0 one per core this process may run on (a container's or a
    systemd unit's CPU affinity counts, not the host's cores)."""
    if configured > 0:
        return configured
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, len(cores) if cores else os.cpu_count() or 1)


def log_config() -> dict:
    """uvicorn's logging, plus the request log's JSON lines, bare, on stdout."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["json_lines"] = {"format": "%(message)s"}
    config["handlers"]["requests"] = {
        "class": "logging.StreamHandler",
        "formatter": "json_lines",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["geo_service.requests"] = {"handlers": ["requests"], "level": "INFO", "propagate": False}
    return config


def _stopped(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside uvicorn's own handling (before it starts, or re-raised after its clean
    shutdown): exit 0."""
    raise SystemExit(0)


def tcp_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(
    host: str, port: int, workers: int = 1, app: str = APP, graceful_timeout_s: float | None = 30.0, **options
) -> None:
    """Serve ``app`` (an import string of an app factory) on ``host:port`` with ``workers`` processes;
    on SIGTERM, finish the requests in flight (up to ``graceful_timeout_s``) and return."""
    options = {"log_config": log_config(), "access_log": False, **options}
    config = uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=graceful_timeout_s,
        **options,
    )
    signal.signal(signal.SIGTERM, _stopped)
    if workers <= 1:
        try:
            uvicorn.Server(config).run()
        except KeyboardInterrupt:  # Ctrl-C is how a foreground server is stopped
            pass
        return
    sock = tcp_listener(host, port)
    # uvicorn's supervisor took the worker function as an argument before it learnt to build it.
    if "target" in inspect.signature(Multiprocess).parameters:
        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()
