"""OGC API - Features as OGC clients use it beyond Part 1: HTTP Basic sign-in, the features API's
own definition (per-collection paths, the limit's maximum), queryables, CQL2 filters in text and
JSON checked against SQL, sorting, keyset pages that walk everything once at any depth, and the
one tile source that carries every boundary layer."""

from __future__ import annotations

import base64
import json
import time

import httpx
import mapbox_vector_tile
import pytest

from .conftest import ENGLISH, FIGURES, live_server, scalar, token_for

NAME = "分析员-filters"
BOX = (104.0, 29.9, 104.3, 30.1)


@pytest.fixture(scope="module")
def token(demo_url: str) -> str:
    return token_for(demo_url, "admin", None, NAME)


@pytest.fixture(scope="module")
def base(demo_url: str):
    with live_server(demo_url) as url:
        yield url


@pytest.fixture(scope="module")
def http(token: str):
    """Signed in as QGIS and GDAL do: HTTP Basic, the user's name and the token as password."""
    with httpx.Client(auth=(NAME, token), headers=ENGLISH, timeout=60) as client:
        yield client


def _basic(name: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()}


def test_basic_sign_in_and_its_refusals(base, token):
    with httpx.Client(headers=ENGLISH, timeout=30) as client:
        me = client.get(f"{base}/auth/me", headers=_basic(NAME, token))
        assert me.status_code == 200 and me.json()["name"] == NAME
        assert client.get(f"{base}/auth/me", headers=_basic("", token)).status_code == 200
        for headers, words in (
            (_basic("someone-else", token), "does not match"),
            (_basic(NAME, "wrong"), "unknown or revoked"),
            ({"Authorization": "Basic %%%"}, "not base64"),
            (_basic(NAME, ""), "no token"),
            ({}, "Basic"),
        ):
            answer = client.get(f"{base}/features/collections/grids/items", headers=headers)
            assert answer.status_code == 401 and words in answer.json()["message"], (headers, answer.text)
            # Basic is offered to whoever tried it; a browser's fetch never gets its password dialog.
            tried_basic = headers.get("Authorization", "").startswith("Basic")
            assert answer.headers["www-authenticate"].startswith("Basic" if tried_basic else "Bearer")
        # A tile that fails to sign in is an error, never an empty tile.
        tile = client.get(f"{base}/tiles/boundaries/10/807/422.mvt", headers=_basic(NAME, "wrong"))
        assert tile.status_code == 401 and tile.json()["error"]


def test_the_features_api_describes_each_collection_as_ogc_clients_read_it(http, base):
    landing = http.get(f"{base}/features/").json()
    (desc,) = [link for link in landing["links"] if link["rel"] == "service-desc"]
    document = http.get(desc["href"])
    assert document.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    api = document.json()
    assert api["servers"][0]["url"] == f"{base}/features"
    limit = api["components"]["parameters"]["limit"]["schema"]
    assert limit["maximum"] == 10_000 and limit["default"] == 1_000
    parameters = {p.get("name"): p for p in api["paths"]["/collections/incidents/items"]["get"]["parameters"]}
    assert parameters["category"]["style"] == "form" and parameters["category"]["explode"] is False
    assert {"filter", "filter-lang", "sortby", "cursor", "bbox"} <= set(parameters)
    queryables = http.get(f"{base}/features/collections/incidents/queryables").json()
    assert queryables["properties"]["reported_at"]["format"] == "date-time"
    assert "geometry" in queryables["properties"] and "reporter_phone" not in queryables["properties"]


def _all(http, url: str, **params) -> tuple[list[dict], int]:
    """Every feature by following 'next' links; and the number of requests."""
    features, requests = [], 0
    answer = http.get(url, params=params).json()
    while True:
        requests += 1
        features += answer["features"]
        following = [link["href"] for link in answer["links"] if link["rel"] == "next"]
        if not following:
            return features, requests
        answer = http.get(following[0]).json()


CQL = [
    ("category = 'dispute' AND status <> 'closed'", "category = 'dispute' AND status <> 'closed'"),
    (
        "risk_colour IN ('red', 'orange') AND reported_at > TIMESTAMP('2026-10-01T00:00:00+08:00')",
        "risk_colour IN ('red', 'orange') AND reported_at > '2026-10-01T00:00:00+08:00'",
    ),
    (
        f"S_INTERSECTS(geometry, BBOX({BOX[0]}, {BOX[1]}, {BOX[2]}, {BOX[3]})) AND category LIKE 'dis%'",
        f"ST_Intersects(geom, ST_MakeEnvelope({BOX[0]}, {BOX[1]}, {BOX[2]}, {BOX[3]}, 4490)) AND category LIKE 'dis%'",
    ),
    ("CASEI(category) = CASEI('DISPUTE') AND NOT (status = 'closed')", "category = 'dispute' AND status <> 'closed'"),
    ("closed_at IS NULL AND id BETWEEN 1000 AND 60000", "closed_at IS NULL AND id BETWEEN 1000 AND 60000"),
]


