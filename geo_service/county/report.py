"""What an import found: every file with its kind, datum and rows, and every problem with its
file, row, column and reason, so that a county office fixes its files in one round.

Rows are numbered as a person counts them in the file: the N-th data row, 1-based, the header
not counted (a GeoPackage's or GeoJSON's N-th feature). Columns are named as the file names them.

Every reason is a message of the catalogue (``geo_service.i18n.t``), kept as template and values so
that the report is read in the reader's language (``ImportReport.to_dict``) and still pickles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from geo_service.i18n import DEFAULT_LANGUAGE, Language, Message, render, t

Severity = Literal["error", "warning"]


@dataclass
class Problem:
    """One thing wrong in one place: an error stops the import (or drops the row with
    ``--skip-bad-rows``); a warning is worth a look but loads."""

    row: int | None
    column: str | None
    reason: Message
    severity: Severity = "error"

    def to_dict(self, language: Language) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "reason": render(self.reason, language),
            "severity": self.severity,
        }


@dataclass
class FileReport:
    """One file (or one layer of a GeoPackage: ``path`` then ends in ``!layer``)."""

    path: str
    kind: str | None = None
    datum: str | None = None
    datum_from: str | None = None  # "file", "column", "--crs FILE=DATUM", "--crs", "detected"
    rows: int = 0
    loaded: int = 0
    problems: list[Problem] = field(default_factory=list)

    def error(self, row: int | None, column: str | None, reason: Message) -> None:
        self.problems.append(Problem(row, column, reason, "error"))

    def warn(self, row: int | None, column: str | None, reason: Message) -> None:
        self.problems.append(Problem(row, column, reason, "warning"))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def bad_rows(self) -> set[int]:
        """Rows with an error of their own (a file-wide error has no row)."""
        return {p.row for p in self.errors if p.row is not None}

    def fatal(self) -> bool:
        """An error of the whole file (no row): nothing of it can load, even row by row."""
        return any(p.row is None for p in self.errors)

    def to_dict(self, language: Language) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "datum": self.datum,
            "datum_from": self.datum_from,
            "rows": self.rows,
            "loaded": self.loaded,
            "problems": [p.to_dict(language) for p in self.problems],
        }


@dataclass
class ImportReport:
    """The whole import: files, the gaps left in the county (grids without a grid worker,
    villages without a party secretary or police officer), and what was stored."""

    files: list[FileReport] = field(default_factory=list)
    gaps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dry_run: bool = False
    stored: bool = False
    changed: bool = False
    summary: dict[str, Any] = field(default_factory=dict)

    def file(self, path: str) -> FileReport:
        for report in self.files:
            if report.path == path:
                return report
        report = FileReport(path)
        self.files.append(report)
        return report

    @property
    def error_count(self) -> int:
        return sum(len(f.errors) for f in self.files)

    @property
    def warning_count(self) -> int:
        return sum(len(f.problems) - len(f.errors) for f in self.files)

    def to_dict(self, language: Language = DEFAULT_LANGUAGE) -> dict[str, Any]:
        """The report as JSON gives it, each reason in ``language`` (Chinese unless asked)."""
        return {
            "dry_run": self.dry_run,
            "stored": self.stored,
            "changed": self.changed,
            "errors": self.error_count,
            "warnings": self.warning_count,
            "summary": self.summary,
            "files": [f.to_dict(language) for f in self.files],
            "gaps": self.gaps,
        }

    def write(self, path: Path, language: Language = DEFAULT_LANGUAGE) -> None:
        """The whole report as a JSON file, for the county office that fixes its files (Chinese)."""
        body = json.dumps(self.to_dict(language), ensure_ascii=False, indent=2, default=str)
        path.write_text(body, encoding="utf-8")


def brief(names: list[str], limit: int = 12) -> str | Message:
    """The first ``limit`` of ``names`` for a reason, and how many there are in all when more."""
    shown = ", ".join(names[:limit])
    return t("{names} ... ({count} in all)", names=shown, count=len(names)) if len(names) > limit else shown
