"""OGC API - Features read by OWSLib, the client QGIS's users script with, over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from owslib.ogcapi.features import Features

from geo_service.ogc import CONFORMANCE, CRS84, EPSG

from .conftest import ENGLISH, live_server, scalar, token_for

SW_CORNER = "104.0,29.8,104.15,29.95"  # a corner of the demo county (lon, lat)


@pytest.fixture(scope="module")
def auth(demo_url: str) -> dict:
    return {"Authorization": f"Bearer {token_for(demo_url)}"}


@pytest.fixture(scope="module")
def base_url(demo_url: str):
    with live_server(demo_url) as url:
        yield url + "/features"


@pytest.fixture(scope="module")
def http(auth: dict):
    with httpx.Client(headers=auth | ENGLISH) as client:
        yield client


@pytest.fixture(scope="module")
def api(base_url: str, auth: dict) -> Features:
    return Features(base_url, headers=auth)


def test_landing_page_and_conformance(api):
    conformance = api.conformance()["conformsTo"]
    assert set(CONFORMANCE) <= set(conformance)
    rels = {link["rel"] for link in api.links}
    assert {"self", "service-desc", "conformance", "data"} <= rels


@pytest.mark.parametrize(
    "collection_id, table_sql",
    [
        ("admin_units", "SELECT count(*) FROM admin_units WHERE version_id = 1"),
        ("grids", "SELECT count(*) FROM grids WHERE version_id = 1"),
        ("grids-v1", "SELECT count(*) FROM grids WHERE version_id = 1"),
        ("cameras", "SELECT count(*) FROM cameras"),
        ("incidents", "SELECT count(*) FROM incidents"),
    ],
)
def test_owslib_reads_every_collection(api, engine, collection_id, table_sql):
    assert collection_id in api.feature_collections()
    described = api.collection(collection_id)
    assert described["storageCrs"] == EPSG.format(4490) and CRS84 in described["crs"]
    minx, miny, maxx, maxy = described["extent"]["spatial"]["bbox"][0]
    assert 103.5 < minx < maxx < 104.6 and 29.5 < miny < maxy < 30.4
    page = api.collection_items(collection_id, limit=7)
    assert page["numberMatched"] == scalar(engine, table_sql)
    assert page["numberReturned"] == len(page["features"]) == 7
    assert all(f["geometry"]["type"] in ("Point", "MultiPolygon") for f in page["features"])


def test_bbox_selects_what_postgis_selects(api, engine):
    page = api.collection_items("grids", bbox=SW_CORNER.split(","), limit=1000)
    expected = scalar(
        engine,
        "SELECT count(*) FROM grids WHERE version_id = 1 AND "
        "ST_Intersects(geom, ST_MakeEnvelope(104.0, 29.8, 104.15, 29.95, 4490))",
    )
    assert page["numberMatched"] == len(page["features"]) == expected > 0


def test_paging_walks_every_feature_once(http, base_url, engine):
    url = f"{base_url}/collections/incidents/items?bbox={SW_CORNER}&datetime=2026-03-01T00:00:00%2B08:00/2026-03-08T00:00:00%2B08:00&limit=50"
    seen: list[int] = []
    while url:
        page = http.get(url).json()
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    expected = scalar(
        engine,
        """
        SELECT count(*) FROM incidents WHERE ST_Intersects(geom, ST_MakeEnvelope(104.0, 29.8, 104.15, 29.95, 4490))
           AND reported_at BETWEEN '2026-03-01T00:00:00+08:00' AND '2026-03-08T00:00:00+08:00'""",
    )
    assert len(seen) == len(set(seen)) == expected > 50


def test_property_filters_and_open_intervals(api, engine):
    page = api.collection_items(
        "incidents", category="security_hazard", status="closed", datetime="2026-11-01T00:00:00Z/..", limit=10
    )
    expected = scalar(
        engine,
        "SELECT count(*) FROM incidents WHERE category = 'security_hazard' AND status = 'closed' "
        "AND reported_at >= '2026-11-01T00:00:00Z'",
    )
    assert page["numberMatched"] == expected > 10
    for feature in page["features"]:
        assert feature["properties"]["category"] == "security_hazard"
        assert not {"reporter_name", "reporter_phone", "description"} & set(feature["properties"])


def test_crs_by_reference_puts_latitude_first_for_epsg_4490(http, base_url):
    code = "511421001001001"
    plain = http.get(f"{base_url}/collections/grids/items/{code}")
    cgcs = http.get(f"{base_url}/collections/grids/items/{code}", params={"crs": EPSG.format(4490)})
    assert plain.headers["Content-Crs"] == f"<{CRS84}>" and cgcs.headers["Content-Crs"] == f"<{EPSG.format(4490)}>"
    lon, lat = plain.json()["geometry"]["coordinates"][0][0][0]
    assert cgcs.json()["geometry"]["coordinates"][0][0][0] == [lat, lon]
    # A bbox in EPSG:4490 is read latitude first too.
    swapped = "29.8,104.0,29.95,104.15"
    same = http.get(f"{base_url}/collections/grids/items", params={"bbox": swapped, "bbox-crs": EPSG.format(4490)})
    assert (
        same.json()["numberMatched"]
        == http.get(f"{base_url}/collections/grids/items", params={"bbox": SW_CORNER}).json()["numberMatched"]
    )


@pytest.mark.parametrize("short", ["EPSG:4490", "[EPSG:4490]", "urn:ogc:def:crs:EPSG::4490"])
def test_the_short_crs_forms_clients_send_mean_the_uri(http, base_url, short):
    code = "511421001001001"
    by_uri = http.get(f"{base_url}/collections/grids/items/{code}", params={"crs": EPSG.format(4490)})
    by_short = http.get(f"{base_url}/collections/grids/items/{code}", params={"crs": short})
    assert by_short.status_code == 200 and by_short.headers["Content-Crs"] == f"<{EPSG.format(4490)}>"
    assert by_short.json()["geometry"] == by_uri.json()["geometry"]
    refused = http.get(f"{base_url}/collections/grids/items/{code}", params={"crs": "EPSG:3857"})
    assert refused.status_code == 400 and refused.json()["field"] == "crs"


def test_one_item_and_a_missing_one(http, api, base_url, engine):
    feature = api.collection_item("grids", "511421001001001")
    assert feature["properties"]["households"] == scalar(
        engine, "SELECT households FROM grids WHERE version_id = 1 AND code = '511421001001001'"
    )
    missing = http.get(f"{base_url}/collections/grids/items/511421999999001")
    assert missing.status_code == 404 and "511421999999001" in missing.json()["message"]
    assert http.get(f"{base_url}/collections/rivers").status_code == 404


def test_grids_at_an_instant_before_any_version(http, base_url):
    answer = http.get(f"{base_url}/collections/grids/items", params={"datetime": "2020-01-01T00:00:00Z"})
    assert answer.status_code == 404 and "no boundary version" in answer.json()["message"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"bbox": "104,29"}, "bbox"),
        ({"bbox": "1,2,3,400"}, "bbox"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100001"}, "limit"),
        ({"crs": "EPSG:3857"}, "crs"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2026-02-01T00:00:00Z/2026-01-01T00:00:00Z"}, "datetime"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_answer_400_naming_them(http, base_url, params, field):
    answer = http.get(f"{base_url}/collections/incidents/items", params=params)
    assert answer.status_code == 400
    assert answer.json()["field"] == field