@pytest.mark.parametrize(("cql", "sql"), CQL)
def test_cql2_text_filters_select_what_sql_selects(http, base, demo_url, cql, sql):
    features, _ = _all(http, f"{base}/features/collections/incidents/items", filter=cql, limit=10_000)
    expected = scalar(demo_url_engine(demo_url), f"SELECT count(*) FROM incidents WHERE {sql}")
    assert len(features) == expected > 0, cql
    assert len({f["id"] for f in features}) == len(features)


def demo_url_engine(url: str):
    from geo_service.db.engine import get_engine

    return get_engine(url)


def test_cql2_json_means_what_the_text_means(http, base):
    text_form = http.get(
        f"{base}/features/collections/grids/items", params={"filter": "level = 2 AND kind = 'urban'", "limit": 5000}
    ).json()
    json_form = http.get(
        f"{base}/features/collections/grids/items",
        params={
            "filter": json.dumps(
                {
                    "op": "and",
                    "args": [
                        {"op": "=", "args": [{"property": "level"}, 2]},
                        {"op": "=", "args": [{"property": "kind"}, "urban"]},
                    ],
                }
            ),
            "filter-lang": "cql2-json",
            "limit": 5000,
        },
    ).json()
    assert [f["id"] for f in text_form["features"]] == [f["id"] for f in json_form["features"]]
    assert text_form["numberMatched"] > 0


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"filter": "nope = 1"}, "not a queryable property"),
        ({"filter": "reporter_phone = '1'"}, "not a queryable property"),
        ({"filter": "category = "}, "not readable"),
        ({"filter": "category = 'x'; DROP TABLE incidents"}, "not readable"),
        ({"filter": "{}", "filter-lang": "cql2-json"}, "not readable"),
        ({"filter": "category = 'x'", "filter-lang": "ecql"}, "filter-lang"),
        ({"sortby": "-reporter_name"}, "cannot be sorted"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_filters_are_400_naming_what_is_wrong(http, base, demo_url, params, words):
    before = scalar(demo_url_engine(demo_url), "SELECT count(*) FROM incidents")
    answer = http.get(f"{base}/features/collections/incidents/items", params=params)
    assert answer.status_code == 400 and words in answer.json()["message"], answer.text
    assert scalar(demo_url_engine(demo_url), "SELECT count(*) FROM incidents") == before


def test_keyset_pages_walk_everything_once_in_the_asked_order(http, base, demo_url):
    url = f"{base}/features/collections/incidents/items"
    features, requests = _all(http, url, sortby="-reported_at", limit=7000, filter="category = 'dispute'")
    times = [f["properties"]["reported_at"] for f in features]
    assert times == sorted(times, reverse=True)
    expected = scalar(demo_url_engine(demo_url), "SELECT count(*) FROM incidents WHERE category = 'dispute'")
    assert len(features) == len({f["id"] for f in features}) == expected
    assert requests == -(-expected // 7000)


def test_the_last_page_costs_what_the_first_does(http, base):
    """Walk to the end by cursor, then time the first and the last page (medians of 5)."""
    url = f"{base}/features/collections/incidents/items"
    page = http.get(url, params={"limit": 10_000}).json()
    assert page["numberMatched"] > 200_000
    last = None
    while True:
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        last = following[0]
        page = http.get(last).json()
        assert "numberMatched" not in page  # counted on the first page only
    last_page = last.replace("limit=10000", "limit=100")

    def median(target: str, **params) -> float:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            assert http.get(target, params=params).status_code == 200
            runs.append(time.perf_counter() - started)
        return sorted(runs)[2]

    first = median(url, limit=100)
    deepest = median(last_page)
    offset = median(url, limit=100, offset=200_000)
    assert deepest < 4 * first + 0.05, (first, deepest)
    FIGURES["deep pages"] = (
        f"100 incidents: first page {first * 1000:.0f} ms, last page by cursor {deepest * 1000:.0f} ms, "
        f"offset 200,000 {offset * 1000:.0f} ms (medians of 5)"
    )


def test_one_tile_source_carries_every_boundary_layer(http, base):
    listed = http.get(f"{base}/tiles").json()["combined"]
    assert set(listed["layers"]) == {"towns", "villages", "grids"}
    tilejson = http.get(listed["tilejson"]).json()
    assert {layer["id"] for layer in tilejson["vector_layers"]} == {"towns", "villages", "grids"}
    assert tilejson["bounds"][0] < BOX[0] and "/tiles/boundaries/" in tilejson["tiles"][0]
    tile = http.get(tilejson["tiles"][0].replace("{z}/{x}/{y}", "12/3232/1690"))
    assert tile.status_code == 200
    assert set(mapbox_vector_tile.decode(tile.content)) == {"towns", "villages", "grids"}
    style = http.get(listed["style"]).json()
    boundary_layers = [
        layer for layer in style["layers"] if layer.get("source-layer") in ("towns", "villages", "grids")
    ]
    assert boundary_layers and {layer["source"] for layer in boundary_layers} == {"boundaries"}
