"""Recording many incidents at once: a file of a million rows, or a batch posted to the API.

The rows are checked and assigned in memory (``geo_service.lookup.bulk_assign``), then written in one
transaction by ``geo_service.cases.writer``, the writer a single recording uses too: so each
incident gets what ``geo_service.cases.recording.record_with`` would give it one by one: the grid of
the boundaries in force when it was reported, today's people, the time limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.boundaries.versions import in_force_positions, published_starts
from geo_service.cases.recording import FUTURE_TOLERANCE
from geo_service.cases.routing import matter_categories, matter_problem
from geo_service.cases.transfers import route_new
from geo_service.cases.writer import record_new
from geo_service.db.partitions import NO_COUNTY
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.lookup.bulk_assign import RESULT_COLUMNS, assign_points, canonical_datum, read_points, snapshot
from geo_service.progress import Reporter, Silent
from geo_service.settings import Settings
from geo_service.times import read_time
from geo_service.vocabulary import RISK_COLOURS

REQUIRED = ("external_id", "category", "source", "reported_at")
# Columns that make a row a past case rather than a new report.
PAST_CASE_COLUMNS = {"status", "closed_at", "resolved_at", "satisfaction", "dispatched_at"}
OPTIONAL = ("risk_colour", "description", "reporter_name", "reporter_phone", "matter")


@dataclass(frozen=True)
class ImportResult:
    """Per input row: ``status`` created, existing (already stored), duplicate (earlier in the
    same input), or error; the incident's ``id`` where it has one; ``error`` saying why."""

    rows: pd.DataFrame
    committed: bool

    def count(self, status: str) -> int:
        return int((self.rows["status"] == status).sum())

    @property
    def errors(self) -> pd.DataFrame:
        """The rows in error: ``row`` (1-based) and ``error``."""
        return self.rows.loc[self.rows["status"] == "error", ["row", "error"]]

    def summary(self) -> str:
        """One line on what became of the rows."""
        return (
            f"{len(self.rows):,} rows: {self.count('created'):,} recorded, {self.count('existing'):,} already "
            f"stored, {self.count('duplicate'):,} repeated in the file, {self.count('error'):,} in error"
        )


def _row_errors(
    frame: pd.DataFrame, categories: set[str], sources: set[str], zone: str, matters: dict[str, str] | None = None
) -> tuple[np.ndarray, pd.Series]:
    error = np.full(len(frame), "", dtype=object)

    def flag(mask, message):
        mask = np.asarray(mask, dtype=bool) & (error == "")
        error[mask] = message if isinstance(message, str) else np.asarray(message, dtype=object)[mask]

    external = frame["external_id"].fillna("").astype(str).str.strip()
    flag(external == "", "external_id is empty")
    flag(external.str.len() > 100, "external_id is longer than 100 characters")
    category = frame["category"].fillna("").astype(str)
    flag(
        ~category.isin(categories),
        [f"unknown category {c!r}; known: {', '.join(sorted(categories))}" for c in category],
    )
    source = frame["source"].fillna("").astype(str)
    flag(~source.isin(sources), [f"unknown source {s!r}; known: {', '.join(sorted(sources))}" for s in source])
    if matters is not None:  # a matter of the county's list, under the row's category
        wrong = [
            str(matter_problem(m, c, matters) or "") if isinstance(m, str) else ""
            for m, c in zip(frame["matter"], category, strict=True)
        ]
        flag([bool(w) for w in wrong], wrong)
    colour = frame["risk_colour"].fillna("blue").astype(str)
    flag(~colour.isin(RISK_COLOURS), [f"risk_colour {c!r} is not one of {', '.join(RISK_COLOURS)}" for c in colour])
    raw = frame["reported_at"]
    parsed = {value: read_time(value, zone) for value in raw.dropna().unique()}
    reported = pd.to_datetime(raw.map(parsed), utc=True)
    flag(reported.isna(), [f"reported_at {v!r} is not a time" for v in raw])
    flag(reported > pd.Timestamp(datetime.now(UTC) + FUTURE_TOLERANCE), "reported_at is in the future")
    return error, reported


