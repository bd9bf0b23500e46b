"""A county's files as tables the import loads: each recognised from its columns, its values as
text under canonical field names, its shapes or points in CGCS2000.

``read_sources`` walks the paths (``formats``), recognises each table's kind from its columns
(``fields.FIELDS`` aliases) and its geometry, and places it (``datums``); ``detect_offsets``
then compares the layers with each other to catch GCJ-02/BD-09 data labelled WGS84.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo_service.county import cells, datums, fields, formats
from geo_service.county.fields import KIND_NAMES
from geo_service.county.offsets import detect_offsets
from geo_service.county.report import FileReport, ImportReport
from geo_service.i18n import Message, joined, t

__all__ = ["SourceTable", "detect_offsets", "read_sources", "recognise"]


@dataclass
class SourceTable:
    """One table of a county's files, ready to validate and load."""

    path: str  # as reported: relative to the folder given, "file.gpkg!layer" for a layer
    kind: str  # one of fields.KINDS
    frame: pd.DataFrame  # canonical fields as text (None where empty), "geometry" (shapely, CGCS2000)
    # for spatial kinds, "lon"/"lat" (float, CGCS2000, NaN where unplaced) for point kinds, "_row"
    columns: dict[str, str]  # canonical field -> the file's own column name (for problems)
    report: FileReport  # problems found while reading; datum and datum_from filled in


def read_sources(
    paths: list[Path],
    *,
    crs_default: str | None,
    crs_by_file: dict[str, str],
    report: ImportReport,
    max_rows: int = 5_000_000,
) -> list[SourceTable]:
    """Read every table in ``paths`` and recognise what each holds.

    Parameters
    ----------
    paths : list of Path
        Files and folders (walked in sorted order; hidden files, README and a Shapefile's
        sibling files skipped). Zipped Shapefiles, .shp, .gpkg (every layer), .geojson/.json,
        .csv/.tsv (UTF-8 with or without BOM, GBK/GB18030) and .xlsx/.xls (every sheet with data).
    crs_default : str, optional
        ``--crs DATUM``: the datum of files that say nothing about theirs.
    crs_by_file : dict
        ``--crs FILE=DATUM``: keyed by a file's name or its path under the folder given (a layer
        or sheet: ``file.gpkg!layer``). It also overrides a geographic CRS a file declares,
        since GCJ-02 data usually claims WGS84.
    report : ImportReport
        Receives a FileReport per file (kind, datum, rows, problems).
    max_rows : int
        A table with more rows is refused.

    Returns
    -------
    list of SourceTable
        The tables that can load, at least in part: a table with a file-level error (unknown kind,
        no datum, unreadable) is reported and left out. Row errors stay in ``table.report``.
    """
    lookup = {_key(k): v for k, v in crs_by_file.items()}
    used: set[str] = set()
    tables = []
    for raw in formats.read_paths(list(paths), report, max_rows):
        file_report = report.file(raw.path)
        file_report.rows = len(raw.frame)
        key = next((_key(k) for k in raw.keys if _key(k) in lookup), None)
        if key is not None:
            used.add(key)
        if raw.frame.empty:
            file_report.warn(None, None, t("has no rows; nothing to read"))
            continue
        found = recognise(raw, file_report)
        if found is None:
            continue
        kind, frame, columns, datum_column = found
        file_report.kind = kind
        if kind in fields.SPATIAL_KINDS or kind in fields.POINT_KINDS:
            datums.place(raw, kind, frame, columns, datum_column, file_report, lookup.get(key), crs_default)
        frame = frame.drop(columns="_datum", errors="ignore")
        if not file_report.fatal():
            tables.append(SourceTable(raw.path, kind, frame, columns, file_report))
    for given, key in sorted((k, _key(k)) for k in crs_by_file):
        if key not in used:
            report.file(given).error(
                None,
                None,
                t("--crs {name}={datum}: no file of that name was read", name=given, datum=crs_by_file[given]),
            )
    return tables


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", str(name)).replace("\\", "/").casefold()


# ---------------------------------------------------------------- recognition
def _field_matches(names: list[str], shapefile: bool) -> dict[str, dict[str, list[tuple[int, int, str]]]]:
    """kind -> field -> [(exactness 0/1, alias rank, column)] for the columns that match it."""
    out: dict[str, dict[str, list[tuple[int, int, str]]]] = {}
    folded = {n: cells.normalise_name(n) for n in names}
    cut = {n: cells.normalise_name(re.sub(r"_\d+$", "", n)) for n in names if shapefile and len(n.encode()) >= 8}
    for kind, kind_fields in fields.FIELDS.items():
        for field, aliases in kind_fields.items():
            for rank, alias in enumerate(cells.normalise_name(a) for a in aliases):
                for name in names:
                    if folded[name] == alias:
                        out.setdefault(kind, {}).setdefault(field, []).append((0, rank, name))
                    elif name in cut and len(cut[name]) >= 2 and alias.startswith(cut[name]):
                        out.setdefault(kind, {}).setdefault(field, []).append((1, rank, name))
    return out


