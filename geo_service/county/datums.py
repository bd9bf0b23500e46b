"""Where a table's coordinates are: its datum (from the file, a per-row column, ``--crs``) and its
shapes or points converted to CGCS2000 lon/lat; and a check that its layers agree.

A file says its datum through its ``.prj``, GeoPackage SRS or GeoJSON ``crs`` member; GCJ-02 and
BD-09 have no EPSG code, so data in them usually claims WGS84 or nothing. ``--crs FILE=DATUM``
therefore overrides a geographic CRS a file declares (not a projected one: a Gauss-Krüger grid
cannot be GCJ-02). Precedence otherwise: the file, a per-row datum column (its empty cells fall
back to what follows), ``--crs FILE=DATUM``, ``--crs DATUM``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo_service.coordinates.datum import convert, convert_geometry, parse_datum
from geo_service.county import cells
from geo_service.county.fields import KIND_NAMES, SPATIAL_KINDS
from geo_service.county.formats import RawTable
from geo_service.county.report import FileReport
from geo_service.i18n import Message, reason_of, t

CHINA = (73.0, 3.0, 136.0, 54.0)  # lon/lat box of the data a county can hold
CHOICES = t("cgcs2000, wgs84, gcj02 or bd09")
# Chinese and common names of the datums, normalised (cells.normalise_name), beyond parse_datum's.
_NAMES = {
    **dict.fromkeys(
        ("国家2000", "2000国家大地坐标系", "cgcs2000", "中国2000", "国家大地2000", "大地2000", "2000坐标系", "2000"),
        "cgcs2000",
    ),
    **dict.fromkeys(("epsg4490", "4490", "cgcs2000坐标系", "国家2000坐标系", "2000国家坐标系"), "cgcs2000"),
    **dict.fromkeys(("wgs84", "wgs1984", "gps", "84", "epsg4326", "4326", "wgs84坐标系", "84坐标系"), "wgs84"),
    **dict.fromkeys(("gcj02", "gcj", "火星", "火星坐标", "火星坐标系", "高德", "高德坐标", "腾讯", "国测局"), "gcj02"),
    **dict.fromkeys(("gcj02坐标系", "高德坐标系", "腾讯坐标", "amap", "gaode", "tencent", "mars"), "gcj02"),
    **dict.fromkeys(("bd09", "bd09ll", "百度", "百度坐标", "百度坐标系", "baidu", "bd09坐标系"), "bd09"),
}


def datum_name(value: str) -> str:
    """A datum from how people write it (``WGS84``, ``wgs-84``, ``国家2000``, ``火星坐标``, ``百度``).

    Raises
    ------
    ValueError
        If the name is not one the import knows; the message says which are.
    """
    key = cells.normalise_name(value)
    if key in _NAMES:
        return _NAMES[key]
    try:
        return parse_datum(str(value))
    except (ValueError, TypeError):
        raise ValueError(
            t(
                "{value!r} is not a datum the import knows ({choices}, or 国家2000, 火星坐标, 百度)",
                value=value,
                choices=CHOICES,
            )
        ) from None


def crs_datum(crs: CRS) -> str:
    """The datum of a file's CRS: cgcs2000 or wgs84; anything else (Xian80, Beijing54) is refused."""
    geodetic = crs.geodetic_crs
    name = cells.normalise_name(geodetic.datum.name if geodetic is not None else crs.name)
    if "china" in name and "2000" in name or "cgcs2000" in name:
        return "cgcs2000"
    if "wgs84" in name or "wgs1984" in name or "worldgeodeticsystem1984" in name:
        return "wgs84"
    if "xian" in name or "beijing" in name:
        raise ValueError(
            t("the file's coordinate system is {name}: datum not supported, convert to CGCS2000", name=crs.name)
        )
    raise ValueError(
        t("the file's coordinate system is {name}, which the import does not convert; use CGCS2000", name=crs.name)
    )


