"""The closed loop of a case: transitions by named actors, refusals, concurrency, the outbox."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import text

from geo_service.cases.outbox import LogSender, WebhookSender, deliver
from geo_service.cases.states import TRANSITIONS, allowed_actions
from geo_service.cases.steps import transition
from geo_service.errors import Conflict

from .conftest import scalar


def new_case(client, ext_id: str, **overrides) -> dict:
    body = {
        "external_id": ext_id,
        "lon": 104.07,
        "lat": 30.04,
        "category": "dispute",
        "source": "hotline_12345",
        "reported_at": "2026-02-01T09:00:00+08:00",
        "risk_colour": "blue",
    }
    body.update(overrides)
    response = client.post("/incidents", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def act(client, case_id: int, action: str, actor: str = "网格员乙", **body):
    return client.post(f"/incidents/{case_id}/{action}", json={"actor": actor, **body})


def pending(engine, case_id: int) -> int:
    return scalar(engine, "SELECT count(*) FROM outbox WHERE incident_id = :id AND sent_at IS NULL", id=case_id)


def test_a_case_walks_the_whole_loop_with_every_step_recorded(tiny_client, tiny_engine):
    case = new_case(tiny_client, "W-1")
    assert case["status"] == "dispatched"
    assert case["allowed_actions"] == [
        "accept",
        "reject",
        "merge",
        "urge",
        "escalate",
        "request_extension",
        "decide_extension",
    ]
    # Dispatch told every bound person who exists (the vacant grid leader and mediator get nothing).
    people = [o for o in case["officers"] if not o["vacant"]]
    assert pending(tiny_engine, case["id"]) == len(people) == 4
    for action, status in (("accept", "accepted"), ("start", "in_progress"), ("resolve", "resolved")):
        response = act(tiny_client, case["id"], action, note=f"{action} done")
        assert response.status_code == 200 and response.json()["status"] == status
    closed = act(tiny_client, case["id"], "close", actor="回访员", satisfaction=4).json()
    assert (closed["status"], closed["satisfaction"]) == ("closed", 4) and closed["visited_at"]
    reopened = act(tiny_client, case["id"], "reopen", actor="指挥中心", note="居民反映问题复发").json()
    assert reopened["status"] == "reopened" and reopened["closed_at"] is None
    again = act(tiny_client, case["id"], "dispatch", actor="指挥中心").json()
    assert again["status"] == "dispatched"
    assert datetime.fromisoformat(again["deadline"]) - datetime.fromisoformat(again["dispatched_at"]) == timedelta(
        days=7
    )
    steps = [(e["action"], e["from_status"], e["to_status"], e["actor"]) for e in again["timeline"]]
    assert steps == [
        ("report", None, "reported", "hotline_12345"),
        ("dispatch", "reported", "dispatched", "system"),
        ("accept", "dispatched", "accepted", "网格员乙"),
        ("start", "accepted", "in_progress", "网格员乙"),
        ("resolve", "in_progress", "resolved", "网格员乙"),
        ("close", "resolved", "closed", "回访员"),
        ("reopen", "closed", "reopened", "指挥中心"),
        ("dispatch", "reopened", "dispatched", "指挥中心"),
    ]
    # Every step told the four people bound: dispatch, accept, start, resolve, close, reopen, dispatch.
    assert pending(tiny_engine, case["id"]) == 4 * 7
    writes = scalar(
        tiny_engine,
        "SELECT array_agg(DISTINCT actor) || count(*)::text FROM audit_log "
        "WHERE entity = 'incident' AND entity_id = :id AND action <> 'read_personal'",
        id=str(case["id"]),
    )
    assert writes[-1] == "7"  # the creation and six steps
    assert len(writes) == 2 and writes[0].startswith("admin-")  # all by the signed-in user, whoever they were for


@pytest.mark.parametrize(
    ("steps", "action", "status"),
    [
        ([], "close", "dispatched"),
        ([], "start", "dispatched"),
        (["accept"], "reopen", "accepted"),
        (["reject"], "accept", "rejected"),
    ],
)
def test_a_step_not_allowed_now_is_a_409_naming_the_state_and_the_allowed_steps(tiny_client, steps, action, status):
    case = new_case(tiny_client, f"I-{action}-{'-'.join(steps)}")
    for step in steps:
        assert act(tiny_client, case["id"], step).status_code == 200
    response = act(tiny_client, case["id"], action, satisfaction=5)
    assert response.status_code == 409
    body = response.json()
    assert body["current_status"] == status
    assert body["allowed_actions"] == allowed_actions(status)
    assert status in body["message"]


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [("close", {}, "satisfaction"), ("merge", {}, "into"), ("fly", {}, "action"), ("accept", {"actor": ""}, "actor")],
)
def test_a_step_missing_what_it_needs_is_a_422(tiny_client, action, body, field):
    case = new_case(tiny_client, f"M-{action}-{field}")
    if action == "close":
        for step in ("accept", "resolve"):
            act(tiny_client, case["id"], step)
    response = tiny_client.post(f"/incidents/{case['id']}/{action}", json={"actor": "指挥中心", **body})
    assert response.status_code == 422
    named = response.json().get("field") or ",".join(str(e["loc"][-1]) for e in response.json()["detail"])
    assert named == field


def test_of_two_concurrent_steps_only_one_wins(tiny_engine, tiny_client, settings):
    case = new_case(tiny_client, "C-1")
    barrier = threading.Barrier(2)

    def accept(actor):
        barrier.wait()
        try:
            with tiny_engine.begin() as connection:
                return transition(connection, case["id"], "accept", actor, signed_in=actor, settings=settings)
        except Conflict as exc:
            return exc.detail["current_status"]

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(accept, ["甲", "乙"]))
    assert results == ["accepted", "accepted"]  # one accepted it; the other found it accepted already
    assert (
        scalar(
            tiny_engine,
            """
        SELECT count(*) FROM incident_events WHERE incident_id = :id AND action = 'accept'""",
            id=case["id"],
        )
        == 1
    )


def test_a_merge_keeps_both_timelines(tiny_client):
    original = new_case(tiny_client, "D-1")
    duplicate = new_case(tiny_client, "D-2", reporter_phone="13900000000")
    merged = act(tiny_client, duplicate["id"], "merge", actor="指挥中心", into=original["id"]).json()
    assert merged["status"] == "merged" and merged["merged_into"] == original["id"]
    assert merged["allowed_actions"] == []
    target = tiny_client.get(f"/incidents/{original['id']}").json()
    assert target["timeline"][-1]["action"] == "absorb" and str(duplicate["id"]) in target["timeline"][-1]["note"]
    assert [e["action"] for e in merged["timeline"]] == ["report", "dispatch", "merge"]
    assert act(tiny_client, original["id"], "merge", into=original["id"]).status_code == 422
    assert act(tiny_client, original["id"], "merge", into=999999).status_code == 404
    assert act(tiny_client, original["id"], "merge", into=duplicate["id"]).status_code == 409


def test_every_state_is_reachable_and_finished_states_have_no_way_out():
    reachable = {"reported"}
    for _ in TRANSITIONS:
        reachable |= {step.target for step in TRANSITIONS.values() if step.sources & reachable}
    assert reachable == {
        "reported",
        "dispatched",
        "accepted",
        "in_progress",
        "resolved",
        "closed",
        "rejected",
        "merged",
        "reopened",
    }
    assert allowed_actions("rejected") == allowed_actions("merged") == []


# -- the outbox ----------------------------------------------------------------------------------


def test_a_step_rolled_back_leaves_no_message(tiny_client, tiny_engine, settings):
    case = new_case(tiny_client, "O-1")
    act(tiny_client, case["id"], "reject")
    before = scalar(tiny_engine, "SELECT count(*) FROM outbox")
    with pytest.raises(RuntimeError), tiny_engine.begin() as connection:
        connection.execute(text("UPDATE incidents SET status = 'reopened' WHERE id = :id"), {"id": case["id"]})
        transition(connection, case["id"], "dispatch", "指挥中心", signed_in="指挥中心", settings=settings)
        assert scalar(tiny_engine, "SELECT count(*) FROM outbox") == before  # not visible before commit
        raise RuntimeError("the process dies before commit")
    assert scalar(tiny_engine, "SELECT count(*) FROM outbox") == before


def test_messages_committed_before_a_crash_are_sent_once_afterwards(tiny_client, tiny_engine, tmp_path):
    case = new_case(tiny_client, "O-2")  # committed with its messages; no sender ran ("the crash")
    waiting = pending(tiny_engine, case["id"])
    assert waiting == 4
    log = tmp_path / "outbox.log"
    first = deliver(tiny_engine, LogSender(log))
    assert first.sent >= waiting and pending(tiny_engine, case["id"]) == 0
    assert deliver(tiny_engine, LogSender(log)).sent == 0  # nothing twice
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    mine = [m for m in lines if m["incident_id"] == case["id"]]
    assert len(mine) == len({m["id"] for m in mine}) == 4
    assert {m["role"] for m in mine} == {"village_cadre", "village_party_secretary", "community_police", "grid_worker"}
    assert all(m["kind"] == "dispatch" and m["phone"] for m in mine)
    # Nothing personal in a log file: the numbers are masked there (the gateway gets them whole).
    phones = {p for p in scalar(tiny_engine, "SELECT array_agg(phone) FROM officers") if p}
    assert all("****" in m["phone"] and m["phone"] not in phones for m in mine)


class _Gateway(BaseHTTPRequestHandler):
    received: list = []
    fail_first: int = 0

    def do_POST(self):  # noqa: N802 - the standard library's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Gateway.fail_first > 0:
            _Gateway.fail_first -= 1
            self.send_response(503)
        else:
            _Gateway.received.append((self.headers["Idempotency-Key"], body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_webhook_gets_each_message_with_its_key_and_failures_are_retried_later(tiny_client, tiny_engine, tmp_path):
    deliver(tiny_engine, LogSender(tmp_path / "earlier.log"))  # send what earlier tests left
    case = new_case(tiny_client, "O-3")
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Gateway.received, _Gateway.fail_first = [], 2
    try:
        sender = WebhookSender(f"http://127.0.0.1:{server.server_port}/sms", timeout=5)
        first = deliver(tiny_engine, sender)
        assert (first.sent, first.failed) == (2, 2)
        retried = scalar(
            tiny_engine,
            """
            SELECT count(*) FROM outbox WHERE incident_id = :id AND sent_at IS NULL AND attempts = 1
               AND next_attempt_at > now() AND last_error IS NOT NULL""",
            id=case["id"],
        )
        assert retried == 2
        assert deliver(tiny_engine, sender).sent == 0  # not due yet
        with tiny_engine.begin() as connection:
            connection.execute(text("UPDATE outbox SET next_attempt_at = now() WHERE sent_at IS NULL"))
        assert deliver(tiny_engine, sender).sent == 2
    finally:
        server.shutdown()
    keys = [key for key, _ in _Gateway.received]
    assert len(keys) == len(set(keys)) == 4 and all(key.startswith("outbox-") for key in keys)


# -- urging, escalation, time limits -----------------------------------------------------------


def test_urging_tells_the_people_again_counts_and_proposes_escalation(tiny_client, tiny_engine):
    case = new_case(tiny_client, "U-1")
    first = act(tiny_client, case["id"], "urge", actor="指挥中心").json()
    assert (first["status"], first["urge_count"]) == ("dispatched", 1)
    assert pending(tiny_engine, case["id"]) == 8  # dispatch, then the urge: 4 people each time
    second = act(tiny_client, case["id"], "urge", actor="指挥中心").json()
    assert second["urge_count"] == 2
    assert "proposed for escalation after 2 rounds" in second["timeline"][-1]["note"]
    assert [e["action"] for e in second["timeline"]][-2:] == ["urge", "urge"]
    assert all(e["from_status"] is None for e in second["timeline"][-2:])  # the state did not move


def test_escalation_binds_the_town_then_the_county(tiny_client, tiny_engine):
    case = new_case(tiny_client, "E-1", risk_colour="red")
    town = act(tiny_client, case["id"], "escalate", actor="指挥中心").json()
    assert town["tier"] == "town" and town["status"] == "dispatched"
    town_roles = [o["role"] for o in town["officers"] if o["tier"] == "town"]
    assert town_roles == [
        "general_grid_leader",
        "town_command_centre",
        "village_cadre",
        "town_party_secretary",
        "county_leader",
    ]
    assert [o["name"] for o in town["officers"] if o["tier"] == "town" and o["role"] == "county_leader"] == ["县领导"]
    assert {o["tier"] for o in town["officers"]} == {"village", "town"}  # the village's people stay bound
    county = act(tiny_client, case["id"], "escalate", actor="指挥中心").json()
    assert county["tier"] == "county"
    assert [o["role"] for o in county["officers"] if o["tier"] == "county"][-1] == "county_leader"
    refused = act(tiny_client, case["id"], "escalate", actor="指挥中心")
    assert refused.status_code == 409 and "county already" in refused.json()["message"]
    assert "escalate" not in refused.json()["allowed_actions"]
    notes = [e["note"] for e in county["timeline"] if e["action"] == "escalate"]
    assert notes[0].startswith("escalated from village to town") and notes[1].startswith(
        "escalated from town to county"
    )


def test_the_message_of_an_escalation_says_its_note_in_the_language_it_is_sent_in(tiny_client, tiny_engine, tmp_path):
    deliver(tiny_engine, LogSender(tmp_path / "earlier.log"))  # send what earlier tests left
    case = new_case(tiny_client, "E-2", risk_colour="red")  # a red case has a county leader to tell
    act(tiny_client, case["id"], "escalate", actor="指挥中心")
    act(tiny_client, case["id"], "escalate", actor="指挥中心", note="请县里协调处理")  # a note typed by a person

    def escalations(language: str) -> list[str]:
        log = tmp_path / f"{language}.log"
        with tiny_engine.begin() as connection:  # sent once already or not: due again, for this reading
            connection.execute(
                text("UPDATE outbox SET sent_at = NULL, attempts = 0 WHERE incident_id = :id"), {"id": case["id"]}
            )
        deliver(tiny_engine, LogSender(log), language=language)
        sent = [json.loads(line) for line in log.read_text().splitlines()]
        assert all("note_t" not in m for m in sent)  # a receiver gets the words, not how they are made
        return [m["text"] for m in sent if m["incident_id"] == case["id"] and m["kind"] == "escalate"]

    chinese, english = escalations("zh"), escalations("en")
    by_service = [m for m in chinese if "已由村（社区）提级至乡镇（街道）" in m]
    assert by_service and all(m.startswith("【提级】") and "escalated" not in m for m in by_service)
    assert all("escalated from village to town" in m for m in english if "协调" not in m)
    assert [m for m in chinese if m.endswith("请县里协调处理")] and [m for m in english if m.endswith("请县里协调处理")]
    assert len(chinese) == len(english) == len(by_service) + len([m for m in chinese if "协调" in m])


def test_overdue_cases_are_found_across_their_deadline(tiny_client, tiny_engine):
    case = new_case(tiny_client, "S-1", lon=104.12, lat=30.0)
    deadline = datetime.fromisoformat(case["deadline"])

    def sla(at, **query):
        return tiny_client.get("/sla", params={"at": at.isoformat(), "cases": True, **query}).json()

    def mine(body):
        return [c for c in body.get("cases", []) if c["id"] == case["id"]]

    before = sla(deadline - timedelta(hours=2))
    assert mine(before) and mine(before)[0]["overdue"] is False  # due within the next 24 h
    assert not mine(sla(deadline - timedelta(hours=30)))  # not yet due within 24 h
    after = sla(deadline + timedelta(seconds=1))
    assert mine(after)[0]["overdue"] is True
    east = [v for v in after["villages"] if v["village_code"] == "511421100202"]
    assert east and east[0]["overdue"] >= 1 and east[0]["town_name"]
    act(tiny_client, case["id"], "accept")
    act(tiny_client, case["id"], "resolve")
    assert not mine(sla(deadline + timedelta(days=1)))  # a resolved case is not running late


def test_the_sla_command_lists_by_town_and_village(tiny_url, tiny_client):
    import os
    import subprocess
    import sys

    case = new_case(tiny_client, "SC-1", lon=104.12, lat=30.0)  # in the east village, 单元202
    env = {
        **{k: v for k, v in os.environ.items() if k != "GEO_SERVICE_DATABASE_URL"},
        "DATABASE_URL": tiny_url,
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "geo_service.cli.main", "sla", "--at", "2030-01-01T00:00:00", "--cases"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "单元202" in done.stdout and case["external_id"] in done.stdout
    totals = next(line for line in done.stdout.splitlines() if "件已超期" in line)
    assert " overdue," in totals and not totals.startswith("0 件已超期，0 件即将到期")


# -- extensions and duplicates -----------------------------------------------------------------


def test_an_extension_is_asked_for_and_decided_by_the_level_above(tiny_client, tiny_engine):
    case = new_case(tiny_client, "X-1")
    deadline = datetime.fromisoformat(case["deadline"])
    asked = act(tiny_client, case["id"], "request_extension", hours=48, note="需协调水务部门").json()
    assert "the town decides" in asked["timeline"][-1]["note"]
    assert act(tiny_client, case["id"], "request_extension", hours=24).status_code == 409  # one at a time
    refused = act(tiny_client, case["id"], "decide_extension", actor="镇综治中心", grant=False).json()
    assert datetime.fromisoformat(refused["deadline"]) == deadline
    assert act(tiny_client, case["id"], "decide_extension", actor="镇综治中心", grant=True).status_code == 409
    act(tiny_client, case["id"], "request_extension", hours=48)
    before = pending(tiny_engine, case["id"])
    granted = act(tiny_client, case["id"], "decide_extension", actor="镇综治中心", grant=True).json()
    assert datetime.fromisoformat(granted["deadline"]) - deadline == timedelta(hours=48)
    assert pending(tiny_engine, case["id"]) == before + 4  # the people are told the new deadline
    steps = [e["action"] for e in granted["timeline"]]
    assert steps[-4:] == ["request_extension", "decide_extension", "request_extension", "decide_extension"]
    assert act(tiny_client, case["id"], "request_extension").status_code == 422  # no hours


def test_cases_close_in_space_time_and_kind_are_proposed_as_duplicates(tiny_client):
    from .tiny_county import offset

    here = (104.0852, 30.0431)
    base = new_case(tiny_client, "P-0", lon=here[0], lat=here[1], category="security_hazard")
    near = offset(here, 45, 60)
    same = new_case(
        tiny_client,
        "P-1",
        lon=near[0],
        lat=near[1],
        category="security_hazard",
        reported_at="2026-02-01T20:00:00+08:00",
    )
    new_case(tiny_client, "P-2", lon=near[0], lat=near[1], category="public_service")  # another kind
    far = offset(here, 45, 300)
    new_case(tiny_client, "P-3", lon=far[0], lat=far[1], category="security_hazard")  # 300 m away
    new_case(
        tiny_client,
        "P-4",
        lon=near[0],
        lat=near[1],
        category="security_hazard",
        reported_at="2026-02-05T09:00:00+08:00",
    )  # 4 days later
    found = tiny_client.get(f"/incidents/{base['id']}/duplicates").json()["candidates"]
    assert [c["external_id"] for c in found] == ["P-1"]
    assert found[0]["distance_m"] == pytest.approx(60, abs=0.5) and found[0]["hours_apart"] == 11.0
    wider = tiny_client.get(
        f"/incidents/{base['id']}/duplicates", params={"distance_m": 500, "window_hours": 24 * 5}
    ).json()["candidates"]
    assert [c["external_id"] for c in wider] == ["P-1", "P-4", "P-3"]
    act(tiny_client, same["id"], "merge", actor="指挥中心", into=base["id"])
    assert tiny_client.get(f"/incidents/{base['id']}/duplicates").json()["candidates"] == []
    assert tiny_client.get("/incidents/987654/duplicates").status_code == 404


def test_a_deadline_drawing_near_is_reminded_of_once(tiny_client, tiny_engine):
    from geo_service.cases.sla import remind_due
    from geo_service.times import as_aware

    case = new_case(tiny_client, "R-1")
    with tiny_engine.begin() as connection:
        connection.execute(
            text("UPDATE incidents SET deadline = now() + interval '3 hours' WHERE id = :id"), {"id": case["id"]}
        )
    before = pending(tiny_engine, case["id"])

    def remind():
        with tiny_engine.begin() as connection:
            return remind_due(connection, as_aware(None, "Asia/Shanghai"), timedelta(hours=24), "Asia/Shanghai")

    assert remind() >= 1
    assert pending(tiny_engine, case["id"]) == before + 4
    assert remind() == 0 and pending(tiny_engine, case["id"]) == before + 4  # once per deadline
    act(tiny_client, case["id"], "request_extension", hours=5)
    act(tiny_client, case["id"], "decide_extension", actor="镇综治中心", grant=True)
    assert remind() >= 1  # the new deadline (8 h away) is reminded of again
    assert (
        scalar(
            tiny_engine, "SELECT count(*) FROM outbox WHERE incident_id = :id AND kind = 'deadline_near'", id=case["id"]
        )
        == 8
    )
    assert [e["action"] for e in tiny_client.get(f"/incidents/{case['id']}").json()["timeline"]].count("remind") == 2


def test_the_command_line_drives_the_loop(tiny_url, tiny_client):
    import os
    import subprocess
    import sys

    case = new_case(tiny_client, "CLI-1")
    env = {**{k: v for k, v in os.environ.items() if k != "GEO_SERVICE_DATABASE_URL"}, "DATABASE_URL": tiny_url}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "geo_service.cli.main", "case", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    accepted = run("accept", str(case["id"]), "--actor", "网格员乙")
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted" in accepted.stdout and "allowed now: start, resolve" in accepted.stdout
    assert "已受理" in accepted.stdout and "当前可执行：开始办理、办结、" in accepted.stdout
    refused = run("close", str(case["id"]), "--actor", "回访员", "--satisfaction", "5")
    assert refused.returncode == 2 and "it is accepted" in refused.stderr
    asked = run("request_extension", str(case["id"]), "--actor", "网格员乙", "--hours", "24")
    granted = run("decide_extension", str(case["id"]), "--actor", "镇综治中心", "--grant")
    assert asked.returncode == granted.returncode == 0 and "granted" in granted.stdout


def test_the_whole_loop_through_the_api_with_every_step_on_the_timeline_and_in_the_outbox(tiny_client, tiny_engine):
    case = new_case(tiny_client, "FULL-1", risk_colour="red")
    walk = [
        ("accept", {}),
        ("request_extension", {"hours": 24}),
        ("decide_extension", {"grant": True}),
        ("urge", {}),
        ("urge", {}),
        ("escalate", {}),
        ("escalate", {}),
        ("start", {}),
        ("resolve", {}),
        ("close", {"satisfaction": 3}),
        ("reopen", {}),
        ("dispatch", {}),
        ("accept", {}),
        ("resolve", {}),
        ("close", {"satisfaction": 5}),
    ]
    for action, body in walk:
        response = act(tiny_client, case["id"], action, actor="指挥中心", **body)
        assert response.status_code == 200, (action, response.text)
    final = response.json()
    assert (final["status"], final["tier"], final["satisfaction"], final["urge_count"]) == ("closed", "county", 5, 2)
    assert [e["action"] for e in final["timeline"]] == ["report", "dispatch"] + [a for a, _ in walk]
    with tiny_engine.connect() as connection:
        kinds = [
            r[0]
            for r in connection.execute(
                text("SELECT DISTINCT ON (kind) kind FROM outbox WHERE incident_id = :id ORDER BY kind"),
                {"id": case["id"]},
            )
        ]
    assert set(kinds) == {"dispatch"} | {a for a, _ in walk}  # every step told the people bound
    county_people = {o["role"] for o in final["officers"] if o["tier"] == "county"}
    assert "county_leader" in county_people  # a red case at the county binds a county leader


def test_two_clients_stepping_at_once_cannot_both_win(tiny_url, tiny_client):
    from .conftest import signed_in

    case = new_case(tiny_client, "TWO-1")
    barrier = threading.Barrier(2)

    def reject(actor):
        with signed_in(tiny_url, "dispatcher") as client:
            barrier.wait()
            return client.post(f"/incidents/{case['id']}/reject", json={"actor": actor}).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(reject, ["甲", "乙"]))
    assert codes == [200, 409]
