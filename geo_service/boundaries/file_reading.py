"""A planner's boundary file (GeoJSON, GeoPackage, zipped Shapefile) to a frame of grids in CGCS2000.

Everything that would make the file unusable is found before anything is stored, and reported
together, each problem with its feature number (1-based, in the file's order), the grid code and
the field: a file from a surveying office is fixed in one round, not one error at a time.
Geometry that is merely invalid (a self-intersection) is kept: the checks report it with a
repaired shape to accept, which is a planner's decision, not the importer's.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from geo_service.coordinates.datum import convert_geoseries, parse_datum
from geo_service.errors import InvalidInput, TooLarge
from geo_service.i18n import t
from geo_service.vocabulary import GRID_KINDS, STORAGE_CRS, STORAGE_SRID, Datum

GRID_CODE = re.compile(r"^\d{15}(\d{3}){0,2}$")
# Column names planners' files use for each field, English and Chinese; the first match wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "grid_code", "wgbm", "网格编码", "网格代码"),
    "name": ("name", "grid_name", "wgmc", "网格名称"),
    "kind": ("kind", "grid_kind", "type", "网格类型"),
    "households": ("households", "hh", "hs", "户数"),
    "population": ("population", "pop", "rk", "人口", "人口数"),
}
KIND_ALIASES = {"城市": "urban", "城镇": "urban", "农村": "rural", "专属": "special", "专属网格": "special"}
MAX_EXACT_FLOAT = 2**53  # codes stored as floating-point numbers above this have lost digits


@dataclass(frozen=True)
class BoundaryFile:
    """The grids of a file, in CGCS2000, with where they came from."""

    grids: gpd.GeoDataFrame  # feature, code, name, level, kind, households, population, geometry
    source: str
    layer: str | None
    datum: Datum
    datum_from_file: bool
    estimated: tuple[str, ...]  # fields absent from the file, to be estimated (households, population)


def _problem(feature: int | None, code: str | None, field: str, reason: str) -> dict:
    return {"feature": feature, "code": code, "field": field, "reason": reason}


def _fail(source: str, problems: list[dict]) -> InvalidInput:
    first = problems[0]
    where = t("feature {feature}", feature=first["feature"]) if first["feature"] else source
    more = t(" (and {count} more problems)", count=len(problems) - 1) if len(problems) > 1 else ""
    return InvalidInput(
        t(
            "{source}: {where}: {field}: {reason}{more}; nothing was imported",
            source=source,
            where=where,
            field=first["field"],
            reason=first["reason"],
            more=more,
        ),
        field="file",
        problems=problems,
    )


def _open_path(path: Path) -> str:
    """GDAL's name for the file: a zipped Shapefile is read in place through /vsizip/."""
    if path.suffix.lower() != ".zip":
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            shapefiles = [n for n in archive.namelist() if n.lower().endswith(".shp")]
    except zipfile.BadZipFile:
        raise InvalidInput(t("{name}: not a zip archive", name=path.name), field="file") from None
    if len(shapefiles) != 1:
        raise InvalidInput(
            t(
                "{name}: a zipped Shapefile must hold exactly one .shp, found {count} ({names})",
                name=path.name,
                count=len(shapefiles),
                names=", ".join(shapefiles),
            )
            if shapefiles
            else t("{name}: a zipped Shapefile must hold exactly one .shp, found 0", name=path.name),
            field="file",
        )
    return f"/vsizip/{path}/{shapefiles[0]}"


def _choose_layer(opened: str, source: str, layer: str | None) -> str | None:
    try:
        layers = [name for name, _ in pyogrio.list_layers(opened)]
    except Exception as exc:  # GDAL's errors come in several classes; all mean the same here
        raise InvalidInput(
            t("{source}: cannot be read as GeoJSON, GeoPackage or Shapefile ({exc})", source=source, exc=exc),
            field="file",
        ) from None
    if layer is not None:
        if layer not in layers:
            raise InvalidInput(
                t(
                    "{source} has no layer {layer!r}; it has {layers}",
                    source=source,
                    layer=layer,
                    layers=", ".join(layers),
                ),
                field="layer",
            )
        return layer
    if len(layers) == 1:
        return None
    if "grids" in layers:
        return "grids"
    raise InvalidInput(
        t("{source} has several layers ({layers}): say which holds the grids", source=source, layers=", ".join(layers)),
        field="layer",
    )


