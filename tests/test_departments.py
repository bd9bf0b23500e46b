"""Departments (分流移交, 部门限时办理): cases routed by their matter to the department that
handles it, at intake by a rule or by a dispatcher; accepted or sent back with a reason; worked
under the department's own limit, its people told; a department's users see its cases anywhere in
the county and nothing else; the county's own list of matters imported as rules; rankings and the
SLA view by department. One story on a private copy of the demo county."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import uuid
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_service.api.app import create_app
from geo_service.auth.users import add_user
from geo_service.cases.outbox import LogSender, deliver
from geo_service.db.engine import get_engine
from geo_service.settings import Settings

from .conftest import ENGLISH, FIGURES, scalar, signed_in

WATER, HOUSING, URBAN, WENLIN_OFFICE = "511421_water", "511421_housing", "511421_urban", "511421_wenlin_urban"
WENLIN = "511421001000"  # 文林街道, whose town office handles its sanitation
REPORTED = "2026-11-26T09:00:00+08:00"
IN_FORCE = "(SELECT id FROM boundary_versions WHERE status = 'published' ORDER BY effective_from DESC LIMIT 1)"


@pytest.fixture(scope="module")
def url(module_demo_copy_url) -> str:
    return module_demo_copy_url


@pytest.fixture(scope="module")
def engine(url):
    return get_engine(url)


@pytest.fixture(scope="module")
def spots(engine) -> dict[str, tuple[float, float]]:
    """A point inside a level-1 grid of each of three towns (文林街道 and two others)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"""
            SELECT DISTINCT ON (t.code) t.code, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom))
              FROM grids g JOIN admin_units v ON v.id = g.village_id JOIN admin_units t ON t.id = v.parent_id
             WHERE g.version_id = {IN_FORCE} AND g.level = 1
               AND t.code IN (:wenlin, '511421101000', '511421110000')
             ORDER BY t.code, g.code""").bindparams(wenlin=WENLIN)
        ).all()
    return {code: (lon, lat) for code, lon, lat in rows}


def department_client(url: str, department: str, role: str = "dispatcher") -> TestClient:
    """A client signed in as a new user of ``department`` (its county by default)."""
    settings = Settings(database_url=url)
    name = f"{department}-{uuid.uuid4().hex[:6]}"
    _, token = add_user(get_engine(url), name, role, None, settings=settings, actor="tests", department=department)
    return TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}", **ENGLISH})


@pytest.fixture(scope="module")
def dispatcher(url):
    with signed_in(url, "dispatcher") as client:
        yield client


@pytest.fixture(scope="module")
def water(url):
    with department_client(url, WATER) as client:
        yield client


@pytest.fixture(scope="module")
def housing(url):
    with department_client(url, HOUSING) as client:
        yield client


def report(client, spot, category: str, matter: str | None = None, **more) -> dict:
    body = {
        "external_id": f"DEPT-{uuid.uuid4().hex[:10]}",
        "lon": spot[0],
        "lat": spot[1],
        "category": category,
        "source": "hotline_12345",
        "reported_at": REPORTED,
        **({"matter": matter} if matter else {}),
        **more,
    }
    answer = client.post("/incidents", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def transfers_of(client, incident_id: int) -> dict:
    answer = client.get(f"/incidents/{incident_id}/transfers")
    assert answer.status_code == 200, answer.text
    return answer.json()


def hours(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)) / timedelta(hours=1)


def outbox(engine, incident_id: int, kind: str) -> list[dict]:
    with engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                text("SELECT officer_id, role, payload FROM outbox WHERE incident_id = :id AND kind = :k ORDER BY id"),
                {"id": incident_id, "k": kind},
            ).mappings()
        ]


def bindings(engine, incident_id: int) -> list[dict]:
    with engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                text("""SELECT role, officer_id, bound_at, released_at FROM incident_officers
                         WHERE incident_id = :id ORDER BY id"""),
                {"id": incident_id},
            ).mappings()
        ]


# -- routing at intake -----------------------------------------------------------------------------


