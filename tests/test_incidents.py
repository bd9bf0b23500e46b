"""Recording incidents: assigned at once, bound to people, idempotent, and read back with filters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from geo_service.cases.recording import NewIncident, record_incident
from geo_service.coordinates import datum

from .conftest import scalar
from .tiny_county import BJ, EAST, WEST


def post(client, ext_id: str, **overrides):
    body = {
        "external_id": ext_id,
        "lon": 104.07,
        "lat": 30.04,
        "category": "dispute",
        "source": "hotline_12345",
        "reported_at": "2026-01-15T09:30:00+08:00",
        "description": "邻里因排水沟发生争执",
        "reporter_name": "王某",
        "reporter_phone": "13800000000",
    }
    body.update(overrides)
    return client.post("/incidents", json=body)


def test_a_posted_incident_is_assigned_bound_and_timed(tiny_client, tiny_engine):
    response = post(tiny_client, "T-1")
    assert response.status_code == 201
    incident = response.json()
    assert response.headers["location"] == f"/incidents/{incident['id']}"
    # Reported in January: the grid of the boundaries then in force, not today's.
    assert incident["boundary_version"]["name"] == "v1"
    assert incident["grid"]["code"] == WEST + "002"
    assert (incident["village"]["code"], incident["town"]["code"], incident["county"]["code"]) == (
        WEST,
        "511421100000",
        "511421000000",
    )
    assert incident["status"] == "dispatched"
    # A blue dispute has a week from dispatch (time_limits.csv).
    dispatched = datetime.fromisoformat(incident["dispatched_at"])
    assert datetime.fromisoformat(incident["deadline"]) - dispatched == timedelta(hours=168)
    bound = [(o["position"], o["role"], o["vacant"]) for o in incident["officers"]]
    assert bound[:3] == [
        (1, "village_cadre", False),
        (2, "village_party_secretary", False),
        (3, "community_police", False),
    ]
    assert (4, "grid_worker", False) in bound and (5, "grid_leader", True) in bound
    assert [(e["action"], e["to_status"]) for e in incident["timeline"]] == [
        ("report", "reported"),
        ("dispatch", "dispatched"),
    ]
    assert "vacant: grid_leader" in incident["timeline"][1]["note"]
    # One write on record, and the administrator's read of the reporter's contact in the answer.
    assert scalar(
        tiny_engine,
        "SELECT array_agg(action ORDER BY id) FROM audit_log WHERE entity = 'incident' AND entity_id = :id",
        id=str(incident["id"]),
    ) == ["create", "read_personal"]


def test_posting_the_same_external_id_again_returns_the_stored_incident(tiny_client, tiny_engine):
    first = post(tiny_client, "T-2")
    again = post(tiny_client, "T-2", category="emergency", lon=104.12, lat=30.0)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["category"] == "dispute"  # the stored one, not the replayed payload
    assert scalar(tiny_engine, "SELECT count(*) FROM incidents WHERE external_id = 'T-2'") == 1
    assert (
        scalar(
            tiny_engine,
            """
        SELECT count(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id
         WHERE i.external_id = 'T-2'""",
        )
        == 2
    )


def test_concurrent_posts_of_one_report_store_it_once(tiny_engine, settings):
    new = NewIncident(
        external_id="T-race",
        lon=104.12,
        lat=30.0,
        category="public_service",
        source="grid_app",
        reported_at=datetime(2026, 1, 15, 9, 0, tzinfo=BJ),
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: record_incident(tiny_engine, new, actor="tests", settings=settings), range(16))
        )
    assert sum(created for _, created in results) == 1
    assert len({incident["id"] for incident, _ in results}) == 1
    assert scalar(tiny_engine, "SELECT count(*) FROM incidents WHERE external_id = 'T-race'") == 1
    assert (
        scalar(
            tiny_engine,
            """
        SELECT count(*) FROM incident_officers b JOIN incidents i ON i.id = b.incident_id
         WHERE i.external_id = 'T-race'""",
        )
        == 6
    )


def test_a_report_in_gcj02_is_stored_in_cgcs2000_and_keeps_its_input(tiny_client):
    lon, lat = (float(v) for v in datum.convert(104.18, 29.96, "cgcs2000", "gcj02"))
    incident = post(tiny_client, "T-gcj", lon=lon, lat=lat, crs="gcj02").json()
    assert incident["grid"]["code"] == EAST + "001"
    assert incident["location"]["lon"] == pytest.approx(104.18, abs=1e-8)
    assert incident["input_location"] == {"lon": lon, "lat": lat, "crs": "gcj02"}


def test_a_report_after_the_redraw_takes_the_new_grid(tiny_client):
    incident = post(tiny_client, "T-v2", lon=104.075, lat=29.975, reported_at="2026-07-01T08:00:00+08:00").json()
    assert incident["boundary_version"]["name"] == "v2"
    assert incident["grid"]["code"] == WEST + "002"


def test_a_report_outside_every_grid_waits_for_manual_routing(tiny_client):
    response = post(tiny_client, "T-out", lon=104.25, lat=30.02)
    assert response.status_code == 201
    incident = response.json()
    assert incident["grid"] is None and incident["status"] == "reported"
    assert incident["officers"] == [] and incident["deadline"] is None
    assert "nearest grid " + EAST + "002" in incident["timeline"][0]["note"]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"category": "graffiti"}, "category", "known: dispute"),
        ({"source": "pigeon"}, "source", "unknown source"),
        ({"risk_colour": "green"}, "risk_colour", "'red', 'yellow' or 'blue'"),
        ({"reported_at": (datetime.now(BJ) + timedelta(days=2)).isoformat()}, "reported_at", "future"),
        ({"lon": 116.4, "lat": 39.9}, "lon,lat", "outside the area"),
        ({"lat": 104.07, "lon": 30.04}, "lat", "swapped"),
        ({"crs": "bd-11"}, "crs", "'wgs84', 'cgcs2000', 'gcj02' or 'bd09'"),
        ({"external_id": ""}, "external_id", "at least 1 character"),
    ],
)
def test_bad_reports_are_refused_and_nothing_is_stored(tiny_client, tiny_engine, overrides, field, words):
    before = scalar(tiny_engine, "SELECT count(*) FROM incidents")
    response = post(tiny_client, "T-bad", **overrides)
    assert response.status_code == 422
    body = response.json()
    named = body.get("field") or ",".join(str(e["loc"][-1]) for e in body.get("detail", []))
    assert named == field
    assert words in body.get("message", str(body))
    assert scalar(tiny_engine, "SELECT count(*) FROM incidents") == before


def test_get_one_incident_and_a_404_for_an_unknown_id(tiny_client):
    created = post(tiny_client, "T-get").json()
    assert tiny_client.get(f"/incidents/{created['id']}").json()["external_id"] == "T-get"
    missing = tiny_client.get("/incidents/987654")
    assert missing.status_code == 404 and "987654" in missing.json()["message"]
    # Ids no bigint holds name nothing either (the read is a prepared statement with a bigint id).
    for beyond in (2**63, -(2**63) - 1, 0):
        answer = tiny_client.get(f"/incidents/{beyond}")
        assert answer.status_code == 404 and str(beyond) in answer.json()["message"], answer.text


def test_list_filters_and_pages(tiny_client, tiny_engine):
    for n, (lon, lat, category) in enumerate(
        [
            (104.01, 30.04, "dispute"),
            (104.07, 30.04, "dispute"),
            (104.12, 30.0, "emergency"),
            (104.18, 29.96, "dispute"),
        ]
    ):
        post(tiny_client, f"L-{n}", lon=lon, lat=lat, category=category, reported_at=f"2026-02-0{n + 1}T10:00:00+08:00")
    listed = lambda **q: tiny_client.get("/incidents", params={"start": "2026-02-01", "end": "2026-02-10", **q}).json()
    assert listed()["total"] == 4
    assert [i["external_id"] for i in listed()["items"]] == ["L-3", "L-2", "L-1", "L-0"]  # newest first
    assert listed(category="emergency")["total"] == 1
    assert listed(category=["emergency", "dispute"])["total"] == 4
    assert {i["external_id"] for i in listed(village=EAST)["items"]} == {"L-2", "L-3"}
    assert [i["external_id"] for i in listed(grid=WEST + "001")["items"]] == ["L-0"]  # includes its sub-grids
    assert {i["external_id"] for i in listed(bbox="104.0,30.0,104.1,30.05")["items"]} == {"L-0", "L-1"}
    assert listed(status="closed")["total"] == 0
    page = listed(limit=3)
    assert len(page["items"]) == 3 and page["links"][0]["rel"] == "next"
    following = tiny_client.get(page["links"][0]["href"]).json()
    assert [i["external_id"] for i in following["items"]] == ["L-0"] and following["links"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "104,30,104"},
        {"bbox": "104.1,30,104.0,30.1"},
        {"limit": 5000},
        {"grid": "12ab"},
        {"start": "2026-02-10", "end": "2026-02-01"},
    ],
)
def test_list_refuses_bad_filters(tiny_client, params):
    assert tiny_client.get("/incidents", params=params).status_code == 422


def test_list_rejects_sql_in_filters_as_plain_values(tiny_client, tiny_engine):
    before = scalar(tiny_engine, "SELECT count(*) FROM incidents")
    response = tiny_client.get(
        "/incidents", params={"category": "dispute' OR '1'='1", "source": "x); DROP TABLE incidents;--"}
    )
    assert response.status_code == 200 and response.json()["total"] == 0
    assert scalar(tiny_engine, "SELECT count(*) FROM incidents") == before
    with tiny_engine.connect() as connection:
        assert connection.execute(text("SELECT to_regclass('incidents')")).scalar() is not None
