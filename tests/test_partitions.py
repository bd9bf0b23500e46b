"""Incidents and their timelines partitioned by county (``geo_service.db.partitions``, migration
0011): each county's rows in its own partitions, a county's queries reading only its own, a
second county's import writing only its own, and the migration there and back losing nothing.

The demo tests tell one story on one copy of the demo: the demo county's partitions, a second
county imported beside it, the queries of each county's users, external ids per county, and rows
recorded before their county had partitions moved out of the DEFAULT partition.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import text

from geo_service.auth.jurisdiction import EVERYTHING, resolve
from geo_service.cases import writer
from geo_service.cases.queries import page_and_count
from geo_service.db import migrate
from geo_service.db.engine import dispose_engines, get_engine
from geo_service.db.partitions import NO_COUNTY, ensure_county_partitions
from geo_service.rules.seed import seed_rules
from geo_service.settings import Settings

RENSHOU, XIANYOU, DAAN = "511421000000", "350322000000", "510304000000"


def rows_by_partition(engine, table: str) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(
            connection.execute(text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")).all()
        )


def partitions(engine, table: str) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.execute(
                text("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = CAST(:t AS regclass)"),
                {"t": table},
            ).scalars()
        )


def scanned(plan: dict) -> set[str]:
    """The incident tables a plan (EXPLAIN FORMAT JSON) reads."""
    found = {plan["Relation Name"]} if plan.get("Relation Name", "").startswith("incidents") else set()
    for child in plan.get("Plans", []):
        found |= scanned(child)
    return found


@pytest.fixture(scope="module")
def story(module_demo_copy_url):
    return get_engine(module_demo_copy_url)


def test_the_demo_county_lives_in_its_own_partitions(story):
    assert partitions(story, "incidents") == {"incidents_c511421", "incidents_default"}
    assert partitions(story, "incident_events") == {"incident_events_c511421", "incident_events_default"}
    assert rows_by_partition(story, "incidents") == {"incidents_c511421": 236_500}
    events = rows_by_partition(story, "incident_events")
    assert list(events) == ["incident_events_c511421"] and events["incident_events_c511421"] > 6 * 200_000
    with story.connect() as connection:  # the people bound to a case carry its county, as its key
        assert connection.execute(text("SELECT DISTINCT county_code FROM incident_officers")).scalars().all() == [
            RENSHOU
        ]


def _written(engine, relations: list[str], until=lambda counts: True) -> dict[str, tuple[int, int, int]]:
    """Rows inserted, updated and deleted in each relation, as the statistics have them once
    ``until`` holds (a backend's counts reach them when it ends, which takes a moment)."""
    dispose_engines()
    for _ in range(50):
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = ANY(:r)"
                ),
                {"r": relations},
            ).all()
        counts = {name: tuple(numbers) for name, *numbers in found}
        if until(counts):
            return counts
        time.sleep(0.2)
    raise AssertionError(f"the statistics never showed the writes: {counts}")


def test_a_second_countys_import_writes_only_its_own_partitions(story, tmp_path):
    from geo_service.county.load import crs_options, import_county

    from .county_files import make_county, write_county_files
    from .test_county_import import XIANYOU as OUTLINE

    demo = ["incidents_c511421", "incident_events_c511421"]
    before = _written(story, demo)
    county = make_county(OUTLINE, "350322", seed=3, towns=2, villages_per_town=2, grids_per_village=2, incidents=150)
    manifest = write_county_files(county, tmp_path)
    default, by_file = crs_options(manifest.crs_options()[1::2])
    report = import_county(
        story,
        [manifest.folder],
        settings=Settings(database_url=story.url.render_as_string(hide_password=False)),
        actor="tests",
        crs=default,
        crs_by_file=by_file,
        skip_bad_rows=True,
    )
    assert report.stored and report.summary["boundaries"]["outcome"] == "published", report.to_dict()
    created = report.summary["incidents"]["created"]
    assert created > 100

    assert "incidents_c350322" in partitions(story, "incidents")
    assert "incident_events_c350322" in partitions(story, "incident_events")
    assert rows_by_partition(story, "incidents") == {"incidents_c511421": 236_500, "incidents_c350322": created}
    events = rows_by_partition(story, "incident_events")
    assert set(events) == {"incident_events_c511421", "incident_events_c350322"}
    assert events["incident_events_c350322"] == report.summary["incidents"]["events"]
    # The demo's partitions were not written; the statistics see the import's writes (a control).
    after = _written(story, [*demo, "incidents_c350322"], until=lambda c: c["incidents_c350322"][0] >= created)
    assert {name: after[name] for name in demo} == before


def _plan(engine, sql: str, params: dict) -> dict:
    with engine.connect() as connection:
        return connection.execute(text("EXPLAIN (FORMAT JSON) " + sql), params).scalar()[0]["Plan"]