def test_a_water_supply_case_goes_to_the_water_bureau_at_intake_and_its_people_are_told(dispatcher, engine, spots):
    case = report(dispatcher, spots["511421101000"], "public_service", "water_supply", description="自来水管爆裂")
    held = transfers_of(dispatcher, case["id"])
    assert (held["matter"], held["department"], held["department_name"]) == ("water_supply", WATER, "仁寿县水务局")
    (transfer,) = held["transfers"]
    assert (transfer["state"], transfer["transferred_by"], transfer["rule"]) == (
        "pending",
        "system",
        "water_supply/*/*",
    )
    assert [(p["name"], p["duty"]) for p in transfer["staff"]] == [("王建国", "head"), ("刘晓燕", "member")]

    # Worked under the department's own limit (48 h, the departments table), from the transfer.
    stored = dispatcher.get(f"/incidents/{case['id']}").json()
    assert hours(stored["deadline"], transfer["transferred_at"]) == 48
    assert [e["action"] for e in stored["timeline"]] == ["report", "dispatch", "transfer"]
    assert stored["timeline"][-1]["note"] == "仁寿县水务局: rule water_supply/*/*"
    chinese = dispatcher.get(f"/incidents/{case['id']}", headers={"Accept-Language": "zh-CN"}).json()
    assert chinese["timeline"][-1]["note"] == "仁寿县水务局：依规则 water_supply/*/*"

    # The department's people are told, the head first; the village's people were told of the dispatch.
    told = outbox(engine, case["id"], "transfer")
    assert [(m["payload"]["to"], m["payload"]["role"], m["officer_id"]) for m in told] == [
        ("王建国", "仁寿县水务局", None),
        ("刘晓燕", "仁寿县水务局", None),
    ]
    assert told[0]["payload"]["phone"] == "13990100001" and told[0]["payload"]["deadline"]
    assert outbox(engine, case["id"], "dispatch")


def test_the_most_specific_routing_rule_wins(dispatcher, spots):
    elsewhere = report(dispatcher, spots["511421110000"], "public_service", "sanitation")
    wenlin = report(dispatcher, spots[WENLIN], "public_service", "sanitation")
    wenlin_red = report(dispatcher, spots[WENLIN], "public_service", "sanitation", risk_colour="red")
    no_rule = report(dispatcher, spots[WENLIN], "dispute", "neighbour_dispute")
    no_matter = report(dispatcher, spots[WENLIN], "public_service")
    assert [transfers_of(dispatcher, c["id"])["department"] for c in (elsewhere, wenlin, wenlin_red)] == [
        URBAN,  # sanitation/*/*
        WENLIN_OFFICE,  # sanitation/文林街道/*: the town's own office
        URBAN,  # sanitation/文林街道/red: the county bureau takes red cases
    ]
    for case in (no_rule, no_matter):
        held = transfers_of(dispatcher, case["id"])
        assert held["department"] is None and held["transfers"] == [] and held["suggested"] is None


@pytest.mark.parametrize(
    ("category", "matter", "says"),
    [
        ("dispute", "water_supply", "matter water_supply lies under category public_service, not dispute"),
        ("public_service", "nosuch", "unknown matter 'nosuch'"),
    ],
)
def test_a_matter_not_of_the_list_or_of_another_category_is_refused(dispatcher, engine, spots, category, matter, says):
    before = scalar(engine, "SELECT count(*) FROM incidents")
    body = {
        "external_id": f"BAD-{uuid.uuid4().hex[:8]}",
        "lon": spots[WENLIN][0],
        "lat": spots[WENLIN][1],
        "category": category,
        "matter": matter,
        "source": "hotline_12345",
        "reported_at": REPORTED,
    }
    answer = dispatcher.post("/incidents", json=body)
    assert answer.status_code == 422 and answer.json()["field"] == "matter", answer.text
    assert says in answer.json()["message"]
    assert scalar(engine, "SELECT count(*) FROM incidents") == before


def test_a_batch_routes_each_row_of_a_matter(dispatcher, spots):
    rows = [
        {
            "external_id": f"BATCH-{n}-{uuid.uuid4().hex[:6]}",
            "lon": spots["511421110000"][0],
            "lat": spots["511421110000"][1],
            "category": "public_service",
            "matter": matter,
            "source": "grid_app",
            "reported_at": REPORTED,
        }
        for n, matter in enumerate(["roads", "housing", None, "wage_arrears"])
    ]
    rows[3]["category"] = "public_service"  # wage arrears lie under dispute: this row is refused
    answer = dispatcher.post("/incidents/batch", json={"incidents": rows})
    assert answer.status_code == 200, answer.text
    results = answer.json()["rows"]
    assert [r["status"] for r in results] == ["created", "created", "created", "error"]
    assert "wage_arrears lies under category dispute" in results[3]["error"]
    departments = [transfers_of(dispatcher, r["id"])["department"] for r in results[:3]]
    assert departments == ["511421_transport", HOUSING, None]


