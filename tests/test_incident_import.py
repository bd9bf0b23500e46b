"""Recording many incidents: the batch endpoint and `geo-service assign --load`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta

import pandas as pd

from geo_service.api import bulk as bulk_api

from .conftest import scalar
from .tiny_county import EAST, WEST


def _env(url: str) -> dict:
    """The environment of a command run against ``url`` (whichever name the variable is set by)."""
    env = {k: v for k, v in os.environ.items() if k != "GEO_SERVICE_DATABASE_URL"}
    return {**env, "DATABASE_URL": url}


def incident(ext_id: str, **overrides) -> dict:
    row = {
        "external_id": ext_id,
        "lon": 104.07,
        "lat": 30.04,
        "category": "public_service",
        "source": "grid_app",
        "reported_at": "2026-02-01T09:00:00+08:00",
        "risk_colour": "blue",
    }
    row.update(overrides)
    return row


def test_a_batch_records_good_rows_and_names_bad_ones(tiny_client, tiny_engine):
    assert tiny_client.post("/incidents", json=incident("B-old")).status_code == 201
    batch = [
        incident("B-1"),
        incident("B-2", category="graffiti"),
        incident("B-1", lon=104.12, lat=30.0),  # repeated within the batch
        incident("B-old"),  # stored already
        incident("B-3", lon=104.075, lat=29.975, reported_at="2026-07-01T09:00:00+08:00", risk_colour="red"),
        incident("B-4", lon=116.4, lat=39.9),
    ]
    response = tiny_client.post("/incidents/batch", json={"incidents": batch})
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["rows"]] == ["created", "error", "duplicate", "existing", "created", "error"]
    assert [r["row"] for r in body["rows"]] == [1, 2, 3, 4, 5, 6]
    assert "unknown category 'graffiti'" in body["rows"][1]["error"]
    assert "outside the area this deployment covers" in body["rows"][5]["error"]
    assert body["counts"] == {"created": 2, "existing": 1, "duplicate": 1, "error": 2}
    assert body["rows"][2]["id"] == body["rows"][0]["id"]

    first = tiny_client.get(f"/incidents/{body['rows'][0]['id']}").json()
    assert first["grid"]["code"] == WEST + "002" and first["status"] == "dispatched"
    assert [e["action"] for e in first["timeline"]] == ["report", "dispatch"]
    # The same officers and time limit as an incident recorded on its own.
    single = tiny_client.get("/incidents", params={"start": "2026-02-01", "end": "2026-02-02"}).json()["items"]
    alone = next(i for i in single if i["external_id"] == "B-old")
    alone = tiny_client.get(f"/incidents/{alone['id']}").json()
    assert [(o["role"], o["officer_code"]) for o in first["officers"]] == [
        (o["role"], o["officer_code"]) for o in alone["officers"]
    ]
    span = lambda i: datetime.fromisoformat(i["deadline"]) - datetime.fromisoformat(i["dispatched_at"])
    assert span(first) == span(alone) == timedelta(hours=72)

    later = tiny_client.get(f"/incidents/{body['rows'][4]['id']}").json()
    assert later["boundary_version"]["name"] == "v2" and later["grid"]["code"] == WEST + "002"
    assert span(later) == timedelta(hours=24)  # red: the same day
    assert scalar(tiny_engine, "SELECT count(*) FROM incidents WHERE external_id = 'B-1'") == 1


def test_all_or_nothing_stores_nothing_when_one_row_is_bad(tiny_client, tiny_engine):
    before = scalar(tiny_engine, "SELECT count(*) FROM incidents")
    response = tiny_client.post(
        "/incidents/batch",
        json={"all_or_nothing": True, "incidents": [incident("N-1"), incident("N-2", source="carrier pigeon")]},
    )
    assert response.status_code == 422
    assert response.json()["committed"] is False
    assert scalar(tiny_engine, "SELECT count(*) FROM incidents") == before


def test_batches_over_the_limit_are_refused_with_413(tiny_client, monkeypatch):
    monkeypatch.setattr(bulk_api, "MAX_INCIDENTS", 2)
    monkeypatch.setattr(bulk_api, "MAX_POINTS", 2)
    response = tiny_client.post("/incidents/batch", json={"incidents": [incident(f"X-{n}") for n in range(3)]})
    assert response.status_code == 413 and "at most 2" in response.json()["message"]
    response = tiny_client.post("/assign", json={"points": [{"lon": 104.07, "lat": 30.04}] * 3})
    assert response.status_code == 413


def test_post_assign_answers_each_point_in_order(tiny_client):
    response = tiny_client.post(
        "/assign",
        json={
            "at": "2026-01-15T10:00:00+08:00",
            "points": [
                {"lon": 104.07, "lat": 30.04},
                {"lon": 104.25, "lat": 30.02},
                {"lon": 30.04, "lat": 104.07},
                {"lon": 104.18, "lat": 29.96, "crs": "wgs84"},
            ],
        },
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["assigned", "outside_grids", "error", "assigned"]
    assert [r["grid_code"] for r in results] == [WEST + "002", EAST + "002", None, EAST + "001"]
    assert "swapped" in results[2]["error"]
    assert [v["name"] for v in response.json()["boundary_versions"]] == ["v1"]


def test_the_command_line_loads_a_file_once(tiny_url, tiny_engine, tmp_path):
    rows = pd.DataFrame(
        [incident(f"F-{n}", lon=104.01 + n * 0.001) for n in range(50)] + [incident("F-bad", lon="east")]
    )
    source = tmp_path / "week.csv"
    rows.to_csv(source, index=False)
    env = _env(tiny_url)
    command = [sys.executable, "-m", "geo_service.cli.main", "assign", str(source), "--load"]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "51 rows: 50 recorded, 0 already stored, 0 repeated in the file, 1 in error" in first.stderr
    assert "row 51: lon 'east' is not a number" in first.stderr
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert "51 rows: 0 recorded, 50 already stored" in again.stderr
    assert scalar(tiny_engine, "SELECT count(*) FROM incidents WHERE external_id LIKE 'F-%'") == 50
    assert (
        scalar(
            tiny_engine,
            """
        SELECT count(*) FROM incident_officers b JOIN incidents i ON i.id = b.incident_id
         WHERE i.external_id LIKE 'F-%'""",
        )
        == 50 * 6
    )


def test_a_batch_may_mix_time_zones_and_zoneless_times(tiny_client):
    rows = [
        incident("Z-1", reported_at="2026-02-01T01:00:00Z"),
        incident("Z-2", reported_at="2026-02-01T09:00:00+08:00"),
        incident("Z-3", reported_at="2026-02-01T09:00:00"),
    ]  # no zone: Beijing time
    body = tiny_client.post("/incidents/batch", json={"incidents": rows}).json()
    assert [r["status"] for r in body["rows"]] == ["created"] * 3
    times = {tiny_client.get(f"/incidents/{r['id']}").json()["reported_at"] for r in body["rows"]}
    assert times == {"2026-02-01T09:00:00+08:00"}


def test_the_command_line_loads_times_in_several_zones(tiny_url, tmp_path):
    source = tmp_path / "zones.csv"
    pd.DataFrame(
        [incident("CZ-1", reported_at="2026-02-01T01:00:00Z"), incident("CZ-2", reported_at="2026-02-01 09:00")]
    ).to_csv(source, index=False)
    done = subprocess.run(
        [sys.executable, "-m", "geo_service.cli.main", "assign", str(source), "--load"],
        capture_output=True,
        text=True,
        env=_env(tiny_url),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "2 rows: 2 recorded" in done.stderr


def test_a_refused_row_does_not_claim_its_external_id(tiny_client):
    body = tiny_client.post(
        "/incidents/batch", json={"incidents": [incident("R-1", category="graffiti"), incident("R-1")]}
    ).json()
    assert [r["status"] for r in body["rows"]] == ["error", "created"]
    assert body["rows"][1]["id"] is not None


def test_reports_older_than_every_boundary_version_are_refused_by_row(tiny_client):
    body = tiny_client.post(
        "/incidents/batch", json={"incidents": [incident("O-1", reported_at="2019-05-01T10:00:00+08:00")]}
    ).json()
    assert body["rows"][0]["status"] == "error"
    assert "no boundary version" in body["rows"][0]["error"]
    single = tiny_client.post("/incidents", json=incident("O-2", reported_at="2019-05-01T10:00:00+08:00"))
    assert single.status_code == 422 and single.json()["field"] == "reported_at"


def test_a_batch_before_any_boundaries_are_published(scratch_url):
    """Nobody can sign in before boundaries exist (a jurisdiction is a unit of them), so the
    library is asked directly: each row names the missing version."""
    import numpy as np
    import pandas as pd

    from geo_service.cases.batch import import_incidents
    from geo_service.db import migrate
    from geo_service.db.engine import get_engine
    from geo_service.rules.seed import seed_rules
    from geo_service.settings import Settings

    migrate.upgrade(scratch_url)
    raw = get_engine(scratch_url).raw_connection()
    with raw.cursor() as cursor:
        seed_rules(cursor)
    raw.commit()
    raw.close()
    row = incident("E-1")
    frame = pd.DataFrame([row])
    for column in ("description", "reporter_name", "reporter_phone", "risk_colour"):
        frame[column] = frame.get(column, None)
    result = import_incidents(
        get_engine(scratch_url),
        frame,
        np.array([row["lon"]]),
        np.array([row["lat"]]),
        np.array([row.get("crs", "cgcs2000")], dtype=object),
        actor="tests",
        settings=Settings(database_url=scratch_url),
    )
    assert "no boundary version" in result.rows["error"][0]


def test_a_datum_alias_is_stored_by_its_name(tiny_engine, settings):
    from geo_service.cases.recording import NewIncident, record_incident

    stored, _ = record_incident(
        tiny_engine,
        NewIncident(
            external_id="  A-1 ",
            lon=104.12,
            lat=30.0,
            crs="GCJ-02",
            category="dispute",
            source="citizen",
            reported_at=datetime(2026, 2, 1, 9, 0),
        ),
        actor="tests",
        settings=settings,
    )
    assert stored["input_location"]["crs"] == "gcj02"
    assert stored["external_id"] == "A-1"


def test_a_batch_writes_the_same_timeline_as_one_by_one(tiny_client):
    """Routing notes name the grid and the vacancies; a case outside the grids names the nearest."""
    single = [
        tiny_client.post("/incidents", json=incident(f"S-{n}", **place)).json()
        for n, place in enumerate([{}, {"lon": 104.25, "lat": 30.02}])
    ]
    batch = tiny_client.post(
        "/incidents/batch", json={"incidents": [incident("BT-0"), incident("BT-1", lon=104.25, lat=30.02)]}
    ).json()
    batched = [tiny_client.get(f"/incidents/{row['id']}").json() for row in batch["rows"]]
    for one, other in zip(single, batched):
        assert [(e["action"], e["note"]) for e in one["timeline"]] == [
            (e["action"], e["note"]) for e in other["timeline"]
        ]
    assert "vacant: grid_leader" in batched[0]["timeline"][1]["note"]
    assert "nearest grid " + EAST + "002" in batched[1]["timeline"][0]["note"]


def test_past_cases_are_not_recorded_as_new_reports(tiny_url, tiny_engine, tmp_path):
    """The file had status, closing time and satisfaction: loaded as new reports they would come
    back open and dispatched to today's people. They are refused and sent to the county import."""
    rows = pd.DataFrame([incident("P-1"), incident("P-2")]).assign(
        status="closed", closed_at="2024-03-05T10:00:00+08:00", satisfaction=4
    )
    source = tmp_path / "closed.csv"
    rows.to_csv(source, index=False)
    outbox = scalar(tiny_engine, "SELECT count(*) FROM outbox")
    command = [sys.executable, "-m", "geo_service.cli.main", "assign", str(source), "--load"]
    refused = subprocess.run(command, capture_output=True, text=True, env=_env(tiny_url), timeout=120)
    assert refused.returncode == 2
    assert "past cases" in refused.stderr and "county import" in refused.stderr
    assert "closed_at, satisfaction, status" in refused.stderr
    assert scalar(tiny_engine, "SELECT count(*) FROM incidents WHERE external_id LIKE 'P-%'") == 0
    assert scalar(tiny_engine, "SELECT count(*) FROM outbox") == outbox
