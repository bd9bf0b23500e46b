"""The service against hostile input: generated requests over the OpenAPI document (SQL
injection in every filter is ``test_injection.py``; retries and a database restart are
``test_faults.py``).

The fuzzing runs schemathesis on the app itself (ASGI, no socket), signed in as an administrator
over the county, with the rate limit lifted. Before generation the document is seeded with values
the database holds (collection ids, layer names, version refs, incident ids, category and source
codes, points inside the county) beside the declared types, so that generated requests reach the
SQL behind the routes rather than stopping at "not found". Reads run against the session's demo
county, writes against a private copy. Left out: ``POST /boundaries/drafts`` (a multipart upload
of boundary files, which random bytes only exercise as "not a readable file").
"""

from __future__ import annotations

import copy
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import text

from geo_service.api.app import create_app
from geo_service.settings import Settings

from .conftest import FIGURES, token_for

# Requests made and statuses seen by the fuzzing tests, for the run's figures.
FUZZED: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary():
    yield
    if FUZZED:
        server_errors = sum(n for status, n in FUZZED.items() if status >= 500)
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(FUZZED.items()))
        FIGURES["fuzzing"] = f"{sum(FUZZED.values())} generated requests, {server_errors} server errors ({statuses})"


def _either(values: list, declared: dict) -> dict:
    """A schema that generates one of ``values`` or anything ``declared`` allows."""
    return {"anyOf": [{"enum": values}, declared]} if values else declared


def seeded_document(app, client) -> dict:
    """The app's OpenAPI document with values the database holds offered beside the declared types."""
    document = copy.deepcopy(app.openapi())
    engine = app.state.engine
    with engine.connect() as connection:
        incident_ids = list(connection.execute(text("SELECT id FROM incidents ORDER BY id LIMIT 5")).scalars())
        incident_ids += list(
            connection.execute(
                text("SELECT id FROM incidents WHERE status NOT IN ('closed') ORDER BY id DESC LIMIT 5")
            ).scalars()
        )
        categories = list(connection.execute(text("SELECT code FROM categories ORDER BY code")).scalars())
        sources = list(connection.execute(text("SELECT code FROM sources ORDER BY code")).scalars())
        lon0, lat0, lon1, lat1 = connection.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM grids) s"
            )
        ).one()
    collections = [c["id"] for c in client.get("/features/collections").json()["collections"]]
    layers = [layer["name"] for layer in client.get("/tiles").json()["layers"]]
    versions = [v["name"] for v in client.get("/boundaries/versions").json()] + ["1"]
    by_name = {
        "collection_id": collections,
        "layer": layers,
        "version": versions,
        "base": versions,
        "incident_id": incident_ids,
        "category": categories,
        "source": sources,
    }
    for path in document["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                values = by_name.get(parameter["name"])
                if not values:
                    continue
                schema = parameter["schema"]
                if schema.get("anyOf") and any(s.get("type") == "array" for s in schema["anyOf"]):
                    for branch in schema["anyOf"]:
                        if branch.get("type") == "array":
                            branch["items"] = _either(values, branch["items"])
                else:
                    parameter["schema"] = _either(values, schema)
            if parameter_names := {p["name"] for p in operation.get("parameters", [])} & {"z", "x", "y"}:
                for parameter in operation["parameters"]:
                    if parameter["name"] in parameter_names:
                        parameter["schema"] = _either(list(range(0, 15)), parameter["schema"])
    incident = document["components"]["schemas"].get("IncidentIn")
    if incident:
        props = incident["properties"]
        props["category"] = _either(categories, props["category"])
        props["source"] = _either(sources, props["source"])
        props["lon"] = {"anyOf": [{"type": "number", "minimum": lon0, "maximum": lon1}, props["lon"]]}
        props["lat"] = {"anyOf": [{"type": "number", "minimum": lat0, "maximum": lat1}, props["lat"]]}
    return document


def fuzzing_schema(url: str):
    """A schemathesis schema of the app over ``url``; requests carry an administrator's token."""
    app = create_app(Settings(database_url=url, expensive_per_minute=1_000_000))
    token = token_for(url, "admin", name=None)
    from fastapi.testclient import TestClient

    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        app.openapi_schema = seeded_document(app, client)
    app.state.fuzzing_headers = {"Authorization": f"Bearer {token}"}
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def read_schema(demo_url):
    return fuzzing_schema(demo_url)


@pytest.fixture(scope="module")
def write_schema(module_demo_copy_url):
    return fuzzing_schema(module_demo_copy_url)


def _operations(method: str) -> list[str]:
    """Labels ("GET /path") of the app's operations of ``method``, less the multipart upload."""
    document = create_app(Settings()).openapi()
    return [
        f"{method} {path}"
        for path, item in document["paths"].items()
        if method.lower() in item and path != "/boundaries/drafts"
    ]


def _examples(label: str) -> int:
    """Examples per operation: the analyses each take a second or more on the demo county."""
    return 6 if label.startswith("GET /analysis/") else 25


CHECKS = [not_a_server_error, response_schema_conformance]


def fuzz(schema, label: str) -> None:
    """Run generated requests of one operation; every answer must pass ``CHECKS``."""
    operation = schema.find_operation_by_label(label)
    headers = schema.app.state.fuzzing_headers

    @given(case=operation.as_strategy())
    @settings(
        max_examples=_examples(label),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        response = case.call(headers=headers)
        FUZZED[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.parametrize("label", _operations("GET"))
def test_fuzzed_reads_answer_without_server_errors(read_schema, label):
    fuzz(read_schema, label)


@pytest.mark.parametrize("label", _operations("POST"))
def test_fuzzed_writes_answer_without_server_errors(write_schema, label):
    fuzz(write_schema, label)
