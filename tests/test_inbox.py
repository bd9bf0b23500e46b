"""The dispatcher's inbox through the API on a private copy of the demo county: buckets and counts
as SQL counts them, red cases first, the filters and the search, new cases reaching a page that
polls, one urge over a selection, a town user's inbox, and the two records of a case (a call, a
change of risk colour) on its timeline. Errors read Chinese unless the reader asks for English.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_service.api.app import create_app
from geo_service.db.engine import get_engine
from geo_service.settings import Settings

from .conftest import FIGURES, token_for

AT = "2026-11-15T12:00:00+08:00"  # the demo's last day: cases overdue and due soon alike
RUNNING = "('dispatched', 'accepted', 'in_progress')"
OPEN = "('reported', 'dispatched', 'accepted', 'in_progress', 'reopened')"
# The buckets as the dispatcher reads them, written here apart from the library's SQL.
BUCKETS = {
    "new": "status IN ('reported', 'reopened')",
    "dispatched": f"status IN {RUNNING}",
    "overdue": f"status IN {RUNNING} AND deadline < :at",
    "due_soon": f"status IN {RUNNING} AND deadline >= :at AND deadline < CAST(:at AS timestamptz) + interval '24 hours'",
}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def client_for(url: str, role: str = "dispatcher", jurisdiction: str | None = None) -> TestClient:
    """A client sending no Accept-Language (the service's default reader)."""
    token = token_for(url, role, jurisdiction)
    return TestClient(create_app(Settings(database_url=url)), headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def url(module_demo_copy_url):
    return module_demo_copy_url


@pytest.fixture(scope="module")
def db(url):
    return get_engine(url)


@pytest.fixture(scope="module")
def towns(db) -> tuple[str, str]:
    """The two towns with the most open cases: the user's and another."""
    with db.connect() as c:
        return tuple(
            c.execute(
                text(
                    f"SELECT town_code FROM incidents WHERE status IN {OPEN} GROUP BY 1 ORDER BY count(*) DESC LIMIT 2"
                )
            ).scalars()
        )


@pytest.fixture(scope="module")
def county(url):
    with client_for(url) as client:
        yield client


@pytest.fixture(scope="module")
def town(url, towns):
    with client_for(url, "dispatcher", towns[0]) as client:
        yield client


def sql_count(db, where: str, **params) -> int:
    with db.connect() as c:
        return c.execute(text(f"SELECT count(*) FROM incidents WHERE status IN {OPEN} AND {where}"), params).scalar()


def sql_ids(db, where: str, **params) -> set[int]:
    with db.connect() as c:
        return set(c.execute(text(f"SELECT id FROM incidents WHERE status IN {OPEN} AND {where}"), params).scalars())


def every_page(client, **params) -> list[dict]:
    items, offset = [], 0
    while True:
        page = client.get("/inbox", params={**params, "limit": 200, "offset": offset})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        offset += 200
        if offset >= page.json()["total"]:
            return items


def red_first_then_deadline(items: list[dict]) -> bool:
    reds = [i["risk_colour"] == "red" for i in items]
    if reds != sorted(reds, reverse=True):
        return False
    for colour in (True, False):
        deadlines = [i["deadline"] for i, red in zip(items, reds) if red is colour and i["deadline"]]
        if [datetime.fromisoformat(d) for d in deadlines] != sorted(datetime.fromisoformat(d) for d in deadlines):
            return False
    return True


def test_buckets_and_their_counts_are_the_open_cases_sql_counts(county, db):
    answer = county.get("/inbox", params={"at": AT})
    assert answer.status_code == 200, answer.text
    counts = answer.json()["counts"]
    expected = {name: sql_count(db, where, at=AT) for name, where in BUCKETS.items()}
    assert {k: counts[k] for k in BUCKETS} == expected
    assert counts["open"] == sql_count(db, "TRUE") == expected["new"] + expected["dispatched"]
    assert all(expected.values()), expected  # the demo's last day has cases in every bucket
    for bucket in BUCKETS:
        page = county.get("/inbox", params={"at": AT, "bucket": bucket, "limit": 200}).json()
        assert page["total"] == expected[bucket] and page["counts"] == counts
        assert {i["id"] for i in page["items"]} <= sql_ids(db, BUCKETS[bucket], at=AT)
        assert red_first_then_deadline(page["items"]), bucket
    FIGURES["inbox on the demo's last day"] = ", ".join(f"{k} {v}" for k, v in expected.items())


def test_red_cases_come_first_and_pages_do_not_overlap(county, db):
    reds = sql_count(db, f"risk_colour = 'red' AND {BUCKETS['overdue']}", at=AT)
    assert reds > 1
    first = county.get("/inbox", params={"at": AT, "bucket": "overdue", "limit": reds}).json()["items"]
    second = county.get("/inbox", params={"at": AT, "bucket": "overdue", "limit": reds, "offset": reds}).json()["items"]
    assert [i["risk_colour"] for i in first] == ["red"] * reds
    assert "red" not in {i["risk_colour"] for i in second}
    assert not {i["id"] for i in first} & {i["id"] for i in second}
    assert all(i["overdue"] and i["hours_left"] < 0 for i in first)


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"category": "dispute"}, "category = 'dispute'"),
        ({"category": ["dispute", "emergency"]}, "category IN ('dispute', 'emergency')"),
        ({"source": "police_110"}, "source = 'police_110'"),
        ({"status": "in_progress"}, "status = 'in_progress'"),
        ({"status": ["reported", "accepted"]}, "status IN ('reported', 'accepted')"),
        ({"risk": "yellow"}, "risk_colour = 'yellow'"),
        (
            {"risk": ["red", "yellow"], "category": "public_service"},
            "risk_colour <> 'blue' AND category = 'public_service'",
        ),
        (
            {"start": "2026-11-01", "end": "2026-11-08"},
            "reported_at >= '2026-11-01T00:00+08' AND reported_at < '2026-11-08T00:00+08'",
        ),
    ],
)
def test_filters_find_what_they_should_and_nothing_else(county, db, params, where):
    items = every_page(county, at=AT, **params)
    expected = sql_ids(db, where)
    assert expected and {i["id"] for i in items} == expected
    assert county.get("/inbox", params={"at": AT, **params}).json()["counts"]["open"] == len(expected)


