"""Hostile request bodies: NaN, Infinity, 1e400, integers past 64 bits, deep nesting, repeated
keys, bytes that are not UTF-8, lone surrogates, wrong or missing content types, truncated
bodies. Each, sent to every route that takes a JSON body, answers a 4xx in the service's shape
(``error``, ``message``, ``field``), never a 500; then a bounded byte-level fuzzer (random bytes,
and random mutations of a valid incident) over a few routes.

Schema-driven fuzzing of well-formed requests is ``test_hostile.py``.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from geo_service.api.app import create_app
from geo_service.settings import Settings

from .conftest import FIGURES, signed_in

# Requests sent by this module's tests, by status, for the run's figures.
SENT: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def sent_summary():
    yield
    if SENT:
        server_errors = sum(n for status, n in SENT.items() if status >= 500)
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(SENT.items()))
        FIGURES["hostile bodies"] = f"{sum(SENT.values())} requests, {server_errors} server errors ({statuses})"


def _json_routes() -> list[tuple[str, str]]:
    """(method, path) of every operation of the app whose body is JSON."""
    document = create_app(Settings()).openapi()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


JSON_ROUTES = _json_routes()
LABELS = [f"{method} {path}" for method, path in JSON_ROUTES]


@pytest.fixture(scope="module")
def body_client(tiny_url):
    """An administrator over the tiny county, with the rate of expensive requests lifted."""
    with signed_in(tiny_url, expensive_per_minute=1_000_000) as client:
        yield client


@pytest.fixture(scope="module")
def urls(body_client, tiny_engine) -> dict[str, str]:
    """Each JSON route's label and a URL of it, its path parameters filled with real values."""
    document = body_client.app.openapi()
    schemas = document["components"]["schemas"]
    with tiny_engine.connect() as connection:
        incident_id = connection.execute(text("SELECT min(id) FROM incidents")).scalar() or 1
    versions = [v["name"] for v in body_client.get("/boundaries/versions").json()] or ["1"]
    by_name = {"incident_id": incident_id, "version": versions[-1]}
    filled = {}
    for method, path in JSON_ROUTES:
        url = path
        for parameter in document["paths"][path][method.lower()].get("parameters", []):
            if parameter["in"] != "path":
                continue
            schema = parameter["schema"]
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
            value = by_name.get(parameter["name"], schema.get("enum", [1])[0])
            url = url.replace("{" + parameter["name"] + "}", str(value))
        filled[f"{method} {path}"] = url
    return filled


@pytest.fixture(scope="module")
def incident_body(tiny_engine) -> dict:
    """A valid incident of the tiny county."""
    with tiny_engine.connect() as connection:
        category = connection.execute(text("SELECT code FROM categories ORDER BY code LIMIT 1")).scalar()
        source = connection.execute(text("SELECT code FROM sources ORDER BY code LIMIT 1")).scalar()
        lon, lat = connection.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grids LIMIT 1) s")
        ).one()
    return {
        "external_id": "HOSTILE-0",
        "lon": lon,
        "lat": lat,
        "category": category,
        "source": source,
        "reported_at": "2026-01-15T09:30:00+08:00",
        "description": "邻里因排水沟发生争执",
    }


def _strict_json(content: bytes):
    """The answer's JSON, read as strictly as a browser would: no NaN, no Infinity."""

    def refuse(name: str):
        raise ValueError(f"{name} in an answer")

    return json.loads(content.decode("utf-8"), parse_constant=refuse)


def send(client, method: str, url: str, content: bytes, content_type: str | None):
    headers = {"content-type": content_type} if content_type is not None else {}
    response = client.request(method, url, content=content, headers=headers)
    SENT[response.status_code] += 1
    return response


