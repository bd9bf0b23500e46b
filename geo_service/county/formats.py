"""A county's files as raw tables: the columns as the file names them, every value as text.

Folders are walked in sorted order; zips are unpacked into a temporary folder (member names in
GBK as Chinese Windows writes them, no path leaving the folder); Shapefiles are read byte for
byte (``latin1``) and decoded here, from the ``.cpg`` when it names an encoding that fits the
bytes, else from the bytes themselves (UTF-8 first: GBK text almost never passes as UTF-8, the
reverse often does). What the file declares about its coordinates is kept apart from what GDAL
assumes: a GeoJSON without a ``crs`` member declares nothing.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS

from geo_service.county import cells
from geo_service.county.report import ImportReport
from geo_service.i18n import Message, reason_of, t

TABLE_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".csv", ".tsv", ".xlsx", ".xlsm", ".xls")
# Files that belong to a Shapefile beside them.
SIDECARS = (".prj", ".cpg", ".dbf", ".shx", ".sbn", ".sbx", ".qix", ".fix", ".shp.xml", ".qpj", ".qmd", ".atx")
IGNORED = ("thumbs.db", "desktop.ini")
MAX_UNZIPPED = 4 << 30  # a zip that unpacks to more than this is refused (a zip bomb or not a county's data)
# .cpg values (folded: lower case, no spaces, dashes or underscores) -> Python codec
CPG_CODECS = {
    **dict.fromkeys(("936", "cp936", "ansi936", "gbk", "gb2312", "gb18030", "euccn"), "gb18030"),
    **dict.fromkeys(("65001", "utf8", "utf8bom"), "utf-8"),
    **dict.fromkeys(("950", "cp950", "big5"), "big5"),
}


class FileError(Exception):
    """A whole file cannot be read; it is raised with one message (``t``) saying why in plain words."""


@dataclass
class RawTable:
    """One table of a file as read: the file's own column names, values as text."""

    path: str  # as reported
    keys: tuple[str, ...]  # names a ``--crs FILE=DATUM`` may give it
    frame: pd.DataFrame  # the file's columns (object: str or None) and "_row" (1-based)
    geometry: gpd.GeoSeries | None = None  # aligned with frame, in the file's coordinates
    crs: CRS | None = None  # what the file declares; None when it says nothing
    shapefile: bool = False  # column names may be cut at 10 bytes
    flags: list[tuple[int, str, Message]] = field(default_factory=list)  # (row, column, reason)


def read_paths(paths: list[Path], report: ImportReport, max_rows: int) -> Iterator[RawTable]:
    """Every table in ``paths`` (files or folders); unreadable files are reported, not raised.

    Parameters
    ----------
    paths : list of Path
        Files and folders, in the order given; folders are walked sorted.
    report : ImportReport
        Receives a file-level error for each file that cannot be read.
    max_rows : int
        A table with more rows is refused.

    Yields
    ------
    RawTable
    """
    seen: set[str] = set()
    for given in paths:
        given = Path(given)
        if given.is_dir():
            entries = [(f, f.relative_to(given).as_posix()) for f in _walk(given)]
        elif given.exists():
            entries = [(given, given.name)]
        else:
            report.file(str(given)).error(None, None, t("{path} does not exist", path=str(given)))
            continue
        for path, shown in entries:
            if shown in seen:  # the same name under two folders given: say the whole path
                shown = str(path)
            seen.add(shown)
            yield from _read_entry(path, shown, (shown, path.name, str(path)), report, max_rows)


def _walk(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _hidden(d) and not d.lower().startswith("readme"))
        names = {f.lower() for f in files}
        for name in files:
            lower = name.lower()
            if _hidden(name) or lower.startswith("readme") or lower in IGNORED:
                continue
            sidecar = next((s for s in SIDECARS if lower.endswith(s)), None)
            if sidecar and lower[: -len(sidecar)] + ".shp" in names:
                continue
            found.append(Path(folder) / name)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _hidden(name: str) -> bool:
    return name.startswith((".", "~$", "__MACOSX"))