def test_places_filter_by_town_village_and_grid(county, db, towns):
    with db.connect() as c:
        village, grid = c.execute(
            text(f"""SELECT village_code, left(grid_code, 15) FROM incidents WHERE status IN {OPEN}
                      AND town_code = :t GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"""),
            {"t": towns[0]},
        ).one()
    for place, where in (
        (towns[0], "town_code = :p"),
        (village, "village_code = :p"),
        (grid, "grid_code LIKE :p || '%'"),
    ):
        items = every_page(county, at=AT, place=place)
        assert {i["id"] for i in items} == sql_ids(db, where, p=place), place
    offered = county.get("/inbox", params={"with_places": "true", "limit": 1}).json()["places"]
    assert sum(t["open"] for t in offered) == sql_count(db, "village_code IS NOT NULL")
    mine = next(t for t in offered if t["code"] == towns[0])
    assert mine["name"] and mine["open"] == sql_count(db, "town_code = :t", t=towns[0])
    assert village in {v["code"] for v in mine["villages"]}


def test_search_by_id_external_id_and_words(county, db):
    with db.connect() as c:
        case_id, external_id = c.execute(
            text(f"SELECT id, external_id FROM incidents WHERE status IN {OPEN} ORDER BY id DESC LIMIT 1")
        ).one()
        closed = c.execute(text("SELECT id FROM incidents WHERE status = 'closed' LIMIT 1")).scalar()
        word = c.execute(
            text(f"""SELECT substr(description, 3, 4) FROM incidents WHERE status IN {OPEN}
                      AND description IS NOT NULL ORDER BY id LIMIT 1""")
        ).scalar()
    assert [i["id"] for i in every_page(county, q=str(case_id))] == [case_id]
    assert [i["id"] for i in every_page(county, q=f"#{case_id}")] == [case_id]
    assert [i["id"] for i in every_page(county, q=external_id)] == [case_id]
    assert every_page(county, q=str(closed)) == []  # a closed case needs nobody: not in the inbox
    found = every_page(county, q=word)
    assert {i["id"] for i in found} == sql_ids(db, "description LIKE :w", w=f"%{word}%") and found
    assert every_page(county, q="100%_不存在") == []  # the search's own wildcards are literal


