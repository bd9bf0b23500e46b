"""A county's files written the ways county offices write them, byte for byte the same for a seed.

``messy`` (the default) is what arrives from a county: Chinese field names, 9-digit town codes,
codes as numbers and in full-width digits, phones and dates written four ways, a GCJ-02 GeoJSON
that does not say so, GBK text, and a few rows of incidents that cannot load (listed in the
manifest). ``clean`` writes the same county tidily (12-digit text codes, CGCS2000 declared,
no planted problems).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import shapely
from openpyxl.cell import WriteOnlyCell

from geo_service.coordinates.datum import convert, convert_geoseries

from .manifest import FileEntry, Manifest, Planted
from .people import rules_table

if TYPE_CHECKING:
    from . import County

FIXED = datetime(2025, 6, 30, 12, 0, 0)  # every timestamp inside a written file
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
KIND_ZH = {"street": "街道", "town": "镇", "township": "乡"}
NAMES = {
    "towns": "乡镇街道界线.zip",
    "villages": "村社区.gpkg",
    "grids": "网格.geojson",
    "roster": "网格员及三加N人员花名册.xlsx",
    "cameras": "视频点位导出.csv",
    "incidents": "2025年事件台账",
}
CAMERA_HEADER = ["设备编码", "设备名称", "类型", "经度", "纬度", "方向", "视场角", "可视距离", "在线状态", "坐标系"]
INCIDENT_HEADER = ["事件编号", "事件类型", "事件来源", "事件状态", "风险等级", "上报时间", "派遣时间", "办结时间"]
INCIDENT_HEADER += ["满意度", "事件描述", "经度", "纬度"]


# ---------------------------------------------------------------------------------------------
# Saving, deterministically
# ---------------------------------------------------------------------------------------------
def save_zip(members: dict[str, bytes], path: Path) -> None:
    """A zip archive whose bytes depend only on ``members`` (fixed timestamps, sorted names)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=FIXED.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name])


def save_xlsx(header: list[str], rows: list[list[Any]], path: Path, sheet: str = "Sheet1") -> None:
    """An Excel workbook: dates and datetimes become Excel dates, text stays text."""
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    ws.append(header)
    for row in rows:
        ws.append([_cell(ws, value) for value in row])
    book.properties.creator = "county office"
    book.properties.created = FIXED
    buffer = io.BytesIO()
    book.save(buffer)
    # openpyxl stamps the save time in docProps/core.xml and on every zip member: fix both.
    with zipfile.ZipFile(buffer) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    stamp = FIXED.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    members["docProps/core.xml"] = re.sub(
        rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\g<2>", members["docProps/core.xml"]
    )
    save_zip(members, path)


def _cell(ws: Any, value: Any) -> Any:
    if isinstance(value, date):  # a datetime is a date too
        cell = WriteOnlyCell(ws, value)
        cell.number_format = "yyyy-mm-dd hh:mm:ss" if isinstance(value, datetime) else "yyyy-mm-dd"
        return cell
    return value


def save_csv(header: list[str], rows: list[list[Any]], path: Path, encoding: str) -> None:
    """A CSV as Excel exports it (CRLF); ``encoding`` ``gbk`` or ``utf-8-sig`` (with a BOM)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([["" if value is None else value for value in row] for row in rows])
    path.write_bytes(text.getvalue().encode(encoding))


def save_shapefile_zip(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """A zipped Shapefile: GBK .dbf, a .cpg saying GBK, the .prj of the frame's CRS."""
    with tempfile.TemporaryDirectory() as folder:
        shp = Path(folder) / f"{layer}.shp"
        frame.to_file(
            shp, driver="ESRI Shapefile", encoding="GBK", layer_options={"DBF_DATE_LAST_UPDATE": "2025-06-30"}
        )
        (Path(folder) / f"{layer}.cpg").write_text("GBK", encoding="ascii")
        save_zip({p.name: p.read_bytes() for p in Path(folder).iterdir()}, path)


def save_gpkg(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """A GeoPackage layer, its timestamps fixed."""
    path.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED.strftime("%Y-%m-%dT%H:%M:%S.000Z")})
    try:
        frame.to_file(path, driver="GPKG", layer=layer)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def save_geojson(features: list[dict[str, Any]], path: Path, name: str, crs: str | None = None) -> None:
    """A FeatureCollection; a ``crs`` member only if ``crs`` is given (as the old GeoJSON spec did)."""
    collection: dict[str, Any] = {"type": "FeatureCollection", "name": name}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    collection["features"] = features
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")


def feature(properties: dict[str, Any], geometry: shapely.Geometry) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": json.loads(shapely.to_geojson(geometry))}