def place(
    raw: RawTable,
    kind: str,
    frame: pd.DataFrame,
    columns: dict[str, str],
    datum_column: str | None,
    report: FileReport,
    override: str | None,
    default: str | None,
) -> None:
    """Fill ``frame``'s geometry (spatial kinds) or lon/lat (point kinds) in CGCS2000, and the
    report's datum; rows that cannot be placed get a row error, a table that cannot a file error.

    Parameters
    ----------
    raw : RawTable
        The table as read, with its geometry and declared CRS.
    kind : str
        Its kind (``fields.KINDS``).
    frame : DataFrame
        The canonical frame, changed in place.
    columns : dict
        Canonical field -> the file's column; ``geometry``/``lon``/``lat`` are set here.
    datum_column : str, optional
        The file's per-row datum column.
    report : FileReport
        Where problems and the datum go.
    override, default : str, optional
        ``--crs FILE=DATUM`` for this file, and ``--crs DATUM``.
    """
    geometry = raw.geometry
    spatial = kind in SPATIAL_KINDS
    if spatial and geometry is None:
        report.error(
            None,
            None,
            t(
                "has no shapes: a file of {kind} needs polygons (a Shapefile, GeoPackage or GeoJSON)",
                kind=KIND_NAMES[kind],
            ),
        )
        return
    try:
        override_datum = datum_name(override) if override else None
        default_datum = datum_name(default) if default else None
    except ValueError as exc:
        report.error(None, None, t("--crs: {reason}", reason=reason_of(exc)))
        return
    row_datum: np.ndarray | None = None
    if raw.crs is not None:
        try:
            file_datum = crs_datum(raw.crs)
        except ValueError as exc:
            report.error(None, None, reason_of(exc))
            return
        if raw.crs.is_projected:
            if override_datum in ("gcj02", "bd09"):
                report.error(
                    None,
                    None,
                    t(
                        "is in the projected system {name}, which cannot be {datum}",
                        name=raw.crs.name,
                        datum=override_datum,
                    ),
                )
                return
            geometry = geometry.to_crs("EPSG:4490" if file_datum == "cgcs2000" else "EPSG:4326")
            datum, source = file_datum, "file"
        elif override_datum:
            datum, source = override_datum, "--crs FILE=DATUM"
            if _fold(override_datum) != _fold(file_datum):
                report.warn(
                    None,
                    None,
                    t("the file says {name}; read as {datum}, as --crs says", name=raw.crs.name, datum=override_datum),
                )
        else:
            datum, source = file_datum, "file"
        if datum_column:
            report.warn(
                None,
                datum_column,
                t("the file declares its coordinate system; column {column} is not used", column=datum_column),
            )
    elif datum_column:
        row_datum = _row_datums(frame, datum_column, override_datum or default_datum, raw.path, report)
        used = sorted({d for d in row_datum if d})
        datum, source = (used[0] if len(used) == 1 else ", ".join(used) or None), "column"
    elif override_datum or default_datum:
        datum, source = (override_datum, "--crs FILE=DATUM") if override_datum else (default_datum, "--crs")
    else:
        hint = _projected_hint(geometry)
        said = t(
            "no datum: the file does not say its coordinate system; give --crs FILE=DATUM, "
            "e.g. --crs {path}=cgcs2000 (DATUM: {choices})",
            path=raw.path,
            choices=CHOICES,
        )
        report.error(None, None, said if hint is None else t("{problem}. {hint}", problem=said, hint=hint))
        return
    report.datum, report.datum_from = datum, source
    datums = row_datum if row_datum is not None else np.full(len(frame), datum, dtype=object)
    if spatial:
        _place_shapes(frame, columns, geometry, datums, report)
    else:
        _place_points(frame, columns, geometry, datums, report)


def _fold(datum: str) -> str:
    return "wgs84" if datum == "cgcs2000" else datum


def _projected_hint(geometry) -> Message | None:
    if geometry is None or not len(geometry):
        return None
    bounds = geometry.total_bounds
    if np.isfinite(bounds).all() and np.abs(bounds).max() > 360:
        return t(
            "Its coordinates (x up to {x:.0f}) are not lon/lat: give the .prj that came with it", x=float(bounds[2])
        )
    return None


def _row_datums(frame: pd.DataFrame, column: str, fallback: str | None, path: str, report: FileReport) -> np.ndarray:
    values = frame["_datum"]
    out = np.full(len(frame), None, dtype=object)
    for value in values.dropna().unique():
        try:
            out[(values == value).to_numpy()] = datum_name(value)
        except ValueError as exc:
            for row in frame.loc[values == value, "_row"]:
                report.error(int(row), column, reason_of(exc))
    empty = values.isna().to_numpy()
    if fallback:
        out[empty] = fallback
    else:
        for row in frame.loc[empty, "_row"]:
            report.error(
                int(row),
                column,
                t("no datum: the row's {column} is empty and no --crs {path}=DATUM is given", column=column, path=path),
            )
    return out


