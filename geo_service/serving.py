"""Running the API under uvicorn, one process or several.

With several workers uvicorn binds the listening socket itself with ``proto`` 0, and asyncio
then leaves Nagle's algorithm on for every accepted connection: each keep-alive request after
the first waits ~40 ms for the client's delayed ACK (uvicorn issue #3149, open). We bind the
socket with ``IPPROTO_TCP`` and hand it to uvicorn's own supervisor, so accepted sockets get
TCP_NODELAY as they do with a single worker.
"""

from __future__ import annotations

import inspect
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "geo_service.api.app:create_app"


def tcp_listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(host: str, port: int, workers: int = 1, app: str = APP, **options) -> None:
    """Serve ``app`` (an import string of an app factory) on ``host:port`` with ``workers`` processes."""
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, **options)
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
