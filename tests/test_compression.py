"""Large answers are gzip-compressed for a client that accepts it, decoding to the same JSON;
small ones, clients that do not accept it, and bodies compressed already are left alone."""

from __future__ import annotations

import gzip
import json

import httpx
from fastapi.responses import Response, StreamingResponse

from .conftest import signed_in

YEAR = {"start": "2025-11-17", "end": "2026-11-16"}


def _raw(client, path: str, params: dict | None = None, **headers) -> httpx.Response:
    """The answer as it came over the wire, not decoded by the client."""
    request = client.build_request("GET", path, params=params, headers=headers)
    response = client.send(request, stream=True)
    response.raw_body = b"".join(response.iter_raw())
    response.close()
    return response


def test_a_big_geojson_answer_is_gzipped_to_a_client_that_accepts_it_and_plain_otherwise(client):
    params = {**YEAR, "unit": "grid"}
    zipped = _raw(client, "/analysis/hotspots", params, **{"Accept-Encoding": "gzip, deflate"})
    plain = _raw(client, "/analysis/hotspots", params, **{"Accept-Encoding": "identity"})
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip" and "accept-encoding" in zipped.headers["vary"].lower()
    assert "content-encoding" not in plain.headers
    assert len(zipped.raw_body) == int(zipped.headers["content-length"]) < len(plain.raw_body) / 3
    assert json.loads(gzip.decompress(zipped.raw_body)) == json.loads(plain.raw_body)


def test_lists_and_features_are_compressed_too(client):
    for path, params in (
        ("/incidents", {"limit": 500}),
        ("/features/collections/grids/items", {"limit": 200}),
    ):
        zipped = _raw(client, path, params, **{"Accept-Encoding": "gzip"})
        plain = _raw(client, path, params, **{"Accept-Encoding": "identity"})
        assert zipped.status_code == 200, (path, zipped.raw_body[:300])
        assert zipped.headers.get("content-encoding") == "gzip", path
        assert json.loads(gzip.decompress(zipped.raw_body)) == json.loads(plain.raw_body)


def test_a_small_answer_is_not_compressed(client):
    answer = _raw(client, "/auth/me", **{"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and "content-encoding" not in answer.headers


def test_bodies_compressed_already_pass_untouched(tiny_url):
    """A route that compresses its own answer (pre-compressed tiles), and a photo, go out as they are."""
    body = gzip.compress(json.dumps({"features": list(range(5000))}).encode())
    with signed_in(tiny_url) as client:

        @client.app.get("/test/precompressed")
        def precompressed() -> Response:
            return Response(body, media_type="application/vnd.mapbox-vector-tile", headers={"Content-Encoding": "gzip"})

        @client.app.get("/test/photo")
        def photo() -> Response:
            return Response(b"\xff\xd8\xff" + bytes(100_000), media_type="image/heic")

        @client.app.get("/test/stream")
        def stream() -> StreamingResponse:
            return StreamingResponse((f'{{"row": {i}}}\n'.encode() * 50 for i in range(200)), media_type="text/plain")

        again = _raw(client, "/test/precompressed", **{"Accept-Encoding": "gzip"})
        image = _raw(client, "/test/photo", **{"Accept-Encoding": "gzip"})
        streamed = _raw(client, "/test/stream", **{"Accept-Encoding": "gzip"})
    assert again.headers["content-encoding"] == "gzip" and again.raw_body == body
    assert "content-encoding" not in image.headers and len(image.raw_body) == 100_003
    assert streamed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(streamed.raw_body) == b"".join(f'{{"row": {i}}}\n'.encode() * 50 for i in range(200))


def test_a_refusal_of_a_too_big_body_is_still_readable(tiny_url):
    """The body limit answers before the route; compression does not get in its way."""
    with signed_in(tiny_url, max_body_bytes=1000) as client:
        refused = client.post(
            "/incidents",
            content=b'{"x": "' + b"a" * 5000 + b'"}',
            headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"},
        )
    assert refused.status_code == 413 and refused.json()["field"] == "body"
