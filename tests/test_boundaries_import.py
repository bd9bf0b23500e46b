"""Importing planners' files on the tiny county: bad files are refused whole, good ones in any
format and datum arrive intact, invalid shapes are reported with their repair, and the API
drives the same steps."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import datetime

import geopandas as gpd
import pandas as pd
import psycopg2
import pytest
import shapely
from shapely import box
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geo_service.boundaries.checks import check_version
from geo_service.boundaries.drafts import import_draft, retire_draft
from geo_service.boundaries.file_reading import read_boundary_file
from geo_service.boundaries.publishing import publish, repair_draft
from geo_service.db.copy import copy_frame
from geo_service.errors import Conflict, InvalidInput
from geo_service.settings import Settings

from .conftest import scalar
from .tiny_county import BJ, COUNTY, EAST, V2_GRIDS, WEST

NOW = datetime(2026, 11, 20, tzinfo=BJ)


@pytest.fixture(scope="module")
def tiny_settings(tiny_url: str) -> Settings:
    return Settings(database_url=tiny_url)


def _frame(grids: dict, crs: str = "EPSG:4490") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": list(grids), "name": [f"grid {c[-3:]}" for c in grids]},
        geometry=[g for _, g in grids.values()],
        crs=crs,
    )


def _versions(engine) -> int:
    return scalar(engine, "SELECT count(*) FROM boundary_versions")


def test_a_bad_file_is_refused_whole_with_every_problem_named(tiny_engine, tiny_settings, tmp_path):
    rows = [
        ("5114211002010", box(104.0, 30.0, 104.05, 30.05)),  # 13 digits
        (WEST + "002", box(104.05, 30.0, 104.1, 30.05)),
        (WEST + "002", box(104.0, 29.95, 104.1, 30.0)),  # duplicate
        (WEST + "000", box(104.0, 29.95, 104.05, 30.0)),  # sequence 000
        (WEST + "003", shapely.Point(104.02, 30.02)),  # not a polygon
        (WEST + "004001", box(104.0, 29.95, 104.01, 29.96)),  # sub-grid without its parent
    ]
    path = tmp_path / "bad.geojson"
    gpd.GeoDataFrame({"code": [c for c, _ in rows]}, geometry=[g for _, g in rows], crs="EPSG:4490").to_file(path)
    before = _versions(tiny_engine)
    with pytest.raises(InvalidInput) as caught:
        read_boundary_file(path)
    problems = caught.value.detail["problems"]
    assert {(p["feature"], p["field"]) for p in problems} == {
        (1, "code"),
        (2, "code"),
        (3, "code"),
        (4, "code"),
        (5, "geometry"),
        (6, "code"),
    }
    assert "nothing was imported" in caught.value.message and "feature 1" in caught.value.message
    assert _versions(tiny_engine) == before


def test_an_unknown_village_stops_the_import_and_nothing_is_stored(tiny_engine, tiny_settings, tmp_path):
    path = tmp_path / "stray.geojson"
    _frame({WEST + "001": V2_GRIDS[WEST + "001"], "511421100299001": (1, box(104.0, 29.95, 104.1, 30.0))}).to_file(path)
    before = (_versions(tiny_engine), scalar(tiny_engine, "SELECT count(*) FROM grids"))
    with pytest.raises(InvalidInput, match="feature 2.*511421100299"):
        import_draft(tiny_engine, read_boundary_file(path), name="stray", settings=tiny_settings)
    assert (_versions(tiny_engine), scalar(tiny_engine, "SELECT count(*) FROM grids")) == before


@pytest.mark.parametrize("crs, message", [(None, "does not say its coordinate system"), ("gcj02", "projected CRS")])
def test_the_datum_must_be_known_and_consistent(tmp_path, crs, message):
    frame = _frame({WEST + "001": V2_GRIDS[WEST + "001"]})
    if crs is None:  # a Shapefile without its .prj says nothing (a GeoJSON is WGS84 by definition)
        frame.set_crs(None, allow_override=True).to_file(tmp_path / "grids.shp")
        path = tmp_path / "grids.zip"
        with zipfile.ZipFile(path, "w") as z:
            for part in tmp_path.glob("grids.*"):
                if part.suffix != ".zip":
                    z.write(part, part.name)
    else:
        path = tmp_path / "grids.gpkg"
        frame.to_crs("EPSG:4544").to_file(path)
    with pytest.raises(InvalidInput, match=message):
        read_boundary_file(path, crs=crs)


def test_a_zipped_shapefile_in_metres_with_numeric_codes(tiny_engine, tiny_settings, tmp_path):
    frame = _frame({code: V2_GRIDS[code] for code in (WEST + "001", WEST + "002")}).to_crs("EPSG:4544")
    frame["code"] = frame["code"].astype("int64")  # as surveying offices' Shapefiles often store them
    frame["户数"] = [320, 410]
    frame.to_file(tmp_path / "west.shp")
    archive = tmp_path / "west.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("west.*"):
            if part.suffix != ".zip":
                z.write(part, part.name)
    boundary_file = read_boundary_file(archive)
    assert boundary_file.datum == "cgcs2000" and boundary_file.estimated == ("population",)
    result = import_draft(tiny_engine, boundary_file, name="west-shp", partial=True, settings=tiny_settings)
    assert result.replaced_villages == (WEST,)
    with tiny_engine.connect() as connection:
        rows = dict(
            connection.execute(
                text("SELECT code, households FROM grids WHERE version_id = :v AND left(code, 12) = :w"),
                {"v": result.version.id, "w": WEST},
            ).all()
        )
        east = connection.execute(
            text("SELECT count(*) FROM grids WHERE version_id = :v AND left(code, 12) = :e"),
            {"v": result.version.id, "e": EAST},
        ).scalar()
    assert rows == {WEST + "001": 320, WEST + "002": 410} and east == 2
    assert result.problems["overlap"] == result.problems["gap"] == 0
    retire_draft(tiny_engine, "west-shp")
    with pytest.raises(Conflict, match="retired"):
        publish(tiny_engine, "west-shp", datetime(2027, 1, 1, tzinfo=BJ), settings=tiny_settings, now=NOW)


def test_an_invalid_shape_is_reported_with_its_repair_and_repaired_on_request(tiny_engine, tiny_settings, tmp_path):
    # The north grid drawn as a bow tie: its ring crosses itself at (104.05, 30.025).
    bowtie = shapely.Polygon([(104.0, 30.0), (104.1, 30.05), (104.1, 30.0), (104.0, 30.05), (104.0, 30.0)])
    grids = {WEST + "001": (1, bowtie), WEST + "002": V2_GRIDS[WEST + "002"]}
    path = tmp_path / "bowtie.geojson"
    _frame(grids).to_file(path)
    result = import_draft(tiny_engine, read_boundary_file(path), name="bowtie", partial=True, settings=tiny_settings)
    # The tiny county's east grid is invalid too (two squares sharing an edge in one MultiPolygon).
    assert result.problems["invalid_geometry"] == 2
    report = check_version(tiny_engine, result.version.id, settings=tiny_settings)
    invalid = report.problems[report.problems["grid_code"] == WEST + "001"].iloc[0]
    assert invalid["grid_code"] == WEST + "001" and "Self-intersection" in invalid["message"]
    assert invalid["location"].distance(shapely.Point(104.05, 30.025)) < 1e-9
    # Repaired, the bow tie is its two triangles: half of the square it spans.
    assert invalid["repaired"].is_valid and len(invalid["repaired"].geoms) == 2
    assert invalid["repaired"].area == pytest.approx(0.1 * 0.05 / 2)
    # The bow tie leaves two triangles of its square uncovered: gaps, found on the repaired shape.
    assert report.summary()["gap"] == 2
    assert repair_draft(tiny_engine, "bowtie", [WEST + "001"]) == [WEST + "001"]
    assert check_version(tiny_engine, result.version.id, settings=tiny_settings).summary()["invalid_geometry"] == 1


def test_published_boundaries_are_frozen(tiny_engine):
    with pytest.raises(DBAPIError, match="published boundary version"), tiny_engine.begin() as connection:
        connection.execute(text("UPDATE grids SET name = 'renamed' WHERE version_id = 1"))
    with pytest.raises(DBAPIError, match="cannot be deleted"), tiny_engine.begin() as connection:
        connection.execute(text("DELETE FROM boundary_versions WHERE id = 1"))
    with pytest.raises(DBAPIError, match="moved in time"), tiny_engine.begin() as connection:
        connection.execute(text("UPDATE boundary_versions SET effective_from = now() WHERE id = 2"))


# Copies of version 1's rows into version ``:v`` under new codes, so that only the freeze can
# refuse them: its county, its west village (in the county ``:parent``) and the village's grid ...001
# (in the village ``:village``).
_ADD_COUNTY = f"""
    INSERT INTO admin_units (version_id, code, level, kind, name, geom)
    SELECT :v, '511499000000', level, kind, 'added', geom FROM admin_units WHERE version_id = 1 AND code = '{COUNTY}'
    RETURNING id