def _check_lonlat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per position: '' where a lon/lat in China, else the reason (swapped, projected, elsewhere)."""
    reasons = np.full(len(x), "", dtype=object)
    x, y = x.astype(float), y.astype(float)
    in_lon = (x >= CHINA[0]) & (x <= CHINA[2])
    in_lat = (y >= CHINA[1]) & (y <= CHINA[3])
    swapped = ~(in_lon & in_lat) & (x >= CHINA[1]) & (x <= CHINA[3]) & (y >= CHINA[0]) & (y <= CHINA[2])
    projected = (np.abs(x) > 360) | (np.abs(y) > 360)
    for i in np.flatnonzero(~(in_lon & in_lat)):
        if swapped[i]:
            reasons[i] = t(
                "longitude and latitude are swapped ({x:g} is a latitude, {y:g} a longitude)",
                x=x[i].item(),
                y=y[i].item(),
            )
        elif projected[i]:
            reasons[i] = t(
                "{x:g}, {y:g} are not longitude/latitude in degrees (projected metres?)", x=x[i].item(), y=y[i].item()
            )
        else:
            reasons[i] = t(
                "{x:g}, {y:g} is not a place in China (longitude 73 to 136, latitude 3 to 54)",
                x=x[i].item(),
                y=y[i].item(),
            )
    return reasons


def _place_shapes(frame, columns, geometry, datums, report: FileReport) -> None:
    geoms = shapely.force_2d(np.asarray(geometry.values, dtype=object))
    rows = frame["_row"].to_numpy()
    ok = np.array([d is not None for d in datums], dtype=bool)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    polygon = np.isin(types, (3, 6))  # Polygon, MultiPolygon
    bounds = shapely.bounds(geoms)
    reasons = _check_lonlat(bounds[:, 0], bounds[:, 1])
    reasons_max = _check_lonlat(bounds[:, 2], bounds[:, 3])
    for i in range(len(geoms)):
        if missing[i]:
            report.error(int(rows[i]), "geometry", t("no shape: the feature has no geometry"))
        elif not polygon[i]:
            report.error(int(rows[i]), "geometry", t("is a {kind}, not an area (polygon)", kind=geoms[i].geom_type))
        elif reasons[i] or reasons_max[i]:
            report.error(int(rows[i]), "geometry", reasons[i] or reasons_max[i])
        else:
            continue
        ok[i] = False
    out = np.full(len(geoms), None, dtype=object)
    for datum in {d for d in datums[ok]}:
        idx = np.flatnonzero(ok & (datums == datum))
        out[idx] = convert_geometry(geoms[idx], datum, "cgcs2000")
    frame["geometry"] = out
    columns["geometry"] = "geometry"


def _numbers(text: pd.Series) -> np.ndarray:
    cleaned = text.astype(object).where(text.notna(), "").astype(str).str.normalize("NFKC").str.strip(" °")
    return pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float)


def _place_points(frame, columns, geometry, datums, report: FileReport) -> None:
    rows = frame["_row"].to_numpy()
    ok = np.array([d is not None for d in datums], dtype=bool)
    if geometry is not None and geometry.notna().any():
        geoms = np.asarray(geometry.values, dtype=object)
        is_point = shapely.get_type_id(geoms) == 0
        x = np.where(is_point, shapely.get_x(np.where(is_point, geoms, None)), np.nan)
        y = np.where(is_point, shapely.get_y(np.where(is_point, geoms, None)), np.nan)
        lon_col = lat_col = "geometry"
        for i in np.flatnonzero(~is_point & ~shapely.is_missing(geoms)):
            report.error(int(rows[i]), "geometry", t("is a {kind}, not a point", kind=geoms[i].geom_type))
            ok[i] = False
        blank = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        bad_number = np.zeros(len(x), dtype=bool)
    else:
        lon_col, lat_col = columns["lon"], columns["lat"]
        lon_text, lat_text = frame["lon"], frame["lat"]
        x, y = _numbers(lon_text), _numbers(lat_text)
        blank = (lon_text.isna() | lat_text.isna()).to_numpy()
        bad_number = ~blank & (np.isnan(x) | np.isnan(y))
        for i in np.flatnonzero(bad_number):
            column, value = (lon_col, lon_text.iat[i]) if np.isnan(x[i]) else (lat_col, lat_text.iat[i])
            report.error(int(rows[i]), column, t("{value!r} is not a number (degrees)", value=value))
    for i in np.flatnonzero(blank):
        report.error(int(rows[i]), lon_col, t("no coordinates: the row has no longitude/latitude; it is not placed"))
    ok &= ~blank & ~bad_number & np.isfinite(x) & np.isfinite(y)
    reasons = _check_lonlat(np.where(ok, x, 100.0), np.where(ok, y, 30.0))
    for i in np.flatnonzero(reasons != ""):
        report.error(int(rows[i]), lon_col, reasons[i])
        ok[i] = False
    lon, lat = np.full(len(x), np.nan), np.full(len(x), np.nan)
    for datum in {d for d in datums[ok]}:
        idx = np.flatnonzero(ok & (datums == datum))
        lon[idx], lat[idx] = convert(x[idx], y[idx], datum, "cgcs2000")
    frame["lon"], frame["lat"] = lon, lat
    columns["lon"], columns["lat"] = lon_col, lat_col
