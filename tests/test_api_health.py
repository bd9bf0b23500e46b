"""The served health check and OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from geo_service.api.app import create_app
from geo_service.db import migrate
from geo_service.settings import Settings


def test_healthz_reports_the_database_and_the_loaded_county(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["problems"] == []
    database = body["database"]
    assert database["ok"] is True
    assert database["postgis"].startswith("3.")
    assert database["schema_revision"] == migrate.head_revision()
    assert database["boundary_version"] == "demo-511421"
    assert database["grids_in_force"] > 800


def test_healthz_is_503_when_the_database_is_unreachable():
    app = create_app(Settings(database_url="postgresql+psycopg2://nobody@127.0.0.1:9/nothing"))
    with TestClient(app) as unreachable:
        response = unreachable.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"]["ok"] is False
    assert response.json()["database"]["error"]


def test_healthz_is_503_without_a_schema_and_degraded_without_boundaries(scratch_url):
    with TestClient(create_app(Settings(database_url=scratch_url))) as app:
        response = app.get("/healthz")
        assert response.status_code == 503
        assert "geo-service db migrate" in response.json()["problems"][0]

        migrate.upgrade(scratch_url)
        response = app.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert "no boundary version" in response.json()["problems"][0]


def test_openapi_document_is_served_and_docs_need_no_cdn(client):
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "geo_service"
    assert "/healthz" in document["paths"]
    page = client.get("/docs").text
    assert "cdn." not in page and "https://" not in page
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
