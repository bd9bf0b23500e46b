"""Reading a county's own files (issue 14): formats, encodings, recognition, datums, GCJ-02 checks.

Every file here is made in ``tmp_path`` the way county offices and their tools make them: GBK
Shapefiles zipped on Chinese Windows, truncated field names, Excel rosters with a title row and
numbers where text should be, GCJ-02 layers labelled WGS84. No database is needed.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from geo_service.coordinates.datum import convert, convert_geometry
from geo_service.county import cells
from geo_service.county.report import ImportReport
from geo_service.county.sources import detect_offsets, read_sources

# A county of 4 towns (2 x 2) of 4 villages each near Renshou, Sichuan, in CGCS2000.
X0, Y0, STEP = 104.0, 29.9, 0.15


def _towns() -> gpd.GeoDataFrame:
    cells = [(i, j) for j in range(2) for i in range(2)]
    return gpd.GeoDataFrame(
        {
            "乡镇代码": [f"5114211{k:02d}" for k in range(len(cells))],
            "乡镇名称": ["文林镇", "怀仁街道", "视高街道", "富加镇"],
            "类型": ["镇", "街道", "街道", "镇"],
            "人口": [41000, 52000, 33000, 28000],
        },
        geometry=[box(X0 + i * STEP, Y0 + j * STEP, X0 + (i + 1) * STEP, Y0 + (j + 1) * STEP) for i, j in cells],
        crs="EPSG:4490",
    )


def _villages() -> gpd.GeoDataFrame:
    rows, half = [], STEP / 2
    for town in _towns().itertuples():
        minx, miny = town.geometry.bounds[:2]
        for k, (i, j) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
            cell = box(minx + i * half, miny + j * half, minx + (i + 1) * half, miny + (j + 1) * half)
            rows.append((f"{town.乡镇代码}{k + 1:03d}", f"{town.乡镇名称[:2]}{k + 1}村", town.乡镇代码, cell))
    codes_, names, towns, geoms = zip(*rows, strict=True)
    frame = {"村代码": list(codes_), "村名称": list(names), "所属乡镇代码": list(towns)}
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs="EPSG:4490")


def _grids() -> gpd.GeoDataFrame:
    villages = _villages().head(2)
    rows = []
    for v in villages.itertuples():
        minx, miny, maxx, maxy = v.geometry.bounds
        mid = (minx + maxx) / 2
        for k, cell in enumerate([box(minx, miny, mid, maxy), box(mid, miny, maxx, maxy)]):
            rows.append((f"{v.村代码}{k + 1:03d}", f"{v.村名称}第{k + 1}网格", v.村代码, cell))
    codes_, names, villages_, geoms = zip(*rows, strict=True)
    frame = {"网格编码": list(codes_), "网格名称": list(names), "所属村社区代码": list(villages_)}
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs="EPSG:4490")


def _shapefile(gdf: gpd.GeoDataFrame, folder: Path, stem: str, encoding: str = "GBK", cpg: str | None = "GBK") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    gdf.to_file(folder / f"{stem}.shp", encoding=encoding)
    cpg_path = folder / f"{stem}.cpg"
    if cpg is None:
        cpg_path.unlink(missing_ok=True)
    else:
        cpg_path.write_text(cpg, encoding="ascii")
    return folder / f"{stem}.shp"


def _zip(target: Path, files: dict[str, Path], gbk_names: bool = False) -> Path:
    """A zip of ``member name -> file``; ``gbk_names`` stores the names as GBK bytes without the
    UTF-8 flag, as Chinese Windows does."""
    original = zipfile.ZipInfo._encodeFilenameFlags
    if gbk_names:
        zipfile.ZipInfo._encodeFilenameFlags = lambda info: (info.filename.encode("gbk"), info.flag_bits & ~0x800)
    try:
        with zipfile.ZipFile(target, "w") as archive:
            for name, path in files.items():
                archive.writestr(name, path.read_bytes())
    finally:
        zipfile.ZipInfo._encodeFilenameFlags = original
    if gbk_names:  # as Python sees them: cp437 mojibake
        assert all(not n.isascii() and n not in files for n in zipfile.ZipFile(target).namelist())
    return target


def _geojson(path: Path, gdf: gpd.GeoDataFrame, crs_name: str | None) -> Path:
    obj = json.loads(gdf.to_json(drop_id=True))
    obj.pop("crs", None)
    if crs_name:
        obj["crs"] = {"type": "name", "properties": {"name": crs_name}}
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def _read(*paths: Path, crs: str | None = None, by_file: dict[str, str] | None = None, **kw):
    report = ImportReport()
    tables = read_sources(list(paths), crs_default=crs, crs_by_file=by_file or {}, report=report, **kw)
    return {t.path: t for t in tables}, report


def _problems(report: ImportReport, path: str) -> list[tuple]:
    return [(p.row, p.column, p.reason, p.severity) for p in report.file(path).problems]


def _same_shapes(a, b, tolerance: float = 1e-7) -> bool:
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    return len(a) == len(b) and bool((shapely.hausdorff_distance(a, b) <= tolerance).all())


# ---------------------------------------------------------------- Shapefiles
def test_gbk_zipped_shapefile_with_cpg_and_gbk_member_names(tmp_path):
    shp = _shapefile(_towns(), tmp_path / "src", "乡镇界")
    members = {f"乡镇界/{p.name}": p for p in sorted(shp.parent.iterdir())}
    zipped = (
        _zip(tmp_path / "data" / "乡镇.zip", members, gbk_names=True) if (tmp_path / "data").mkdir() is None else None
    )
    tables, report = _read(tmp_path / "data")
    table = tables["乡镇.zip"]
    assert table.kind == "towns"
    assert table.columns == {
        "code": "乡镇代码",
        "name": "乡镇名称",
        "kind": "类型",
        "population": "人口",
        "geometry": "geometry",
    }
    assert table.frame["code"].tolist() == ["511421100", "511421101", "511421102", "511421103"]
    assert table.frame["name"].tolist() == ["文林镇", "怀仁街道", "视高街道", "富加镇"]
    assert table.frame["population"].tolist() == ["41000", "52000", "33000", "28000"]
    assert table.frame["_row"].tolist() == [1, 2, 3, 4]
    assert (table.report.datum, table.report.datum_from, table.report.rows) == ("cgcs2000", "file", 4)
    assert _same_shapes(table.frame["geometry"], _towns().geometry)
    assert report.error_count == 0 and zipped.exists()


def test_gbk_without_cpg_cpg_that_lies_and_truncated_gbk_names(tmp_path):
    villages = _shapefile(_villages(), tmp_path / "v", "村", cpg=None)  # GBK, no .cpg
    grids = _shapefile(_grids(), tmp_path / "g", "网格", cpg="UTF-8")  # GBK bytes, .cpg says UTF-8
    members = {f"村界/{p.name}": p for p in sorted(villages.parent.iterdir())}
    members |= {f"网格/{p.name}": p for p in sorted(grids.parent.iterdir())}
    _zip(tmp_path / "county.zip", members, gbk_names=True)
    tables, report = _read(tmp_path / "county.zip")
    assert sorted(tables) == ["county.zip!村界/村.shp", "county.zip!网格/网格.shp"]
    village = tables["county.zip!村界/村.shp"]
    assert village.kind == "villages"
    # 所属乡镇代码 is 12 bytes in GBK: the Shapefile keeps 所属乡镇代, recognised by its prefix.
    assert village.columns["town_code"] == "所属乡镇代"
    assert village.frame["name"].tolist()[:2] == ["文林1村", "文林2村"]
    assert village.frame["town_code"].iloc[0] == "511421100"
    grid = tables["county.zip!网格/网格.shp"]
    assert grid.kind == "grids"
    assert grid.frame["name"].iloc[0] == "文林1村第1网格"
    assert grid.frame["code"].iloc[0] == "511421100001001"
    assert _problems(report, "county.zip!网格/网格.shp") == [
        (None, None, "the .cpg says UTF-8, but the text is not UTF-8; it was read as GBK", "warning")
    ]
    assert report.error_count == 0


def test_utf8_shapefile_with_names_cut_mid_character(tmp_path):
    # GDAL cuts 网格编码 (12 bytes in UTF-8) to 10 bytes, mid-character.
    _shapefile(_grids(), tmp_path / "data", "网格", encoding="UTF-8", cpg="UTF-8")
    (tmp_path / "data" / "README.md").write_text("网格说明", encoding="utf-8")
    (tmp_path / "data" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "data" / "说明.docx").write_bytes(b"PK")
    tables, report = _read(tmp_path / "data")
    assert [f.path for f in report.files] == ["网格.shp", "说明.docx"]  # siblings, README, hidden: not files
    assert report.file("说明.docx").problems[0].severity == "warning"
    table = tables["网格.shp"]
    assert table.kind == "grids"
    assert set(table.columns) == {"code", "name", "village_code", "geometry"}
    assert table.frame["code"].tolist()[:2] == ["511421100001001", "511421100001002"]
    assert table.frame["name"].iloc[1] == "文林1村第2网格"
    assert table.frame["village_code"].iloc[0] == "511421100001"


# ---------------------------------------------------------------- GeoPackage, GeoJSON
def test_geopackage_layers_and_a_projected_cgcs2000_layer(tmp_path):
    path = tmp_path / "县.gpkg"
    _villages().to_file(path, layer="村")
    _grids().to_crs("EPSG:4544").to_file(path, layer="网格")  # CGCS2000 / 3-degree GK CM 105E
    tables, report = _read(path)
    assert sorted(tables) == ["县.gpkg!村", "县.gpkg!网格"]
    assert tables["县.gpkg!村"].kind == "villages"
    grid = tables["县.gpkg!网格"]
    assert grid.kind == "grids" and (grid.report.datum, grid.report.datum_from) == ("cgcs2000", "file")
    assert _same_shapes(grid.frame["geometry"], _grids().geometry, tolerance=1e-6)  # back to EPSG:4490
    assert report.error_count == 0


def test_geojson_with_without_crs_and_no_datum(tmp_path):
    villages = _villages()
    _geojson(tmp_path / "declared.geojson", villages, "urn:ogc:def:crs:EPSG::4490")
    _geojson(tmp_path / "by_name.geojson", villages, None)
    _geojson(tmp_path / "silent.geojson", villages, None)
    tables, report = _read(tmp_path, by_file={"by_name.geojson": "wgs84"})
    assert (tables["declared.geojson"].report.datum, tables["declared.geojson"].report.datum_from) == (
        "cgcs2000",
        "file",
    )
    assert (tables["by_name.geojson"].report.datum, tables["by_name.geojson"].report.datum_from) == (
        "wgs84",
        "--crs FILE=DATUM",
    )
    assert "silent.geojson" not in tables  # GDAL assumes WGS84; the file says nothing: refused by name
    [(row, column, reason, severity)] = _problems(report, "silent.geojson")
    assert (row, column, severity) == (None, None, "error")
    assert reason.startswith("no datum: the file does not say its coordinate system; give --crs FILE=DATUM")
    assert "--crs silent.geojson=cgcs2000" in reason
    tables, report = _read(tmp_path / "silent.geojson", crs="cgcs2000")
    assert (tables["silent.geojson"].report.datum_from, report.error_count) == ("--crs", 0)


def test_xian80_is_refused_and_a_wrong_crs_key_is_reported(tmp_path):
    _shapefile(_towns().to_crs("EPSG:2380"), tmp_path, "towns", cpg="GBK")  # Xian 1980 / GK CM 105E
    tables, report = _read(tmp_path / "towns.shp", by_file={"town.shp": "wgs84"})
    assert tables == {}
    assert "datum not supported, convert to CGCS2000" in report.file("towns.shp").problems[0].reason
    assert "no file of that name was read" in report.file("town.shp").problems[0].reason


# ---------------------------------------------------------------- GCJ-02 detection
def test_gcj02_layer_labelled_wgs84_is_flagged_with_its_offset(tmp_path):
    _shapefile(_towns(), tmp_path, "towns")
    villages = _villages()
    gcj = villages.set_geometry(list(convert_geometry(np.asarray(villages.geometry), "wgs84", "gcj02")))
    _geojson(tmp_path / "villages.geojson", gcj, "urn:ogc:def:crs:OGC:1.3:CRS84")
    tables, report = _read(tmp_path)
    detect_offsets(list(tables.values()), report)
    [problem] = report.file("villages.geojson").problems
    x, y = 104.15, 30.05
    gx, gy = convert(x, y, "wgs84", "gcj02")
    expected = np.hypot((gx - x) * 111_320 * np.cos(np.radians(y)), (gy - y) * 110_574)
    assert problem.row is None and problem.severity == "error"
    assert "probably GCJ-02, not wgs84; declare it with --crs villages.geojson=gcj02" in problem.reason
    metres = int(problem.reason.split("about ")[1].split(" m")[0])
    assert abs(metres - expected) <= 30, (metres, expected)
    assert tables["towns.shp"].report.problems == []
    # Declared as the message says, the villages load where they belong and nothing is flagged.
    tables, report = _read(tmp_path, by_file={"villages.geojson": "gcj02"})
    detect_offsets(list(tables.values()), report)
    assert report.error_count == 0
    assert _same_shapes(tables["villages.geojson"].frame["geometry"], villages.geometry, tolerance=1e-8)
    assert tables["villages.geojson"].report.datum_from == "--crs FILE=DATUM"


def test_bd09_points_labelled_wgs84_are_flagged_and_one_wrong_datum_everywhere_is_not(tmp_path):
    rng = np.random.default_rng(14)
    lon, lat = rng.uniform(X0, X0 + 2 * STEP, 400), rng.uniform(Y0, Y0 + 2 * STEP, 400)
    bx, by = convert(lon, lat, "wgs84", "bd09")
    lines = ["设备编码,设备名称,经度,纬度"] + [
        f"C{i:04d},探头{i},{a:.7f},{b:.7f}" for i, (a, b) in enumerate(zip(bx, by))
    ]
    (tmp_path / "cameras.csv").write_text("\n".join(lines), encoding="utf-8")
    _shapefile(_towns(), tmp_path, "towns")
    tables, report = _read(tmp_path, crs="wgs84")
    detect_offsets(list(tables.values()), report)
    [problem] = report.file("cameras.csv").problems
    assert "probably BD-09, not wgs84; declare it with --crs cameras.csv=bd09" in problem.reason
    # The towns in GCJ-02 too: every layer shares one wrong datum, nothing contradicts it.
    towns = _towns()
    gcj = towns.set_geometry(list(convert_geometry(np.asarray(towns.geometry), "wgs84", "gcj02")))
    _geojson(tmp_path / "villages.geojson", _villages(), None)
    _geojson(tmp_path / "v2.geojson", gcj, None)
    tables, report = _read(tmp_path / "v2.geojson", crs="wgs84")
    detect_offsets(list(tables.values()), report)
    assert report.error_count == 0


# ---------------------------------------------------------------- CSV
def test_gbk_csv_of_incidents_with_bad_coordinates(tmp_path):
    x, y = convert(104.1, 30.0, "wgs84", "gcj02")
    rows = [
        "事件编号,事件类型,上报时间,经度,纬度,事件描述",
        f"0001,环境卫生,2024-03-02 08:30,{x:.7f},{y:.7f},垃圾未清运",
        f"0002,矛盾纠纷,2024-03-02 09:00,{y:.7f},{x:.7f},邻里纠纷",  # swapped
        "0003,矛盾纠纷,2024-03-02 09:10,东经104度,30.0,",  # not a number
        "0004,治安隐患,2024-03-02 09:20,,,",  # no coordinates
        "",  # a blank line is a row people count
        "0006,治安隐患,2024-03-02 09:30,0,0,",  # not in China
        "0007,道路交通,2024-03-02 09:40,１０４.１,３０.０,全角数字",
        "0008,道路交通,2024-03-02 09:50,4.40111E+17,30,",
    ]
    (tmp_path / "事件.csv").write_bytes("\r\n".join(rows).encode("gbk"))
    tables, report = _read(tmp_path / "事件.csv", crs="gcj02")
    table = tables["事件.csv"]
    assert table.kind == "incidents" and (table.report.datum, table.report.datum_from) == ("gcj02", "--crs")
    assert table.frame["external_id"].tolist() == ["0001", "0002", "0003", "0004", "0006", "0007", "0008"]
    assert table.frame["_row"].tolist() == [1, 2, 3, 4, 6, 7, 8]
    assert table.frame["description"].iloc[0] == "垃圾未清运" and table.frame["description"].iloc[2] is None
    assert table.frame["lon"].iloc[0] == pytest.approx(104.1, abs=1e-6)  # 7 decimals in the file
    assert table.frame["lat"].iloc[0] == pytest.approx(30.0, abs=1e-6)
    wx, wy = convert(104.1, 30.0, "gcj02", "wgs84")
    assert (table.frame["lon"].iloc[5], table.frame["lat"].iloc[5]) == pytest.approx((wx, wy), abs=1e-9)
    assert np.isnan(table.frame["lon"].iloc[[1, 2, 3, 4, 6]]).all()
    problems = {(p.row, p.column): p.reason for p in table.report.problems}
    assert set(problems) == {(2, "经度"), (3, "经度"), (4, "经度"), (6, "经度"), (8, "经度")}
    assert problems[2, "经度"].startswith("longitude and latitude are swapped")
    assert problems[3, "经度"] == "'东经104度' is not a number (degrees)"
    assert problems[4, "经度"].startswith("no coordinates")
    assert "is not a place in China" in problems[6, "经度"]


def test_utf8_bom_tab_separated_cameras_with_a_datum_column(tmp_path):
    x, y = 104.2, 30.1
    values = {"WGS84": (x, y), "火星坐标": convert(x, y, "wgs84", "gcj02"), "百度": convert(x, y, "wgs84", "bd09")}
    values |= {"国家2000": (x, y), "北京54": (x, y), "": (x, y)}
    lines = ["设备编码\t设备名称\t经度\t纬度\t坐标系"]
    lines += [
        f"{51142100000000000 + i}\t探头{i}\t{a:.9f}\t{b:.9f}\t{d}" for i, (d, (a, b)) in enumerate(values.items())
    ]
    (tmp_path / "cameras.csv").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8"))
    tables, report = _read(tmp_path / "cameras.csv")
    table = tables["cameras.csv"]
    assert table.kind == "cameras"
    assert table.columns == {"code": "设备编码", "name": "设备名称", "lon": "经度", "lat": "纬度"}
    assert (table.report.datum_from, table.report.datum) == ("column", "bd09, cgcs2000, gcj02, wgs84")
    assert table.frame["code"].iloc[0] == "51142100000000000"
    np.testing.assert_allclose(table.frame["lon"].iloc[:4], x, atol=1e-8)
    np.testing.assert_allclose(table.frame["lat"].iloc[:4], y, atol=1e-8)
    assert np.isnan(table.frame["lon"].iloc[4:]).all()
    problems = [(p.row, p.column, p.reason) for p in table.report.problems]
    assert problems[0][:2] == (5, "坐标系") and "'北京54' is not a datum the import knows" in problems[0][2]
    assert problems[1][:2] == (6, "坐标系") and problems[1][2].startswith("no datum")
    assert len(problems) == 2


def test_unknown_kind_is_refused_naming_its_columns(tmp_path):
    (tmp_path / "清单.csv").write_text("名称,备注\n石岗村,无\n", encoding="utf-8")
    tables, report = _read(tmp_path / "清单.csv")
    assert tables == {}
    [(row, column, reason, severity)] = _problems(report, "清单.csv")
    assert (row, column, severity) == (None, None, "error")
    assert "cannot tell what this file holds" in reason and "the columns 名称, 备注" in reason
    assert "a roster needs 姓名, 职务" in reason and "incidents need 事件编号, 事件类型, 上报时间, 经度, 纬度" in reason


def test_zip_that_writes_outside_its_folder_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr("../../evil.csv", "名称\n1\n")
    tables, report = _read(tmp_path / "bad.zip")
    assert tables == {} and "outside its folder" in report.file("bad.zip").problems[0].reason
    assert not (tmp_path.parent / "evil.csv").exists()


def test_max_rows(tmp_path):
    (tmp_path / "a.csv").write_text("姓名,职务,网格编码\n" + "张三,网格员,511421100001001\n" * 5, encoding="utf-8")
    tables, report = _read(tmp_path / "a.csv", max_rows=4)
    assert tables == {} and "more than the 4 one import reads" in report.file("a.csv").problems[0].reason


# ---------------------------------------------------------------- Excel
def _xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    """A minimal .xlsx: str -> inline text, int/float -> number, ("date", serial) -> a date cell."""

    def cell(ref: str, value) -> str:
        if isinstance(value, tuple):
            return f'<c r="{ref}" s="1"><v>{value[1]}</v></c>'
        if isinstance(value, str):
            return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
        return f'<c r="{ref}"><v>{value!r}</v></c>'

    def sheet(rows: list[list]) -> str:
        body = "".join(
            f'<row r="{i}">'
            + "".join(cell(f"{chr(65 + j)}{i}", v) for j, v in enumerate(r) if v is not None)
            + "</row>"
            for i, r in enumerate(rows, 1)
        )
        return f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{body}</sheetData></worksheet>'

    ns = "http://schemas.openxmlformats.org"
    with zipfile.ZipFile(path, "w") as z:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        z.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{ns}/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{overrides}</Types>",
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        entries = "".join(f'<sheet name="{n}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(sheets, 1))
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{ns}/officeDocument/2006/relationships">'
            f"<sheets>{entries}</sheets></workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        rels += f'<Relationship Id="rId{len(sheets) + 1}" Type="{ns}/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{ns}/package/2006/relationships">{rels}</Relationships>',
        )
        z.writestr(
            "xl/styles.xml",
            f'<styleSheet xmlns="{ns}/spreadsheetml/2006/main"><fonts count="1"><font/></fonts><fills count="1"><fill/></fills>'
            '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>',
        )
        for i, rows in enumerate(sheets.values(), 1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", sheet(rows))
    return path


def test_xlsx_roster_title_row_numbers_dates_and_codes_excel_rounded(tmp_path):
    roster = [
        ["仁寿县网格员花名册（2024年3月）"],
        ["姓名", "职务", "联系电话", "网格编码", "任职日期", "身份证号"],
        ["张伟", "专职网格员", 13812345679.0, "511421100001001", "2023年3月2日", 4.40111199001011e17],
        ["李娜", "村党组织书记", 13900001111.0, 511421100001002.0, ("date", 44987), "51142119800101123X"],
        ["王强", "网格员", "028-38001234", 5.11421100001001e17, "", ""],
        ["赵敏", "网格员", 13700002222.0, "5.11421E+14", "2023/03/02", ""],
    ]
    other = [["姓名", "职务", "网格编码"], ["周杰", "网格员", "511421100001002"]]
    _xlsx(tmp_path / "roster.xlsx", {"花名册": roster, "补充": other, "空表": []})
    tables, report = _read(tmp_path / "roster.xlsx")
    assert sorted(tables) == ["roster.xlsx!花名册", "roster.xlsx!补充"]  # an empty sheet is not a table
    table = tables["roster.xlsx!花名册"]
    assert table.kind == "roster"
    assert table.columns == {
        "name": "姓名",
        "title": "职务",
        "phone": "联系电话",
        "unit_code": "网格编码",
        "start_date": "任职日期",
    }
    assert table.frame["phone"].tolist() == ["13812345679", "13900001111", "028-38001234", "13700002222"]
    assert table.frame["unit_code"].tolist()[:2] == ["511421100001001", "511421100001002"]
    assert table.frame["start_date"].tolist() == ["2023年3月2日", "2023-03-02", None, "2023/03/02"]
    assert table.frame["_row"].tolist() == [1, 2, 3, 4]
    problems = [(p.row, p.column, p.severity) for p in table.report.problems]
    # The 18-digit code Excel rounded, and the code shown in scientific notation; not the ID card
    # column, which the import does not read.
    assert problems == [(3, "网格编码", "error"), (4, "网格编码", "error")]
    assert "digits may have been lost to Excel" in table.report.problems[0].reason
    assert "511421100001001024" in table.report.problems[0].reason
    assert "scientific notation" in table.report.problems[1].reason
    assert tables["roster.xlsx!补充"].frame["name"].tolist() == ["周杰"]
    assert table.report.datum is None  # a roster has no coordinates: no datum asked for


def test_cell_texts():
    import datetime as dt

    texts, lost = cells.cell_texts(
        [
            None,
            "",
            " 0001 ",
            12.0,
            0.1 + 0.2,
            4.40111199001011e17,
            dt.date(2023, 3, 2),
            dt.datetime(2023, 3, 2, 8, 30),
            True,
        ]
    )
    assert texts == [None, None, "0001", "12", "0.3", "440111199001011008", "2023-03-02", "2023-03-02 08:30:00", "TRUE"]
    assert lost == [5]