# ---------------------------------------------------------------------------------------------
# The tables as a county writes them
# ---------------------------------------------------------------------------------------------
def towns_table(county: County, messy: bool) -> gpd.GeoDataFrame:
    """Towns with Chinese field names; every other town's code in 9 digits when messy."""
    codes = [c[:9] if messy and i % 2 else c for i, c in enumerate(county.towns["code"])]
    return gpd.GeoDataFrame(
        {"乡镇代码": codes, "乡镇名称": county.towns["name"], "乡镇类型": county.towns["kind"].map(KIND_ZH)},
        geometry=county.towns.geometry.values,
        crs=county.towns.crs,
    )


def villages_table(county: County) -> gpd.GeoDataFrame:
    v = county.villages
    columns = {"code": "village_code", "name": "village_name", "town_code": "town_code"}
    frame = v[["code", "name", "town_code", "population", "households"]].rename(columns=columns)
    return gpd.GeoDataFrame(frame, geometry=v.geometry.values, crs=v.crs)


def grids_table(county: County, messy: bool) -> list[dict[str, Any]]:
    """Grid features: GCJ-02 when messy (without saying so), some codes as numbers, one in
    full-width digits."""
    g = county.grids
    geometries = convert_geoseries(g.geometry, "cgcs2000", "gcj02") if messy else g.geometry
    out = []
    for i, (code, name, hh, pop, geometry) in enumerate(
        zip(g["code"], g["name"], g["households"], g["population"], geometries)
    ):
        value: Any = code
        if messy and len(code) == 15 and i % 5 == 2:
            value = int(code)
        elif messy and i == 1:
            value = code.translate(FULL_WIDTH)
        out.append(feature({"网格编码": value, "网格名称": name, "户数": int(hh), "人口": int(pop)}, geometry))
    return out


def _phone(rng: np.random.Generator, phone: str, messy: bool) -> Any:
    ways = [int(phone), int(phone), f"{phone[:3]} {phone[3:7]} {phone[7:]}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"]
    ways += [f"+86 {phone}", phone]
    return ways[int(rng.integers(0, len(ways)))] if messy else phone


def _start(rng: np.random.Generator, day: date, messy: bool) -> Any:
    way = rng.integers(0, 4) if messy else 0
    return [day, day, f"{day.year}年{day.month}月{day.day}日", f"{day.year}/{day.month}/{day.day}"][way]


def roster_table(county: County, messy: bool) -> list[list[Any]]:
    """姓名, 职务, 联系电话, 所属单位代码, 任职日期: phones as numbers or with spaces, dashes or
    +86; a few codes as numbers; dates as Excel dates or text two ways (when messy)."""
    rng = np.random.default_rng(county.seed + 1)
    rows = []
    for r in county.roster.itertuples():
        code: Any = int(r.unit_code) if messy and len(r.unit_code) <= 15 and rng.random() < 0.1 else r.unit_code
        rows.append([r.name, r.title, _phone(rng, r.phone, messy), code, _start(rng, r.start_date, messy)])
    return rows


def cameras_table(county: County, messy: bool) -> list[list[Any]]:
    """A camera platform's export: coordinates in the datum its 坐标系 column names."""
    c = county.cameras
    datums = c["datum"] if messy else np.full(len(c), "WGS84")
    lon, lat = c.geometry.x.to_numpy(), c.geometry.y.to_numpy()
    glon, glat = convert(lon, lat, "cgcs2000", "gcj02")
    rows = []
    for i, r in enumerate(c.itertuples()):
        x, y = (glon[i], glat[i]) if datums[i] == "GCJ02" else (lon[i], lat[i])
        view = [None if np.isnan(v) else int(v) for v in (r.heading, r.fov, r.range)]
        rows.append([r.code, r.name, r.kind, f"{x:.6f}", f"{y:.6f}", *view, r.status, datums[i]])
    return rows