def import_incidents(
    engine: Engine,
    frame: pd.DataFrame,
    lon: np.ndarray,
    lat: np.ndarray,
    datums: np.ndarray | str,
    *,
    problems: np.ndarray | None = None,
    all_or_nothing: bool = False,
    actor: str,
    settings: Settings,
    reporter: Reporter | None = None,
    scope: Jurisdiction = EVERYTHING,
) -> ImportResult:
    """Record the rows of ``frame`` (columns of ``REQUIRED``, optionally ``OPTIONAL``) as incidents,
    by ``actor`` (named in the audit log).

    Rows in error are reported and skipped, unless ``all_or_nothing``: then nothing is written.
    Rows whose external id is stored already, or repeated within the input, are not written again.
    A ``reported_at`` without a zone is the county's time (``settings.place.timezone``). A row
    outside ``scope`` (the recording user's jurisdiction) is an error.
    """
    zone = settings.place.timezone
    reporter = reporter or Silent()
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InvalidInput(
            t(
                "the rows have no column {missing} (needed: {REQUIRED})",
                missing=", ".join(missing),
                REQUIRED=", ".join(REQUIRED),
            ),
            field="file",
        )
    frame = frame.reset_index(drop=True).copy()
    for column in OPTIONAL:
        if column not in frame.columns:
            frame[column] = None
    frame["risk_colour"] = frame["risk_colour"].fillna("blue").replace("", "blue")
    n = len(frame)
    with engine.connect() as connection:
        categories = {r[0] for r in connection.execute(text("SELECT code FROM categories"))}
        sources = {r[0] for r in connection.execute(text("SELECT code FROM sources"))}
        matters = matter_categories(connection)
    frame["matter"] = pd.Series(
        [m.strip() if isinstance(m, str) and m.strip() else None for m in frame["matter"]],
        index=frame.index,
        dtype=object,
    )
    error, reported = _row_errors(frame, categories, sources, zone, matters)
    if problems is not None:
        error = np.where((problems != "") & (error == ""), problems, error)

    # Assign each row with the boundaries in force when it was reported: the published version
    # with the latest start at or before that moment.
    assigned = pd.DataFrame(index=range(n), columns=[*RESULT_COLUMNS, "version_id"])
    datums = np.broadcast_to(np.asarray(datums, dtype=object), (n,))
    with engine.connect() as connection:
        published = published_starts(connection)
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
    duplicate = external.where(error == "").duplicated() & (error == "")
    rows = pd.DataFrame(
        {
            "row": np.arange(1, n + 1),
            "external_id": external,
            "status": "created",
            "id": pd.NA,
            "error": np.where(error == "", None, error),
        }
    )
    rows.loc[error != "", "status"] = "error"
    rows.loc[duplicate.to_numpy(), "status"] = "duplicate"
    if all_or_nothing and (error != "").any():
        return ImportResult(rows, committed=False)

    todo = (rows["status"] == "created").to_numpy()
    now = datetime.now(UTC)
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
    with engine.begin() as connection:
        written = record_new(connection, cases, now, zone, actor=actor, audit_each=False, reporter=reporter)
        # Rows of a matter go to the department the routing rules name, in the same transaction.
        matter_of = dict(zip(external[todo], frame["matter"][todo], strict=True))
        routed = {int(i): matter_of[e] for i, e in zip(written["id"], written["external_id"], strict=True)}
        route_new(connection, {i: m for i, m in routed.items() if isinstance(m, str)}, now, signed_in=actor)
    created = set(written["external_id"])
    # External ids are a county's own: each row's stored id is looked up in its county.
    counties = assigned["county_code"].fillna(NO_COUNTY).astype(str)
    keyed = external + "|" + counties
    wanted = (todo | duplicate.to_numpy()) & (error == "")
    ids = _stored_ids(engine, external[wanted].tolist(), counties[wanted].tolist())
    rows["id"] = keyed.map(ids).astype("Int64")
    rows.loc[todo & ~external.isin(created).to_numpy(), "status"] = "existing"
    return ImportResult(rows, committed=True)


def import_file(
    engine: Engine,
    source: Path,
    out: Path | None = None,
    *,
    crs: str = "cgcs2000",
    crs_column: str | None = None,
    all_or_nothing: bool = False,
    lon_column: str = "lon",
    lat_column: str = "lat",
    actor: str,
    settings: Settings,
    reporter: Reporter | None = None,
    scope: Jurisdiction = EVERYTHING,
) -> ImportResult:
    """Record the rows of a point file (CSV, GeoJSON, GeoPackage, GeoParquet; the columns of
    ``REQUIRED``) as incidents, as :func:`import_incidents` does; ``out`` (.csv or .parquet) gets
    each row's outcome.

    Parameters
    ----------
    crs, crs_column
        The datum of every row, or the column that gives each row's datum.
    lon_column, lat_column
        A CSV file's columns of coordinates.
    """
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        raise InvalidInput(
            t("{name}: each row's outcome is written to a .csv or .parquet file", name=out.name), field="out"
        )
    (reporter or Silent()).step(f"reading {source} ...")
    frame, lon, lat, problems = read_points(source, lon_column, lat_column)
    past = sorted(set(frame.columns) & PAST_CASE_COLUMNS)
    if past:
        # New reports are dispatched now to today's people; a past case must keep its own status
        # and times, which only the county import does.
        raise InvalidInput(
            t(
                "{name} has {past}: these are past cases, which keep their status and times only through `geo-service county import`; `assign --load` records new reports",
                name=source.name,
                past=", ".join(past),
            ),
            field="file",
        )
    if crs_column and crs_column not in frame.columns:
        raise InvalidInput(
            t("{name}: no column {crs_column}", name=source.name, crs_column=crs_column), field="crs_column"
        )
    datums = frame[crs_column].astype(str).str.strip().str.lower().to_numpy(dtype=object) if crs_column else crs
    result = import_incidents(
        engine,
        frame,
        lon,
        lat,
        datums,
        problems=problems,
        all_or_nothing=all_or_nothing,
        actor=actor,
        settings=settings,
        reporter=reporter,
    )
    if out is not None:
        if out.suffix.lower() == ".csv":
            result.rows.to_csv(out, index=False)
        else:
            result.rows.to_parquet(out)
    return result


def _stored_ids(engine: Engine, external_ids: list[str], counties: list[str]) -> dict[str, int]:
    """``external_id|county_code`` -> id of the incidents stored under those pairs."""
    with engine.connect() as connection:
        found = connection.execute(
            text("""SELECT i.external_id || '|' || i.county_code, i.id
                      FROM incidents i JOIN unnest(CAST(:ids AS text[]), CAST(:counties AS text[])) w(e, c)
                        ON i.external_id = w.e AND i.county_code = w.c"""),
            {"ids": external_ids, "counties": counties},
        )
        return dict(found.all())
