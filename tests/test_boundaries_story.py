"""A planner's redraw of the demo county, step by step, on a private copy of the demo database.

Two villages are redrawn in a file the way a planner would in QGIS, in GCJ-02 as an AMap-based
tool saves it: a grid split in two, two grids merged, an edge moved between neighbours, and on
purpose an overlap and a gap. The file is imported, checked, weighed, refused for publishing,
corrected, published from a date, and lookups either side of that date answer with the old and
the new grids. Expected figures come from shapely on the same edits, not from the service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from geo_service.boundaries.checks import check_version
from geo_service.boundaries.drafts import import_draft
from geo_service.boundaries.export import export_version, version_layer
from geo_service.boundaries.file_reading import read_boundary_file
from geo_service.boundaries.impact import draft_impact, impact_map
from geo_service.boundaries.in_force_cache import in_force_now
from geo_service.boundaries.publishing import publish
from geo_service.boundaries.versions import find_version, in_force, list_versions
from geo_service.boundaries.workload import compare_workload
from geo_service.coordinates.datum import convert_geoseries
from geo_service.db.engine import get_engine
from geo_service.errors import Conflict
from geo_service.lookup.locate import locate
from geo_service.settings import Settings

BJ = ZoneInfo("Asia/Shanghai")
METRIC = "EPSG:4544"
NOW = datetime(2026, 11, 20, 12, tzinfo=BJ)  # the demo year's last days
TAKES_EFFECT = datetime(2027, 1, 1, tzinfo=BJ)
GAP_RADIUS_M = 30.0
OVERLAP_DEPTH_M = 40.0


@pytest.fixture(scope="module")
def engine(module_demo_copy_url: str):
    return get_engine(module_demo_copy_url)


@pytest.fixture(scope="module")
def copy_settings(module_demo_copy_url: str) -> Settings:
    return Settings(database_url=module_demo_copy_url)


def _adjacent(frame: gpd.GeoDataFrame, a: str, b: str) -> bool:
    ga, gb = frame.geometry[a], frame.geometry[b]
    return ga.intersection(gb).length > 100  # a shared edge, not a corner


def _pair(frame: gpd.GeoDataFrame, exclude: set[str] = frozenset()) -> tuple[str, str]:
    codes = [c for c in frame.index if c not in exclude]
    for a in codes:
        for b in codes:
            if a < b and _adjacent(frame, a, b):
                return a, b
    raise AssertionError("no adjacent pair of grids to edit")


class Redraw:
    """The edits, made in metres on the base version's grids of two villages."""

    def __init__(self, engine) -> None:
        with engine.connect() as connection:
            villages = (
                connection.execute(
                    text("""
                SELECT left(code, 12) FROM grids
                 WHERE version_id = 1 GROUP BY 1
                HAVING count(*) FILTER (WHERE level = 2) = 0 AND count(*) FILTER (WHERE level = 1) >= 4
                 ORDER BY count(*) DESC, 1 LIMIT 2""")
                )
                .scalars()
                .all()
            )
            base = version_layer(connection, 1, "grids")
        self.p, self.q = villages
        base = base[base["code"].str[:12].isin(villages)].set_index("code", drop=False).to_crs(METRIC)
        self.base = base
        grids = {code: geom for code, geom in base.geometry.items()}

        p = base[base["code"].str[:12] == self.p]
        self.merged_into, self.merged_away = _pair(p)
        self.split = next(c for c in p.index if c not in (self.merged_into, self.merged_away))
        self.new_code = self.p + f"{max(int(c[12:]) for c in p.index) + 1:03d}"
        whole = grids[self.split]
        x = whole.centroid.x
        xmin, ymin, xmax, ymax = whole.bounds
        grids[self.split] = whole.intersection(shapely.box(xmin - 1, ymin - 1, x, ymax + 1))
        grids[self.new_code] = whole.intersection(shapely.box(x, ymin - 1, xmax + 1, ymax + 1))
        grids[self.merged_into] = shapely.union(grids[self.merged_into], grids.pop(self.merged_away))

        q = base[base["code"].str[:12] == self.q]
        self.edge_gains, self.edge_loses = _pair(q)
        piece = grids[self.edge_loses].intersection(grids[self.edge_gains].buffer(80))
        grids[self.edge_gains] = grids[self.edge_gains].union(piece)
        grids[self.edge_loses] = grids[self.edge_loses].difference(piece)
        self.moved_area = piece.area

        self.overlapping, self.overlapped = _pair(q, exclude={self.edge_gains})
        self.clean = dict(grids)
        bulge = grids[self.overlapped].intersection(grids[self.overlapping].buffer(OVERLAP_DEPTH_M))
        grids[self.overlapping] = grids[self.overlapping].union(bulge)
        self.overlap_area = grids[self.overlapping].intersection(grids[self.overlapped]).area

        self.holed = max(q.index, key=lambda c: grids[c].area)
        centre = grids[self.holed].buffer(-3 * GAP_RADIUS_M).representative_point()
        self.hole = centre.buffer(GAP_RADIUS_M)
        grids[self.holed] = grids[self.holed].difference(self.hole)
        self.grids = grids

    def frame(self, grids: dict) -> gpd.GeoDataFrame:
        rows = [
            {
                "code": code,
                "name": self.base["name"].get(code, f"new grid {code[-3:]}"),
                "kind": self.base["kind"].get(code, "urban"),
            }
            for code in grids
        ]
        return gpd.GeoDataFrame(rows, geometry=[shapely.make_valid(g) for g in grids.values()], crs=METRIC)

    def write(self, path, grids: dict) -> None:
        """As an AMap-based tool saves it: GCJ-02 coordinates, labelled EPSG:4326."""
        frame = self.frame(grids).to_crs("EPSG:4490")
        frame["geometry"] = convert_geoseries(frame.geometry, "cgcs2000", "gcj02")
        frame.set_crs("EPSG:4326", allow_override=True).to_file(path, driver="GeoJSON")


