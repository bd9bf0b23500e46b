"""Watching it: /metrics for Prometheus, one JSON log line per request with its id, and health
split into "up" (/healthz/live) and "ready" (/healthz/ready)."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from geo_service.api.app import create_app
from geo_service.db import migrate
from geo_service.db.engine import get_engine
from geo_service.settings import Settings

from .conftest import scalar, signed_in

UNREACHABLE = "postgresql+psycopg2://nobody@127.0.0.1:9/nothing"


def _samples(body: str) -> dict[tuple, float]:
    """Every sample as {(name, sorted labels): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def _incident(external_id: str) -> dict:
    return {
        "external_id": external_id,
        "lon": 104.03,
        "lat": 30.02,
        "category": "dispute",
        "source": "hotline_12345",
        "reported_at": "2026-11-10T09:00:00+08:00",
        "reporter_name": "李四",
        "reporter_phone": "13912345678",
        "description": "water leaking at No. 3",
    }


@pytest.fixture(scope="module")
def county(tiny_url):
    """The tiny county with one case past its deadline and its notifications waiting."""
    with signed_in(tiny_url, "dispatcher") as client:
        answer = client.post("/incidents", json=_incident("METRICS-1"))
        assert answer.status_code == 201, answer.text
    with get_engine(tiny_url).begin() as connection:
        connection.execute(
            text("UPDATE incidents SET status = 'dispatched', deadline = now() - interval '2 hours' WHERE id = :i"),
            {"i": answer.json()["id"]},
        )
    return tiny_url


def test_metrics_count_requests_by_route_and_read_the_database_when_scraped(county):
    with signed_in(county, "dispatcher") as client:
        incident = scalar(get_engine(county), "SELECT max(id) FROM incidents")
        for _ in range(3):
            assert client.get(f"/incidents/{incident}").status_code == 200
        assert client.get("/incidents/999999").status_code == 404
        assert client.get("/no/such/path/12345").status_code == 404
        response = client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    by_route = {
        (labels, value)
        for (name, labels), value in samples.items()
        if name == "geo_service_http_requests_total" and dict(labels)["route"].startswith("/incidents")
    }
    route = (("method", "GET"), ("route", "/incidents/{incident_id}"))
    assert (route + (("status", "200"),), 3.0) in by_route  # the template, never the id
    assert (route + (("status", "404"),), 1.0) in by_route
    assert (
        samples[("geo_service_http_requests_total", (("method", "GET"), ("route", "(unmatched)"), ("status", "404")))]
        == 1
    )
    assert samples[("geo_service_http_request_duration_seconds_count", route)] == 4
    assert samples[("geo_service_http_request_duration_seconds_bucket", (("le", "+Inf"), *route))] == 4
    assert samples[("geo_service_db_pool_size", ())] >= 1
    assert ("geo_service_db_pool_checked_out", ()) in samples
    assert samples[("geo_service_database_up", ())] == 1
    engine = get_engine(county)
    pending = scalar(engine, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    assert pending > 0
    assert samples[("geo_service_outbox_pending", ())] == pending
    assert samples[("geo_service_outbox_oldest_pending_seconds", ())] > 0
    overdue = scalar(
        engine,
        "SELECT count(*) FROM incidents WHERE status IN ('dispatched', 'accepted', 'in_progress') AND deadline < now()",
    )
    assert overdue >= 1
    assert samples[("geo_service_cases_overdue", (("tier", "village"),))] == overdue
    assert samples[("geo_service_cases_overdue", (("tier", "county"),))] == 0


def test_metrics_can_be_restricted_to_a_scrape_token(county):
    with TestClient(create_app(Settings(database_url=county, metrics_token="s3cret-scrape"))) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert "Bearer" in refused.headers["www-authenticate"]
        assert "metrics token" in refused.json()["message"]
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Basic czNjcmV0"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"}).status_code == 200


def test_a_scrape_survives_the_database_being_away():
    with TestClient(create_app(Settings(database_url=UNREACHABLE))) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    samples = _samples(response.text)
    assert samples[("geo_service_database_up", ())] == 0
    assert ("geo_service_outbox_pending", ()) not in samples


def test_one_json_line_per_request_with_its_id_and_no_personal_data(county, caplog):
    caplog.set_level(logging.INFO, logger="geo_service.requests")
    with signed_in(county, "dispatcher", name="log-dispatcher") as client:
        posted = client.post("/incidents", json=_incident("METRICS-LOG"), headers={"X-Request-ID": "trace-42.a"})
        listed = client.get("/incidents", params={"q": "13912345678", "limit": 5})
        forged = client.get("/healthz/live", headers={"X-Request-ID": "x" * 129})
        injected = client.get("/healthz/live", headers={"X-Request-ID": 'a"}\n{"user": "root'})
    assert posted.status_code == 201 and posted.headers["x-request-id"] == "trace-42.a"
    assert len(listed.headers["x-request-id"]) == 32  # made up when none was sent
    assert forged.headers["x-request-id"] != "x" * 129 and injected.headers["x-request-id"].isalnum()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "geo_service.requests"]
    assert len(lines) == 4  # one per request, each a JSON object on one line
    first = lines[0]
    assert first["request_id"] == "trace-42.a" and first["method"] == "POST" and first["route"] == "/incidents"
    assert first["status"] == 201 and first["user"] == "log-dispatcher" and first["duration_ms"] > 0
    assert set(first) == {"at", "request_id", "method", "route", "status", "duration_ms", "user"}
    assert lines[2]["user"] is None  # nobody signs in to ask whether the process is up
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("李四", "13912345678", "water leaking", "limit=5"):
        assert secret not in logged


def test_live_and_ready_are_told_apart(county, scratch_url):
    with TestClient(create_app(Settings(database_url=county))) as client:
        assert client.get("/healthz/live").json() == {"status": "up"}
        ready = client.get("/healthz/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert client.get("/healthz").json()["status"] == "ok"  # as before
    with TestClient(create_app(Settings(database_url=UNREACHABLE))) as client:
        assert client.get("/healthz/live").status_code == 200  # the process is up ...
        ready = client.get("/healthz/ready")
        assert ready.status_code == 503 and "unreachable" in ready.json()["problems"][0]  # ... but not ready
    with TestClient(create_app(Settings(database_url=scratch_url))) as client:
        ready = client.get("/healthz/ready")
        assert ready.status_code == 503 and "geo-service db migrate" in ready.json()["problems"][0]
        migrate.upgrade(scratch_url)
        ready = client.get("/healthz/ready")  # the schema is there, no boundaries are in force yet
        assert ready.status_code == 503 and "no boundary version" in ready.json()["problems"][0]
        assert client.get("/healthz").status_code == 200  # /healthz keeps calling that "degraded"


def test_operators_routes_stay_out_of_the_api_document(county):
    with TestClient(create_app(Settings(database_url=county))) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert "/healthz" in paths
    assert not {"/metrics", "/healthz/live", "/healthz/ready"} & set(paths)
