"""One file per kind of bad input, each otherwise clean (CGCS2000 declared, 12-digit text codes),
so that the one problem planted is what an import must report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely

from .build import GRID, polygons
from .manifest import FileEntry, Manifest, Planted
from .write import (
    CAMERA_HEADER,
    INCIDENT_HEADER,
    NAMES,
    cameras_table,
    feature,
    gaps,
    grids_table,
    incidents_table,
    roster_table,
    save_csv,
    save_geojson,
    save_gpkg,
    save_shapefile_zip,
    save_xlsx,
    towns_table,
    villages_table,
)

if TYPE_CHECKING:
    from . import County

CGCS2000 = "urn:ogc:def:crs:EPSG::4490"
UNKNOWN_TITLE = "网格联络员"


def bow_tie(geometry: shapely.Geometry) -> shapely.Polygon:
    """The largest part of ``geometry`` with two neighbouring vertices of its outer ring swapped,
    so that two of its edges cross (a bow-tie), nearly the same shape."""
    part = max(shapely.get_parts(geometry), key=lambda p: p.area)
    ring = list(part.exterior.coords)[:-1]
    for i in range(1, len(ring) - 1):
        swapped = ring[:i] + [ring[i + 1], ring[i]] + ring[i + 2 :]
        candidate = shapely.Polygon(swapped + [swapped[0]])
        if "Self-intersection" in shapely.is_valid_reason(candidate):
            return candidate
    raise RuntimeError("no bow-tie found")


def write_bad_files(county: County, folder: str | Path) -> Manifest:
    """Write one bad file per kind of bad input into ``folder``.

    Each entry of the manifest names the good file it ``replaces`` and the one problem planted
    (its ``what``): ``unreadable`` (a zip cut in half), ``invalid_geometry`` (a bow-tie grid),
    ``not_in_parent`` (a village whose town_code names another town than its code's),
    ``overlap`` (a grid grown over its siblings; ``value`` lists them), ``scientific_notation``
    (a town code as Excel shows it, "3.50322E+11"), ``unknown_title``, ``bad_code`` (a camera
    code of 19 digits) and ``no_datum`` (incidents with no datum anywhere: refused unless
    ``--crs`` is given, so do not pass ``crs_options()`` for it).

    Parameters
    ----------
    county : County
        From ``make_county``.
    folder : str or Path
        Created if missing.

    Returns
    -------
    Manifest
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(county.seed + 3)
    manifest = Manifest(folder=folder, gaps=gaps(county))

    def add(path: str, kind: str, datum: str | None, declared: str | None, rows: int, problem: tuple) -> None:
        row, column, what, value = problem
        planted = [Planted(path, row, column, what, value)]
        layer = "villages" if path.endswith(".gpkg") else None
        manifest.files.append(FileEntry(path, kind, datum, declared, rows, planted, NAMES[kind], layer))

    # A zip cut in half, as a failed download or a full disk leaves it.
    path = "乡镇街道界线_损坏.zip"
    save_shapefile_zip(towns_table(county, messy=False), folder / path, "乡镇街道")
    data = (folder / path).read_bytes()
    (folder / path).write_bytes(data[: len(data) // 2])
    add(path, "towns", "cgcs2000", "file", len(county.towns), (None, None, "unreadable", None))

    # A town code that went through Excel: "3.50322E+11".
    towns = towns_table(county, messy=False)
    i = int(rng.integers(0, len(towns)))
    towns.loc[i, "乡镇代码"] = f"{float(towns.loc[i, '乡镇代码']):.5E}"
    path = "乡镇街道界线_科学计数法.zip"
    save_shapefile_zip(towns, folder / path, "乡镇街道")
    add(
        path,
        "towns",
        "cgcs2000",
        "file",
        len(towns),
        (i + 1, "乡镇代码", "scientific_notation", towns.loc[i, "乡镇代码"]),
    )

    # A village whose town_code names another town than the one its code is under.
    villages = villages_table(county)
    i = int(rng.integers(0, len(villages)))
    other = next(code for code in county.towns["code"] if code != villages.loc[i, "town_code"])
    villages.loc[i, "town_code"] = other
    path = "村社区_所属乡镇错误.gpkg"
    save_gpkg(villages, folder / path, "villages")
    add(path, "villages", "cgcs2000", "file", len(villages), (i + 1, "town_code", "not_in_parent", other))

    grids = county.grids
    rows = len(grids)
    # A bow-tie grid.
    features = grids_table(county, messy=False)
    i = int(rng.integers(0, rows))
    features[i] = feature(features[i]["properties"], bow_tie(grids.geometry.iloc[i]))
    path = "网格_自相交.geojson"
    save_geojson(features, folder / path, "网格", CGCS2000)
    add(path, "grids", "cgcs2000", "file", rows, (i + 1, "geometry", "invalid_geometry", grids["code"].iloc[i]))

    # A level-1 grid grown ~200 m over its siblings, still inside its village.
    features = grids_table(county, messy=False)
    plain = grids[(grids["level"] == 1) & ~grids["village_code"].isin(grids.loc[grids["level"] == 2, "village_code"])]
    i = int(rng.choice(plain.index.to_numpy()))
    village = county.villages.set_index("code").geometry[grids.loc[i, "village_code"]]
    grown = polygons(shapely.intersection(grids.geometry[i].buffer(0.002), village, grid_size=GRID))
    siblings = plain[(plain["village_code"] == grids.loc[i, "village_code"]) & (plain.index != i)]
    hit = [code for code, g in zip(siblings["code"], siblings.geometry) if shapely.intersection(g, grown).area > 1e-9]
    features[i] = feature(features[i]["properties"], grown)
    path = "网格_重叠.geojson"
    save_geojson(features, folder / path, "网格", CGCS2000)
    add(path, "grids", "cgcs2000", "file", rows, (i + 1, "geometry", "overlap", hit))

    # A job title nobody has defined.
    rows_roster = roster_table(county, messy=False)
    i = int(rng.integers(0, len(rows_roster)))
    rows_roster[i][1] = UNKNOWN_TITLE
    path = "花名册_未知职务.xlsx"
    save_xlsx(["姓名", "职务", "联系电话", "所属单位代码", "任职日期"], rows_roster, folder / path, "花名册")
    add(path, "roster", None, None, len(rows_roster), (i + 1, "职务", "unknown_title", UNKNOWN_TITLE))

    # A camera code one digit short.
    rows_cam = cameras_table(county, messy=False)
    i = int(rng.integers(0, len(rows_cam)))
    rows_cam[i][0] = rows_cam[i][0][:19]
    path = "视频点位_编码19位.csv"
    save_csv(CAMERA_HEADER, rows_cam, folder / path, "gbk")
    add(path, "cameras", "wgs84", "column", len(rows_cam), (i + 1, "设备编码", "bad_code", rows_cam[i][0]))

    # Incidents with no datum declared anywhere.
    header, rows_inc, _ = incidents_table(county, messy=False, datum_column=False, excel=False)
    assert header == INCIDENT_HEADER
    path = "事件_无坐标系.csv"
    save_csv(header, rows_inc, folder / path, "utf-8-sig")
    add(path, "incidents", "wgs84", None, len(rows_inc), (None, None, "no_datum", None))
    return manifest