# -- a dispatcher's transfer, refused and sent back; accepted and worked ----------------------------


def test_a_transfer_refused_is_sent_back_with_its_reason_to_the_territorial_people(
    dispatcher, housing, water, engine, spots
):
    case = report(dispatcher, spots["511421110000"], "public_service", "other_service")
    first = bindings(engine, case["id"])
    assert first and all(b["released_at"] is None for b in first)
    for department, says in (("nosuch", "no department 'nosuch'"), (WENLIN_OFFICE, "does not handle cases")):
        wrong = dispatcher.post("/transfers", json={"incident_id": case["id"], "department": department})
        assert wrong.status_code == 422 and wrong.json()["field"] == "department", wrong.text
        assert says in wrong.json()["message"]
    by_rule = dispatcher.post("/transfers", json={"incident_id": case["id"]})  # other services: no rule
    assert by_rule.status_code == 422 and "no routing rule" in by_rule.json()["message"]
    made = dispatcher.post(
        "/transfers", json={"incident_id": case["id"], "department": HOUSING, "reason": "疑似房屋漏水，请住建局核查"}
    )
    assert made.status_code == 201, made.text
    transfer = made.json()
    assert transfer["state"] == "pending" and transfer["department"] == HOUSING
    assert dispatcher.post("/transfers", json={"incident_id": case["id"], "department": HOUSING}).status_code == 409

    # Only the department decides: another department does not even see it, the dispatcher may not.
    assert water.post(f"/transfers/{transfer['id']}/return", json={"reason": "x"}).status_code == 404
    refused = dispatcher.post(f"/transfers/{transfer['id']}/accept", json={})
    assert refused.status_code == 403 and refused.json()["field"] == "department"
    no_reason = housing.post(f"/transfers/{transfer['id']}/return", json={"reason": "  "})
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    assert housing.get(f"/incidents/{case['id']}").status_code == 200

    back = housing.post(f"/transfers/{transfer['id']}/return", json={"reason": "经核查为供水管道问题，非住建局职责"})
    assert back.status_code == 200, back.text
    assert back.json()["state"] == "returned" and back.json()["return_reason"] == "经核查为供水管道问题，非住建局职责"
    assert all(p["released_at"] for p in back.json()["staff"])

    # The timeline shows both, each with its reason; the department no longer sees the case.
    stored = dispatcher.get(f"/incidents/{case['id']}").json()
    steps = [(e["action"], e["note"]) for e in stored["timeline"] if e["action"].startswith("transfer")]
    assert steps == [
        ("transfer", "仁寿县住房和城乡建设局: 疑似房屋漏水，请住建局核查"),
        ("transfer_return", "仁寿县住房和城乡建设局: 经核查为供水管道问题，非住建局职责"),
    ]
    chinese = dispatcher.get(f"/incidents/{case['id']}", headers={"Accept-Language": "zh-CN"}).json()
    assert [e["note"] for e in chinese["timeline"] if e["action"].startswith("transfer")] == [
        "仁寿县住房和城乡建设局：疑似房屋漏水，请住建局核查",
        "仁寿县住房和城乡建设局：经核查为供水管道问题，非住建局职责",
    ]
    assert stored["status"] == "dispatched" and transfers_of(dispatcher, case["id"])["department"] is None
    assert housing.get(f"/incidents/{case['id']}").status_code == 404
    assert housing.post(f"/transfers/{transfer['id']}/accept", json={}).status_code == 404

    # The territorial people are bound again, and told; the deadline is the territorial one from now.
    after = bindings(engine, case["id"])
    returned_at = datetime.fromisoformat(back.json()["decided_at"])
    assert all(b["released_at"] == returned_at for b in after[: len(first)])
    again = after[len(first) :]
    assert [b["role"] for b in again] == [b["role"] for b in first]
    assert all(b["bound_at"] == returned_at and b["released_at"] is None for b in again)
    assert len(outbox(engine, case["id"], "transfer_return")) == sum(b["officer_id"] is not None for b in again)
    assert hours(stored["deadline"], back.json()["decided_at"]) == 72  # public service, blue

    # The dispatcher corrects the matter, and the rules name the department.
    again = dispatcher.post("/transfers", json={"incident_id": case["id"], "matter": "water_supply"})
    assert again.status_code == 201, again.text
    assert (again.json()["department"], again.json()["rule"]) == (WATER, "water_supply/*/*")
    assert water.get(f"/incidents/{case['id']}").status_code == 200


