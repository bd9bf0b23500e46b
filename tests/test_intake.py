"""The set-based intake stores what the writer before it stored, row for row; a file streamed in
chunks is recorded as if read whole."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo_service.cases import batch
from geo_service.cases.batch import import_file, import_incidents
from geo_service.cases.places import PLACE, Place, resolve_places
from geo_service.cases.responsibility import responsible, unit_chain
from geo_service.db.engine import get_engine
from geo_service.lookup.bulk_assign import assign_points, snapshot
from geo_service.lookup.point_files import read_point_chunks, read_points
from geo_service.settings import Settings
from geo_service.vocabulary import TIERS

from .tiny_county import WEST

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_import import import_before  # noqa: E402  the writer as it was, kept by its benchmark

# What a case keeps, with the moment of recording (which differs between two recordings) taken out.
INCIDENTS = """
    SELECT substr(external_id, 3) AS n, source, category, reported_at, description, ST_AsText(geom) AS geom,
           input_datum, input_lon, input_lat, boundary_version_id, grid_id, grid_code, village_code, town_code,
           county_code, risk_colour, status, tier, deadline - dispatched_at AS allowed, matter, department
      FROM incidents WHERE external_id LIKE :prefix ORDER BY 1
"""
EVENTS = """
    SELECT substr(i.external_id, 3) AS n, e.action, e.actor, e.from_status, e.to_status, e.note, e.data::text AS data,
           CASE WHEN e.at = i.reported_at THEN 'reported' WHEN e.at = i.dispatched_at THEN 'recorded' END AS at
      FROM incident_events e JOIN incidents i ON i.id = e.incident_id AND i.county_code = e.county_code
     WHERE i.external_id LIKE :prefix ORDER BY 1, e.id
"""
BOUND = """
    SELECT substr(i.external_id, 3) AS n, b.tier, b.position, b.role, b.officer_id, b.unit_code, b.released_at,
           b.bound_at = i.dispatched_at AS at_recording
      FROM incident_officers b JOIN incidents i ON i.id = b.incident_id AND i.county_code = b.county_code
     WHERE i.external_id LIKE :prefix ORDER BY 1, b.id
"""
TOLD = """
    SELECT substr(i.external_id, 3) AS n, o.kind, o.officer_id, o.role,
           (o.payload - 'incident_id' - 'external_id' - 'deadline' - 'note_t')::text AS payload,
           o.payload->>'deadline' = to_json(i.deadline)#>>'{}' AS deadline_as_stored,
           o.payload->'note_t' = (SELECT e.data->'note_t' FROM incident_events e
                                   WHERE e.incident_id = i.id AND e.action = 'dispatch') AS note_kept
      FROM outbox o JOIN incidents i ON i.id = o.incident_id AND i.county_code = o.county_code
     WHERE i.external_id LIKE :prefix ORDER BY 1, o.id
