"""Rule tables in files: read from CSV (UTF-8, or GBK as Excel saves it in China), Excel .xlsx (a
sheet per table; read with python-calamine, written with openpyxl) or a zip of them; written as CSV
(one file per table) or one .xlsx.

A file or sheet is the table it is named after (``time_limits.csv``, sheet ``roles``); files
named otherwise are skipped and listed, never guessed.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from geo_service.errors import InvalidInput
from geo_service.i18n import Message, t
from geo_service.rules.tables import TABLES, Problem, Row, RuleTable, Value, as_text, table_named

SUFFIXES = (".csv", ".xlsx", ".zip")
MAX_UNZIPPED_BYTES = 50 * 1024 * 1024


@dataclass
class Sheet:
    """One table as a file gives it: where (``time_limits.csv``, ``rules.xlsx!roles``), its header
    (names as the file writes them, stripped and lower-cased) and its non-blank rows."""

    file: str
    table: RuleTable
    header: list[str]
    rows: list[Row]


@dataclass
class Reading:
    sheets: list[Sheet] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"file", "reason": a message}
    problems: list[Problem] = field(default_factory=list)


def read_path(path: Path) -> Reading:
    """The rule tables in a folder (its CSV, xlsx and zip files, not its subfolders) or in one file."""
    reading = Reading()
    if path.is_dir():
        for member in sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "~$"))):
            read_named(member.name, member.read_bytes(), reading)
    elif path.is_file():
        read_named(path.name, path.read_bytes(), reading)
    else:
        raise InvalidInput(t("{path}: no such file or folder", path=path), field="path")
    return reading


def read_uploads(files: list[tuple[str, bytes]]) -> Reading:
    """The rule tables in uploaded files, each given as (its name, its bytes)."""
    reading = Reading()
    for name, data in files:
        read_named(Path(name or "upload").name, data, reading)
    return reading


def read_named(name: str, data: bytes, reading: Reading) -> None:
    """Add the tables of one file (``name`` says its kind and table) to ``reading``."""
    suffix = Path(name.split("!")[-1]).suffix.lower()
    if suffix == ".zip" and "!" in name:
        reading.skipped.append({"file": name, "reason": t("a zip inside a zip is not read")})
    elif suffix == ".zip":
        _read_zip(name, data, reading)
    elif suffix == ".xlsx":
        _read_xlsx(name, data, reading)
    elif suffix == ".csv":
        stem = Path(name.split("!")[-1]).stem
        table = table_named(stem)
        if table is None:
            reading.skipped.append({"file": name, "reason": _not_a_table(stem)})
        else:
            _read_csv(name, table, data, reading)
    else:
        reading.skipped.append({"file": name, "reason": t("not a {suffixes} file", suffixes=", ".join(SUFFIXES))})


def _not_a_table(name: str) -> Message:
    return t("{name!r} is not a rules table; tables: {TABLES}", name=name, TABLES=", ".join(TABLES))


def _read_zip(name: str, data: bytes, reading: Reading) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")]
        if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
            reading.problems.append(
                Problem(name, None, None, t("unzips to more than {most:,} bytes", most=MAX_UNZIPPED_BYTES))
            )
            return
        for member in members:
            read_named(f"{name}!{member.filename}", archive.read(member), reading)
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        reading.problems.append(Problem(name, None, None, t("not a readable zip file ({exc})", exc=str(exc))))


def _read_csv(name: str, table: RuleTable, data: bytes, reading: Reading) -> None:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        reading.problems.append(Problem(name, None, None, t("not text in UTF-8 or GBK: save it as CSV UTF-8")))
        return
    if "\x00" in text:
        reading.problems.append(Problem(name, None, None, t("holds the NUL character: it is not a CSV file")))
        return
    _add_sheet(name, table, list(csv.reader(io.StringIO(text, newline=""))), reading)


def _read_xlsx(name: str, data: bytes, reading: Reading) -> None:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [(title, book.get_sheet_by_name(title).to_python(skip_empty_area=False)) for title in book.sheet_names]
    except BaseException as exc:  # calamine's errors, and a Rust panic (not an Exception), on a broken file
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        reading.problems.append(Problem(name, None, None, t("not a readable .xlsx workbook ({exc})", exc=str(exc))))
        return
    for title, lines in sheets:
        table = table_named(title)
        label = f"{name}!{title}"
        if table is None:
            reading.skipped.append({"file": label, "reason": _not_a_table(title)})
            continue
        _add_sheet(label, table, [list(line) for line in lines], reading)


def _add_sheet(name: str, table: RuleTable, lines: list[list], reading: Reading) -> None:
    if not lines or not any(as_text(v) for v in lines[0]):
        reading.problems.append(Problem(name, None, None, t("empty: the first row must name the columns")))
        return
    header = [(as_text(v) or "").lower() for v in lines[0]]
    while header and not header[-1]:  # Excel's trailing blank columns
        header.pop()
    rows = []
    for number, line in enumerate(lines[1:], start=1):
        cells = [as_text(v) for v in line]
        if not any(cells):
            continue
        if any(cells[len(header) :]):
            reading.problems.append(
                Problem(
                    name,
                    number,
                    None,
                    t(
                        "has {cells} cells but the header names {columns} columns",
                        cells=len(cells),
                        columns=len(header),
                    ),
                )
            )
            continue
        rows.append(Row(number, dict(zip(header, cells + [None] * (len(header) - len(cells)), strict=False))))
    reading.sheets.append(Sheet(name, table, header, rows))


def header_problems(sheet: Sheet) -> list[Problem]:
    """Columns missing, unknown or named twice in a sheet's header."""
    table, problems = sheet.table, []
    for column in table.columns:
        if column not in sheet.header:
            problems.append(
                Problem(
                    sheet.file,
                    None,
                    column,
                    t("missing column; {table} needs {columns}", table=table.name, columns=", ".join(table.columns)),
                )
            )
    seen: set[str] = set()
    for column in sheet.header:
        if column in seen:
            problems.append(Problem(sheet.file, None, column, t("the column is named twice")))
        elif column not in table.columns and column not in table.extra:
            problems.append(
                Problem(
                    sheet.file,
                    None,
                    column or "(blank)",
                    t("unknown column; {table} has {columns}", table=table.name, columns=", ".join(table.columns)),
                )
            )
        seen.add(column)
    return problems


def _cell(value: Value) -> str:
    return as_text(value) or ""


def write_csv(folder: Path, table: RuleTable, rows: list[dict[str, Value]]) -> Path:
    """``folder/<table>.csv``: UTF-8, a header, the columns of the default file."""
    path = folder / f"{table.name}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(table.columns)
        writer.writerows([_cell(row[c]) for c in table.columns] for row in rows)
    return path


def write_xlsx(path: Path, tables: dict[str, list[dict[str, Value]]]) -> Path:
    """One workbook with a sheet per table; numbers as numbers, codes and names as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, rows in tables.items():
        table = TABLES[name]
        sheet = book.create_sheet(name)
        sheet.append(list(table.columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_xlsx_value(row[c]) for c in table.columns])
        sheet.freeze_panes = "A2"
        for letter, column in zip("ABCDEFGH", table.columns, strict=False):
            width = max([len(column), *(len(_cell(r[column])) * 2 for r in rows)])
            sheet.column_dimensions[letter].width = min(max(width + 2, 8), 60)
    book.save(path)
    return path


def _xlsx_value(value: Value) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value):
        return int(value)
    return value
