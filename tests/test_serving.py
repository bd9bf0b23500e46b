"""Serving: connections accepted on our listener get TCP_NODELAY (uvicorn #3149 leaves it off), and
the service uses the machine's cores."""

from __future__ import annotations

import asyncio
import os
import socket

from geo_service.serving import tcp_listener, worker_count
from geo_service.settings import ServingSettings


def _nodelay_of_accepted(listener: socket.socket) -> int:
    async def main() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        class Report(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Report, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        result = await asyncio.wait_for(seen, 10)
        writer.close()
        server.close()
        return result

    return asyncio.run(main())


def test_our_listener_gives_accepted_connections_tcp_nodelay():
    listener = tcp_listener("127.0.0.1", 0)
    assert listener.proto == socket.IPPROTO_TCP
    assert _nodelay_of_accepted(listener) == 1


def test_a_listener_bound_like_uvicorns_would_not():
    """The reason for tcp_listener: if this starts passing, asyncio or uvicorn changed."""
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.bind(("127.0.0.1", 0))
    assert _nodelay_of_accepted(plain) == 0


def test_the_service_uses_every_core_by_default():
    assert ServingSettings.model_fields["workers"].default == 0
    assert worker_count(0) == len(os.sched_getaffinity(0)) >= 1
    assert worker_count(3) == 3


def test_analyses_get_one_pool_process_per_worker_and_a_short_queue_by_default():
    defaults = {name: ServingSettings.model_fields[name].default for name in ("analysis_workers", "analysis_queue")}
    assert defaults == {"analysis_workers": 1, "analysis_queue": 8}