def assert_refused(response) -> dict:
    """The answer is a 4xx whose body is strict JSON naming the problem."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = _strict_json(response.content)
    assert isinstance(body, dict) and body.get("error") and body.get("message"), body
    return body


DEEP = 100_000

# (name, body, content type, status expected, what the message must say)
HOSTILE = [
    ("nan", b'{"lon": NaN, "lat": 30}', "application/json", 422, "NaN is not a number"),
    ("infinity", b'{"lon": Infinity, "lat": 30}', "application/json", 422, "Infinity is not a number"),
    ("minus infinity", b'{"lat": 30, "lon": -Infinity}', "application/json", 422, "-Infinity is not a number"),
    ("1e400", b'{"lon": 1e400}', "application/json", 422, "1e400 is too large"),
    ("-1e400", b'{"lon": -1e400, "lat": 30}', "application/json", 422, "-1e400 is too large"),
    ("int past 64 bits", b'{"lon": 18446744073709551616, "lat": 30}', "application/json", 422, "64-bit"),
    ("int of 5000 digits", b'{"lon": ' + b"9" * 5000 + b', "lat": 30}', "application/json", 422, "64-bit"),
    (
        "nan deep inside",
        b'{"points": [{"lon": 1, "lat": 2}, {"lon": NaN, "lat": 2}]}',
        "application/json",
        422,
        "points.1.lon",
    ),
    ("nan alone", b"NaN", "application/json", 422, "body: NaN"),
    ("deep lists", b"[" * DEEP + b"]" * DEEP, "application/json", 400, "nests too deeply"),
    ("deep objects", b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json", 400, "nests too deeply"),
    ("deep, unclosed", b"[" * DEEP, "application/json", 400, "nests too deeply"),
    ("just past the depth", b"[" * 65 + b"]" * 65, "application/json", 400, "nests too deeply"),
    ("repeated key", b'{"lon": 104.1, "lat": 30, "lon": 105}', "application/json", 400, '"lon" appears twice'),
    ("repeated key inside", b'{"points": [{"lon": 1, "lon": 1}]}', "application/json", 400, '"lon" appears twice'),
    ("not UTF-8", b'{"external_id": "\xff\xfe\xc3"}', "application/json", 400, "UTF-8"),
    ("UTF-16", '{"lon": 1}'.encode("utf-16"), "application/json", 400, "UTF-8"),
    ("lone surrogate", b'{"external_id": "\\ud800"}', "application/json", 422, "surrogate"),
    ("lone surrogate key", b'{"\\udc00": 1}', "application/json", 422, "surrogate"),
    (
        "lone surrogate key, object value",
        b'{"type": "FeatureCollection", "\\udc00": {}}',
        "application/json",
        422,
        "surrogate",
    ),
    ("NUL", b'{"external_id": "a\\u0000b", "lon": 1}', "application/json", 422, "NUL"),
    ("truncated", b'{"external_id": "T-1", "lon": 104.0', "application/json", 400, "not valid JSON"),
    ("truncated string", b'{"external_id": "T-', "application/json", 400, "not valid JSON"),
    ("garbage", b"\x00\x01\x02 not json", "application/json", 400, "not valid JSON"),
    ("trailing data", b'{"lon": 1} {"lon": 2}', "application/json", 400, "not valid JSON"),
    ("plain text", b'{"lon": 104.1, "lat": 30}', "text/plain", 415, "must be JSON"),
    ("no content type", b'{"lon": 104.1, "lat": 30}', None, 415, "no Content-Type"),
    ("binary, no content type", b"\xff\xfe\x00\x80" * 10, None, 415, "no Content-Type"),
    ("form", b"lon=104.1&lat=30", "application/x-www-form-urlencoded", 415, "must be JSON"),
    ("multipart, no boundary", b"--x\r\n", "multipart/form-data", 415, "must be JSON"),
    ("bad content type", b'{"lon": 1}', "application/;;;=", 415, "must be JSON"),
    ("json+x", b'{"lon": 1}', "application/json+x", 415, "must be JSON"),
    ("problem+json, truncated", b'{"lon":', "application/problem+json", 400, "not valid JSON"),
    ("empty", b"", "application/json", 422, None),
    ("a list", b"[]", "application/json", 422, None),
    ("null", b"null", "application/json", 422, None),
]

# An empty list is a table of no rows: valid there, and it would empty the table.
VALID_THERE = {("a list", "PUT /rules/{table}")}

ATTRIBUTED = {"nan", "infinity", "minus infinity", "1e400", "-1e400", "int past 64 bits", "int of 5000 digits"}


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize(("name", "content", "content_type", "status", "said"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_body_is_refused_with_a_clear_4xx(
    body_client, urls, label, name, content, content_type, status, said
):
    if (name, label) in VALID_THERE:
        pytest.skip("a valid body on this route")
    method = label.split(" ", 1)[0]
    response = send(body_client, method, urls[label], content, content_type)
    body = assert_refused(response)
    if status is not None:
        assert response.status_code == status, (response.status_code, body)
    if said:
        assert said in body["message"], body
    if name in ATTRIBUTED or name == "nan deep inside":
        assert body["field"] == "lon", body
    if status in (400, 415) or name in ("lone surrogate key", "nan alone"):
        assert body.get("field"), body


@pytest.mark.parametrize(
    "content",
    [b'{"lon": 1e400}', b'{"lon": NaN, "lat": 30}', b'{"lon": Infinity, "lat": 30}'],
    ids=["1e400", "nan", "infinity"],
)
def test_the_issues_bodies_name_lon_on_post_incidents(body_client, incident_body, content):
    """The issue's own examples: a 422 naming ``lon``, not a 500 from echoing the value back."""
    response = send(body_client, "POST", "/incidents", content, "application/json")
    assert response.status_code == 422
    body = _strict_json(response.content)
    assert body["error"] == "InvalidInput" and body["field"] == "lon"
    assert body["message"].startswith("lon: ")
    assert "not a number the service accepts" in body["message"] or "too large" in body["message"]
    # The same in a full, otherwise valid incident.
    whole = json.dumps(incident_body).replace(json.dumps(incident_body["lon"]), "NaN", 1).encode()
    response = send(body_client, "POST", "/incidents", whole, "application/json")
    assert response.status_code == 422 and response.json()["field"] == "lon"