@pytest.fixture(scope="module")
def redraw(engine) -> Redraw:
    return Redraw(engine)


@pytest.fixture(scope="module")
def imported(engine, copy_settings, redraw, tmp_path_factory):
    path = tmp_path_factory.mktemp("redraw") / "redraw.geojson"
    redraw.write(path, redraw.grids)
    boundary_file = read_boundary_file(path, crs="gcj02")
    return import_draft(engine, boundary_file, name="redraw-2027", partial=True, settings=copy_settings)


def _grids(engine, version_id: int) -> gpd.GeoDataFrame:
    with engine.connect() as connection:
        return version_layer(connection, version_id, "grids").set_index("code")


def test_the_import_replaces_the_two_villages_and_keeps_the_rest(engine, redraw, imported):
    assert imported.replaced_villages == tuple(sorted([redraw.p, redraw.q]))
    assert imported.version.status == "draft" and imported.datum == "gcj02"
    assert set(imported.estimated) == {"households", "population"}
    base, draft = _grids(engine, 1), _grids(engine, imported.version.id)
    assert len(draft) == len(base)  # one grid split, two merged
    assert redraw.merged_away not in draft.index and redraw.new_code in draft.index
    untouched = base.index[~base.index.str[:12].isin([redraw.p, redraw.q])]
    assert set(untouched) <= set(draft.index)
    assert all(draft.loc[c, "geom"].equals_exact(base.loc[c, "geom"], 0) for c in untouched[:50])
    # Stored in CGCS2000: the GCJ-02 file came back to within a centimetre of the edit.
    stored = draft.loc[[redraw.split]].set_crs("EPSG:4490").to_crs(METRIC).geometry.iloc[0]
    assert stored.symmetric_difference(redraw.grids[redraw.split]).area < 1.0
    # Households the file did not give are shared out by area from the base version.
    halves = draft.loc[[redraw.split, redraw.new_code], "households"].sum()
    assert abs(halves - base.loc[redraw.split, "households"]) <= 1


