"""The synthetic counties the import tests use, and their files: the builder must tell the truth
(units nest exactly, points lie in their grids, gaps are where it says) and the files must be
written the ways it claims (GBK Shapefile, GCJ-02 GeoJSON, Excel dates and numbers, ...)."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from geo_service.coordinates.datum import convert, convert_geoseries

from .county_files import County, make_county, write_bad_files, write_county_files
from .county_files.people import leaf_grids, rules_table

ROOT = Path(__file__).resolve().parents[1]
XIANYOU = ROOT / "boundaries" / "sources" / "350322.geojson"
RENSHOU = ROOT / "boundaries" / "sources" / "511421.geojson"


@pytest.fixture(scope="module")
def xianyou() -> County:
    return make_county(XIANYOU, "350322", seed=3)


@pytest.fixture(scope="module")
def renshou() -> County:
    return make_county(RENSHOU, "511421", seed=5, towns=4, villages_per_town=4, grids_per_village=2, incidents=300)


@pytest.fixture(scope="module")
def messy(xianyou, tmp_path_factory):
    return write_county_files(xianyou, tmp_path_factory.mktemp("messy"))


def m2(geometries, crs) -> np.ndarray:
    """Areas in square metres (the shapes are densified, so a UTM projection keeps edges straight)."""
    series = gpd.GeoSeries(list(geometries), crs=crs)
    return series.to_crs(series.estimate_utm_crs()).area.to_numpy()


def digits(value) -> str:
    return re.sub(r"\D", "", str(value))


def test_counts_codes_and_names(xianyou):
    towns, villages, grids = xianyou.towns, xianyou.villages, xianyou.grids
    assert (len(towns), len(villages)) == (6, 30)
    assert (grids["level"] == 1).sum() == 90 and (grids["level"] == 2).sum() == 3
    assert xianyou.county["code"].tolist() == ["350322000000"]
    assert all(re.fullmatch(r"350322\d{3}000", code) for code in towns["code"])
    assert sorted(towns["kind"]) == ["street", "town", "town", "town", "town", "township"]
    assert "鲤城街道" in set(towns["name"]) and "枫亭镇" in set(towns["name"])
    kind_ends = {"street": "街道", "town": "镇", "township": "乡", "community": "社区", "village": "村"}
    for frame in (towns, villages):
        assert all(name.endswith(kind_ends[kind]) for name, kind in zip(frame["name"], frame["kind"]))
    assert villages["code"].is_unique and villages["name"].is_unique
    assert all(code[:9] == town[:9] and len(code) == 12 for code, town in zip(villages["code"], villages["town_code"]))
    # Communities are numbered 001-199, villages 200-399.
    assert all((int(code[9:]) < 200) == (kind == "community") for code, kind in zip(villages["code"], villages["kind"]))
    assert grids["code"].is_unique
    for code, level, village, parent in zip(grids["code"], grids["level"], grids["village_code"], grids["parent_code"]):
        assert code.startswith(village) and len(code) == (15 if level == 1 else 18)
        assert level == 1 or (parent == code[:15] and parent in set(grids["code"]))
    assert set(grids["name"]) >= {"第一网格", "第三网格", "第一微网格"}
    # Households and population add up from grids to villages to towns.
    level1 = grids[grids["level"] == 1].groupby("village_code")[["population", "households"]].sum()
    pd.testing.assert_frame_equal(level1, villages.set_index("code")[["population", "households"]], check_names=False)
    assert towns["population"].sum() == villages["population"].sum()


@pytest.mark.parametrize("which", ["xianyou", "renshou"])
def test_units_nest_exactly(which, request):
    county: County = request.getfixturevalue(which)
    utm = county.county.estimate_utm_crs()  # the shapes are densified: projected edges stay straight
    county_, towns, villages, grids = (
        frame.to_crs(utm) for frame in (county.county, county.towns, county.villages, county.grids)
    )
    sub = grids.query("level == 2")
    levels = [
        (county_, towns, lambda row: towns),
        (towns, villages, lambda row: villages[villages["town_code"] == row.code]),
        (villages, grids, lambda row: grids.query("level == 1 and village_code == @row.code")),
        (grids[grids["code"].isin(sub["parent_code"])], sub, lambda row: sub),
    ]
    for parents, children, children_of in levels:
        assert all(g.geom_type == "MultiPolygon" and g.is_valid and not g.is_empty for g in children.geometry)
        for row in parents.itertuples():
            kids = children_of(row).geometry.to_numpy()
            union = shapely.union_all(kids)
            gap, spill = shapely.difference(row.geometry, union).area, shapely.difference(union, row.geometry).area
            overlap = shapely.area(kids).sum() - union.area
            assert gap < 1 and spill < 1 and abs(overlap) < 1, (row.code, gap, spill, overlap)
    # The second county is another place altogether.
    assert county.towns["code"].str.startswith(county.code).all()


def test_points_lie_in_their_grids(xianyou):
    leaves = leaf_grids(xianyou.grids).set_index("code")
    for points in (xianyou.incidents, xianyou.cameras):
        joined = gpd.sjoin(points[["grid_code", "geometry"]], leaves[["geometry"]].reset_index(), predicate="within")
        assert len(joined) == len(points) and (joined["grid_code"] == joined["code"]).all()
    assert len(xianyou.incidents) == 3000 and xianyou.incidents["external_id"].is_unique


def test_roster_has_the_gaps_it_says(xianyou):
    roster, grids, villages = xianyou.roster, xianyou.grids, xianyou.villages
    assert set(roster["title"]) <= {row["title"] for row in rules_table("job_titles")}
    workers = set(roster.loc[roster["role"] == "grid_worker", "unit_code"])
    assert workers == set(grids["code"]) - set(xianyou.vacant_grids) and len(xianyou.vacant_grids) == 2
    for role, missing in (("village_party_secretary", xianyou.no_secretary), ("community_police", xianyou.no_police)):
        assert set(roster.loc[roster["role"] == role, "unit_code"]) == set(villages["code"]) - {missing}
    assert set(roster.loc[roster["role"] == "grid_leader", "unit_code"]) == set(villages["code"])
    cadres = roster[roster["role"] == "village_cadre"].groupby("person")
    assert set(cadres.size()) <= {2, 3} and cadres["unit_code"].apply(set).map(len).sum() == len(villages)
    assert (cadres["phone"].nunique() == 1).all() and (
        cadres["unit_code"].agg(lambda c: len({x[:9] for x in c})) == 1
    ).all()


def test_towns_are_a_zipped_gbk_shapefile(xianyou, messy):
    path = messy.folder / messy.of_kind("towns").path
    with zipfile.ZipFile(path) as archive:
        members = {Path(name).suffix: archive.read(name) for name in archive.namelist()}
    assert set(members) == {".shp", ".shx", ".dbf", ".prj", ".cpg"} and members[".cpg"] == b"GBK"
    assert "枫亭镇".encode("gbk") in members[".dbf"] and "乡镇代码".encode("gbk") in members[".dbf"]
    frame = gpd.read_file(path)
    assert frame.crs.to_epsg() == 4490 and list(frame.columns) == ["乡镇代码", "乡镇名称", "乡镇类型", "geometry"]
    assert frame["乡镇名称"].tolist() == xianyou.towns["name"].tolist()
    assert {len(code) for code in frame["乡镇代码"]} == {9, 12}
    assert [code.ljust(12, "0") for code in frame["乡镇代码"]] == xianyou.towns["code"].tolist()


def test_villages_are_a_geopackage_in_cgcs2000(xianyou, messy):
    frame = gpd.read_file(messy.folder / messy.of_kind("villages").path)
    assert frame.crs.to_epsg() == 4490
    assert list(frame.columns) == ["village_code", "village_name", "town_code", "population", "households", "geometry"]
    assert frame["village_code"].tolist() == xianyou.villages["code"].tolist()
    assert all(a.equals(b) for a, b in zip(frame.geometry, xianyou.villages.geometry))


@pytest.mark.filterwarnings("ignore:Could not parse column")  # GDAL reads mixed numbers and text as JSON
def test_grids_file_is_gcj02_without_saying_so(xianyou, messy):
    path = messy.folder / messy.of_kind("grids").path
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in raw and messy.of_kind("grids").datum == "gcj02"
    codes = [f["properties"]["网格编码"] for f in raw["features"]]
    assert any(isinstance(c, int) for c in codes) and any(re.search("[０-９]", str(c)) for c in codes)
    normalised = [str(c).translate(str.maketrans("０１２３４５６７８９", "0123456789")) for c in codes]
    assert normalised == xianyou.grids["code"].tolist()
    frame = gpd.read_file(path)
    back = convert_geoseries(frame.geometry, "gcj02", "cgcs2000")
    off = [shapely.symmetric_difference(a, b) for a, b in zip(back, xianyou.grids.geometry)]
    assert m2(off, 4490).max() < 1
    # Converted back, each grid's inner point lands in the true grid; read as WGS84 it is 100s of m off.
    inner = frame.geometry.representative_point()
    lon, lat = convert(inner.x.to_numpy(), inner.y.to_numpy(), "gcj02", "cgcs2000")
    assert all(g.contains(shapely.Point(x, y)) for g, x, y in zip(xianyou.grids.geometry, lon, lat))
    shift = np.hypot((inner.x - lon) * 101_000, (inner.y - lat) * 111_000)
    assert shift.min() > 200


def test_roster_is_an_excel_file_written_four_ways(xianyou, messy):
    sheet = openpyxl.load_workbook(messy.folder / messy.of_kind("roster").path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("姓名", "职务", "联系电话", "所属单位代码", "任职日期") and len(rows) - 1 == len(xianyou.roster)
    phones, codes, dates = [r[2] for r in rows[1:]], [r[3] for r in rows[1:]], [r[4] for r in rows[1:]]
    assert any(isinstance(p, int) for p in phones) and any("+86" in str(p) for p in phones)
    assert any(" " in str(p) for p in phones) and any("-" in str(p) for p in phones)
    assert [digits(p)[-11:] for p in phones] == xianyou.roster["phone"].tolist()
    assert any(isinstance(c, int) for c in codes) and [str(c) for c in codes] == xianyou.roster["unit_code"].tolist()
    assert any(isinstance(d, datetime) for d in dates)
    assert any(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", str(d)) for d in dates)
    assert any(re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", str(d)) for d in dates)
    as_dates = [d.date() if isinstance(d, datetime) else date(*map(int, re.findall(r"\d+", d))) for d in dates]
    assert as_dates == xianyou.roster["start_date"].tolist()


def test_cameras_are_a_gbk_csv_with_a_datum_per_row(xianyou, messy):
    path = messy.folder / messy.of_kind("cameras").path
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    frame = pd.read_csv(path, encoding="gbk", dtype=str, keep_default_na=False)
    assert list(frame.columns[:8]) == ["设备编码", "设备名称", "类型", "经度", "纬度", "方向", "视场角", "可视距离"]
    assert frame["设备编码"].str.fullmatch(r"\d{20}").all() and set(frame["类型"]) == {"雪亮", "天网", "综治"}
    assert (
        set(frame["坐标系"]) == {"WGS84", "GCJ02"}
        and (frame["方向"] == "").any()
        and set(frame["在线状态"]) == {"在线", "离线"}
    )
    lon, lat = frame["经度"].astype(float).to_numpy().copy(), frame["纬度"].astype(float).to_numpy().copy()
    gcj = (frame["坐标系"] == "GCJ02").to_numpy()
    lon[gcj], lat[gcj] = convert(lon[gcj], lat[gcj], "gcj02", "cgcs2000")
    truth = xianyou.cameras.geometry
    assert np.hypot(lon - truth.x, lat - truth.y).max() < 2e-6  # 0.2 m: the 6 decimals written


@pytest.mark.parametrize("as_", ["xlsx", "csv"])
def test_incidents_file_and_its_planted_rows(xianyou, tmp_path, as_):
    manifest = write_county_files(xianyou, tmp_path, incidents_as=as_, incidents_datum_column=as_ == "xlsx")
    entry = manifest.of_kind("incidents")
    path = tmp_path / entry.path
    if as_ == "csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf") and entry.declared is None
        assert manifest.crs_options() == [
            "--crs",
            f"{manifest.of_kind('grids').path}=gcj02",
            "--crs",
            f"{entry.path}=wgs84",
        ]
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False).replace("", None)
    else:
        sheet = openpyxl.load_workbook(path).active
        header, *rows = list(sheet.iter_rows(values_only=True))
        frame = pd.DataFrame(rows, columns=header, dtype=object)
        assert isinstance(frame["上报时间"][0], datetime) and set(frame["坐标系"]) == {"WGS84"}
    assert len(frame) == entry.rows == 3000 and frame["事件编号"].tolist() == xianyou.incidents["external_id"].tolist()
    planted = {(p.row, p.column, p.what) for p in entry.problems}
    by_what = {
        w: [r for r, _, what in planted if what == w] for w in ("outside_county", "no_coordinates", "unknown_category")
    }
    assert [len(by_what[w]) for w in by_what] == [3, 3, 2] and all(p.file == entry.path for p in entry.problems)
    assert manifest.expected() == {(entry.path, row, column) for row, column, _ in planted}
    known = {r["name_zh"] for r in rules_table("categories")} | {
        r["alias"] for r in rules_table("value_aliases") if r["field"] == "category"
    }
    bad_category = {i + 1 for i, c in enumerate(frame["事件类型"]) if c not in known}
    assert bad_category == set(by_what["unknown_category"])
    lon, lat = pd.to_numeric(frame["经度"]), pd.to_numeric(frame["纬度"])
    assert {i + 1 for i in np.flatnonzero(lon.isna().to_numpy())} == set(by_what["no_coordinates"])
    inside = shapely.contains_xy(xianyou.county.geometry[0], lon.fillna(0).to_numpy(), lat.fillna(0).to_numpy())
    assert {i + 1 for i in np.flatnonzero(~inside & lon.notna().to_numpy())} == set(by_what["outside_county"])
    assert set(frame["事件状态"]) == {"已办结", "办理中", "已受理"} and (frame["事件状态"] == "已办结").mean() > 0.85
    assert frame.loc[frame["事件状态"] != "已办结", "办结时间"].isna().all()


def test_bad_files_hold_the_one_problem_each(xianyou, tmp_path):
    manifest = write_bad_files(xianyou, tmp_path)
    problems = {p.what: p for p in manifest.problems}
    assert len(problems) == len(manifest.files) == 8
    file = lambda what: tmp_path / problems[what].file
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(file("unreadable"))
    towns = gpd.read_file(file("scientific_notation"))
    assert towns["乡镇代码"][problems["scientific_notation"].row - 1] == "3.50322E+11"
    villages = gpd.read_file(file("not_in_parent"))
    mismatch = villages["village_code"].str[:9] != villages["town_code"].str[:9]
    assert list(np.flatnonzero(mismatch) + 1) == [problems["not_in_parent"].row]
    for what in ("invalid_geometry", "overlap"):
        raw = json.loads(file(what).read_text(encoding="utf-8"))
        assert raw["crs"]["properties"]["name"].endswith("4490")
        shapes = [shapely.geometry.shape(f["geometry"]) for f in raw["features"]]
        broken = [i + 1 for i, s in enumerate(shapes) if not s.is_valid]
        assert broken == ([problems[what].row] if what == "invalid_geometry" else [])
    grown = shapes[problems["overlap"].row - 1]
    codes = xianyou.grids["code"].tolist()
    hit = [
        codes[i] for i, s in enumerate(shapes) if i != problems["overlap"].row - 1 and grown.intersection(s).area > 1e-9
    ]
    assert hit == problems["overlap"].value and len(hit) >= 1
    titles = [r[1] for r in openpyxl.load_workbook(file("unknown_title")).active.iter_rows(min_row=2, values_only=True)]
    known = {row["title"] for row in rules_table("job_titles")}
    assert [i + 1 for i, t in enumerate(titles) if t not in known] == [problems["unknown_title"].row]
    cameras = pd.read_csv(file("bad_code"), encoding="gbk", dtype=str)
    assert list(np.flatnonzero(cameras["设备编码"].str.len() != 20) + 1) == [problems["bad_code"].row]
    header = file("no_datum").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert "坐标系" not in header and problems["no_datum"].row is None
    assert all(entry.replaces for entry in manifest.files)
    assert (
        f"{problems['not_in_parent'].file}!villages",
        problems["not_in_parent"].row,
        "town_code",
    ) in manifest.expected()
    assert len(manifest.expected()) == 8


def _contents(path: Path) -> bytes:
    """A file's bytes; a workbook's cell values (its container has been seen to differ between
    runs of the whole suite, while every cell was the same)."""
    if path.suffix != ".xlsx":
        return path.read_bytes()
    book = openpyxl.load_workbook(path, read_only=True)
    return repr([[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets]).encode()


def test_same_seed_same_bytes(xianyou, messy, tmp_path):
    def digest(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(_contents(p)).hexdigest() for p in sorted(folder.iterdir())}

    again = make_county(XIANYOU, "350322", seed=3)
    assert digest(write_county_files(again, tmp_path / "a").folder) == digest(messy.folder)
    write_bad_files(again, tmp_path / "b")
    write_bad_files(xianyou, tmp_path / "c")
    assert digest(tmp_path / "b") == digest(tmp_path / "c")
    other = write_county_files(make_county(XIANYOU, "350322", seed=4, incidents=100), tmp_path / "d")
    assert digest(other.folder)[messy.of_kind("grids").path] != digest(messy.folder)[messy.of_kind("grids").path]