def test_a_valid_body_still_goes_through(body_client, incident_body):
    content = json.dumps(dict(incident_body, external_id="HOSTILE-valid"), ensure_ascii=False).encode()
    response = send(body_client, "POST", "/incidents", content, "application/json; charset=utf-8")
    assert response.status_code == 201, response.text
    # An escaped pair of surrogates is one character, and a byte order mark may lead the body.
    content = b"\xef\xbb\xbf" + json.dumps(dict(incident_body, external_id="HOSTILE-\U0001f600")).encode()
    response = send(body_client, "POST", "/incidents", content, "application/json")
    assert response.status_code == 201, response.text
    assert response.json()["external_id"] == "HOSTILE-\U0001f600"


def test_validation_errors_never_echo_what_json_cannot_hold():
    """The handler's answer is plain JSON whatever a problem's ``input`` holds."""
    from geo_service.api.errors import plain

    odd = {
        "nan": float("nan"),
        "inf": [float("inf"), float("-inf")],
        "bytes": b"\xff\xfe",
        "huge": 10**5000,
        "long": "x" * 10_000,
        "surrogate": "\ud800",
        "deep": [[[[[[[[[[1]]]]]]]]]],
        "many": list(range(1000)),
        "error": ValueError("bad"),
    }
    written = json.dumps(plain(odd), allow_nan=False, ensure_ascii=False).encode("utf-8")
    back = json.loads(written)
    assert back["nan"] == "NaN" and back["inf"] == ["Infinity", "-Infinity"]
    assert len(back["long"]) < 300 and "10,000 characters" in back["long"]
    assert back["huge"].startswith("an integer of")


def test_an_unknown_path_answers_in_the_services_shape(body_client):
    response = body_client.post("/no/such/route", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code in (404, 405)
    body = response.json()
    assert body["error"] and body["message"] and "detail" in body


# --- a bounded byte-level fuzzer ------------------------------------------------------------

FUZZED_ROUTES = ["POST /incidents", "POST /incidents/batch", "POST /assign", "POST /map/convert"]

CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/geo+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    None,
]