def _datum_of(frame: gpd.GeoDataFrame, source: str, declared: str | None) -> tuple[gpd.GeoDataFrame, Datum, bool]:
    """Bring the frame to lon/lat in the declared datum; a file's own CRS is used when none is declared.

    GCJ-02 and BD-09 have no EPSG code, so a file in them says EPSG:4326 (or nothing) and only the
    planner can tell: the declaration wins over a geographic CRS, but a projected CRS cannot be
    GCJ-02 or BD-09 and a conflict is refused rather than guessed.
    """
    crs = frame.crs
    datum = parse_datum(declared) if declared else None
    if crs is not None and CRS(crs).is_projected:
        if datum in ("gcj02", "bd09"):
            raise InvalidInput(
                t(
                    "{source} is in the projected CRS {name}, which cannot be {datum}: drop --crs or declare the datum the coordinates are really in",
                    source=source,
                    name=CRS(crs).name,
                    datum=datum,
                ),
                field="crs",
            )
        return frame.to_crs(STORAGE_CRS), "cgcs2000", datum is None
    if datum is not None:
        return frame, datum, False
    if crs is None:
        raise InvalidInput(
            t(
                "{source} does not say its coordinate system: declare it (cgcs2000, wgs84, gcj02 or bd09)",
                source=source,
            ),
            field="crs",
        )
    epsg = CRS(crs).to_epsg()
    if epsg == STORAGE_SRID:
        return frame, "cgcs2000", True
    if epsg == 4326:
        return frame, "wgs84", True
    return frame.to_crs(STORAGE_CRS), "cgcs2000", True


def _column(frame: pd.DataFrame, field: str) -> str | None:
    lowered = {str(c).lower(): c for c in frame.columns}
    for alias in ALIASES[field]:
        if alias.lower() in lowered:
            return lowered[alias.lower()]
    return None


def _codes(values: pd.Series, source: str) -> pd.Series:
    """Codes as text. Shapefiles often store them as numbers, which is fine while no digit is lost."""
    if pd.api.types.is_float_dtype(values):
        if (values.abs() >= MAX_EXACT_FLOAT).any():
            raise InvalidInput(
                t(
                    "{source}: grid codes are stored as floating-point numbers and have lost digits; store them as text",
                    source=source,
                ),
                field="code",
            )
        return values.map(lambda v: None if pd.isna(v) else str(int(v)))
    if pd.api.types.is_integer_dtype(values):
        return values.astype(str)
    return values.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())


def _counts(frame: pd.DataFrame, column: str | None, field: str, problems: list[dict]) -> pd.Series:
    if column is None:
        return pd.Series(pd.NA, index=frame.index, dtype="Int64")
    values = pd.to_numeric(frame[column], errors="coerce")
    for i in frame.index[(values.isna() & frame[column].notna()) | (values < 0)]:
        problems.append(
            _problem(
                int(frame.at[i, "feature"]),
                frame.at[i, "code"],
                field,
                t("{value!r} is not a count of {field}", value=frame.at[i, column], field=field),
            )
        )
    return values.round().astype("Int64")


def read_boundary_file(
    path: str | Path,
    *,
    crs: str | None = None,
    layer: str | None = None,
    max_features: int = 50_000,
    source_name: str | None = None,
) -> BoundaryFile:
    """Read a file of grids and check that it can be imported.

    Parameters
    ----------
    path : str or Path
        A GeoJSON, a GeoPackage or a zipped Shapefile.
    crs : str, optional
        The datum the coordinates are in (``cgcs2000``, ``wgs84``, ``gcj02``, ``bd09`` or an
        alias). Without it the file's own CRS is used; a file without one is refused.
    layer : str, optional
        The layer holding the grids (needed when a GeoPackage has several and none is ``grids``).
    max_features : int
        Files with more features are refused before they are read in full.
    source_name : str, optional
        The name to use in messages (an upload's file name); default the path's name.

    Returns
    -------
    BoundaryFile
        Grids with ``feature`` (1-based position in the file), ``code``, ``name``, ``level``,
        ``kind`` (or missing), ``households`` and ``population`` (missing when the file has no
        such column), geometry as MultiPolygon in the storage CRS (CGCS2000).

    Raises
    ------
    InvalidInput
        With ``problems``: every feature that cannot be imported, and why.
    """
    path = Path(path)
    source = source_name or path.name
    if not path.exists():
        raise InvalidInput(t("{source}: no such file", source=source), field="file")
    opened = _open_path(path)
    chosen = _choose_layer(opened, source, layer)
    info = pyogrio.read_info(opened, layer=chosen)
    if info["features"] > max_features:
        raise TooLarge(
            t(
                "{source} has {features} features; at most {max_features} are imported at once",
                source=source,
                features=info["features"],
                max_features=max_features,
            ),
            field="file",
        )
    try:
        frame = gpd.read_file(opened, layer=chosen, engine="pyogrio")
    except Exception as exc:
        raise InvalidInput(t("{source}: cannot be read ({exc})", source=source, exc=exc), field="file") from None
    if frame.empty:
        raise InvalidInput(t("{source} holds no features", source=source), field="file")
    frame, datum, from_file = _datum_of(frame, source, crs)
    frame = frame.reset_index(drop=True)
    frame["feature"] = np.arange(1, len(frame) + 1)

    problems: list[dict] = []
    code_column = _column(frame, "code")
    if code_column is None:
        raise InvalidInput(
            t("{source} has no grid code column (one of {code})", source=source, code=", ".join(ALIASES["code"])),
            field="code",
        )
    frame["code"] = _codes(frame[code_column], source)
    name_column = _column(frame, "name")
    frame["name"] = frame[name_column].astype("string") if name_column else pd.NA
    kind_column = _column(frame, "kind")
    frame["kind"] = (
        frame[kind_column].map(lambda k: KIND_ALIASES.get(k, k) if isinstance(k, str) else None)
        if kind_column
        else None
    )
    counts = {field: _column(frame, field) for field in ("households", "population")}
    frame["households"] = _counts(frame, counts["households"], "households", problems)
    frame["population"] = _counts(frame, counts["population"], "population", problems)

    _check_codes(frame, problems)
    frame["geometry"] = _check_geometry(frame, problems)
    if problems:
        raise _fail(source, problems)

    frame["level"] = (frame["code"].str.len() - 12) // 3
    frame["name"] = frame["name"].fillna(frame["code"])
    grids = gpd.GeoDataFrame(
        frame[["feature", "code", "name", "level", "kind", "households", "population"]],
        geometry=frame.geometry.values.to_numpy(),
        crs=STORAGE_CRS,  # WGS84 is CGCS2000 to within a metre
    )
    if datum != "cgcs2000":
        grids["geometry"] = convert_geoseries(grids.geometry, datum, "cgcs2000")
    estimated = tuple(field for field, column in counts.items() if column is None)
    return BoundaryFile(grids, source, chosen, datum, from_file, estimated)