@pytest.mark.parametrize(
    ("user", "read"),
    [
        (RENSHOU, {"incidents_c511421"}),
        (XIANYOU, {"incidents_c350322"}),
        ("511400000000", {"incidents_c511421"}),  # the city of Meishan: its one county here
        (None, {"incidents_c511421", "incidents_c350322", "incidents_default"}),  # the whole deployment
    ],
)
def test_a_countys_incident_list_reads_only_its_partition(story, user, read):
    with story.connect() as connection:
        scope = resolve(connection, user, "Asia/Shanghai") if user else EVERYTHING
    where = f" WHERE {scope.incidents('i')}"
    page, count = page_and_count(where)
    for sql in (page, count):
        assert scanned(_plan(story, sql, {**scope.params(), "limit": 100, "offset": 0})) == read


def _incident(external_id: str, county: str | None, lon: float = 104.1, lat: float = 30.0) -> dict:
    return {
        "external_id": external_id,
        "source": "hotline_12345",
        "category": "security_hazard",
        "reported_at": pd.Timestamp("2026-05-01T08:00:00Z"),
        "lon": lon,
        "lat": lat,
        "input_datum": "cgcs2000",
        "input_lon": lon,
        "input_lat": lat,
        "county_code": county,
    }


def test_external_ids_are_unique_within_a_county(story):
    with story.begin() as connection:
        first = writer.insert_incidents(connection, pd.DataFrame([_incident("SHARED-1", RENSHOU)]))
        other = writer.insert_incidents(connection, pd.DataFrame([_incident("SHARED-1", XIANYOU)]))
        again = writer.insert_incidents(
            connection, pd.DataFrame([_incident("SHARED-1", RENSHOU), _incident("SHARED-1", XIANYOU)])
        )
        nowhere = writer.insert_incidents(connection, pd.DataFrame([_incident("NOWHERE-1", None)] * 2))
        stored = connection.execute(
            text("SELECT tableoid::regclass::text, county_code FROM incidents WHERE external_id = 'NOWHERE-1'")
        ).all()
    assert len(first) == len(other) == 1 and first["id"].iloc[0] != other["id"].iloc[0]
    assert again.empty
    assert len(nowhere) == 1 and stored == [("incidents_default", NO_COUNTY)]  # no county: one, in DEFAULT


def test_rows_recorded_before_their_countys_partitions_move_into_them(story):
    """A county whose cases arrived before its partitions: creating them moves its rows out of
    DEFAULT with everything that refers to them, ids and all."""
    now = datetime.now(UTC)
    with story.begin() as connection:
        ids = writer.insert_incidents(
            connection, pd.DataFrame([_incident("EARLY-1", DAAN), _incident("EARLY-2", DAAN)])
        )["id"].tolist()
        merged = writer.insert_incidents(connection, pd.DataFrame([_incident("LATE-1", RENSHOU)]))["id"].iloc[0]
        connection.execute(
            text("UPDATE incidents SET merged_into_id = :t, merged_into_county_code = :c WHERE id = :id"),
            {"t": ids[0], "c": DAAN, "id": int(merged)},
        )
        events = pd.DataFrame({"incident_id": ids * 3, "at": now, "actor": "tests", "action": "report"})
        writer.add_events(connection, events)
        # The writer checks its keys with generic plans (partitions.generic_key_checks), and only while it writes.
        assert connection.execute(text("SELECT current_setting('plan_cache_mode')")).scalar() == "auto"
        role = connection.execute(text("SELECT code FROM roles ORDER BY code LIMIT 1")).scalar()
        for statement in (
            "INSERT INTO incident_officers (incident_id, county_code, tier, position, role) "
            "VALUES (:id, :c, 'village', 1, :role)",
            "INSERT INTO outbox (incident_id, county_code, kind, payload) VALUES (:id, :c, 'dispatch', '{}')",
            "INSERT INTO incident_extensions (incident_id, county_code, requested_at, requested_by, hours) "
            "VALUES (:id, :c, now(), 'tests', 8)",
        ):
            connection.execute(text(statement), {"id": ids[0], "c": DAAN, "role": role})
    placed = "SELECT tableoid::regclass::text FROM {table} WHERE {key} = ANY(:ids) GROUP BY 1"
    with story.connect() as connection:
        assert connection.execute(text(placed.format(table="incidents", key="id")), {"ids": ids}).scalars().all() == [
            "incidents_default"
        ]

    with story.begin() as connection:
        assert ensure_county_partitions(connection, DAAN) == ["incidents_c510304", "incident_events_c510304"]
        assert ensure_county_partitions(connection, DAAN) == []  # once

    with story.connect() as connection:
        where = {"ids": ids}
        assert connection.execute(text(placed.format(table="incidents", key="id")), where).scalars().all() == [
            "incidents_c510304"
        ]
        assert connection.execute(
            text(placed.format(table="incident_events", key="incident_id")), where
        ).scalars().all() == ["incident_events_c510304"]
        assert (
            connection.execute(
                text("SELECT count(*) FROM incident_events WHERE incident_id = ANY(:ids) AND county_code = :c"),
                {**where, "c": DAAN},
            ).scalar()
            == 6
        )
        for table in ("incident_officers", "outbox", "incident_extensions"):
            assert connection.execute(
                text(f"SELECT county_code FROM {table} WHERE incident_id = :id"), {"id": ids[0]}
            ).scalars().all() == [DAAN], table
        assert connection.execute(
            text("SELECT merged_into_id, merged_into_county_code FROM incidents WHERE id = :id"), {"id": int(merged)}
        ).one() == (ids[0], DAAN)
    assert rows_by_partition(story, "incidents")["incidents_c511421"] == 236_500 + 2  # SHARED-1, LATE-1