# Tokens a mutation may splice in: the hostile values above, and JSON's own punctuation.
TOKENS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-1e999",
    b"18446744073709551616",
    b"9" * 4400,
    b'"\\ud800"',
    b'"\\u0000"',
    b"\xff",
    b"\xc3",
    b"\x00",
    b"[" * 200,
    b'{"a":' * 100,
    b'"lon": 1, "lon": 2, ',
    b"null",
    b"true",
    b'""',
    b"{}",
    b"[]",
    b",",
    b":",
    b'"',
    b"\\",
    b"-",
    b"0.0",
    b"1e-400",
    b"-0",
    b"2026-02-30T25:61:00+99:00",
]

# Values a mutation may put in place of one of the body's values: edges of the numbers and texts
# the routes take, beside the hostile tokens.
VALUES = [
    *TOKENS,
    b"1e308",
    b"5e-324",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"180.0000001",
    b"-90",
    b'"104.1"',
    b'"' + "界".encode() * 5000 + b'"',
    rb'"x\u0000y"',
    rb'"\ud83d\ude00"',
    b'"0001-01-01T00:00:00"',
    b'"9999-12-31T23:59:59-23:59"',
    b'"2026-01-15T09:30:00+08:00"',
    b"[1, 2]",
    b'{"lon": 1}',
]


@st.composite
def replaced(draw, valid: bytes) -> bytes:
    """``valid`` with one of its values replaced: still JSON, mostly, so it reaches the routes."""
    starts = [m.end() for m in re.finditer(rb'":\s*', valid)]
    start = draw(st.sampled_from(starts))
    end = re.compile(rb"[,}\]]").search(valid, start)
    return valid[:start] + draw(st.sampled_from(VALUES)) + valid[end.start() if end else len(valid) :]


@st.composite
def mutated(draw, valid: bytes) -> bytes:
    """``valid`` with a few bytes deleted, inserted or replaced, tokens spliced in, or cut short."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "token", "truncate", *["value"] * 5]))
        values = [m.end() for m in re.finditer(rb'":\s*', data)]
        if kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif kind == "truncate":
            del data[at:]
        elif kind == "value" and values:
            start = draw(st.sampled_from(values))
            end = re.compile(rb"[,}\]]").search(data, start)
            data[start : end.start() if end else len(data)] = draw(st.sampled_from(VALUES))
    return bytes(data)


def _valid_for(label: str, incident: dict) -> bytes:
    lon, lat = incident["lon"], incident["lat"]
    bodies = {
        "POST /incidents": incident,
        "POST /incidents/batch": {"incidents": [incident, dict(incident, external_id="HOSTILE-1")]},
        "POST /assign": {"points": [{"lon": lon, "lat": lat}, {"lon": lon + 0.01, "lat": lat}]},
        "POST /map/convert": {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [lon, lat]}}
            ],
        },
    }
    return json.dumps(bodies[label], ensure_ascii=False).encode()


FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def _never_a_server_error(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    _strict_json(response.content)  # every answer, refusal or not, is strict JSON


@pytest.mark.parametrize("label", FUZZED_ROUTES)
def test_mutated_bodies_never_cause_a_server_error(body_client, urls, incident_body, label):
    method = label.split(" ", 1)[0]
    valid = _valid_for(label, incident_body)

    @FUZZ
    @given(
        content=st.one_of(replaced(valid), mutated(valid)),
        content_type=st.sampled_from(CONTENT_TYPES[:3] * 3 + CONTENT_TYPES[3:]),
    )
    def run(content: bytes, content_type: str | None) -> None:
        # A fresh external id each time, so that a mutation still valid records a new incident.
        content = re.sub(rb"HOSTILE-\d+", f"HOSTILE-{sum(SENT.values())}".encode(), content)
        _never_a_server_error(send(body_client, method, urls[label], content, content_type))

    run()


@pytest.mark.parametrize("label", FUZZED_ROUTES)
def test_random_bytes_never_cause_a_server_error(body_client, urls, label):
    method = label.split(" ", 1)[0]

    @FUZZ
    @given(content=st.binary(max_size=400), content_type=st.sampled_from(CONTENT_TYPES))
    def run(content: bytes, content_type: str | None) -> None:
        _never_a_server_error(send(body_client, method, urls[label], content, content_type))

    run()