def test_an_accepted_case_is_worked_under_the_departments_limit(dispatcher, water, engine, spots):
    case = report(dispatcher, spots[WENLIN], "public_service", "drainage")
    (transfer,) = transfers_of(water, case["id"])["transfers"]
    accepted = water.post(f"/transfers/{transfer['id']}/accept", json={"note": "已派人员赶赴现场"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "accepted"
    assert water.post(f"/transfers/{transfer['id']}/accept", json={}).status_code == 409
    assert water.post(f"/transfers/{transfer['id']}/return", json={"reason": "x"}).status_code == 409

    stored = water.get(f"/incidents/{case['id']}").json()
    assert stored["status"] == "accepted"
    assert hours(stored["deadline"], transfer["transferred_at"]) == 48
    assert stored["timeline"][-1]["action"] == "transfer_accept"
    assert stored["timeline"][-1]["note"] == "仁寿县水务局: 已派人员赶赴现场"
    # The department's users take the loop's steps on their cases.
    for action in ("start", "resolve"):
        assert water.post(f"/incidents/{case['id']}/{action}", json={}).status_code == 200
    inbox = water.get(f"/departments/{WATER}/cases", params={"state": "done"}).json()
    assert case["id"] in {c["id"] for c in inbox["items"]}


def test_the_departments_people_get_a_text_naming_the_case_and_the_deadline(dispatcher, engine, spots, tmp_path):
    case = report(
        dispatcher, spots["511421101000"], "public_service", "roads", external_id=f"RS-{uuid.uuid4().hex[:6]}"
    )
    with engine.begin() as connection:  # only this case's messages are due now
        connection.execute(
            text(
                "UPDATE outbox SET next_attempt_at = now() + interval '1 day' WHERE sent_at IS NULL AND incident_id <> :id"
            ),
            {"id": case["id"]},
        )
    log = tmp_path / "outbox.log"
    delivery = deliver(engine, LogSender(log))
    assert delivery.failed == 0
    texts = scalar(
        engine,
        "SELECT string_agg(text, '\n' ORDER BY id) FROM outbox WHERE incident_id = :id AND kind = 'transfer'",
        id=case["id"],
    )
    assert texts.count(case["external_id"]) == 2 and "周海" in texts and "吴婷" in texts
    assert "仁寿县交通运输局" in texts
    assert texts.count("：依规则 roads/") == 2 and ": rule" not in texts  # the note in the text's language too
    assert "139****0031" in log.read_text(encoding="utf-8")  # the log masks the phone


# -- what a department's user sees ------------------------------------------------------------------


def test_a_department_user_sees_its_cases_across_towns_and_nothing_else(dispatcher, water, engine, spots):
    for town in spots:
        report(dispatcher, spots[town], "public_service", "water_supply")
    ours = set(scalar(engine, "SELECT array_agg(id) FROM incidents WHERE department = :d", d=WATER))
    towns = scalar(engine, "SELECT count(DISTINCT town_code) FROM incidents WHERE department = :d", d=WATER)
    assert towns >= 3

    listed = water.get("/incidents", params={"limit": 1000}).json()
    assert listed["total"] == len(ours) and {i["id"] for i in listed["items"]} == ours
    assert len({i["town"]["code"] for i in listed["items"]}) == towns
    features = water.get("/features/collections/incidents/items", params={"limit": 1000}).json()
    assert {f["id"] for f in features["features"]} == ours

    others = scalar(
        engine,
        "SELECT array_agg(id) FROM ((SELECT id FROM incidents WHERE department IS DISTINCT FROM :d "
        "AND town_code = ANY(:towns) ORDER BY id DESC LIMIT 3) "
        "UNION (SELECT min(id) FROM incidents WHERE town_code = ANY(:towns))) x",
        d=WATER,
        towns=list(spots),
    )
    for other in others:
        for path in (f"/incidents/{other}", f"/features/collections/incidents/items/{other}"):
            assert water.get(path).status_code == 404, path
        assert water.post(f"/incidents/{other}/urge", json={}).status_code == 404
        assert water.get(f"/incidents/{other}/transfers").status_code == 404

    counts = water.get("/analysis/counts", params={"unit": "town", "start": "2026-11-01", "end": "2026-12-01"})
    assert counts.status_code == 200, counts.text
    assert sum(f["properties"]["count"] for f in counts.json()["features"]) == len(ours)
    assert water.get("/auth/me").json()["jurisdiction"]["department"] == {"code": WATER, "name": "仁寿县水务局"}
    assert [d["code"] for d in water.get("/departments").json()["departments"]] == [WATER]
    for path in (f"/departments/{HOUSING}", f"/departments/{HOUSING}/cases"):
        assert water.get(path).status_code == 404
    refused = water.post("/transfers", json={"incident_id": min(ours), "department": HOUSING})
    assert refused.status_code == 403 and refused.json()["field"] == "department"
    FIGURES["department user"] = f"{WATER} sees {len(ours)} cases in {towns} towns, and no other"


def test_the_departments_and_their_people_as_a_dispatcher_sees_them(dispatcher, url):
    listed = {d["code"]: d for d in dispatcher.get("/departments").json()["departments"]}
    assert set(listed) == {WATER, HOUSING, URBAN, "511421_transport", "511421_hrss", WENLIN_OFFICE}
    assert listed[WATER]["staff"] == 2 and listed[WATER]["limit_hours"] == 48
    detail = dispatcher.get(f"/departments/{WATER}").json()
    assert [p["phone"] for p in detail["staff"]] == ["13990100001", "13990100002"]  # personal.read
    assert {r["matter"] for r in detail["routes"]} == {"water_supply", "drainage"}
    with signed_in(url, "leader") as leader:  # no personal.read: phones masked
        assert leader.get(f"/departments/{WATER}").json()["staff"][0]["phone"] == "139****0001"
    matters = {c["code"]: c for c in dispatcher.get("/matters").json()["categories"]}
    assert "water_supply" in {m["code"] for m in matters["public_service"]["matters"]}
    town = signed_in(url, "dispatcher", "511421110000")
    with town:
        seen = {d["code"] for d in town.get("/departments").json()["departments"]}
    assert WENLIN_OFFICE not in seen and WATER in seen  # another town's office is not theirs to name


def test_a_department_user_is_added_on_the_command_line(url, engine):
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "geo_service.cli.main", "users", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    added = cli("add", "水务局值班员", "--role", "dispatcher", "--department", WATER)
    assert added.returncode == 0, added.stderr
    assert scalar(engine, "SELECT jurisdiction || '/' || department FROM users WHERE name = '水务局值班员'") == (
        f"511421000000/{WATER}"
    )
    wrong_town = cli(
        "add", "文林执法", "--role", "dispatcher", "--department", WENLIN_OFFICE, "--jurisdiction", "511421110000"
    )
    assert wrong_town.returncode != 0 and "jurisdiction" in wrong_town.stderr
    unknown = cli("add", "某局", "--role", "dispatcher", "--department", "nosuch")
    assert unknown.returncode != 0 and "nosuch" in unknown.stderr
    assert scalar(engine, "SELECT count(*) FROM users WHERE name IN ('文林执法', '某局')") == 0


# -- the county's own list, as rules -----------------------------------------------------------------


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _rules(engine, table: str) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")).all()


def test_a_countys_own_matters_list_is_imported_as_rules(url, engine, dispatcher, spots):
    in_use = set(scalar(engine, "SELECT array_agg(DISTINCT matter) FROM incidents WHERE matter IS NOT NULL"))
    names = dict(scalar(engine, "SELECT array_agg(ARRAY[code, name_zh]) FROM matters"))
    categories = dict(scalar(engine, "SELECT array_agg(ARRAY[code, category]) FROM matters"))
    category_zh = dict(scalar(engine, "SELECT array_agg(ARRAY[code, name_zh]) FROM categories"))
    # The county's 事项清单 in its own words: Chinese headers, the category named as people say it.
    matters = [["事项编码", "事项大类", "事项小类"]]
    matters += [[code, category_zh[categories[code]], names[code]] for code in sorted(in_use)]
    matters += [["gas_supply", "公共服务", "燃气"], ["heating", "公共服务", "供暖"]]
    routes = [["事项编码", "区域", "风险等级", "承办部门"]]
    routes += [["water_supply", "", "", WATER], ["drainage", "", "", WATER], ["gas_supply", "", "", HOUSING]]
    routes += [["gas_supply", "511421110000", "红色", URBAN]]
    with signed_in(url, "admin") as admin:
        answer = admin.post(
            "/rules/import",
            files=[("files", ("事项清单.csv", _csv(matters))), ("files", ("分流规则.csv", _csv(routes)))],
        )
        assert answer.status_code == 200, answer.text
        tables = answer.json()["tables"]
        assert sorted(tables["matters"]["added"]) == ["gas_supply", "heating"]
        assert "street_lights" in tables["matters"]["removed"]
        assert tables["routing_rules"]["rows_after"] == 4
    assert scalar(engine, "SELECT category || ' ' || name_zh FROM matters WHERE code = 'gas_supply'") == (
        "public_service 燃气"
    )
    assert scalar(
        engine, "SELECT risk_colour FROM routing_rules WHERE matter = 'gas_supply' AND place IS NOT NULL"
    ) == ("red")
    # In effect for the next case.
    gas = report(dispatcher, spots["511421101000"], "public_service", "gas_supply")
    red_gas = report(dispatcher, spots["511421110000"], "public_service", "gas_supply", risk_colour="red")
    assert [transfers_of(dispatcher, c["id"])["department"] for c in (gas, red_gas)] == [HOUSING, URBAN]


def test_a_bad_row_of_a_countys_workbook_is_refused_by_name_and_nothing_is_stored(url, engine):
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    sheet = book.create_sheet("事项清单")
    sheet.append(["事项编码", "事项大类", "事项小类"])
    for row in _rules(engine, "matters"):
        sheet.append([row[0], row[1], row[2]])
    sheet = book.create_sheet("分流规则")
    sheet.append(["事项编码", "区域", "风险等级", "承办部门"])
    sheet.append(["water_supply", None, None, WATER])
    sheet.append(["drainage", None, "紫色", WATER])  # no such colour
    sheet.append(["gas_supply", None, None, "511421_gas"])  # no such department
    data = io.BytesIO()
    book.save(data)
    before = {t: _rules(engine, t) for t in ("matters", "routing_rules")}
    with signed_in(url, "admin") as admin:
        answer = admin.post("/rules/import", files=[("files", ("仁寿县事项清单.xlsx", data.getvalue()))])
    assert answer.status_code == 422, answer.text
    problems = answer.json()["problems"]
    assert [(p["file"], p["row"], p["column"]) for p in problems] == [
        ("仁寿县事项清单.xlsx!分流规则", 2, "risk_colour"),
        ("仁寿县事项清单.xlsx!分流规则", 3, "department"),
    ]
    assert problems[1]["reason"] == "unknown department '511421_gas': it is not in the departments table"
    assert answer.json()["message"].startswith("仁寿县事项清单.xlsx!分流规则 row 2, column risk_colour: '紫色'")
    assert {t: _rules(engine, t) for t in before} == before


def test_a_department_row_that_does_not_hold_together_is_refused(url):
    rows = [["code", "county_code", "kind", "town_code", "name_zh", "name_en", "limit_hours"]]
    rows += [["511421_office", "511421000000", "乡镇站所", "", "某镇站所", "", "24"]]
    with signed_in(url, "admin") as admin:
        answer = admin.post("/rules/import", files=[("files", ("departments.csv", _csv(rows)))])
    assert answer.status_code == 422
    (problem,) = answer.json()["problems"]
    assert (problem["row"], problem["column"]) == (1, "town_code") and "town office" in problem["reason"]


# -- rankings and the SLA view by department ---------------------------------------------------------

SPAN = {"start": "2026-06-01", "end": "2026-12-01"}


@pytest.fixture(scope="module")
def history(engine):
    """Departments on the closed cases of the span's public services (as a county's past cases
    would carry them), and a share of the open ones transferred the way a dispatcher would."""
    from geo_service.cases.transfers import Target, transfer_cases

    with engine.begin() as connection:
        connection.execute(
            text("""
            UPDATE incidents SET department = (ARRAY[:a, :b, :c])[1 + id % 3]
             WHERE category = 'public_service' AND status IN ('closed', 'resolved') AND department IS NULL
               AND reported_at >= '2026-06-01' AND id % 4 = 0"""),
            {"a": WATER, "b": URBAN, "c": "511421_transport"},
        )
        open_ids = connection.execute(
            text("""SELECT id FROM incidents WHERE status IN ('dispatched', 'accepted', 'in_progress')
                      AND category = 'public_service' AND department IS NULL ORDER BY id LIMIT 300 FOR UPDATE""")
        ).scalars()
        targets = [Target(i, (WATER, URBAN, HOUSING)[n % 3], reason="批量分流") for n, i in enumerate(open_ids)]
        made = transfer_cases(
            connection, targets, datetime.fromisoformat("2026-11-20T08:00:00+08:00"), actor="tests", signed_in="tests"
        )
    assert len(made) == 300


def test_rankings_by_department_equal_an_independent_count(dispatcher, engine, history):
    as_of = "2026-11-27T12:00:00+08:00"
    answer = dispatcher.get("/analysis/rankings", params={"level": "department", "as_of": as_of, **SPAN})
    assert answer.status_code == 200, answer.text
    rows = {r["code"]: r for r in answer.json()["rows"]}
    with engine.connect() as connection:
        expected = connection.execute(
            text("""
            SELECT department, count(*) AS cases,
                   count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS handled,
                   count(*) FILTER (WHERE status = 'closed') AS closed,
                   count(*) FILTER (WHERE deadline < coalesce(resolved_at, CAST(:as_of AS timestamptz))) AS overdue,
                   count(*) FILTER (WHERE deadline IS NOT NULL) AS with_deadline
              FROM incidents
             WHERE department IS NOT NULL AND reported_at >= CAST(:start AS timestamptz)
               AND reported_at < CAST(:end AS timestamptz) AND status NOT IN ('rejected', 'merged')
             GROUP BY department"""),
            {"as_of": as_of, "start": SPAN["start"] + "T00:00:00+08:00", "end": SPAN["end"] + "T00:00:00+08:00"},
        ).mappings()
        expected = {r["department"]: dict(r) for r in expected}
    assert set(rows) == set(expected) and len(rows) >= 4
    for code, want in expected.items():
        got = rows[code]
        assert {k: got[k] for k in ("cases", "handled", "closed", "overdue", "with_deadline")} == {
            k: want[k] for k in ("cases", "handled", "closed", "overdue", "with_deadline")
        }, code
        assert got["overdue_rate"] == pytest.approx(want["overdue"] / want["with_deadline"])
    ranks = sorted(rows.values(), key=lambda r: r["rank"])
    assert [r["overdue_rate"] for r in ranks] == sorted(r["overdue_rate"] for r in ranks)
    FIGURES["rankings by department"] = f"{len(rows)} departments, {sum(r['cases'] for r in rows.values()):,} cases"


def test_the_sla_view_by_department_equals_an_independent_count(dispatcher, engine, history):
    at, within = "2026-11-23T08:00:00+08:00", 72
    body = dispatcher.get("/sla", params={"at": at, "due_within_hours": within, "cases": "true"}).json()
    got = {d["department"]: (d["overdue"], d["due_soon"]) for d in body["departments"]}
    with engine.connect() as connection:
        expected = {
            r[0]: (r[1], r[2])
            for r in connection.execute(
                text("""
                SELECT department, count(*) FILTER (WHERE deadline < CAST(:at AS timestamptz)),
                       count(*) FILTER (WHERE deadline >= CAST(:at AS timestamptz))
                  FROM incidents
                 WHERE department IS NOT NULL AND status IN ('dispatched', 'accepted', 'in_progress')
                   AND deadline < CAST(:at AS timestamptz) + make_interval(hours => :h)
                 GROUP BY department"""),
                {"at": at, "h": within},
            )
        }
    assert got == expected and sum(o + s for o, s in got.values()) >= 300
    assert body["cases"] and all("department" in c for c in body["cases"])
    assert sum(o for o, _ in got.values()) <= body["overdue"]  # the same cases, grouped by who holds them
