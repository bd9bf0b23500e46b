"""The officers' roster and the cameras of a county import, on a scratch database and hand-made tables."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from geo_service.cases.responsibility import responsible, unit_chain
from geo_service.county.cameras import prepare_cameras, write_cameras
from geo_service.county.people_values import generated_code
from geo_service.county.report import FileReport
from geo_service.county.roster import prepare_roster, roster_gaps, write_roster
from geo_service.county.sources import SourceTable as Table
from geo_service.db import migrate
from geo_service.db.engine import get_engine
from geo_service.rules.seed import seed_rules
from geo_service.vocabulary import MAX_CAMERA_RANGE_M

ZONE = "Asia/Shanghai"
COUNTY, TOWN = "511421000000", "511421100000"
WEST, EAST = "511421100201", "511421100202"
G1, G1A, G2, G3 = WEST + "001", WEST + "001001", WEST + "002", EAST + "001"
UNITS = {
    COUNTY: "county",
    TOWN: "town",
    WEST: "village",
    EAST: "village",
    G1: "grid",
    G1A: "grid",
    G2: "grid",
    G3: "grid",
}
ROSTER_COLUMNS = {
    "name": "姓名",
    "title": "职务",
    "phone": "联系电话",
    "unit_code": "负责区域代码",
    "start_date": "任职日期",
    "end_date": "离任日期",
    "officer_code": "工号",
    "gender": "性别",
}
CAMERA_COLUMNS = {
    "code": "设备编码",
    "name": "设备名称",
    "kind": "建设类型",
    "lon": "经度",
    "lat": "纬度",
    "heading": "方向",
    "fov": "视场角",
    "range": "可视距离",
    "status": "在线状态",
}


def table(rows: list[tuple], fields: list[str], kind: str = "roster", path: str = "花名册.xlsx") -> Table:
    frame = pd.DataFrame(rows, columns=fields).astype(object)
    frame = frame.where(frame.notna(), None)
    frame["_row"] = range(1, len(frame) + 1)
    columns = ROSTER_COLUMNS if kind == "roster" else CAMERA_COLUMNS
    return Table(path, kind, frame, {f: columns[f] for f in fields}, FileReport(path, kind))


def roster(*rows: tuple) -> Table:
    return table(list(rows), ["name", "title", "phone", "unit_code", "start_date"])


@pytest.fixture
def db(scratch_url: str) -> Engine:
    migrate.upgrade(scratch_url)
    engine = get_engine(scratch_url)
    with engine.begin() as connection:
        seed_rules(connection.connection.cursor())
    return engine


def load(engine: Engine, source: Table, effective: date) -> dict[str, int]:
    with engine.begin() as connection:
        prepared = prepare_roster(connection, source, units=UNITS, zone=ZONE)
        assert not source.report.errors, source.report.errors
        return write_roster(connection, prepared, effective=effective, actor="tests")


def holders(engine: Engine, grid: str, day: date) -> dict[str, list[str]]:
    """Who the rules name for a case in ``grid`` on ``day``: role -> names (vacancies left out)."""
    with engine.connect() as connection:
        found = responsible(connection, unit_chain(grid, grid[:12], TOWN, COUNTY), day)
    names: dict[str, list[str]] = {}
    for person in found["village"]:
        names.setdefault(person.role, []).extend([person.name] if person.name else [])
    return {role: sorted(people) for role, people in names.items()}


def test_titles_phones_dates_and_a_cadre_over_two_villages(db: Engine) -> None:
    source = roster(
        ("张三", "专职网格员", "138 1234 5678", G1A, "2023年3月1日"),
        ("李四", "村（社区）党组织书记", "+86 139-0000-1111", WEST, "2023/3/1"),
        ("王五", "社区民警", "13800001111.0", WEST, "44986"),  # an Excel serial number
        ("赵六", "包村干部", "0817-1234567", WEST, "2023.3.1"),
        ("赵六", "包村干部", "0817-1234567", "５１１４２１１００２０２", "2023-03-01 00:00:00"),
        ("钱七", "网格员", "0086 13912345678", G3, None),
        ("孙八", "乡镇党委书记", "+86 817 7654321", "511421100", "2022-01-05"),
    )
    counts = load(db, source, date(2024, 1, 1))
    assert counts["officers_added"] == 6 and counts["assignments_added"] == 7
    with db.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT o.code, o.name, o.phone, a.role, a.unit_code, a.valid_from, a.valid_to "
                "FROM officers o JOIN officer_assignments a ON a.officer_id = o.id ORDER BY o.name, a.unit_code"
            )
        ).all()
    by_name = {}
    for code, name, phone, role, unit, start, end in stored:
        by_name.setdefault(name, []).append((phone, role, unit, start, end))
        assert code == generated_code(name, phone) and end is None
    assert by_name["张三"] == [("13812345678", "grid_worker", G1A, date(2023, 3, 1), None)]
    assert by_name["李四"][0][:2] == ("13900001111", "village_party_secretary")
    assert by_name["王五"][0][0] == "13800001111" and by_name["王五"][0][3] == date(2023, 3, 1)
    assert [r[2] for r in by_name["赵六"]] == [WEST, EAST] and by_name["赵六"][0][0] == "08171234567"
    assert by_name["钱七"] == [("13912345678", "grid_worker", G3, date(2024, 1, 1), None)]  # no start: effective
    assert by_name["孙八"] == [("08177654321", "town_party_secretary", TOWN, date(2022, 1, 5), None)]
    # the 3+N of a case in the west village's sub-grid, and the cadre answering for both villages
    expected = {
        "village_cadre": ["赵六"],
        "village_party_secretary": ["李四"],
        "community_police": ["王五"],
        "grid_worker": ["张三"],
    }
    found = holders(db, G1A, date(2024, 2, 1))
    assert {role: found[role] for role in expected} == expected
    assert holders(db, G3, date(2024, 2, 1))["village_cadre"] == ["赵六"]


def test_bad_rows_are_reported_with_row_and_column_and_nothing_is_written(db: Engine) -> None:
    source = roster(
        ("张三", "村医", "13812345678", G1, None),
        ("李四", "网格员", "13812345679", WEST, None),
        ("王五", "社区民警", "12345", WEST, None),
        ("赵六", "社区民警", "13812345670", "5.11421E+11", None),
        ("钱七", "社区民警", "13812345671", "511421100299", None),
        ("孙八", "社区民警", "13812345672", WEST, "明年"),
        (None, "社区民警", "13812345673", EAST, None),
        ("周九", "社区民警", "13812345674", EAST, "2023-02-30"),
        ("吴十", "社区民警", "13812345675", EAST, None),
    )
    with db.begin() as connection:
        prepared = prepare_roster(connection, source, units=UNITS, zone=ZONE)
    problems = {(p.row, p.column): p.reason for p in source.report.errors}
    assert set(problems) == {
        (1, "职务"),
        (2, "负责区域代码"),
        (3, "联系电话"),
        (4, "负责区域代码"),
        (5, "负责区域代码"),
        (6, "任职日期"),
        (7, "姓名"),
        (8, "任职日期"),
    }
    assert "村医" in problems[(1, "职务")] and "网格员" in problems[(1, "职务")]
    assert "a grid" in problems[(2, "负责区域代码")] and WEST in problems[(2, "负责区域代码")]
    assert "a village" in problems[(2, "负责区域代码")]
    assert "'12345'" in problems[(3, "联系电话")]
    assert "scientific notation" in problems[(4, "负责区域代码")]
    assert "511421100299" in problems[(5, "负责区域代码")]
    assert "明年" in problems[(6, "任职日期")]
    assert prepared.rows == 1 and list(prepared.officers["name"]) == ["吴十"]
    with db.connect() as connection:  # preparing is a dry run: nothing stored
        assert connection.execute(text("SELECT count(*) FROM officers")).scalar() == 0


def test_a_newer_roster_ends_vanished_posts_the_day_before_and_keeps_history(db: Engine) -> None:
    first = roster(
        ("张三", "网格员", "13812345678", G1, "2023-01-01"),
        ("李四", "村党组织书记", "13900001111", WEST, "2022-06-01"),
        ("王五", "社区民警", "13800001111", WEST, "2023-01-01"),
    )
    assert load(db, first, date(2024, 1, 1))["assignments_added"] == 3
    past = date(2024, 3, 1)
    before = holders(db, G1, past)
    assert before["grid_worker"] == ["张三"] and before["community_police"] == ["王五"]

    second = roster(
        ("陈八", "网格员", "13812340000", G1, None),  # 张三's grid taken over; 王五 gone
        ("李四", "村党组织书记", "13900001111", WEST, "2022-06-01"),
    )
    counts = load(db, second, date(2024, 6, 1))
    assert counts == {
        "officers_added": 1,
        "officers_updated": 0,
        "officers_unchanged": 1,
        "assignments_added": 1,
        "assignments_ended": 2,
        "assignments_unchanged": 1,
    }
    with db.connect() as connection:
        ends = dict(
            connection.execute(
                text("SELECT o.name, a.valid_to FROM officer_assignments a JOIN officers o ON o.id = a.officer_id")
            ).all()
        )
    assert ends == {"张三": date(2024, 5, 31), "王五": date(2024, 5, 31), "李四": None, "陈八": None}
    assert holders(db, G1, past) == before  # history answers as it did
    after = holders(db, G1, date(2024, 6, 1))
    assert after["grid_worker"] == ["陈八"] and after["community_police"] == [] and after["village_party_secretary"]

    again = load(db, second, date(2024, 6, 1))  # the same roster again changes nothing
    assert again["assignments_unchanged"] == 2 and again["officers_unchanged"] == 2
    assert not any(v for k, v in again.items() if not k.endswith("unchanged"))
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM officer_assignments")).scalar() == 4
        audits = connection.execute(text("SELECT count(*) FROM audit_log WHERE action = 'county.roster'")).scalar()
    assert audits == 3


def test_officer_codes_end_dates_and_rows_left_out(db: Engine) -> None:
    fields = ["officer_code", "name", "title", "phone", "unit_code", "start_date", "end_date", "gender"]
    first = table(
        [
            ("A001", "张三", "网格员", "13812345678", G1, pd.Timestamp("2023-01-01"), None, "男"),
            ("A002", "李四", "网格员", None, G2, "2023-01-01", "2023-12-31", "女"),
            ("A003", "王五", "社区民警", "13800001111", EAST, "2023-01-01", None, None),
            ("A001", "张三丰", "网格员", "13812345678", G3, "2023-01-01", None, None),
        ],
        fields,
    )
    with db.begin() as connection:
        prepared = prepare_roster(connection, first, units=UNITS, zone=ZONE)
        # one code, two people: the second row is refused, naming the first
        assert [(p.row, p.column) for p in first.report.errors] == [(4, "工号")]
        assert "row 1" in first.report.errors[0].reason
        write_roster(connection, prepared, effective=date(2024, 1, 1), actor="tests")
    with db.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT o.code, o.gender, a.valid_from, a.valid_to FROM officers o "
                "JOIN officer_assignments a ON a.officer_id = o.id ORDER BY o.code"
            )
        ).all()
    assert stored == [
        ("A001", "M", date(2023, 1, 1), None),
        ("A002", "F", date(2023, 1, 1), date(2023, 12, 31)),  # left before the roster's date
        ("A003", None, date(2023, 1, 1), None),
    ]
    # Again, with 王五's row unreadable (a bad phone): his post is left as it is, not ended.
    again = table(
        [
            ("A001", "张三", "网格员", "13812345678", G1, "2023-01-01", None, "男"),
            ("A002", "李四", "网格员", None, G2, "2023-01-01", "2023-12-31", "女"),
            ("A003", "王五", "社区民警", "123", EAST, "2023-01-01", None, None),
        ],
        fields,
    )
    with db.begin() as connection:
        prepared = prepare_roster(connection, again, units=UNITS, zone=ZONE)
        assert [(p.row, p.column) for p in again.report.errors] == [(3, "联系电话")]
        counts = write_roster(connection, prepared, effective=date(2024, 6, 1), actor="tests")
    assert counts["assignments_unchanged"] == 2 and counts["assignments_ended"] == 0
    assert counts["assignments_added"] == 0
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM officer_assignments WHERE valid_to IS NULL")).scalar() == 2


def test_gaps_name_posts_nobody_holds(db: Engine) -> None:
    load(
        db,
        roster(
            ("张三", "网格员", "13812345678", G1, "2023-01-01"),
            ("李四", "村党组织书记", "13900001111", WEST, "2023-01-01"),
            ("王五", "社区民警", "13800001111", EAST, "2023-01-01"),
        ),
        date(2024, 1, 1),
    )
    with db.connect() as connection:
        gaps = roster_gaps(connection, UNITS, date(2024, 2, 1))
        before = roster_gaps(connection, UNITS, date(2022, 1, 1))  # before anyone started
    # G1A lies in G1, whose worker answers for it; G2 and G3 have nobody.
    assert [g["code"] for g in gaps["grids_without_grid_worker"]] == [G2, G3]
    assert [v["code"] for v in gaps["villages_without_party_secretary"]] == [EAST]
    assert [v["code"] for v in gaps["villages_without_police"]] == [WEST]
    assert len(before["grids_without_grid_worker"]) == 3 and len(before["villages_without_police"]) == 2


CAMERA_FIELDS = ["code", "name", "kind", "lon", "lat", "heading", "fov", "range", "status"]
CODE = "5114210000132000000"


def cameras(*rows: tuple) -> Table:
    return table(list(rows), CAMERA_FIELDS, kind="cameras", path="cameras.csv")


def stored_cameras(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT device_code, kind, heading_deg, fov_deg, range_m, status, ST_X(geom), ST_Y(geom) FROM cameras")
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_cameras_kinds_defaults_domes_and_bad_rows(db: Engine) -> None:
    source = cameras(
        (CODE + "1", "村口", "雪亮", 104.01, 30.01, "90", None, None, None),
        ("５１１４２１００００１３２００００００２", "路口球机", "天网", 104.02, 30.02, None, None, None, "离线"),
        (CODE + "3", None, "雪亮工程", 104.03, 30.03, "东北", "60", "2000", "故障"),
        (CODE + "4", "学校", "huiyan", 104.04, 30.04, "370", "45", "30米", "在线"),
        (CODE + "5", "塔", "高空瞭望", 104.05, 30.05, None, None, None, None),
        ("511421000013200000", "短", "综治", 104.06, 30.06, None, None, None, None),
        ("5.11421E+19", "科学计数", "综治", 104.07, 30.07, None, None, None, None),
        (CODE + "8", "无坐标", "综治", float("nan"), float("nan"), None, None, None, None),
        (CODE + "9", "坏状态", "综治", 104.09, 30.09, "abc", None, None, "报废"),
    )
    source.report.error(8, "经度", "no coordinates")  # as the reader reports it
    with db.begin() as connection:
        prepared = prepare_cameras(connection, source, units=UNITS, zone=ZONE)
        counts = write_cameras(connection, prepared, actor="tests")
    problems = {(p.row, p.column): p.reason for p in source.report.errors}
    assert set(problems) == {
        (5, "建设类型"),
        (6, "设备编码"),
        (7, "设备编码"),
        (8, "经度"),
        (9, "方向"),
        (9, "在线状态"),
    }
    assert "高空瞭望" in problems[(5, "建设类型")] and "雪亮" in problems[(5, "建设类型")]
    assert "18 digits" in problems[(6, "设备编码")] and "scientific notation" in problems[(7, "设备编码")]
    assert [p.row for p in source.report.problems if p.severity == "warning"] == [3]  # range capped
    assert counts == {"added": 4, "updated": 0, "unchanged": 0}
    got = stored_cameras(db)
    assert got[CODE + "1"] == ("xueliang", 90.0, 70.0, 100.0, "online", 104.01, 30.01)  # the kind's view
    assert got[CODE + "2"][:5] == ("tianwang", 0.0, 360.0, 150.0, "offline")  # no heading: a dome
    assert got[CODE + "3"][:5] == ("xueliang", 45.0, 60.0, float(MAX_CAMERA_RANGE_M), "fault")
    assert got[CODE + "4"][:5] == ("huiyan", 10.0, 45.0, 30.0, "online")


def test_cameras_imported_again_are_unchanged_or_updated(db: Engine) -> None:
    rows = [
        (CODE + "1", "村口", "雪亮", 104.01, 30.01, "90", None, None, None),
        (CODE + "2", "路口", "综治", 104.02, 30.02, None, None, None, "在线"),
        (CODE + "3", "桥头", "天网", 104.03, 30.03, "180", "60", "120", "在线"),
    ]

    def run(source: Table) -> dict[str, int]:
        with db.begin() as connection:
            prepared = prepare_cameras(connection, source, units=UNITS, zone=ZONE)
            assert not source.report.errors
            return write_cameras(connection, prepared, actor="tests")

    assert run(cameras(*rows)) == {"added": 3, "updated": 0, "unchanged": 0}
    assert run(cameras(*rows)) == {"added": 0, "updated": 0, "unchanged": 3}
    rows[1] = (CODE + "2", "路口", "综治", 104.02, 30.02, None, None, None, "故障")  # now broken
    rows[2] = (CODE + "3", "桥头", "天网", 104.031, 30.03, "180", "60", "120", "在线")  # moved
    rows.append((CODE + "4", "新装", "慧眼", 104.04, 30.04, None, None, None, None))
    assert run(cameras(*rows)) == {"added": 1, "updated": 2, "unchanged": 1}
    got = stored_cameras(db)
    assert got[CODE + "2"][4] == "fault" and got[CODE + "3"][5] == pytest.approx(104.031)
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_log WHERE action = 'county.cameras'")).scalar() == 3