def test_the_checks_find_the_overlap_and_the_gap_where_they_are(engine, copy_settings, redraw, imported):
    assert imported.problems["overlap"] == 1 and imported.problems["gap"] == 1
    report = check_version(engine, imported.version.id, settings=copy_settings)
    errors = report.problems[report.problems["severity"] == "error"]
    assert sorted(errors["check"]) == ["gap", "overlap"]

    overlap = errors[errors["check"] == "overlap"].iloc[0]
    assert {overlap["grid_code"], overlap["other_code"]} == {redraw.overlapping, redraw.overlapped}
    assert overlap["area_m2"] == pytest.approx(redraw.overlap_area, rel=0.01)
    gap = errors[errors["check"] == "gap"].iloc[0]
    assert gap["unit_code"] == redraw.q
    assert gap["area_m2"] == pytest.approx(redraw.hole.area, rel=0.01)
    where = gpd.GeoSeries([gap["location"]], crs="EPSG:4490").to_crs(METRIC).iloc[0]
    assert where.centroid.distance(redraw.hole.centroid) < 1.0

    # The new grid has nobody yet; the demo's two deliberate vacancies are still reported.
    vacant = set(report.problems.loc[report.problems["check"] == "no_grid_worker", "grid_code"])
    assert redraw.new_code in vacant and len(vacant) == 3
    geojson = report.to_geojson()
    assert geojson["errors"] == 2 and len(geojson["features"]) == len(report.problems)
    json.dumps(geojson)  # serialisable as it stands


def test_the_impact_names_what_changes_and_what_moves(engine, copy_settings, redraw, imported, tmp_path):
    impact = draft_impact(engine, imported.version.id, now=NOW, settings=copy_settings)
    change = dict(zip(impact.grids["code"], impact.grids["change"]))
    assert change.pop(redraw.new_code) == "added"
    assert change.pop(redraw.merged_away) == "removed"
    assert set(change) == {
        redraw.split,
        redraw.merged_into,
        redraw.edge_gains,
        redraw.edge_loses,
        redraw.overlapping,
        redraw.holed,
    }
    assert set(change.values()) == {"reshaped"}
    assert impact.villages == tuple(sorted([redraw.p, redraw.q]))

    flows = impact.flows.set_index(["from_code", "to_code"])["area_m2"]
    assert flows[(redraw.edge_loses, redraw.edge_gains)] == pytest.approx(
        redraw.moved_area + redraw.overlap_area * (redraw.overlapped == redraw.edge_loses), rel=0.01
    )
    assert flows[(redraw.merged_away, redraw.merged_into)] == pytest.approx(
        redraw.base.geometry[redraw.merged_away].area, rel=0.001
    )

    # Incidents moved, counted independently: each recent point located in the edited shapes.
    with engine.connect() as connection:
        points = gpd.read_postgis(
            text("""
            SELECT grid_code, geom FROM incidents
             WHERE reported_at >= :since AND left(grid_code, 12) = ANY(:v) AND merged_into_id IS NULL"""),
            connection,
            geom_col="geom",
            params={"since": impact.since, "v": [redraw.p, redraw.q]},
        )
    points = points.set_crs("EPSG:4490", allow_override=True).to_crs(METRIC)
    new = gpd.GeoDataFrame({"new": list(redraw.grids)}, geometry=list(redraw.grids.values()), crs=METRIC)
    joined = gpd.sjoin(points, new, how="left", predicate="covered_by").sort_values("new")
    joined = joined[~joined.index.duplicated()]  # the overlap: the smaller code wins, as in the service
    expected = int((joined["new"].fillna("") != joined["grid_code"]).sum())
    assert impact.summary()["incidents_moved"] == expected > 0

    officers = impact.officers
    assert set(officers.loc[officers["action"] == "reassign", "grid_code"]) == {redraw.merged_away}
    assert list(officers.loc[officers["action"] == "assign", "grid_code"]) == [redraw.new_code]

    html = tmp_path / "impact.html"
    from geo_service.maps import save_html

    save_html(impact_map(engine, impact), html)
    page = html.read_text()
    assert redraw.new_code in page and redraw.merged_away in page


