"""SQL injection attempts in every filter the API takes, and in the text fields it stores.

Each payload is sent in every free-text query parameter and path segment of every read, once
alone and as one of several values. Whatever the service answers, it must not be a server error,
it must not run the payload (no table is created, nothing is dropped or changed) and it must not
widen what a filter selects (a tautology matches nothing, a town user sees nothing of another
town). Text stored from a request comes back exactly as sent.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import text

from .conftest import scalar, signed_in

# Each would, if pasted into SQL, either break the statement (a server error), widen it (a
# tautology, a UNION), or run a statement of its own (a table named injected_* appears).
PAYLOADS = [
    "' OR '1'='1",
    "1' OR 1=1 --",
    "x'); CREATE TABLE injected_quote (); --",
    "1; CREATE TABLE injected_semicolon (); --",
    "1) OR (1=1",
    "' UNION SELECT token_hash FROM users --",
    "$$; CREATE TABLE injected_dollar (); --$$",
    "\\'; CREATE TABLE injected_backslash (); --",
    "%",
    "511421%",
    "x\x00y",
    "'; SELECT pg_sleep(0); DROP TABLE incidents; --",
]

# (path, the parameters that take free text or a code); path segments in braces are filled in.
FILTERS = [
    ("/incidents", ["category", "status", "source", "grid", "village", "town", "bbox", "start", "end"]),
    ("/incidents/{incident}/duplicates", []),
    ("/sla", ["at"]),
    ("/locate", ["crs", "at", "risk_colour", "tier"]),
    ("/audit", ["actor", "action", "entity", "entity_id", "since", "until"]),
    ("/boundaries/versions/{version}", []),
    ("/boundaries/versions/1/impact", ["base"]),
    ("/boundaries/versions/1/workload", ["base", "villages"]),
    ("/features/collections/{collection}", []),
    (
        "/features/collections/incidents/items",
        [
            "bbox",
            "bbox-crs",
            "datetime",
            "crs",
            "category",
            "status",
            "source",
            "grid_code",
            "village_code",
            "town_code",
        ],
    ),
    ("/features/collections/grids/items", ["kind", "village_code", "parent_code", "level"]),
    ("/features/collections/admin_units/items", ["level", "kind", "parent_code"]),
    ("/features/collections/cameras/items", ["kind", "status"]),
    ("/features/collections/grids/items/{feature}", ["crs"]),
    ("/tiles/{layer}.json", []),
    ("/tiles/incidents/13/6565/3398.mvt", ["start", "end", "category", "status", "version", "datum"]),
    ("/tiles/incident_counts/10/820/424.mvt", ["start", "end", "category"]),
    ("/tiles/grids/12/3282/1699.mvt", ["version", "at", "datum"]),
    ("/map/extent", ["datum"]),
    ("/analysis/counts", ["category", "unit", "start"]),
    ("/analysis/rankings", ["category", "level", "order_by"]),
]
REQUIRED = {"/locate": {"lon": 104.1, "lat": 30.0}}


def _requests():
    """(path, params) of every attempt: each payload in each parameter and each path segment."""
    for template, names in FILTERS:
        required = REQUIRED.get(template, {})
        holes = [part[1:-1] for part in template.replace(".", "/").split("/") if part.startswith("{")]
        for payload in PAYLOADS:
            for hole in holes:
                yield template.replace("{" + hole + "}", quote(payload, safe="")), dict(required)
            filled = template.format(incident=1, version=1, collection="grids", feature="x", layer="grids")
            for name in names:
                yield filled, {**required, name: payload}
                yield filled, {**required, name: ["511421", payload]}


ATTEMPTS = list(_requests())

INTACT = """SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM grids), (SELECT count(*) FROM users),
                   (SELECT count(*) FROM admin_units), (SELECT count(*) FROM cameras),
                   (SELECT count(*) FROM pg_tables WHERE tablename LIKE 'injected%')"""


def test_payloads_in_every_filter_are_data_not_sql(demo_copy_url):
    from sqlalchemy import create_engine

    engine = create_engine(demo_copy_url)
    statuses: dict[int, int] = {}
    failures = []
    with signed_in(demo_copy_url, expensive_per_minute=1_000_000) as admin:
        with engine.connect() as connection:
            before = tuple(connection.execute(text(INTACT)).one())
        for path, params in ATTEMPTS:
            answer = admin.get(path, params=params)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
            if answer.status_code >= 500:
                failures.append((path, params, answer.status_code, answer.text[:200]))
            elif answer.status_code in (400, 404, 422) and path.startswith(("/incidents", "/features", "/audit")):
                assert answer.json().get("message"), (path, params)  # a refusal says what is wrong
    with engine.connect() as connection:
        after = tuple(connection.execute(text(INTACT)).one())
    engine.dispose()
    print(f"\n{len(ATTEMPTS)} injection attempts: {dict(sorted(statuses.items()))}")
    assert failures == []
    assert after == before  # nothing created, dropped, added or removed
    assert before[-1] == 0


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_tautology_widens_no_filter(client, payload):
    for path, name in (
        ("/incidents", "category"),
        ("/incidents", "source"),
        ("/incidents", "status"),
        ("/audit", "actor"),
        ("/audit", "entity_id"),
    ):
        answer = client.get(path, params={name: payload})
        assert answer.status_code in (200, 422), (path, name, answer.text)
        if answer.status_code == 200:
            assert answer.json()["total"] == 0, (path, name, payload)
    for collection, name in (
        ("incidents", "category"),
        ("incidents", "town_code"),
        ("grids", "village_code"),
        ("cameras", "status"),
    ):
        answer = client.get(f"/features/collections/{collection}/items", params={name: payload})
        assert answer.status_code in (200, 400, 422), (collection, name, answer.text)
        if answer.status_code == 200:
            assert answer.json()["numberMatched"] == 0, (collection, name, payload)


def test_a_town_user_cannot_reach_another_town_through_a_filter(demo_url, engine):
    own, other = (
        scalar(engine, "SELECT town_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 1 OFFSET :n", n=n)
        for n in (0, 1)
    )
    with signed_in(demo_url, "dispatcher", own) as mine:
        for value in (other, f"{own}' OR '1'='1", f"{other}' OR town_code <> '"):
            answer = mine.get("/incidents", params={"town": value})
            assert answer.status_code == 422 or answer.json()["total"] == 0, value
            features = mine.get("/features/collections/incidents/items", params={"town_code": value})
            assert features.json()["numberMatched"] == 0, value
        page = mine.get("/incidents", params={"grid": other[:9] + "%"})
        assert page.status_code == 422 and page.json()["field"] == "grid"


def test_text_that_looks_like_sql_is_stored_as_sent(demo_copy_url):
    fields = {
        "description": "'); DELETE FROM incidents; --",
        "reporter_name": "Robert'); DROP TABLE users;--",
        "external_id": "EXT' OR '1'='1",
    }
    with signed_in(demo_copy_url, "dispatcher") as dispatcher:
        before = dispatcher.get("/incidents", params={"limit": 1}).json()["total"]
        made = dispatcher.post(
            "/incidents",
            json={
                "lon": 104.1,
                "lat": 30.0,
                "category": "dispute",
                "source": "hotline_12345",
                "reported_at": "2026-11-10T09:00:00+08:00",
                **fields,
            },
        )
        assert made.status_code == 201, made.text
        stored = dispatcher.get(f"/incidents/{made.json()['id']}").json()
        again = dispatcher.post(
            "/incidents",
            json={
                "lon": 104.1,
                "lat": 30.0,
                "category": "dispute",
                "source": "hotline_12345",
                "reported_at": "2026-11-10T09:00:00+08:00",
                **fields,
            },
        )
        after = dispatcher.get("/incidents", params={"limit": 1}).json()["total"]
    assert stored["description"] == fields["description"]
    assert stored["reporter"]["name"] == fields["reporter_name"]
    assert stored["external_id"] == fields["external_id"]
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]  # the same id, found verbatim
    assert after == before + 1