def _assign(matches: dict[str, list[tuple[int, int, str]]], frame: pd.DataFrame) -> dict[str, str]:
    """Field -> column for one kind: exact names first, by alias rank; a column serves one field.
    A Shapefile name cut short that could be several fields goes to ``code`` if its values are
    digits, else to ``name``."""
    assigned: dict[str, str] = {}
    taken: set[str] = set()
    for exactness in (0, 1):
        claims: dict[str, list[str]] = {}
        for field, candidates in matches.items():
            if field in assigned:
                continue
            best = sorted(c for c in candidates if c[0] == exactness and c[2] not in taken)
            if best:
                claims.setdefault(best[0][2], []).append(field)
        for column, claimed in claims.items():
            if len(claimed) > 1:
                numeric = cells.digits(frame[column]).notna().mean() >= 0.8 if len(frame) else False
                preferred = [f for f in claimed if f.endswith("code") == numeric and f in ("code", "name")]
                claimed = preferred or ([] if exactness else claimed)
            if claimed:
                assigned[claimed[0]] = column
                taken.add(column)
    return assigned


def _geometry_class(raw: formats.RawTable) -> str:
    """'polygons', 'points', 'lines' or 'none' by the table's most common geometry type."""
    if raw.geometry is None or not raw.geometry.notna().any():
        return "none"
    types = shapely.get_type_id(np.asarray(raw.geometry.values, dtype=object))
    types = types[types >= 0]
    if not len(types):
        return "none"
    common = np.bincount(types).argmax()
    return {0: "points", 4: "points", 3: "polygons", 6: "polygons", 1: "lines", 5: "lines"}.get(int(common), "other")


def code_kind(values: pd.Series) -> str | None:
    """The spatial kind a column of administrative codes names, from their length: 6 digits or
    12 ending 000000 a county, 9 or 12 ending 000 towns, 12 villages, 15/18/21 grids."""
    code = cells.digits(values).dropna()
    if code.empty:
        return None
    lengths = code.str.len()
    length = int(lengths.mode().iloc[0])
    if (lengths == length).mean() < 0.8:
        return None
    same = code[lengths == length]
    if length == 6 or length == 12 and same.str.endswith("000000").all():
        return "county"
    if length == 9 or length == 12 and same.str.endswith("000").mean() >= 0.8:
        return "towns"
    return {12: "villages", 15: "grids", 18: "grids", 21: "grids"}.get(length)


def _label(field: str, kind: str) -> str:
    aliases = fields.FIELDS[kind].get(field, ())
    return next((a for a in aliases if not a.isascii()), aliases[0] if aliases else field)


def recognise(raw: formats.RawTable, report: FileReport) -> tuple[str, pd.DataFrame, dict[str, str], str | None] | None:
    """The kind of a table, its canonical frame, field -> column, and its datum column.

    Parameters
    ----------
    raw : formats.RawTable
        The table as read.
    report : FileReport
        Receives a file-level error when the kind cannot be told or a required column is missing,
        and row errors for cells whose digits were lost to Excel.

    Returns
    -------
    tuple or None
        ``(kind, frame, columns, datum_column)``; None when the table cannot load.
    """
    names = [c for c in raw.frame.columns if c != "_row"]
    geometry = _geometry_class(raw)
    if geometry in ("lines", "other"):
        report.error(None, None, t("holds lines; the import reads areas (polygons) and points"))
        return None
    matches = _field_matches(names, raw.shapefile)
    assigned = {kind: _assign(matches.get(kind, {}), raw.frame) for kind in fields.KINDS}
    has_lonlat = {"lon", "lat"} <= set(assigned["incidents"]) or {"lon", "lat"} <= set(assigned["cameras"])
    if geometry == "polygons":
        candidates = fields.SPATIAL_KINDS
    elif geometry == "points" or has_lonlat:
        candidates = fields.POINT_KINDS
    else:
        candidates = ("roster", *fields.POINT_KINDS)
    kind = _choose(candidates, assigned, raw)
    if kind is None:
        report.error(None, None, _unknown(names, geometry, candidates))
        return None
    columns = dict(assigned[kind])
    if geometry == "points":
        columns.pop("lon", None), columns.pop("lat", None)
    missing = [f for f in fields.REQUIRED[kind] if f not in columns and f not in ("geometry", "lon", "lat")]
    if kind in fields.POINT_KINDS and geometry != "points":
        missing += [f for f in ("lon", "lat") if f not in columns]
    if missing:
        need = ", ".join(f"{f} ({_label(f, kind)})" for f in missing)
        report.error(
            None,
            None,
            t(
                "looks like {kind}, but has no column for {need}; it has {columns}",
                kind=KIND_NAMES[kind],
                need=need,
                columns=", ".join(names),
            ),
        )
        return None
    frame = pd.DataFrame({field: raw.frame[column] for field, column in columns.items()}, index=raw.frame.index)
    frame["_row"] = raw.frame["_row"]
    folded = {cells.normalise_name(a) for a in fields.DATUM_COLUMN}
    datum_column = next((c for c in names if cells.normalise_name(c) in folded), None)
    if datum_column:
        frame["_datum"] = raw.frame[datum_column]
    _flag_digits(raw, frame, columns, report)
    return kind, frame, columns, datum_column