def test_the_workload_before_and_after(engine, copy_settings, redraw, imported):
    both = compare_workload(engine, imported.version.id, now=NOW, villages=[redraw.p, redraw.q], settings=copy_settings)
    now, draft = both["now"], both["draft"]
    assert draft["grids"] == now["grids"] and draft["vacant_grids"] == now["vacant_grids"] + 1
    assert draft["grid_workers"] == now["grid_workers"] - 1  # the merged grid's worker holds nothing now
    for side in (now, draft):
        spread = side["households_per_worker"]
        assert spread["top_decile_mean"] >= spread["median"] > 0


def test_a_draft_with_errors_is_not_published(engine, copy_settings, imported):
    with pytest.raises(Conflict, match="overlap"):
        publish(engine, imported.version.id, TAKES_EFFECT, settings=copy_settings, now=NOW)
    with engine.connect() as connection:
        assert find_version(connection, imported.version.id).status == "draft"


def test_the_boundaries_kept_in_memory_follow_a_publication_and_its_start(engine, imported, request):
    """A worker keeps the versions in force "now" (geo_service.boundaries.in_force_cache): it must
    hear of the publication, and then switch when the new version's start comes round."""
    eve, new_year = datetime(2026, 12, 31, 23, 59, tzinfo=BJ), datetime(2027, 1, 1, 0, 1, tzinfo=BJ)
    with engine.connect() as connection:
        old = in_force_now(connection, eve).ids
        assert in_force_now(connection, new_year).ids == old  # nothing published yet: kept as is
    published = request.getfixturevalue("published")
    with engine.connect() as connection:
        assert in_force_now(connection, eve).ids == old
        assert published.id in in_force_now(connection, new_year).ids
        assert in_force_now(connection, new_year).ids == in_force(connection, new_year).ids


@pytest.fixture(scope="module")
def published(engine, copy_settings, redraw, imported, tmp_path_factory):
    path = tmp_path_factory.mktemp("fixed") / "fixed.geojson"
    redraw.write(path, redraw.clean)
    fixed = import_draft(
        engine, read_boundary_file(path, crs="gcj02"), into="redraw-2027", partial=True, settings=copy_settings
    )
    assert fixed.version.id == imported.version.id
    assert fixed.problems["overlap"] == fixed.problems["gap"] == 0
    return publish(engine, "redraw-2027", TAKES_EFFECT, settings=copy_settings, now=NOW)


def test_lookups_answer_with_the_grids_of_their_date(engine, copy_settings, redraw, published):
    assert published.status == "published" and published.effective_from == TAKES_EFFECT
    # A point in the split grid's new eastern half.
    east = gpd.GeoSeries([redraw.grids[redraw.new_code].representative_point()], crs=METRIC).to_crs("EPSG:4490")[0]
    before = locate(
        engine, east.x, east.y, "cgcs2000", datetime(2026, 12, 31, 23, 59, tzinfo=BJ), settings=copy_settings
    )
    after = locate(engine, east.x, east.y, "cgcs2000", datetime(2027, 1, 1, 0, 1, tzinfo=BJ), settings=copy_settings)
    assert before.place.grid_code == redraw.split and before.version.name != "redraw-2027"
    assert after.place.grid_code == redraw.new_code and after.version.name == "redraw-2027"
    # Incidents recorded before stay in the grids they were recorded in.
    with engine.connect() as connection:
        moved = connection.execute(
            text("SELECT count(*) FROM incidents WHERE boundary_version_id = :v"), {"v": published.id}
        ).scalar()
    assert moved == 0


def test_a_published_version_cannot_be_imported_into(engine, copy_settings, redraw, published, tmp_path):
    path = tmp_path / "again.geojson"
    redraw.write(path, redraw.clean)
    with pytest.raises(Conflict, match="only a draft"):
        import_draft(
            engine, read_boundary_file(path, crs="gcj02"), into=published.id, partial=True, settings=copy_settings
        )
    assert [v.name for v in list_versions(engine.connect())].count("redraw-2027") == 1


