"""What a folder of county files holds: each file's kind and true datum, and the problems planted."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Planted:
    """A problem planted on purpose, where the import should report it.

    ``row`` is the N-th data row, 1-based (the header not counted; the N-th feature of a
    GeoJSON or GeoPackage), None for the whole file; ``column`` is named as the file names it
    (None for the whole file or row). ``what`` is a short key (``outside_county``,
    ``no_coordinates``, ``unknown_category``, ``unreadable``, ``invalid_geometry``,
    ``not_in_parent``, ``overlap``, ``scientific_notation``, ``unknown_title``, ``bad_code``,
    ``no_datum``); ``value`` is what the file holds there."""

    file: str
    row: int | None
    column: str | None
    what: str
    value: Any = None
    severity: str = "error"


@dataclass
class FileEntry:
    """One file written: ``path`` (its name in the folder), ``kind`` (``fields.KINDS``),
    ``datum`` (the true datum of its coordinates: ``cgcs2000``, ``wgs84``, ``gcj02``, ``per row``
    or None for a file without coordinates), ``declared`` (where the file says so: ``file``
    (.prj, SRS, GeoJSON crs member), ``column`` (a per-row 坐标系 column) or None: the import
    needs ``--crs``), ``rows`` (data rows or features), ``problems`` planted, and for a bad file
    the good file it ``replaces``. A GeoPackage's ``layer`` is named: the import reports it as
    ``report_path`` (``file.gpkg!layer``)."""

    path: str
    kind: str
    datum: str | None
    declared: str | None
    rows: int
    problems: list[Planted] = field(default_factory=list)
    replaces: str | None = None
    layer: str | None = None

    @property
    def report_path(self) -> str:
        """The file as the import's report names it."""
        return f"{self.path}!{self.layer}" if self.layer else self.path


@dataclass
class Manifest:
    """The files of a folder and the gaps of the county written in them."""

    folder: Path
    files: list[FileEntry] = field(default_factory=list)
    gaps: dict[str, list[str]] = field(default_factory=dict)

    def file(self, path: str) -> FileEntry:
        """The entry of the file named ``path``."""
        return next(entry for entry in self.files if entry.path == path)

    def of_kind(self, kind: str) -> FileEntry:
        """The (first) entry of a kind of file."""
        return next(entry for entry in self.files if entry.kind == kind)

    @property
    def paths(self) -> list[Path]:
        """Every file, in the order written (places first)."""
        return [self.folder / entry.path for entry in self.files]

    @property
    def problems(self) -> list[Planted]:
        """Every planted problem, file by file."""
        return [problem for entry in self.files for problem in entry.problems]

    def expected(self) -> set[tuple[str, int | None, str | None]]:
        """Every planted problem as ``(report path, row, column)``, to compare with a report's."""
        return {(entry.report_path, p.row, p.column) for entry in self.files for p in entry.problems}

    def crs_options(self) -> list[str]:
        """``--crs FILE=DATUM`` arguments for the files that do not declare their datum."""
        options: list[str] = []
        for entry in self.files:
            if entry.declared is None and entry.datum is not None:
                options += ["--crs", f"{entry.path}={entry.datum}"]
        return options

    def to_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "files": [asdict(entry) for entry in self.files], "gaps": self.gaps}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