def _read_entry(
    path: Path, shown: str, keys: tuple[str, ...], report: ImportReport, max_rows: int
) -> Iterator[RawTable]:
    from geo_service.county import sheets  # it builds on this module's RawTable

    suffix = path.suffix.lower()
    try:
        if suffix == ".zip":
            yield from _read_zip(path, shown, keys, report, max_rows)
        elif suffix == ".shp":
            yield _read_shapefile(path, shown, keys, report, max_rows)
        elif suffix == ".gpkg":
            yield from _read_geopackage(path, shown, keys, report, max_rows)
        elif suffix in (".geojson", ".json"):
            yield _read_geojson(path, shown, keys, report, max_rows)
        elif suffix in (".csv", ".tsv"):
            yield sheets.read_csv(path, shown, keys, max_rows)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            yield from sheets.read_excel(path, shown, keys, report, max_rows)
        else:
            report.file(shown).warn(
                None,
                None,
                t(
                    "not a file the import reads ({suffix}); skipped. It reads zipped "
                    "Shapefiles, .shp, .gpkg, .geojson, .csv and .xlsx",
                    suffix=suffix or t("no extension"),
                ),
            )
    except FileError as exc:
        report.file(shown).error(None, None, reason_of(exc))


# ---------------------------------------------------------------- zip
def zip_member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its author wrote it: Chinese Windows stores GBK bytes without the UTF-8
    flag, which Python shows as cp437 mojibake."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return info.filename


def extract_zip(path: Path, dest: Path) -> list[Path]:
    """Unpack ``path`` under ``dest``, refusing members that would land outside it."""
    dest = dest.resolve()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileError(t("not a zip archive that can be opened ({exc})", exc=str(exc))) from None
    out = []
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if sum(i.file_size for i in infos) > MAX_UNZIPPED:
            raise FileError(t("the zip unpacks to more than {gb} GB; nothing of it was read", gb=MAX_UNZIPPED >> 30))
        for info in infos:
            name = zip_member_name(info).replace("\\", "/")
            target = (dest / name.lstrip("/")).resolve()
            if name.startswith("/") or ":" in name.split("/")[0] or dest not in target.parents:
                raise FileError(
                    t("the zip holds {name!r}, which would be written outside its folder; nothing was read", name=name)
                )
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # a symbolic link: never followed
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except RuntimeError as exc:  # encrypted
                raise FileError(
                    t(
                        "{name} in the zip cannot be unpacked ({exc}); give the zip without a password",
                        name=name,
                        exc=str(exc),
                    )
                ) from None
            out.append(target)
    return out


def _read_zip(path: Path, shown: str, keys: tuple[str, ...], report: ImportReport, max_rows: int) -> Iterator[RawTable]:
    with tempfile.TemporaryDirectory(prefix="county-zip-") as tmp:
        root = Path(tmp)
        extract_zip(path, root)
        inner = _walk(root)
        tables = [f for f in inner if f.suffix.lower() in TABLE_SUFFIXES]
        if not tables:
            held = ", ".join(f.relative_to(root).as_posix() for f in inner[:8]) or t("nothing")
            raise FileError(
                t("the zip holds no Shapefile, GeoPackage, GeoJSON, CSV or Excel file (it holds {held})", held=held)
            )
        for member in inner:
            rel = member.relative_to(root).as_posix()
            inner_shown = shown if tables == [member] else f"{shown}!{rel}"
            inner_keys = (inner_shown, *keys, *(f"{k}!{rel}" for k in keys), rel, member.name)
            yield from _read_entry(member, inner_shown, inner_keys, report, max_rows)