@pytest.mark.parametrize("datum", ["cgcs2000", "gcj02", "bd09"])
def test_any_version_exports_and_imports_again(engine, published, datum, tmp_path):
    path = export_version(engine, published.id, tmp_path / f"grids-{datum}.gpkg", datum=datum)
    again = read_boundary_file(path, crs=datum, layer="grids").grids.set_index("code")
    stored = _grids(engine, published.id)
    assert set(again.index) == set(stored.index)
    worst = max(again.loc[c, "geometry"].hausdorff_distance(stored.loc[c, "geom"]) for c in stored.index[:40])
    assert worst < 1e-7  # degrees: about a centimetre
    assert (again["households"] == stored.loc[again.index, "households"]).all()


def test_the_planner_reads_the_command_line_in_chinese(module_demo_copy_url, redraw, published, tmp_path):
    """`geo-service boundaries import`, `check`, `publish`, `retire` and `list` as a planner reads
    them: Chinese first, the English in brackets after it (what scripts and log searches know)."""
    env = {**os.environ, "DATABASE_URL": module_demo_copy_url, "COLUMNS": "200"}
    env.pop("GEO_SERVICE_DATABASE_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "geo_service.cli.main", "boundaries", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)

    flawed, clean = tmp_path / "flawed.geojson", tmp_path / "clean.geojson"
    redraw.write(flawed, redraw.grids)  # with its overlap and its gap
    redraw.write(clean, redraw.clean)

    imported = cli("import", str(flawed), "--crs", "gcj02", "--partial", "--name", "flawed-2099")
    assert imported.returncode == 0, imported.stderr
    assert "草稿 flawed-2099（编号 " in imported.stdout and "范围：村（社区）" in imported.stdout
    assert "（draft flawed-2099 (id " in imported.stdout
    assert "检查结果" in imported.stdout and "网格重叠" in imported.stdout and "覆盖空隙" in imported.stdout
    assert "详情：geo-service boundaries check " in imported.stdout

    checked = cli("check", "flawed-2099")
    assert checked.returncode == 1, checked.stderr
    assert "flawed-2099 的检查结果" in checked.stdout and "检查项" in checked.stdout
    assert "  网格重叠 " in checked.stdout  # each error led by its check's Chinese name

    weighed = cli("impact", "flawed-2099")
    assert weighed.returncode == 0, weighed.stderr
    assert "flawed-2099 与 " in weighed.stdout and "新增网格" in weighed.stdout and "划转户数" in weighed.stdout
    load = cli("workload", "flawed-2099")
    assert load.returncode == 0, load.stderr
    assert "网格员工作量" in load.stdout and "每名网格员户数：中位数" in load.stdout

    refused = cli("publish", "flawed-2099", "--from", "2099-01-01T00:00:00")
    assert refused.returncode == 2
    assert refused.stderr.startswith("错误：草稿 'flawed-2099' 存在错误（网格重叠")
    assert "draft 'flawed-2099' has errors" in refused.stderr
    retired = cli("retire", "flawed-2099")
    assert retired.returncode == 0, retired.stderr
    assert retired.stdout.strip() == "flawed-2099 已停用（flawed-2099 is retired）"

    assert cli("import", str(clean), "--crs", "gcj02", "--partial", "--name", "clean-2099").returncode == 0
    done = cli("publish", "clean-2099", "--from", "2099-01-01T00:00:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "clean-2099 已发布，自 2099-01-01T00:00:00+08:00 起生效"
        "（clean-2099 is published and takes effect at 2099-01-01T00:00:00+08:00）"
    )
    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    rows = {
        line.split("│")[2].strip(): line.split("│")[3].strip() for line in listed.stdout.splitlines() if "│" in line
    }
    assert rows["flawed-2099"] == "已停用" and rows["clean-2099"] == "待生效"