def test_new_cases_reach_a_polling_page_and_only_its_own(county, town, towns, db):
    started = time.perf_counter()
    first = county.get("/inbox/changes").json()
    FIGURES["inbox poll"] = f"{(time.perf_counter() - started) * 1000:.0f} ms for the whole county's changes and counts"
    cursor = first["cursor"]
    assert first["counts"]["open"] == sql_count(db, "TRUE")
    mine_before = town.get("/inbox/changes").json()
    with db.connect() as c:
        lon, lat = c.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE town_code = :t ORDER BY id LIMIT 1"),
            {"t": towns[1]},
        ).one()
    recorded = county.post(
        "/incidents",
        json={
            "external_id": "INBOX-POLL-1",
            "lon": lon,
            "lat": lat,
            "category": "security_hazard",
            "source": "citizen",
            "reported_at": datetime.now().astimezone().isoformat(),
            "risk_colour": "red",
            "description": "井盖缺失",
        },
    )
    assert recorded.status_code == 201, recorded.text
    new_id = recorded.json()["id"]
    seen = county.get("/inbox/changes", params={"since": cursor}).json()
    assert new_id in [i["id"] for i in seen["items"]] and seen["cursor"] >= cursor
    assert seen["counts"]["open"] == first["counts"]["open"] + 1
    assert seen["counts"]["dispatched"] == first["counts"]["dispatched"] + 1
    item = next(i for i in seen["items"] if i["id"] == new_id)
    assert (item["risk_colour"], item["status"], item["town"]["code"]) == ("red", "dispatched", towns[1])
    # The user of another town is told nothing of it.
    theirs = town.get("/inbox/changes", params={"since": mine_before["cursor"]}).json()
    assert new_id not in [i["id"] for i in theirs["items"]]
    assert theirs["counts"] == mine_before["counts"]