def incidents_table(county: County, messy: bool, datum_column: bool, excel: bool) -> tuple[list, list, list]:
    """The incidents' rows as a county writes them, and the problems planted (messy only):
    3 rows far outside the county, 3 without coordinates, 2 with categories nobody knows."""
    rng = np.random.default_rng(county.seed + 2)
    aliases: dict[tuple[str, str], list[str]] = {}
    for row in rules_table("value_aliases"):
        aliases.setdefault((row["field"], row["value"]), []).append(row["alias"])
    risk_ways = {
        "蓝色": ["蓝", "蓝色", "蓝色预警"],
        "黄色": ["黄", "黄色", "黄色预警"],
        "红色": ["红", "红色", "红色预警"],
    }
    header = INCIDENT_HEADER + (["坐标系"] if datum_column else [])

    def when(t: Any) -> Any:
        if t is None or pd.isna(t):
            return None
        return t.to_pydatetime() if excel else t.strftime("%Y-%m-%d %H:%M:%S")

    rows = []
    for r in county.incidents.itertuples():
        category, source, risk = r.category, r.source, r.risk_colour
        if messy and rng.random() < 0.15:
            category = aliases.get(("category", r.category_code), [category])[0]
        if messy and rng.random() < 0.2:
            source = str(rng.choice(aliases.get(("source", r.source_code), [source])))
        if messy:
            risk = str(rng.choice(risk_ways[risk]))
        row = [r.external_id, category, source, r.status, risk, when(r.reported_at), when(r.dispatched_at)]
        satisfaction = None if pd.isna(r.satisfaction) else r.satisfaction
        row += [when(r.closed_at), satisfaction, r.description, round(r.geometry.x, 6), round(r.geometry.y, 6)]
        rows.append(row + (["WGS84"] if datum_column else []))
    planted: list[tuple[int, str, str, Any]] = []  # row, column, what, value
    if messy:
        chosen = rng.choice(len(rows), size=8, replace=False)
        for k, i in enumerate(chosen.tolist()):
            if k < 3:  # far away: around Beijing
                rows[i][10:12] = [round(116.3 + rng.random() * 0.2, 6), round(39.8 + rng.random() * 0.2, 6)]
                planted.append((i + 1, "经度", "outside_county", rows[i][10]))
            elif k < 6:
                rows[i][10:12] = [None, None]
                planted.append((i + 1, "经度", "no_coordinates", None))
            else:
                rows[i][1] = ["环境卫生", "城市管理"][k - 6]
                planted.append((i + 1, "事件类型", "unknown_category", rows[i][1]))
    return header, rows, sorted(planted)


def write_county_files(
    county: County,
    folder: str | Path,
    *,
    style: str = "messy",
    incidents_as: str = "xlsx",
    incidents_datum_column: bool = True,
) -> Manifest:
    """Write a county's files, one file per kind, into ``folder``.

    Parameters
    ----------
    county : County
        From ``make_county``.
    folder : str or Path
        Created if missing.
    style : {"messy", "clean"}
        ``messy``: as counties write them, with 8 incidents rows that cannot load (see the
        manifest); ``clean``: tidy, every datum declared (except the incidents without the datum
        column), nothing planted.
    incidents_as : {"xlsx", "csv"}
        The incidents as an Excel workbook or a UTF-8 CSV with a BOM.
    incidents_datum_column : bool
        Whether the incidents carry a 坐标系 column (WGS84); without it the import needs ``--crs``.

    Returns
    -------
    Manifest
    """
    if style not in ("messy", "clean"):
        raise ValueError(f"style must be 'messy' or 'clean', not {style!r}")
    messy = style == "messy"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(folder=folder, gaps=gaps(county))

    save_shapefile_zip(towns_table(county, messy), folder / NAMES["towns"], "乡镇街道")
    manifest.files.append(FileEntry(NAMES["towns"], "towns", "cgcs2000", "file", len(county.towns)))
    save_gpkg(villages_table(county), folder / NAMES["villages"], "villages")
    entry = FileEntry(NAMES["villages"], "villages", "cgcs2000", "file", len(county.villages), layer="villages")
    manifest.files.append(entry)
    crs = None if messy else "urn:ogc:def:crs:EPSG::4490"
    save_geojson(grids_table(county, messy), folder / NAMES["grids"], "网格", crs)
    manifest.files.append(
        FileEntry(
            NAMES["grids"], "grids", "gcj02" if messy else "cgcs2000", None if messy else "file", len(county.grids)
        )
    )
    rows = roster_table(county, messy)
    save_xlsx(["姓名", "职务", "联系电话", "所属单位代码", "任职日期"], rows, folder / NAMES["roster"], "花名册")
    manifest.files.append(FileEntry(NAMES["roster"], "roster", None, None, len(rows)))
    save_csv(CAMERA_HEADER, cameras_table(county, messy), folder / NAMES["cameras"], "gbk" if messy else "utf-8")
    datum = "per row" if messy else "wgs84"
    manifest.files.append(FileEntry(NAMES["cameras"], "cameras", datum, "column", len(county.cameras)))

    path = NAMES["incidents"] + "." + incidents_as
    header, rows, planted = incidents_table(county, messy, incidents_datum_column, incidents_as == "xlsx")
    if incidents_as == "xlsx":
        save_xlsx(header, rows, folder / path, "事件")
    else:
        save_csv(header, rows, folder / path, "utf-8-sig")
    entry = FileEntry(path, "incidents", "wgs84", "column" if incidents_datum_column else None, len(rows))
    entry.problems = [Planted(path, row, column, what, value) for row, column, what, value in planted]
    manifest.files.append(entry)
    return manifest


def gaps(county: County) -> dict[str, list[str]]:
    """The gaps the roster leaves: grids without a grid worker, villages without a party
    secretary or a community police officer."""
    return {
        "grid_worker": list(county.vacant_grids),
        "village_party_secretary": [county.no_secretary],
        "community_police": [county.no_police],
    }