def _choose(candidates: tuple[str, ...], assigned: dict[str, dict[str, str]], raw: formats.RawTable) -> str | None:
    """The candidate kind with the most columns that point to it rather than to every candidate;
    for polygons, ties are broken by the length of the codes, and one unnamed shape is an outline."""
    kinds_of: dict[str, set[str]] = {}
    for kind in candidates:
        for column in assigned[kind].values():
            kinds_of.setdefault(column, set()).add(kind)
    scores = {
        k: (sum(len(kinds_of[c]) < len(candidates) for c in assigned[k].values()), len(assigned[k])) for k in candidates
    }
    best = max(scores.values())
    leaders = [k for k in candidates if scores[k] == best and best != (0, 0)]
    # A kind is told only by one of the fields it cannot load without (besides where it is).
    leaders = [k for k in leaders if _has_key_field(k, assigned[k])]
    if len(leaders) == 1 and best[0] > 0:
        return leaders[0]
    if candidates == fields.SPATIAL_KINDS:
        by_code = {k for k in leaders if "code" in assigned[k] and code_kind(raw.frame[assigned[k]["code"]]) == k}
        if len(by_code) == 1:
            return by_code.pop()
        if "code" not in assigned["towns"] and len(raw.frame) == 1:
            return "county"
    return leaders[0] if len(leaders) == 1 else None


def _has_key_field(kind: str, assigned: dict[str, str]) -> bool:
    needed = [f for f in fields.REQUIRED[kind] if f not in ("geometry", "lon", "lat")]
    return not needed or any(f in assigned for f in needed)


def _unknown(names: list[str], geometry: str, candidates: tuple[str, ...]) -> Message:
    shapes = {"polygons": t("areas"), "points": t("points"), "none": t("no shapes")}[geometry]
    said = []
    for kind in candidates:
        labels = ", ".join(_label(f, kind) for f in fields.REQUIRED[kind] if f != "geometry")
        if not labels:
            said.append(t("a county outline is one area"))
        elif kind == "roster":
            said.append(t("a roster needs {columns}", columns=labels))
        else:
            said.append(t("{kind} need {columns}", kind=KIND_NAMES[kind], columns=labels))
    needs = joined(said, ";") if said else None
    return t(
        "cannot tell what this file holds: it has {shapes} and the columns {columns}, "
        "none of which say it; {needs} (column names: README, 'Bringing your own county')",
        shapes=shapes,
        columns=", ".join(names) or t("(none)"),
        needs=needs,
    )


def _flag_digits(raw: formats.RawTable, frame: pd.DataFrame, columns: dict[str, str], report: FileReport) -> None:
    """Row errors for codes whose digits Excel lost: long numbers, and text in scientific notation."""
    used = {column for field, column in columns.items() if field not in ("lon", "lat")}
    for row, column, reason in raw.flags:
        if column in used:
            report.error(row, column, reason)
    for field, column in columns.items():
        if field in ("lon", "lat") or field not in frame:
            continue
        values = frame[field]
        hit = cells.scientific(values)
        for row, value in zip(frame.loc[hit, "_row"], values[hit], strict=True):
            report.error(
                int(row),
                column,
                t(
                    "{value!r} is in scientific notation: the digits were lost to Excel; "
                    "store the column as text and export it again",
                    value=value,
                ),
            )