"""


def _stored(engine, prefix: str) -> dict[str, pd.DataFrame]:
    with engine.connect() as connection:
        return {
            name: pd.read_sql(text(sql), connection, params={"prefix": prefix + "%"})
            for name, sql in (("incidents", INCIDENTS), ("events", EVENTS), ("bound", BOUND), ("told", TOLD))
        }


def _demo_rows(engine, settings) -> pd.DataFrame:
    """Two points in every grid and a few near the county but outside every grid, of every colour, reported
    in the last weeks."""
    rng = np.random.default_rng(19)
    with engine.connect() as connection:
        inside = pd.read_sql(
            text("""SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (
                      SELECT (ST_Dump(ST_GeneratePoints(geom, :each, 19))).geom AS p
                        FROM grids WHERE level = 1) x"""),
            connection,
            params={"each": 2},
        )
        snap = snapshot(connection, None, settings)
        minx, miny, maxx, maxy = connection.execute(
            text("""SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
                      FROM (SELECT ST_Expand(ST_Extent(geom)::geometry, 0.03) AS e FROM grids) x""")
        ).one()
    lon, lat = rng.uniform(minx, maxx, 4000), rng.uniform(miny, maxy, 4000)
    assigned = assign_points(snap, lon, lat, "cgcs2000")
    near = assigned["status"].to_numpy() == "outside_grids"
    points = pd.concat([inside, pd.DataFrame({"lon": lon[near][:30], "lat": lat[near][:30]})], ignore_index=True)
    count = len(points)
    return pd.DataFrame(
        {
            "external_id": [f"{k:06d}" for k in range(count)],
            "category": rng.choice(["public_service", "dispute", "security_hazard", "emergency"], count),
            "source": rng.choice(["grid_app", "hotline_12345", "citizen"], count),
            "reported_at": (
                pd.Timestamp.now(tz="Asia/Shanghai") - pd.to_timedelta(rng.integers(60, 40 * 86400, count), unit="s")
            ).strftime("%Y-%m-%dT%H:%M:%S%z"),
            "risk_colour": rng.choice(["blue", "yellow", "red"], count, p=[0.6, 0.25, 0.15]),
            "description": "a test",
            "lon": points["lon"],
            "lat": points["lat"],
        }
    )


def test_a_file_is_stored_as_the_writer_before_stored_it(demo_copy_url):
    settings = Settings(database_url=demo_copy_url)
    engine = get_engine(demo_copy_url)
    with engine.begin() as connection:
        # A village whose every post has been left: its cases go up to the town, with a note saying so.
        village = snapshot(connection, None, settings).table["village_code"].iloc[0]
        connection.execute(text("DELETE FROM officer_assignments WHERE unit_code LIKE :v"), {"v": village + "%"})
    rows = _demo_rows(engine, settings)
    lon, lat = rows["lon"].to_numpy(), rows["lat"].to_numpy()
    assert (rows["external_id"].str.len() > 0).all()

    now_way = import_incidents(
        engine, rows.assign(external_id="A-" + rows["external_id"]), lon, lat, "cgcs2000", actor="t", settings=settings
    )
    import_before(engine, rows.assign(external_id="B-" + rows["external_id"]), lon, lat, "cgcs2000", settings)
    assert now_way.count("created") == len(rows)

    new, before = _stored(engine, "A-"), _stored(engine, "B-")
    # The writer before kept no message's note for rendering in Chinese (``note_t``): the rest is the same.
    for name in new:
        same = [c for c in new[name].columns if c != "note_kept"]
        pd.testing.assert_frame_equal(new[name][same], before[name][same], check_like=False, obj=name)
    assert (new["told"]["deadline_as_stored"]).all()
    assert new["told"]["note_kept"].all()  # each message keeps its note as the timeline does
    incidents = new["incidents"]
    # The sample holds what makes the difference: cases outside every grid, cases sent up a tier,
    # each colour, vacancies named in the routing notes.
    assert (incidents["status"] == "reported").sum() > 0
    assert (incidents["tier"] != "village").sum() > 0
    assert set(incidents["risk_colour"]) == {"blue", "yellow", "red"}
    assert new["events"]["note"].fillna("").str.contains("vacant").any()
    assert (new["events"]["action"] == "escalate").sum() == (incidents["tier"] != "village").sum()


def test_each_place_gets_the_people_one_place_at_a_time_gets(engine, settings):
    with engine.connect() as connection:
        snap = snapshot(connection, None, settings)
        table = snap.table.sample(120, random_state=3)
        places = pd.DataFrame(
            {
                "grid_code": np.repeat(table["code"].to_numpy(), 3),
                "grid_name": np.repeat(table["name"].to_numpy(), 3),
                "village_code": np.repeat(table["village_code"].to_numpy(), 3),
                "town_code": np.repeat(table["town_code"].to_numpy(), 3),
                "county_code": np.repeat(table["county_code"].to_numpy(), 3),
                "risk_colour": ["blue", "yellow", "red"] * len(table),
            }
        )[PLACE]
        day = pd.Timestamp.now(tz="Asia/Shanghai").date()
        many = resolve_places(connection, [Place(*row) for row in places.itertuples(index=False)], day)
        for n, place in enumerate(places.itertuples(index=False)):
            one = responsible(
                connection,
                unit_chain(place.grid_code, place.village_code, place.town_code, place.county_code),
                day,
                place.risk_colour,
            )
            tier = next((t for t in TIERS if any(p.officer_code for p in one[t])), TIERS[-1])
            assert many.tiers[n] == tier
            assert many.people[n] == one[tier]
            bound = [(b.tier, b.role, b.unit_code) for b in many.bound if b.place == n]
            expected = [p for t in TIERS[: TIERS.index(tier) + 1] for p in one[t]]
            assert bound == [(p.tier, p.role, p.unit_code) for p in expected]


def _tiny_rows(count: int) -> pd.DataFrame:
    spots = [(104.07, 30.04), (104.075, 29.975), (104.25, 30.02), (104.01, 30.04)]  # the last two: outside, and west
    return pd.DataFrame(
        {
            "external_id": [f"CH-{k}" for k in range(count)],
            "category": "public_service",
            "source": "grid_app",
            "reported_at": "2026-02-01T09:00:00+08:00",
            "risk_colour": ["blue", "red", "yellow"] * (count // 3) + ["blue"] * (count % 3),
            "lon": [spots[k % 4][0] for k in range(count)],
            "lat": [spots[k % 4][1] for k in range(count)],
        }
    )


def test_a_file_read_in_chunks_is_recorded_as_if_read_whole(tiny_engine, settings, tmp_path, monkeypatch):
    rows = _tiny_rows(23)
    rows.loc[17, "external_id"] = "CH-2"  # repeated three chunks after its first
    rows.loc[20, "external_id"] = " CH-5 "  # the same once trimmed, in the next chunk
    path = tmp_path / "chunks.csv"
    rows.to_csv(path, index=False)
    monkeypatch.setattr(batch, "CHUNK_ROWS", 5)
    chunks = list(read_point_chunks(path, rows=5))
    assert sum(len(c[0]) for c in chunks) == 23 and len(chunks) >= 4
    whole = read_points(path)
    pd.testing.assert_frame_equal(pd.concat([c[0] for c in chunks], ignore_index=True), whole[0])

    result = import_file(tiny_engine, path, actor="chunks", settings=settings)
    assert list(result.rows["row"]) == list(range(1, 24))
    statuses = result.rows.set_index("row")["status"]
    assert statuses[18] == "duplicate" and statuses[21] == "duplicate"
    assert (statuses.drop([18, 21]) == "created").all()
    ids = result.rows.set_index("row")["id"]
    assert ids[18] == ids[3] and ids[21] == ids[6]
    with tiny_engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM incidents WHERE external_id LIKE 'CH-%'")).scalar()
        audits = connection.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'import' AND actor = 'chunks'")
        ).scalar()
        grids = dict(
            connection.execute(
                text("SELECT external_id, grid_code FROM incidents WHERE external_id IN ('CH-0', 'CH-3')")
            ).all()
        )
    assert stored == 21 and audits == 5  # one entry for each chunk written
    assert grids == {"CH-0": WEST + "002", "CH-3": WEST + "001001"}


def test_one_bad_row_in_a_late_chunk_leaves_nothing_stored(tiny_engine, settings, tmp_path, monkeypatch):
    rows = _tiny_rows(12).assign(external_id=lambda f: "AON-" + f["external_id"])
    rows.loc[11, "category"] = "graffiti"
    path = tmp_path / "all_or_nothing.csv"
    rows.to_csv(path, index=False)
    monkeypatch.setattr(batch, "CHUNK_ROWS", 4)
    result = import_file(tiny_engine, path, all_or_nothing=True, actor="t", settings=settings)
    assert not result.committed
    assert list(result.errors["row"]) == [12] and "unknown category 'graffiti'" in result.errors["error"].iloc[0]
    assert result.rows["id"].isna().all()
    with tiny_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM incidents WHERE external_id LIKE 'AON-%'")).scalar() == 0


@pytest.mark.parametrize("content", ["", "external_id,lon,lat\n"])
def test_an_empty_file_records_nothing(tiny_engine, settings, tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_text(content + ("" if content else "external_id,category,source,reported_at,lon,lat\n"))
    if content:  # the columns of a new report are missing: named, nothing stored
        with pytest.raises(Exception, match="no column"):
            import_file(tiny_engine, path, actor="t", settings=settings)
        return
    result = import_file(tiny_engine, path, actor="t", settings=settings)
    assert result.committed and len(result.rows) == 0
