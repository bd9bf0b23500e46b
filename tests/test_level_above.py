"""The level above: an extension is decided by the tier above the case, and a case whose posts are
all vacant goes up to the next tier's people instead of waiting with no one told; the service's
notes on the timeline read in the reader's language.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from geo_service.db.engine import get_engine

from .conftest import signed_in

SPOT = {"lon": 104.1, "lat": 30.0}


@pytest.fixture(scope="module")
def place(module_demo_copy_url) -> dict:
    with signed_in(module_demo_copy_url, accept_language=None) as admin:
        found = admin.get("/locate", params=SPOT).json()
    return {"grid": found["grid"]["code"], "village": found["village"]["code"], "town": found["town"]["code"]}


def _report(client, external_id: str, **extra) -> dict:
    answer = client.post(
        "/incidents",
        json={
            "external_id": external_id,
            **SPOT,
            "category": "dispute",
            "source": "hotline_12345",
            "reported_at": datetime.now(UTC).isoformat(),
            **extra,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_an_extension_is_decided_by_the_level_above(module_demo_copy_url, place):
    url = module_demo_copy_url
    with signed_in(url, accept_language=None) as admin:
        case = _report(admin, "LEVEL-ABOVE-EXT")
    assert case["tier"] == "village"
    village = signed_in(url, "dispatcher", place["village"], accept_language=None)
    town = signed_in(url, "dispatcher", place["town"], accept_language=None)
    asked = village.post(f"/incidents/{case['id']}/request_extension", json={"hours": 24, "note": "等待鉴定结果"})
    assert asked.status_code == 200, asked.text

    refused = village.post(f"/incidents/{case['id']}/decide_extension", json={"grant": True})
    assert refused.status_code == 403
    assert "乡镇" in refused.json()["message"] and "延期" in refused.json()["message"], refused.json()
    english = village.post(
        f"/incidents/{case['id']}/decide_extension", json={"grant": True}, headers={"Accept-Language": "en"}
    )
    assert "decided by the town or above" in english.json()["message"]

    granted = town.post(f"/incidents/{case['id']}/decide_extension", json={"grant": True})
    assert granted.status_code == 200, granted.text
    before, after = (datetime.fromisoformat(c["deadline"]) for c in (case, granted.json()))
    assert (after - before).total_seconds() == 24 * 3600
    with get_engine(url).connect() as connection:
        decided_by = connection.execute(
            text("SELECT decided_by, granted FROM incident_extensions WHERE incident_id = :id"), {"id": case["id"]}
        ).one()
    assert decided_by.granted is True


def _vacate(url: str, prefix: str) -> int:
    with get_engine(url).begin() as connection:
        return connection.execute(
            text("DELETE FROM officer_assignments WHERE unit_code LIKE :prefix"), {"prefix": prefix + "%"}
        ).rowcount


def test_a_case_with_every_village_post_vacant_goes_to_the_town_and_says_why(demo_copy_url):
    url = demo_copy_url
    with signed_in(url, accept_language=None) as admin:
        found = admin.get("/locate", params=SPOT).json()
        assert _vacate(url, found["village"]["code"]) > 0
        case = _report(admin, "LEVEL-ABOVE-VACANT")
        english = admin.get(f"/incidents/{case['id']}", headers={"Accept-Language": "en"}).json()
    assert case["status"] == "dispatched" and case["tier"] == "town", case
    raised = [e for e in case["timeline"] if e["action"] == "escalate"]
    assert len(raised) == 1 and raised[0]["actor"] == "system"
    # In Chinese by default, in English when asked; the same event.
    assert "空缺" in raised[0]["note"] and "乡镇" in raised[0]["note"], raised[0]
    said = [e for e in english["timeline"] if e["action"] == "escalate"][0]["note"]
    assert said == "no one to answer at the village: every post there is vacant; sent to the town"
    with get_engine(url).connect() as connection:
        town_people = connection.execute(
            text("""
            SELECT count(*) FROM incident_officers
             WHERE incident_id = :id AND tier = 'town' AND released_at IS NULL AND officer_id IS NOT NULL
        """),
            {"id": case["id"]},
        ).scalar_one()
        told = connection.execute(
            text(
                "SELECT count(*) FROM outbox WHERE incident_id = :id AND kind = 'dispatch' AND officer_id IS NOT NULL"
            ),
            {"id": case["id"]},
        ).scalar_one()
    assert town_people > 0 and told == town_people


def test_a_case_with_no_one_anywhere_waits_for_the_command_centre_and_is_marked(demo_copy_url):
    url = demo_copy_url
    with signed_in(url, accept_language=None) as admin:
        found = admin.get("/locate", params=SPOT).json()
        assert _vacate(url, found["county"]["code"][:6]) > 0  # every post of the county
        case = _report(admin, "LEVEL-ABOVE-NOBODY")
    assert case["tier"] == "county"
    assert all(o["vacant"] for o in case["officers"])
    with get_engine(url).connect() as connection:
        data = connection.execute(
            text("SELECT data FROM incident_events WHERE incident_id = :id AND action = 'escalate'"),
            {"id": case["id"]},
        ).scalar_one()
    assert data["unattended"] is True and data["to_tier"] == "county"
    raised = [e for e in case["timeline"] if e["action"] == "escalate"][0]["note"]
    assert "指挥中心" in raised, raised
    # The SLA view lists it as unattended, and nothing of the cases people are bound to.
    with signed_in(url, accept_language=None) as admin:
        unattended = admin.get("/sla").json()["unattended"]
    assert case["id"] in [c["id"] for c in unattended["cases"]] or unattended["count"] > len(unattended["cases"])
    with get_engine(url).connect() as connection:
        expected = connection.execute(
            text("""
            SELECT count(*) FROM incidents i WHERE i.status IN ('dispatched', 'accepted', 'in_progress')
               AND NOT EXISTS (SELECT 1 FROM incident_officers b WHERE b.incident_id = i.id AND b.tier = i.tier
                                  AND b.released_at IS NULL AND b.officer_id IS NOT NULL)
               AND NOT EXISTS (SELECT 1 FROM incident_staff s WHERE s.incident_id = i.id AND s.released_at IS NULL)
        """)
        ).scalar_one()
    assert unattended["count"] == expected >= 1