def test_one_urge_over_a_selection_answers_each_case(county, town, towns, db):
    with db.connect() as c:
        overdue = list(
            c.execute(
                text(f"SELECT id FROM incidents WHERE {BUCKETS['overdue']} AND town_code = :t ORDER BY id LIMIT 2"),
                {"at": AT, "t": towns[0]},
            ).scalars()
        )
        waiting = (
            c.execute(
                text("SELECT id FROM incidents WHERE status = 'reported' AND town_code = :t LIMIT 1"), {"t": towns[0]}
            ).scalar()
            or c.execute(
                text("SELECT id FROM incidents WHERE status = 'closed' AND town_code = :t LIMIT 1"), {"t": towns[0]}
            ).scalar()
        )
        elsewhere = c.execute(
            text(f"SELECT id FROM incidents WHERE status IN {RUNNING} AND town_code = :t LIMIT 1"), {"t": towns[1]}
        ).scalar()
        counts = dict(
            c.execute(
                text("SELECT id, urge_count FROM incidents WHERE id = ANY(:ids)"),
                {"ids": [*overdue, waiting, elsewhere]},
            ).all()
        )
    selection = [overdue[0], waiting, elsewhere, overdue[1], overdue[0], 987_654_321]
    answer = town.post("/inbox/urge", json={"ids": selection, "note": "请尽快办理"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    results = {r["id"]: r for r in body["results"]}
    assert [r["id"] for r in body["results"]] == [overdue[0], waiting, elsewhere, overdue[1], 987_654_321]
    assert (body["urged"], body["refused"]) == (2, 3)
    for case in overdue:
        assert results[case]["ok"] and results[case]["urge_count"] == counts[case] + 1
    assert results[waiting]["status_code"] == 409 and CHINESE.search(results[waiting]["message"])
    assert results[elsewhere]["status_code"] == 404 and results[987_654_321]["status_code"] == 404
    with db.connect() as c:
        after = dict(
            c.execute(text("SELECT id, urge_count FROM incidents WHERE id = ANY(:ids)"), {"ids": list(counts)}).all()
        )
        urges = dict(
            c.execute(
                text(
                    "SELECT incident_id, count(*) FROM incident_events WHERE action = 'urge' AND note = '请尽快办理' GROUP BY 1"
                )
            ).all()
        )
    assert after == {**counts, overdue[0]: counts[overdue[0]] + 1, overdue[1]: counts[overdue[1]] + 1}
    assert urges == {overdue[0]: 1, overdue[1]: 1}
    english = town.post("/inbox/urge", json={"ids": [elsewhere]}, headers={"Accept-Language": "en"}).json()
    assert english["results"][0]["message"] == f"no incident with id {elsewhere}"
    assert town.post("/inbox/urge", json={"ids": []}).status_code == 422


def test_a_town_users_inbox_holds_nothing_of_another_town(town, towns, db):
    items = every_page(town, at=AT)
    assert items and {i["town"]["code"] for i in items} == {towns[0]}
    counts = town.get("/inbox", params={"at": AT}).json()["counts"]
    assert counts == {
        "open": sql_count(db, "town_code = :t", t=towns[0]),
        **{name: sql_count(db, f"{where} AND town_code = :t", at=AT, t=towns[0]) for name, where in BUCKETS.items()},
    }
    assert town.get("/inbox", params={"place": towns[1]}).json()["counts"]["open"] == 0
    with db.connect() as c:
        theirs = c.execute(
            text(f"SELECT id FROM incidents WHERE status IN {OPEN} AND town_code = :t LIMIT 1"), {"t": towns[1]}
        ).scalar()
    assert town.get("/inbox", params={"q": str(theirs)}).json()["total"] == 0
    offered = town.get("/inbox", params={"with_places": "true", "limit": 1}).json()["places"]
    assert [t["code"] for t in offered] == [towns[0]]


def test_a_call_and_a_change_of_colour_go_on_the_timeline(county, db):
    with db.connect() as c:
        case_id = c.execute(
            text("""SELECT id FROM incidents WHERE status = 'in_progress' AND category = 'dispute'
                     AND risk_colour = 'blue' AND tier = 'village' ORDER BY id DESC LIMIT 1""")
        ).scalar()
        messages = c.execute(text("SELECT count(*) FROM outbox WHERE incident_id = :id"), {"id": case_id}).scalar()
    case = county.get(f"/incidents/{case_id}").json()
    officer = next(o for o in case["officers"] if not o["vacant"])
    called = county.post(f"/incidents/{case_id}/call", json={"officer": officer["officer_code"], "note": "已接通"})
    assert called.status_code == 200, called.text
    assert called.json()["status"] == "in_progress"
    event = called.json()["timeline"][-1]
    assert (event["action"], event["from_status"], event["to_status"]) == ("call", None, None)
    assert officer["name"] in event["note"] and officer["phone"] not in event["note"]  # the number masked
    with db.connect() as c:
        data = c.execute(
            text("SELECT data FROM incident_events WHERE incident_id = :id AND action = 'call'"), {"id": case_id}
        ).scalar()
        assert (
            c.execute(text("SELECT count(*) FROM outbox WHERE incident_id = :id"), {"id": case_id}).scalar() == messages
        )
    assert (data["officer_code"], data["name"], data["phone"]) == (
        officer["officer_code"],
        officer["name"],
        officer["phone"],
    )
    stranger = county.post(f"/incidents/{case_id}/call", json={"officer": "NOBODY-1"})
    assert stranger.status_code == 422 and stranger.json()["field"] == "officer"

    recoloured = county.post(f"/incidents/{case_id}/set_risk", json={"risk_colour": "red", "note": "当事人情绪激动"})
    assert recoloured.status_code == 200, recoloured.text
    body = recoloured.json()
    assert (body["risk_colour"], body["status"]) == ("red", "in_progress")
    assert body["timeline"][-1]["action"] == "set_risk" and "当事人情绪激动" in body["timeline"][-1]["note"]
    # A red dispute has 72 h from dispatch, not a blue one's 168 (time_limits.csv), with any extension granted.
    with db.connect() as c:
        expected = c.execute(
            text("""SELECT i.dispatched_at + interval '72 hours' + make_interval(hours => coalesce(
                        (SELECT sum(hours) FROM incident_extensions e WHERE e.incident_id = i.id AND e.granted
                            AND e.decided_at >= i.dispatched_at), 0)::int)
                      FROM incidents i WHERE id = :id"""),
            {"id": case_id},
        ).scalar()
    assert datetime.fromisoformat(body["deadline"]) == expected
    village = {o["role"] for o in body["officers"] if o["tier"] == "village"}
    assert {"town_party_secretary", "county_leader"} <= village and "mediation_committee" not in village
    assert county.post(f"/incidents/{case_id}/set_risk", json={"risk_colour": "red", "note": "x"}).status_code == 409
    assert county.post(f"/incidents/{case_id}/set_risk", json={"risk_colour": "yellow"}).status_code == 422
    with db.connect() as c:
        closed = c.execute(text("SELECT id FROM incidents WHERE status = 'closed' ORDER BY id LIMIT 1")).scalar()
    refused = county.post(f"/incidents/{closed}/call", json={"officer": officer["officer_code"]})
    assert refused.status_code == 409 and refused.json()["current_status"] == "closed"
    enum = county.get("/openapi.json").json()["paths"]["/incidents/{incident_id}/{action}"]["post"]["parameters"]
    assert {"call", "set_risk"} <= set(next(p for p in enum if p["name"] == "action")["schema"]["enum"])


@pytest.mark.parametrize(
    ("params", "field", "english"),
    [
        ({"risk": "purple"}, "risk", "yellow"),
        ({"bucket": "later"}, "bucket", "due_soon"),
        ({"place": "51142100"}, "place", "place"),
        ({"category": "weather"}, "category", "weather"),
        ({"start": "2026-11-08", "end": "2026-11-01"}, "start", "start"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_in_chinese_by_default(county, params, field, english):
    answer = county.get("/inbox", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert CHINESE.search(answer.json()["message"]), answer.json()["message"]
    in_english = county.get("/inbox", params=params, headers={"Accept-Language": "en"})
    assert in_english.status_code == 422 and english in in_english.json()["message"]
    assert not CHINESE.search(in_english.json()["message"])