# ---------------------------------------------------------------- vector files
def _sibling(shp: Path, suffix: str) -> Path | None:
    for candidate in (shp.with_suffix(suffix), shp.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


def _dbf_sample(dbf: Path, max_records: int = 2000) -> list[bytes]:
    """Field names and the text of the first records of a .dbf, as bytes."""
    with open(dbf, "rb") as f:
        head = f.read(32)
        if len(head) < 32:
            raise FileError(t("{name} is empty or cut short", name=dbf.name))
        count, header_len, record_len = struct.unpack("<IHH", head[4:12])
        desc = f.read(max(header_len - 32, 0))
        data = f.read(record_len * min(count, max_records))
    chunks, widths = [], []
    for i in range(0, len(desc) - 31, 32):
        if desc[i] == 0x0D:
            break
        chunks.append(desc[i : i + 11].split(b"\0")[0])
        widths.append(desc[i + 16])
    for start in range(0, len(data) - record_len + 1, max(record_len, 1)):
        pos = start + 1  # the deletion flag
        for width in widths:
            chunks.append(data[pos : pos + width].strip(b" \0"))
            pos += width
    return [c for c in chunks if not c.isascii()]


def _decodes(chunks: list[bytes], encoding: str) -> bool:
    """Every chunk decodes, allowing a character cut at its end (names and values are cut to a width)."""
    try:
        for chunk in chunks:
            codecs.getincrementaldecoder(encoding)().decode(chunk, final=False)
    except UnicodeDecodeError:
        return False
    return True


def dbf_encoding(dbf: Path, cpg: Path | None, warn: list[Message]) -> str:
    """The encoding of a .dbf's text: the .cpg's when it names one the bytes fit, else UTF-8 or GBK
    (as GB18030, its superset) from the bytes; what was overruled is appended to ``warn``."""
    declared = cpg.read_text("ascii", "ignore").strip() if cpg else ""
    codec = CPG_CODECS.get(cells.normalise_name(declared)) if declared else None
    chunks = _dbf_sample(dbf)
    if not chunks:
        return codec or "utf-8"
    if codec and _decodes(chunks, codec):
        return codec
    found = next((e for e in ("utf-8", "gb18030") if _decodes(chunks, e)), None)
    if found is None:
        raise FileError(
            t("the text in {name} is neither UTF-8 nor GBK; save it again as UTF-8 with a .cpg file", name=dbf.name)
        )
    label = "UTF-8" if found == "utf-8" else "GBK"
    if declared and codec:
        warn.append(
            t(
                "the .cpg says {declared}, but the text is not {declared}; it was read as {label}",
                declared=declared,
                label=label,
            )
        )
    elif declared:
        warn.append(
            t(
                "the .cpg names an encoding the import does not use ({declared}); the text was read as {label}",
                declared=declared,
                label=label,
            )
        )
    return found


def _recode(value: object, encoding: str) -> object:
    if isinstance(value, str) and not value.isascii():
        return value.encode("latin1").decode(encoding, "ignore")
    return value


def _table(gdf: pd.DataFrame, shown: str, keys: tuple[str, ...], crs: CRS | None, encoding: str | None) -> RawTable:
    """A frame read by GDAL to a RawTable: text columns, geometry apart, floats that lost digits flagged."""
    geometry = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else None
    columns: dict[str, pd.Series] = {}
    flags = []
    for column in gdf.columns:
        if geometry is not None and column == geometry.name:
            continue
        values = gdf[column]
        name = str(_recode(column, encoding) if encoding else column) or f"column {len(columns) + 1}"
        while name in columns:
            name += "_"
        if encoding and (values.dtype == object or pd.api.types.is_string_dtype(values)):
            values = values.astype(object).map(lambda v: _recode(v, encoding))
        if pd.api.types.is_float_dtype(values):
            lost = values.abs().ge(1e15) & (values % 1 == 0)
            flags += [(i + 1, name, lost_digits(values.iloc[i])) for i in lost.to_numpy().nonzero()[0]]
        columns[name] = cells.text_column(values).reset_index(drop=True)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(gdf)))
    frame["_row"] = range(1, len(gdf) + 1)
    if geometry is not None:
        geometry = gpd.GeoSeries(np.asarray(geometry.values, dtype=object), index=frame.index, crs=crs)
    return RawTable(shown, keys, frame, geometry, crs, flags=flags)


def lost_digits(number: float) -> Message:
    digits = len(str(abs(int(number))))
    return t(
        "{number} has {digits} digits stored as a number: digits may have been lost to Excel "
        "(a number keeps only 15); store the column as text and export it again",
        number=int(number),
        digits=digits,
    )


def check_rows(count: int, max_rows: int) -> None:
    if count > max_rows:
        raise FileError(
            t(
                "has {count:,} rows, more than the {max_rows:,} one import reads; split the file",
                count=count,
                max_rows=max_rows,
            )
        )