def _check_codes(frame: pd.DataFrame, problems: list[dict]) -> None:
    for feature, code in zip(frame["feature"], frame["code"]):
        if code is None or code == "":
            problems.append(_problem(int(feature), None, "code", t("missing")))
        elif not GRID_CODE.match(code):
            problems.append(
                _problem(
                    int(feature),
                    code,
                    "code",
                    t(
                        "a grid code is the 12-digit village code and 3 digits (15), "
                        "and 3 more per sub-grid level (18 or 21)"
                    ),
                )
            )
        elif any(code[i : i + 3] == "000" for i in range(12, len(code), 3)):
            problems.append(_problem(int(feature), code, "code", t("sequence numbers start at 001")))
    present = frame["code"].dropna()
    for code, features in frame[frame["code"].isin(present[present.duplicated()])].groupby("code")["feature"]:
        listed = ", ".join(str(f) for f in features)
        for feature in features:
            problems.append(
                _problem(int(feature), code, "code", t("duplicate code (features {listed})", listed=listed))
            )
    codes = set(present)
    for feature, code in zip(frame["feature"], frame["code"]):
        if code and GRID_CODE.match(code) and len(code) > 15 and code[:-3] not in codes:
            problems.append(
                _problem(
                    int(feature),
                    code,
                    "code",
                    t("a sub-grid whose parent {parent} is not in the file", parent=code[:-3]),
                )
            )
    for feature, code, kind in zip(frame["feature"], frame["code"], frame["kind"]):
        if kind is not None and kind not in GRID_KINDS:
            problems.append(
                _problem(
                    int(feature),
                    code,
                    "kind",
                    t("{kind!r} is not one of {kinds}", kind=kind, kinds=", ".join(GRID_KINDS)),
                )
            )


def _check_geometry(frame: gpd.GeoDataFrame, problems: list[dict]) -> gpd.GeoSeries:
    """Polygons as MultiPolygons; anything else, and coordinates off the globe, are problems."""
    geometry = frame.geometry.copy()
    for i, (feature, code, geom) in enumerate(zip(frame["feature"], frame["code"], geometry)):
        if geom is None or geom.is_empty:
            problems.append(_problem(int(feature), code, "geometry", t("empty or missing")))
            continue
        if geom.geom_type == "Polygon":
            geometry.iloc[i] = shapely.MultiPolygon([geom])
        elif geom.geom_type != "MultiPolygon":
            problems.append(_problem(int(feature), code, "geometry", t("a {kind}, not a polygon", kind=geom.geom_type)))
            continue
        xmin, ymin, xmax, ymax = geom.bounds
        if not (
            np.isfinite([xmin, ymin, xmax, ymax]).all() and -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90
        ):
            problems.append(
                _problem(
                    int(feature),
                    code,
                    "geometry",
                    t(
                        "coordinates out of range ({xmin:.6g}, {ymin:.6g}, {xmax:.6g}, {ymax:.6g}): "
                        "not longitude and latitude",
                        xmin=xmin,
                        ymin=ymin,
                        xmax=xmax,
                        ymax=ymax,
                    ),
                )
            )
    return geometry
