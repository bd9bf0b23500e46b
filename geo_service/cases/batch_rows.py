"""Rows of new incidents checked and assigned, a chunk at a time, before they are recorded
(``geo_service.cases.batch``): each row's problem named in its own words, each row's grid found
in memory under the boundaries in force when it was reported, a row repeated in the input told
from its first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.boundaries.versions import in_force_positions, published_starts
from geo_service.cases.recording import FUTURE_TOLERANCE
from geo_service.cases.routing import matter_categories, matter_problem
from geo_service.db.partitions import NO_COUNTY
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.lookup.bulk_assign import RESULT_COLUMNS, assign_points, canonical_datum, snapshot
from geo_service.progress import Reporter
from geo_service.settings import Settings
from geo_service.times import read_time
from geo_service.vocabulary import RISK_COLOURS

REQUIRED = ("external_id", "category", "source", "reported_at")
OPTIONAL = ("risk_colour", "description", "reporter_name", "reporter_phone", "matter")


@dataclass(frozen=True)
class Known:
    """What every chunk is checked against, read once per import."""

    categories: set[str]
    sources: set[str]
    matters: dict[str, str]
    published: list

    @classmethod
    def read(cls, connection: Connection) -> Known:
        return cls(
            {r[0] for r in connection.execute(text("SELECT code FROM categories"))},
            {r[0] for r in connection.execute(text("SELECT code FROM sources"))},
            matter_categories(connection),
            published_starts(connection),
        )


def row_errors(frame: pd.DataFrame, known: Known, zone: str) -> tuple[np.ndarray, pd.Series]:
    error = np.full(len(frame), "", dtype=object)

    def flag(mask, message) -> None:
        """Name the problem of the rows of ``mask`` not in error yet: ``message`` is the words,
        the words per row, or ``(values, words)``: a function of a row's value giving them,
        called for those rows only (a valid row costs no formatting)."""
        mask = np.asarray(mask, dtype=bool) & (error == "")
        if isinstance(message, str):
            error[mask] = message
        elif isinstance(message, tuple):
            values, words = message
            error[mask] = [words(v) for v in np.asarray(values, dtype=object)[mask]]
        else:
            error[mask] = np.asarray(message, dtype=object)[mask]

    external = frame["external_id"].fillna("").astype(str).str.strip()
    flag(external == "", "external_id is empty")
    flag(external.str.len() > 100, "external_id is longer than 100 characters")
    categories = ", ".join(sorted(known.categories))
    category = frame["category"].fillna("").astype(str)
    flag(~category.isin(known.categories), (category, lambda c: f"unknown category {c!r}; known: {categories}"))
    sources = ", ".join(sorted(known.sources))
    source = frame["source"].fillna("").astype(str)
    flag(~source.isin(known.sources), (source, lambda s: f"unknown source {s!r}; known: {sources}"))
    # a matter of the county's list, under the row's category
    given = frame["matter"].notna().to_numpy()
    wrong = np.full(len(frame), "", dtype=object)
    wrong[given] = [
        str(matter_problem(m, c, known.matters) or "")
        for m, c in zip(frame["matter"][given], category[given], strict=True)
    ]
    flag(wrong != "", wrong)
    colour = frame["risk_colour"].fillna("blue").astype(str)
    flag(~colour.isin(RISK_COLOURS), (colour, lambda c: f"risk_colour {c!r} is not one of {', '.join(RISK_COLOURS)}"))
    raw = frame["reported_at"]
    parsed = {value: read_time(value, zone) for value in raw.dropna().unique()}
    reported = pd.to_datetime(raw.map(parsed), utc=True)
    flag(reported.isna(), (raw, lambda v: f"reported_at {v!r} is not a time"))
    flag(reported > pd.Timestamp(datetime.now(UTC) + FUTURE_TOLERANCE), "reported_at is in the future")
    return error, reported


@dataclass
class Seen:
    """The external ids of the valid rows of the chunks before (64-bit hashes, sorted per chunk:
    8 bytes a row rather than the ids themselves), to tell a row repeated across chunks. Two ids
    of one hash would be taken for a repeat: among ten million rows, a chance of about 3 in a
    million (and the row would answer ``duplicate`` with no id)."""

    chunks: list[np.ndarray] = field(default_factory=list)

    def before(self, external: pd.Series) -> np.ndarray:
        hashed = pd.util.hash_pandas_object(external, index=False).to_numpy()
        found = np.zeros(len(external), dtype=bool)
        for chunk in self.chunks:
            at = np.minimum(np.searchsorted(chunk, hashed), len(chunk) - 1)
            found |= chunk[at] == hashed
        return found

    def add(self, external: pd.Series) -> None:
        if len(external):
            self.chunks.append(np.sort(pd.util.hash_pandas_object(external, index=False).to_numpy()))


@dataclass(frozen=True)
class Chunk:
    """Rows of an input, their coordinates, datums (one or per row) and the reader's problems."""

    frame: pd.DataFrame
    lon: np.ndarray
    lat: np.ndarray
    datums: np.ndarray | str
    problems: np.ndarray | None = None