def _read_shapefile(shp: Path, shown: str, keys: tuple[str, ...], report: ImportReport, max_rows: int) -> RawTable:
    dbf = _sibling(shp, ".dbf")
    if dbf is None:
        raise FileError(t("{name} has no .dbf beside it: its attributes are missing", name=shp.name))
    if _sibling(shp, ".shx") is None:
        raise FileError(
            t(
                "{name} has no .shx beside it: give all the Shapefile's files (.shp .shx .dbf .prj .cpg)",
                name=shp.name,
            )
        )
    notes: list[Message] = []
    encoding = dbf_encoding(dbf, _sibling(shp, ".cpg"), notes)
    try:
        check_rows(int(pyogrio.read_info(shp, encoding="latin1")["features"]), max_rows)
        gdf = pyogrio.read_dataframe(shp, encoding="latin1")
    except FileError:
        raise
    except Exception as exc:  # GDAL raises several classes for one meaning: unreadable
        raise FileError(t("cannot be read as a Shapefile ({exc})", exc=str(exc))) from None
    for note in notes:
        report.file(shown).warn(None, None, note)
    crs = CRS(gdf.crs) if gdf.crs is not None and _sibling(shp, ".prj") is not None else None
    table = _table(gdf, shown, keys, crs, encoding)
    table.shapefile = True
    return table


def _read_geopackage(
    path: Path, shown: str, keys: tuple[str, ...], report: ImportReport, max_rows: int
) -> Iterator[RawTable]:
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # GDAL's errors come in several classes
        raise FileError(t("cannot be read as a GeoPackage ({exc})", exc=str(exc))) from None
    for name, geometry_type in layers:
        layer_shown = f"{shown}!{name}"
        try:
            check_rows(int(pyogrio.read_info(path, layer=name)["features"]), max_rows)
            gdf = pyogrio.read_dataframe(path, layer=name, read_geometry=geometry_type is not None)
        except FileError as exc:
            report.file(layer_shown).error(None, None, reason_of(exc))
            continue
        except Exception as exc:  # GDAL's errors come in several classes
            report.file(layer_shown).error(
                None, None, t("layer {name} cannot be read ({exc})", name=name, exc=str(exc))
            )
            continue
        crs = CRS(gdf.crs) if getattr(gdf, "crs", None) is not None else None
        yield _table(gdf, layer_shown, (layer_shown, *(f"{k}!{name}" for k in keys), *keys), crs, None)


def decode_text(raw: bytes, what: Message) -> str:
    """UTF-8 (a BOM allowed) if the whole file decodes, else GB18030 (GBK's superset), else refuse."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    raise FileError(t("the {what} is neither UTF-8 nor GBK text; save it again as UTF-8", what=what))


def declared_crs(obj: dict) -> tuple[CRS | None, Message | None]:
    """The CRS a GeoJSON's ``crs`` member names (None: it names none) and, if it could not be read, why."""
    member = obj.get("crs")
    if not member:
        return None, None
    name = (member.get("properties") or {}).get("name") if isinstance(member, dict) else None
    if not name:
        return None, t(
            "its crs member ({member}) names no coordinate system", member=json.dumps(member, ensure_ascii=False)[:80]
        )
    try:
        return CRS.from_user_input(name), None
    except Exception:  # pyproj's CRSError and friends
        return None, t("its crs member names {name!r}, which is not a coordinate system the import knows", name=name)


def _read_geojson(path: Path, shown: str, keys: tuple[str, ...], report: ImportReport, max_rows: int) -> RawTable:
    text = decode_text(path.read_bytes(), t("file"))
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileError(
            t(
                "is not valid JSON (line {line}, column {column}: {reason})",
                line=exc.lineno,
                column=exc.colno,
                reason=exc.msg,
            )
        ) from None
    if isinstance(obj, list) and all(isinstance(r, dict) for r in obj):  # a JSON list of records
        check_rows(len(obj), max_rows)
        return _table(pd.DataFrame(obj), shown, keys, None, None)
    if not isinstance(obj, dict) or "type" not in obj:
        raise FileError(t("is JSON but not GeoJSON (no FeatureCollection, Feature or geometry)"))
    crs, why = declared_crs(obj)
    if why:  # GDAL ignores such a member; so does the import, saying so
        report.file(shown).warn(
            None, None, t("{why}: the file is taken to say nothing of its coordinate system", why=why)
        )
    features = obj.get("features")
    check_rows(len(features) if isinstance(features, list) else 1, max_rows)
    try:
        with warnings.catch_warnings():  # codes written as numbers in some features, text in others
            warnings.filterwarnings("ignore", "Could not parse column", UserWarning)
            gdf = pyogrio.read_dataframe(io.BytesIO(text.encode("utf-8")))
    except Exception as exc:  # GDAL's errors come in several classes
        raise FileError(t("cannot be read as GeoJSON ({exc})", exc=str(exc))) from None
    return _table(gdf, shown, keys, crs, None)
