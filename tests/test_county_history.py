"""A county's past cases come in as they stood: closed cases closed at their own times, with
their own deadlines and satisfaction, no messages and nobody bound; open cases open and bound.

On the tiny county (``tests/tiny_county.py``): boundaries v1 from 2024-01-01, v2 from 2026-06-01;
the point SPOT lies in the west village's grid ...201001 in both.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import text

from geo_service.analysis.counts import counts
from geo_service.analysis.rankings import rankings
from geo_service.analysis.span import IncidentFilter, make_span
from geo_service.county.history import DEFAULT_SOURCE, prepare_history, write_history
from geo_service.county.report import FileReport
from geo_service.county.sources import SourceTable as Table
from geo_service.settings import Settings

from .conftest import scalar
from .tiny_county import SPOT, TOWN, WEST

BJ = ZoneInfo("Asia/Shanghai")

# The columns as a county's export names them.
COLUMNS = {
    "external_id": "事件编号",
    "category": "事件类型",
    "source": "事件来源",
    "status": "办理状态",
    "risk_colour": "风险等级",
    "reported_at": "上报时间",
    "dispatched_at": "派遣时间",
    "resolved_at": "处置时间",
    "closed_at": "办结时间",
    "satisfaction": "满意度",
    "description": "事件描述",
    "lon": "经度",
    "lat": "纬度",
}


def table(rows: list[dict], path: str = "历史事件.xlsx") -> Table:
    """A table of the given rows (canonical fields; text values, lon/lat numbers), rows numbered from 1."""
    frame = pd.DataFrame(rows).astype(object)
    frame = frame.where(frame.notna(), None)
    for axis in ("lon", "lat"):
        frame[axis] = pd.to_numeric(frame.get(axis), errors="coerce").astype(float)
    frame["_row"] = range(1, len(frame) + 1)
    present = {field: name for field, name in COLUMNS.items() if field in frame.columns}
    return Table(path, "incidents", frame, present, FileReport(path, "incidents", "cgcs2000", "file", len(frame)))


def case(external_id: str, **fields) -> dict:
    return {
        "external_id": external_id,
        "category": "公共服务",
        "source": "12345热线",
        "lon": SPOT[0],
        "lat": SPOT[1],
        "description": "路灯不亮",
        **fields,
    }


def closed_2024(prefix: str) -> list[dict]:
    return [
        case(
            f"{prefix}-1",
            status="已办结",
            reported_at="2024-03-05 09:00:00",
            dispatched_at="2024-03-05 10:30:00",
            resolved_at="2024-03-06 16:00:00",
            closed_at="2024-03-07 11:00:00",
            satisfaction="满意",
        ),
        case(
            f"{prefix}-2",
            category="矛盾纠纷类",
            source="网格员",
            status="结案",
            risk_colour="黄色",
            reported_at="2024/7/1 8:15",
            closed_at="2024-07-20 17:00:00",
            satisfaction="5",
        ),
    ]


@pytest.fixture(scope="module")
def tiny_settings(tiny_url: str) -> Settings:
    return Settings(database_url=tiny_url)


def load(engine, rows_or_table, settings: Settings, **options) -> tuple[Table, dict]:
    source = rows_or_table if isinstance(rows_or_table, Table) else table(rows_or_table)
    with engine.begin() as connection:
        prepared = prepare_history(connection, source, settings=settings)
        counts = write_history(connection, prepared, settings=settings, actor="county-office", **options)
    return source, counts


def stored(engine, external_id: str) -> dict | None:
    with engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM incidents WHERE external_id = :e"), {"e": external_id})
        found = row.mappings().first()
        return dict(found) if found else None


def test_cases_closed_in_2024_stay_closed_at_their_own_times(tiny_engine, tiny_settings):
    settings = tiny_settings
    outbox = scalar(tiny_engine, "SELECT count(*) FROM outbox")
    source, counted = load(tiny_engine, closed_2024("C"), settings)
    assert source.report.errors == []
    assert counted["created"] == 2 and counted["closed"] == 2 and counted["notified"] == 0 and counted["bound"] == 0

    first, second = stored(tiny_engine, "C-1"), stored(tiny_engine, "C-2")
    assert first["status"] == "closed" and first["closed_at"] == datetime(2024, 3, 7, 11, tzinfo=BJ)
    assert first["resolved_at"] == datetime(2024, 3, 6, 16, tzinfo=BJ)
    assert first["satisfaction"] == 4 and first["visited_at"] == first["closed_at"]
    # Its deadline runs from its own dispatch: public service, blue: 72 hours.
    assert first["dispatched_at"] == datetime(2024, 3, 5, 10, 30, tzinfo=BJ)
    assert first["deadline"] == first["dispatched_at"] + timedelta(hours=72)
    assert first["source"] == "hotline_12345" and first["grid_code"] == WEST + "001002"

    # No dispatch time: dispatched when reported; a yellow dispute has 336 hours; resolved when closed.
    assert second["category"] == "dispute" and second["source"] == "grid_app" and second["risk_colour"] == "yellow"
    assert second["dispatched_at"] == second["reported_at"] == datetime(2024, 7, 1, 8, 15, tzinfo=BJ)
    assert second["deadline"] == second["dispatched_at"] + timedelta(hours=336)
    assert second["resolved_at"] == second["closed_at"] == datetime(2024, 7, 20, 17, tzinfo=BJ)
    assert second["satisfaction"] == 5

    # Nothing historical tells anyone, nor binds anyone.
    assert scalar(tiny_engine, "SELECT count(*) FROM outbox") == outbox
    ids = [first["id"], second["id"]]
    assert scalar(tiny_engine, "SELECT count(*) FROM incident_officers WHERE incident_id = ANY(:i)", i=ids) == 0

    with tiny_engine.connect() as connection:
        timeline = connection.execute(
            text(
                "SELECT action, at, actor, to_status, note, data FROM incident_events WHERE incident_id = :i ORDER BY at"
            ),
            {"i": first["id"]},
        ).all()
    assert [e.action for e in timeline] == ["report", "dispatch", "resolve", "close"]
    assert [e.at for e in timeline] == [
        datetime(2024, 3, 5, 9, tzinfo=BJ),
        datetime(2024, 3, 5, 10, 30, tzinfo=BJ),
        datetime(2024, 3, 6, 16, tzinfo=BJ),
        datetime(2024, 3, 7, 11, tzinfo=BJ),
    ]
    assert {e.actor for e in timeline} == {"import"}
    assert all("imported from 历史事件.xlsx row 1" in e.note for e in timeline)
    assert timeline[-1].data == {"satisfaction": 4}


def test_open_cases_are_bound_today_and_told_only_when_asked(tiny_engine, tiny_settings):
    settings = tiny_settings
    outbox = scalar(tiny_engine, "SELECT count(*) FROM outbox")
    quiet = [case("O-1", status="办理中", reported_at="2026-10-01 09:00", dispatched_at="2026-10-01 09:30")]
    _, counted = load(tiny_engine, quiet, settings)
    case_ = stored(tiny_engine, "O-1")
    assert case_["status"] == "in_progress" and case_["closed_at"] is None and case_["resolved_at"] is None
    assert case_["deadline"] == datetime(2026, 10, 4, 9, 30, tzinfo=BJ)  # its own dispatch + 72 h
    officers = scalar(
        tiny_engine,
        "SELECT count(*) FROM incident_officers WHERE incident_id = :i AND officer_id IS NOT NULL",
        i=case_["id"],
    )
    assert officers > 0 and counted["bound"] >= officers
    assert scalar(tiny_engine, "SELECT count(*) FROM outbox") == outbox

    told = [case("O-2", status="已分拨", reported_at="2026-11-01 09:00")]
    _, counted = load(tiny_engine, told, settings, notify_open=True)
    assert counted["notified"] > 0
    assert scalar(tiny_engine, "SELECT count(*) FROM outbox") == outbox + counted["notified"]
    with tiny_engine.connect() as connection:
        steps = connection.execute(
            text("SELECT action FROM incident_events WHERE incident_id = :i ORDER BY at, id"), {"i": case_["id"]}
        ).scalars()
        assert list(steps) == ["report", "dispatch", "start"]  # starting: dated at the import


def test_bad_rows_are_reported_by_row_and_not_stored(tiny_engine, tiny_settings):
    settings = tiny_settings
    rows = [
        case("B-1", status="已办结", reported_at="2024-05-01 08:00", closed_at="2024-05-02 08:00"),
        case("B-2", reported_at="2024-05-01 08:00", lon=104.25, lat=30.00),  # 5 km east of the county
        case("B-3", reported_at="2024-05-01 08:00", lon=110.0, lat=35.0),  # far away
        case("B-4", reported_at="2024-05-01 08:00", lon=None, lat=None),
        case("B-5", category="垃圾分类", reported_at="2024-05-01 08:00"),
        case("B-6", status="已办结", reported_at="2024-05-03 08:00", closed_at="2024-05-02 08:00"),
        case("B-7", status="已办结", reported_at="2024-05-01 08:00"),
        case("B-8", reported_at="2030-01-01 08:00"),
        case("B-9", status="很好", satisfaction="挺好", reported_at="2024-05-01 08:00"),
        case("B-10", source=None, reported_at="2024-05-01 08:00", dispatched_at="2024-05-01 09:00"),
    ]
    source = table(rows)
    with tiny_engine.begin() as connection:
        prepared = prepare_history(connection, source, settings=settings)
    by_row = {}
    for problem in source.report.errors:
        by_row.setdefault(problem.row, []).append((problem.column, problem.reason))
    assert set(by_row) == {2, 3, 4, 5, 6, 7, 8, 9}
    ((column, reason),) = by_row[2]
    assert column == "经度" and reason.startswith("outside the county") and "nearest is 511421100202" in reason
    assert "outside the county" in by_row[3][0][1] and " m" in by_row[3][0][1]
    assert by_row[4] == [("经度", "the row has no coordinates (longitude and latitude)")]
    assert (
        by_row[5][0][0] == "事件类型"
        and "'垃圾分类'" in by_row[5][0][1]
        and "公共服务 (public_service)" in by_row[5][0][1]
    )
    assert by_row[6] == [("办结时间", "closed_at is before reported_at (上报时间)")]
    assert by_row[7] == [("办结时间", "the case is closed but its closing time is empty")]
    assert by_row[8] == [("上报时间", "reported_at '2030-01-01 08:00' is in the future")]
    assert {c for c, _ in by_row[9]} == {"办理状态", "满意度"} and "closed" in by_row[9][0][1] + by_row[9][1][1]
    # A row without a source loads as the default, said once for the file.
    assert [w.reason for w in source.report.problems if w.severity == "warning"][0].startswith(
        "rows without a source: 1;"
    )

    assert sorted(prepared.cases["external_id"]) == ["B-1", "B-10"]
    assert prepared.by_status == {"closed": 1, "dispatched": 1}  # B-10's status: from its times
    with tiny_engine.begin() as connection:
        write_history(connection, prepared, settings=settings, actor="county-office")
    assert stored(tiny_engine, "B-10")["source"] == DEFAULT_SOURCE
    for missing in ("B-2", "B-3", "B-4", "B-5", "B-6", "B-7", "B-8", "B-9"):
        assert stored(tiny_engine, missing) is None


def test_a_dry_run_stores_nothing_and_a_second_import_changes_nothing(tiny_engine, tiny_settings):
    settings = tiny_settings
    tally = "SELECT (SELECT count(*) FROM incidents) + (SELECT count(*) FROM incident_events) + (SELECT count(*) FROM audit_log)"
    before = scalar(tiny_engine, tally)
    with tiny_engine.begin() as connection:
        prepared = prepare_history(connection, table(closed_2024("R")), settings=settings)
    assert len(prepared.cases) == 2 and scalar(tiny_engine, tally) == before

    _, first = load(tiny_engine, closed_2024("R"), settings)
    assert first["created"] == 2 and first["existing"] == 0
    assert (
        scalar(tiny_engine, "SELECT count(*) FROM audit_log WHERE action = 'import' AND actor = 'county-office'") >= 1
    )
    after = scalar(tiny_engine, tally)
    _, again = load(tiny_engine, closed_2024("R"), settings)
    assert again["created"] == 0 and again["existing"] == 2 and again["events"] == 0
    assert scalar(tiny_engine, tally) == after


def test_cases_closed_in_2024_count_in_that_years_rankings_and_counts(tiny_engine, tiny_settings):
    settings = tiny_settings
    where = IncidentFilter(make_span("2024-01-01", "2025-01-01", zone=settings.place.timezone))

    def town_row():
        ranked = rankings(tiny_engine, where, "town", place=settings.place, as_of=datetime(2026, 11, 1, tzinfo=BJ))
        return ranked.set_index("code").loc[TOWN] if TOWN in set(ranked["code"]) else None

    def grid_count():
        found = counts(tiny_engine, where, "grid", place=settings.place)
        return int(found.set_index("code").loc[WEST + "001002", "count"])

    before, grid_before = town_row(), grid_count()
    load(tiny_engine, closed_2024("K"), settings)
    after = town_row()
    closed_before = 0 if before is None else int(before["closed"])
    assert int(after["closed"]) == closed_before + 2
    assert after["closed_rate"] > 0 and not math.isnan(after["satisfaction"])
    # Judged by their own dates: the first was resolved within its 72 hours, the dispute (336 hours
    # from 1 July) was resolved on 20 July, late.
    assert int(after["overdue"]) == (0 if before is None else int(before["overdue"])) + 1
    assert grid_count() == grid_before + 2


def test_other_states_their_own_deadline_and_repeated_case_numbers(tiny_engine, tiny_settings):
    rows = [
        case("S-1", status="不予受理", reported_at="2024-06-01 08:00", closed_at="2024-06-02 08:00"),
        case("S-2", status="已重办", reported_at="2024-06-01 08:00", closed_at="2024-06-03 08:00"),
        case("S-3", status="已分拨", reported_at="2024-06-01 08:00", deadline="2024-06-01 20:00"),
        case("S-3", status="已分拨", reported_at="2024-06-01 08:00", deadline="2024-06-01 20:00"),
        case("S-3", status="已办结", reported_at="2024-06-01 08:00", closed_at="2024-06-02 08:00"),
    ]
    source = table(rows)
    source.columns["deadline"] = "应办结时间"
    _, counted = load(tiny_engine, source, tiny_settings)
    assert counted["created"] == 3 and counted["skipped"] == 2
    problems = {(p.row, p.severity): p.reason for p in source.report.problems if p.row}
    assert problems[(4, "warning")] == "repeats row 3 exactly: loaded once"
    assert problems[(5, "error")] == "case number S-3 is also row 3's, with other contents"

    rejected, reopened, dispatched = (stored(tiny_engine, e) for e in ("S-1", "S-2", "S-3"))
    assert rejected["status"] == "rejected" and rejected["deadline"] is None
    assert reopened["status"] == "reopened" and reopened["closed_at"] == datetime(2024, 6, 3, 8, tzinfo=BJ)
    assert dispatched["deadline"] == datetime(2024, 6, 1, 20, tzinfo=BJ)  # the file's own
    with tiny_engine.connect() as connection:
        steps = connection.execute(
            text("SELECT action, at FROM incident_events WHERE incident_id = :i ORDER BY id"), {"i": rejected["id"]}
        ).all()
    assert [(s.action, s.at) for s in steps] == [
        ("report", datetime(2024, 6, 1, 8, tzinfo=BJ)),
        ("reject", datetime(2024, 6, 2, 8, tzinfo=BJ)),
    ]