"""
_ADD_VILLAGE = f"""
    INSERT INTO admin_units (version_id, code, level, kind, name, parent_id, geom)
    SELECT :v, '511499100201', level, kind, 'added', :parent, geom FROM admin_units WHERE version_id = 1 AND code = '{WEST}'
    RETURNING id
"""
_ADD_GRID = f"""
    INSERT INTO grids (version_id, code, name, level, kind, village_id, geom)
    SELECT :v, '511499100201' || :n, 'added', level, kind, :village, geom FROM grids WHERE version_id = 1 AND code = '{WEST}001'
    RETURNING id
"""


def test_published_and_retired_boundaries_take_no_new_rows(tiny_engine):
    """Rows cannot be added to a published version, by INSERT, COPY or by moving a draft's row into
    it, nor to a retired one; a draft takes them. Nothing is left behind."""
    rows = "SELECT (SELECT count(*) FROM admin_units) + (SELECT count(*) FROM grids)"
    before = scalar(tiny_engine, rows)
    county_1 = scalar(tiny_engine, f"SELECT id FROM admin_units WHERE version_id = 1 AND code = '{COUNTY}'")
    village_1 = scalar(tiny_engine, f"SELECT id FROM admin_units WHERE version_id = 1 AND code = '{WEST}'")
    with tiny_engine.connect() as connection:
        for sql, table, params in (
            (_ADD_COUNTY, "admin_units", {"v": 1}),
            (_ADD_VILLAGE, "admin_units", {"v": 1, "parent": county_1}),
            (_ADD_GRID, "grids", {"v": 1, "n": "001", "village": village_1}),
        ):
            with (
                pytest.raises(
                    DBAPIError,
                    match=f"{table} of published boundary version 1 cannot be added to: import a new draft instead",
                ),
                connection.begin_nested(),
            ):
                connection.execute(text(sql), params)
        # COPY, the way bulk loads write (the demo's among them), fires the same trigger.
        row = (
            connection.execute(
                text(f"""SELECT version_id, '511499100201001' AS code, 'added' AS name, level, kind, village_id,
                                encode(ST_AsEWKB(geom), 'hex') AS geom
                           FROM grids WHERE version_id = 2 AND code = '{WEST}001'""")
            )
            .mappings()
            .one()
        )
        with pytest.raises(psycopg2.Error, match="grids of published boundary version 2 cannot be added to"):
            copy_frame(connection.connection.cursor(), "grids", pd.DataFrame([dict(row)]))
        connection.rollback()
    assert scalar(tiny_engine, rows) == before

    with tiny_engine.connect() as connection:
        draft = connection.execute(
            text("INSERT INTO boundary_versions (name, status) VALUES ('frozen-check', 'draft') RETURNING id")
        ).scalar_one()
        county = connection.execute(text(_ADD_COUNTY), {"v": draft}).scalar_one()
        village = connection.execute(text(_ADD_VILLAGE), {"v": draft, "parent": county}).scalar_one()
        grid = connection.execute(text(_ADD_GRID), {"v": draft, "n": "001", "village": village}).scalar_one()
        assert connection.execute(text("SELECT count(*) FROM grids WHERE version_id = :v"), {"v": draft}).scalar() == 1
        with (
            pytest.raises(DBAPIError, match="grids of published boundary version 1 cannot be added to"),
            connection.begin_nested(),
        ):
            connection.execute(
                text("UPDATE grids SET version_id = 1, village_id = :u WHERE id = :g"), {"u": village_1, "g": grid}
            )
        connection.execute(text("UPDATE boundary_versions SET status = 'retired' WHERE id = :v"), {"v": draft})
        with (
            pytest.raises(DBAPIError, match=f"grids of retired boundary version {draft} cannot be added to"),
            connection.begin_nested(),
        ):
            connection.execute(text(_ADD_GRID), {"v": draft, "n": "002", "village": village})
        connection.rollback()
    assert scalar(tiny_engine, rows) == before


def test_the_planners_api_from_upload_to_export(tiny_client, tmp_path):
    grids = {
        WEST + "001": (1, box(104.00, 30.00, 104.06, 30.05)),
        WEST + "002": (1, box(104.00, 29.95, 104.10, 30.00)),
        WEST + "009": (1, box(104.06, 30.00, 104.10, 30.05)),
        # The whole county, with the east grid drawn validly (one L-shaped polygon).
        EAST + "001": (1, shapely.union(*[g for g in V2_GRIDS[EAST + "001"][1].geoms])),
        EAST + "002": V2_GRIDS[EAST + "002"],
    }
    path = tmp_path / "split.geojson"
    _frame(grids).to_file(path)
    with path.open("rb") as f:
        created = tiny_client.post(
            "/boundaries/drafts", files={"file": ("split.geojson", f)}, data={"name": "api-split", "crs": "cgcs2000"}
        )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["version"]["status"] == "draft" and body["replaced_villages"] is None
    errors = ("invalid_geometry", "overlap", "gap", "outside_parent")
    assert [body["problems"][check] for check in errors] == [0, 0, 0, 0]

    checks = tiny_client.get("/boundaries/versions/api-split/checks")
    assert checks.status_code == 200 and checks.headers["content-type"] == "application/geo+json"
    new_grid = [f for f in checks.json()["features"] if f["properties"]["grid_code"] == WEST + "009"]
    assert {f["properties"]["check"] for f in new_grid} == {"households", "no_grid_worker"}
    # What is wrong, in the planner's language: the test client asks for English.
    english = {f["properties"]["check"]: f["properties"]["message"] for f in new_grid}
    assert re.fullmatch(rf"no grid worker is responsible for {WEST}009 on \d{{4}}-\d\d-\d\d", english["no_grid_worker"])
    assert re.fullmatch(r"\d+ households; the target for a (urban|rural) grid is \d+ to \d+", english["households"])
    chinese = tiny_client.get("/boundaries/versions/api-split/checks", headers={"Accept-Language": "zh-CN"}).json()
    said = {
        f["properties"]["check"]: f["properties"]["message"]
        for f in chinese["features"]
        if f["properties"]["grid_code"] == WEST + "009"
    }
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d 网格 {WEST}009 没有负责的网格员", said["no_grid_worker"]), said
    assert re.fullmatch(r"\d+ 户；(城镇|农村)网格的目标为 \d+ 至 \d+ 户", said["households"]), said

    impact = tiny_client.get("/boundaries/versions/api-split/impact").json()
    assert impact["summary"]["grids_added"] == 1 and impact["summary"]["grids_reshaped"] == 1  # the east grid's
    # vertices moved (a union), not its shape: it is not counted
    assert "leaflet" in tiny_client.get("/boundaries/versions/api-split/impact/map").text.lower()
    workload = tiny_client.get("/boundaries/versions/api-split/workload").json()
    assert workload["draft"]["vacant_grids"] == workload["now"]["vacant_grids"] + 1

    past = tiny_client.post("/boundaries/versions/api-split/publish", json={"effective_from": "2020-01-01T00:00:00"})
    assert past.status_code == 422 and past.json()["field"] == "effective_from"
    published = tiny_client.post(
        "/boundaries/versions/api-split/publish", json={"effective_from": "2099-01-01T00:00:00"}
    )
    assert published.status_code == 200 and published.json()["status"] == "published"
    phases = {v["name"]: v["phase"] for v in tiny_client.get("/boundaries/versions").json()}
    assert phases["api-split"] == "scheduled" and "in force" in phases.values()

    exported = tiny_client.get("/boundaries/versions/api-split/export", params={"format": "geojson", "crs": "gcj02"})
    assert exported.status_code == 200
    out = tmp_path / "exported.geojson"
    out.write_bytes(exported.content)
    again = read_boundary_file(out, crs="gcj02").grids.set_index("code")
    assert again.loc[WEST + "009", "geometry"].hausdorff_distance(grids[WEST + "009"][1]) < 1e-7

    with path.open("rb") as f:
        bad = tiny_client.post("/boundaries/drafts", files={"file": ("split.txt", f)})
    assert bad.status_code == 422 and bad.json()["field"] == "file"
    broken = tiny_client.post("/boundaries/drafts", files={"file": ("broken.geojson", b'{"type": "FeatureColl')})
    assert broken.status_code == 422 and "broken.geojson" in broken.json()["message"]
    assert json.loads(tiny_client.get("/boundaries/versions/nope").text)["error"] == "NotFound"


def test_lookups_during_publishing_see_one_version_or_the_other(tiny_engine, tiny_settings, tmp_path):
    """Lookups for a moment after the new version's date, running while it is published: each
    answer is wholly the old version's or wholly the new one's, and after publishing, the new."""
    import threading

    from geo_service.lookup.locate import locate

    grids = {
        WEST + "001": (1, box(104.00, 29.95, 104.10, 30.05)),  # the west village as one grid
        EAST + "001": (1, shapely.union(*V2_GRIDS[EAST + "001"][1].geoms)),
        EAST + "002": V2_GRIDS[EAST + "002"],
    }
    path = tmp_path / "one-grid.geojson"
    _frame(grids).to_file(path)
    import_draft(tiny_engine, read_boundary_file(path), name="one-grid", settings=tiny_settings)
    when = datetime(2098, 6, 1, tzinfo=BJ)
    spot = (104.03, 29.97)  # the south-west grid before, the single west grid after
    seen: list[tuple[str, str]] = []
    stop = threading.Event()

    def look() -> None:
        while not stop.is_set():
            found = locate(tiny_engine, *spot, "cgcs2000", when, settings=tiny_settings)
            seen.append((found.version.name, found.place.grid_code))

    lookers = [threading.Thread(target=look) for _ in range(2)]
    for t in lookers:
        t.start()
    while len(seen) < 20:
        threading.Event().wait(0.01)
    publish(tiny_engine, "one-grid", datetime(2098, 1, 1, tzinfo=BJ), settings=tiny_settings, now=NOW)
    after = len(seen)
    while len(seen) < after + 20:
        threading.Event().wait(0.01)
    stop.set()
    for t in lookers:
        t.join()
    old = {(name, code) for name, code in seen if name != "one-grid"}
    assert old and all(code == WEST + "002" for _, code in old)  # the version in force before: v2
    assert {code for name, code in seen if name == "one-grid"} == {WEST + "001"}
    assert all(name == "one-grid" for name, _ in seen[after + 2 :])