def _rows(connection, table: str) -> list[tuple]:
    return [tuple(r) for r in connection.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()]


INCIDENT = """
    INSERT INTO incidents (id, external_id, source, category, reported_at, geom, input_datum, input_lon,
                           input_lat, county_code, merged_into_id, status)
    VALUES (:id, :ext, 'hotline_12345', 'security_hazard', '2025-03-01T08:00:00Z', ST_SetSRID(ST_MakePoint(104, 30), 4490),
            'cgcs2000', 104, 30, :county, :merged, :status)
"""


def test_the_migration_moves_every_row_into_its_partition_and_back(scratch_url):
    migrate.upgrade(scratch_url, "0010")
    engine = get_engine(scratch_url)
    with engine.begin() as connection:
        seed_rules(connection.connection.cursor())
        cases = [(1, RENSHOU, None, "dispatched"), (2, XIANYOU, 1, "merged"), (3, None, None, "reported")]
        for number, county, merged, status in cases:
            connection.execute(
                text(INCIDENT),
                {"id": number, "ext": f"M-{number}", "county": county, "merged": merged, "status": status},
            )
        connection.execute(text("SELECT setval('incidents_id_seq', 3)"))
        for number, _, _, _ in cases:
            for action in ("report", "dispatch"):
                connection.execute(
                    text("INSERT INTO incident_events (incident_id, at, actor, action) VALUES (:i, now(), 'm', :a)"),
                    {"i": number, "a": action},
                )
        connection.execute(
            text("INSERT INTO incident_officers (incident_id, tier, position, role) VALUES (1, 'village', 1, :r)"),
            {"r": connection.execute(text("SELECT code FROM roles LIMIT 1")).scalar()},
        )
        connection.execute(text("INSERT INTO outbox (incident_id, kind, payload) VALUES (3, 'dispatch', '{}')"))
        connection.execute(text("INSERT INTO outbox (kind, payload) VALUES ('digest', '{}')"))
        connection.execute(
            text(
                "INSERT INTO incident_extensions (incident_id, requested_at, requested_by, hours) VALUES (2, now(), 'm', 4)"
            )
        )
    tables = ("incidents", "incident_events", "incident_officers", "outbox", "incident_extensions")
    with engine.connect() as connection:
        before = {table: _rows(connection, table) for table in tables}
    dispose_engines()

    migrate.upgrade(scratch_url)
    assert rows_by_partition(engine, "incidents") == {
        "incidents_c511421": 1,
        "incidents_c350322": 1,
        "incidents_default": 1,
    }
    assert rows_by_partition(engine, "incident_events") == {
        "incident_events_c511421": 2,
        "incident_events_c350322": 2,
        "incident_events_default": 2,
    }
    with engine.begin() as connection:
        assert connection.execute(
            text("SELECT id, county_code, merged_into_county_code FROM incidents ORDER BY id")
        ).all() == [
            (1, RENSHOU, None),
            (2, XIANYOU, RENSHOU),
            (3, NO_COUNTY, None),
        ]
        assert connection.execute(
            text("SELECT id, action FROM incident_events WHERE incident_id = 1 ORDER BY id")
        ).all() == [(1, "report"), (2, "dispatch")]
        assert connection.execute(text("SELECT incident_id, county_code FROM outbox ORDER BY id")).all() == [
            (3, NO_COUNTY),
            (None, None),
        ]
        assert connection.execute(text("SELECT nextval('incidents_id_seq')")).scalar() == 4  # the sequence goes on
        # 0011 holds an external id in two counties; 0010 cannot, and the downgrade says so.
        connection.execute(
            text(INCIDENT), {"id": 4, "ext": "M-1", "county": XIANYOU, "merged": None, "status": "reported"}
        )
    dispose_engines()
    with pytest.raises(RuntimeError, match="M-1"):
        migrate.downgrade(scratch_url, "0010")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM incidents WHERE id = 4"))
        connection.execute(text("SELECT setval('incidents_id_seq', 3)"))
    dispose_engines()

    migrate.downgrade(scratch_url, "0010")
    with engine.connect() as connection:
        after = {table: _rows(connection, table) for table in tables}
        assert connection.execute(text("SELECT nextval('incidents_id_seq')")).scalar() == 4
    assert after == before
