"""CSV and Excel files as raw tables: every cell as text, as the person who typed it meant it.

CSV: UTF-8 (a BOM allowed) when the whole file decodes, else GB18030 (GBK's superset); comma or
tab separated; read with every column as text. Excel (.xlsx/.xls, python-calamine): each sheet
with data is a table; the header is the row among the first ten naming most known columns (a
title row above it is common); cells become text one column at a time (``cells.cell_texts``), and
numbers of 16 digits or more, which Excel cannot hold exactly, are flagged.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from geo_service.county import cells, formats
from geo_service.county.report import ImportReport
from geo_service.i18n import reason_of, t


def read_csv(path: Path, shown: str, keys: tuple[str, ...], max_rows: int) -> formats.RawTable:
    text = formats.decode_text(path.read_bytes(), t("CSV"))
    first = text.split("\n", 1)[0]
    sep = "\t" if first.count("\t") > first.count(",") else ","
    formats.check_rows(text.count("\n") - 1, max_rows)
    try:
        frame = pd.read_csv(
            io.BytesIO(text.encode("utf-8")),
            encoding="utf-8",
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise formats.FileError(t("cannot be read as CSV ({exc})", exc=str(exc).strip())) from None
    return _text_table(frame, shown, keys, [])


def _text_table(frame: pd.DataFrame, shown: str, keys: tuple[str, ...], flags: list) -> formats.RawTable:
    """Strip the text, drop unnamed empty columns and empty rows, number rows from 1."""
    columns = {}
    for i, column in enumerate(frame.columns):
        values = cells.text_column(frame.iloc[:, i])
        name = str(column).strip()
        if not name or name.startswith("Unnamed: "):
            if values.isna().all():
                continue
            name = f"column {i + 1}"
        columns[name] = values
    out = pd.DataFrame(columns, index=frame.index)
    out["_row"] = range(1, len(out) + 1)
    out = out[out.drop(columns="_row").notna().any(axis=1)].reset_index(drop=True)
    return formats.RawTable(shown, keys, out, flags=flags)


def read_excel(
    path: Path, shown: str, keys: tuple[str, ...], report: ImportReport, max_rows: int
) -> Iterator[formats.RawTable]:
    from python_calamine import CalamineWorkbook, SheetVisibleEnum

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine's errors: not a workbook, encrypted, damaged
        raise formats.FileError(t("cannot be read as an Excel workbook ({exc})", exc=str(exc))) from None
    sheets = []
    with book:
        for meta in book.sheets_metadata:
            rows = book.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
            if not any(v not in ("", None) for row in rows for v in row):
                continue
            if meta.visible != SheetVisibleEnum.Visible:
                report.file(f"{shown}!{meta.name}").warn(None, None, t("a hidden sheet; not read"))
                continue
            sheets.append((meta.name, rows))
    if not sheets:
        raise formats.FileError(t("the workbook has no sheet with data"))
    for name, rows in sheets:
        sheet_shown = shown if len(sheets) == 1 else f"{shown}!{name}"
        sheet_keys = (sheet_shown, *(f"{k}!{name}" for k in keys), *keys)
        try:
            formats.check_rows(len(rows) - 1, max_rows)
        except formats.FileError as exc:
            report.file(sheet_shown).error(None, None, reason_of(exc))
            continue
        yield _sheet_table(rows, sheet_shown, sheet_keys)


def _sheet_table(rows: list[list], shown: str, keys: tuple[str, ...]) -> formats.RawTable:
    """A sheet's rows to a table: the header is the row among the first ten naming most known
    columns (a title row above it is common), each cell converted to text (cells.cell_texts)."""
    known = cells.all_aliases()
    head = rows[:10]
    scores = [sum(cells.normalise_name(v) in known for v in row if isinstance(v, str)) for row in head]
    at = scores.index(max(scores)) if max(scores) > 0 else next(i for i, r in enumerate(head) if any(r))
    header = [cells.cell_texts([v])[0][0] or "" for v in rows[at]]
    body = rows[at + 1 :]
    width = len(header)
    columns, flags = {}, []
    for j, values in enumerate(zip(*body, strict=False) if body else [()] * width):
        texts, lost = cells.cell_texts(list(values))
        name = header[j] if j < width else ""
        columns[name or f"column {j + 1}"] = texts
        flags += [(i + 1, name or f"column {j + 1}", formats.lost_digits(values[i])) for i in lost]
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()}, index=pd.RangeIndex(len(body)))
    if not len(frame.columns):
        frame = pd.DataFrame({h or f"column {j + 1}": pd.Series(dtype=object) for j, h in enumerate(header)})
    return _text_table(frame, shown, keys, flags)