def check_rows(
    connection: Connection,
    chunk: Chunk,
    first: int,
    known: Known,
    seen: Seen,
    settings: Settings,
    scope: Jurisdiction,
    reporter: Reporter,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """A chunk's rows checked and assigned: each row's outcome so far (``row`` counted from the
    input's first), the cases to record, and the matter of those that name one."""
    zone = settings.place.timezone
    missing = [c for c in REQUIRED if c not in chunk.frame.columns]
    if missing:
        raise InvalidInput(
            t(
                "the rows have no column {missing} (needed: {REQUIRED})",
                missing=", ".join(missing),
                REQUIRED=", ".join(REQUIRED),
            ),
            field="file",
        )
    frame = chunk.frame.reset_index(drop=True).copy()
    lon, lat = chunk.lon, chunk.lat
    for column in OPTIONAL:
        if column not in frame.columns:
            frame[column] = None
    frame["risk_colour"] = frame["risk_colour"].fillna("blue").replace("", "blue")
    n = len(frame)
    frame["matter"] = pd.Series(
        [m.strip() if isinstance(m, str) and m.strip() else None for m in frame["matter"]],
        index=frame.index,
        dtype=object,
    )
    error, reported = row_errors(frame, known, zone)
    if chunk.problems is not None:
        error = np.where((chunk.problems != "") & (error == ""), chunk.problems, error)

    # Assign each row with the boundaries in force when it was reported: the published version
    # with the latest start at or before that moment.
    assigned = pd.DataFrame(index=range(n), columns=[*RESULT_COLUMNS, "version_id"])
    datums = np.broadcast_to(np.asarray(chunk.datums, dtype=object), (n,))
    published = known.published
    which = in_force_positions(published, reported)  # -2: unreadable times, reported as such already
    error[(which == -1) & (error == "")] = "no boundary version was in force at reported_at"
    for position in np.unique(which[which >= 0]):
        rows = np.flatnonzero((which == position) & (error == ""))
        if not len(rows):
            continue
        snap = snapshot(connection, published[position][1], settings)
        result = assign_points(snap, lon[rows], lat[rows], datums[rows], reporter)
        result["version_id"] = snap.version_ids(result["grid_code"]).to_numpy()
        assigned.loc[rows, result.columns] = result.to_numpy()
    failed = (error == "") & (assigned["status"].to_numpy() == "error")
    error[failed] = assigned["error"].to_numpy()[failed]
    away = (error == "") & ~scope.holds_rows(assigned)
    error[away] = f"the point lies outside your jurisdiction ({scope.name})"

    external = frame["external_id"].astype(str).str.strip()
    # A repeat of an earlier valid row; a refused row does not claim its external id.
    valid = error == ""
    duplicate = (external.where(valid).duplicated().to_numpy() | seen.before(external)) & valid
    seen.add(external[valid & ~duplicate])
    rows = pd.DataFrame(
        {
            "row": np.arange(first + 1, first + n + 1),
            "external_id": external,
            "status": "created",
            "id": pd.NA,
            "error": np.where(valid, None, error),
            "county_code": assigned["county_code"].fillna(NO_COUNTY).astype(str),
        }
    )
    rows.loc[~valid, "status"] = "error"
    rows.loc[duplicate, "status"] = "duplicate"

    todo = (rows["status"] == "created").to_numpy()
    inside = todo & (assigned["status"].to_numpy() == "assigned")
    cases = pd.DataFrame(
        {
            "external_id": external,
            "source": frame["source"],
            "category": frame["category"],
            "reported_at": reported,
            "description": frame["description"],
            "reporter_name": frame["reporter_name"],
            "reporter_phone": frame["reporter_phone"],
            "risk_colour": frame["risk_colour"],
            "lon": assigned["lon_cgcs2000"].astype(float),
            "lat": assigned["lat_cgcs2000"].astype(float),
            "input_datum": pd.Series(datums).map(canonical_datum),
            "input_lon": lon,
            "input_lat": lat,
            "version_id": assigned["version_id"],
            "inside": inside,
            **{
                column: assigned[column]
                for column in (
                    "grid_code",
                    "grid_name",
                    "village_code",
                    "town_code",
                    "county_code",
                    "nearest_distance_m",
                )
            },
        }
    )[todo]
    matters = {e: m for e, m in zip(external[todo], frame["matter"][todo], strict=True) if isinstance(m, str)}
    return rows, cases, matters
