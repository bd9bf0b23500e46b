"""Recording many incidents at once: a file of a million rows, or a batch posted to the API.

The rows are checked and assigned in memory (``geo_service.lookup.bulk_assign``), then written by
``geo_service.cases.intake``, the writer a single recording uses too: so each incident gets what
``geo_service.cases.recording.record_with`` would give it one by one: the grid of the boundaries
in force when it was reported, today's people, the time limit. A file is read and written chunk
by chunk (``CHUNK_ROWS``), so that ten million rows are never in memory at once: each chunk in a
transaction of its own, two written at once, or, when all or nothing is asked for, all of them in
one transaction that a bad row anywhere rolls back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.cases.batch_rows import Chunk, Known, Seen, check_rows
from geo_service.cases.intake import record_new
from geo_service.cases.transfers import route_new
from geo_service.errors import InvalidInput
from geo_service.i18n import Message, t
from geo_service.lookup.point_files import read_point_chunks
from geo_service.progress import Reporter, Silent
from geo_service.settings import Settings

# Each row's outcome, as ``ImportResult.rows`` has it.
OUTCOME = ["row", "external_id", "status", "id", "error"]
# Columns that make a row a past case rather than a new report.
PAST_CASE_COLUMNS = {"status", "closed_at", "resolved_at", "satisfaction", "dispatched_at"}
# Rows read, checked and written at a time: large enough that the per-statement costs vanish,
# small enough that a chunk's frames stay a few hundred megabytes.
CHUNK_ROWS = 50_000
# Connections writing chunks at once (each its own transaction): one per core of the database.
WRITERS = 2


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

    def summary(self) -> Message:
        """One line on what became of the rows."""
        return t(
            "{rows:,} rows: {created:,} recorded, {existing:,} already stored, {duplicate:,} repeated in the file, "
            "{errors:,} in error",
            rows=len(self.rows),
            created=self.count("created"),
            existing=self.count("existing"),
            duplicate=self.count("duplicate"),
            errors=self.count("error"),
        )


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
    return import_chunks(
        engine,
        [Chunk(frame, lon, lat, datums, problems)],
        all_or_nothing=all_or_nothing,
        actor=actor,
        settings=settings,
        reporter=reporter,
        scope=scope,
    )


def import_chunks(
    engine: Engine,
    chunks: Iterable[Chunk],
    *,
    all_or_nothing: bool = False,
    actor: str,
    settings: Settings,
    reporter: Reporter | None = None,
    scope: Jurisdiction = EVERYTHING,
) -> ImportResult:
    """:func:`import_incidents` over an input read chunk by chunk (a file of ten million rows
    never held at once); a row repeated in a later chunk is a duplicate.

    With ``all_or_nothing`` every chunk is written in one transaction, rolled back at the first
    bad row (the rest still checked, to name every bad row). Without it, each chunk is committed
    on its own, by ``WRITERS`` connections at once (the database, not Python, bounds a bulk write,
    and one connection keeps one core busy): an import stopped half way leaves whole chunks
    stored, and running the file again records the rest, the rows stored answering ``existing``.
    """
    reporter = reporter or Silent()
    now = datetime.now(UTC)
    seen = Seen()
    with engine.connect() as connection:
        known = Known.read(connection)
    checked = (
        _checked(engine, chunk, first, known, seen, settings, scope, reporter) for first, chunk in _numbered(chunks)
    )
    write = partial(_write, now=now, actor=actor, settings=settings, reporter=reporter)
    if all_or_nothing:
        outcomes, committed = _in_one_transaction(engine, checked, write)
    else:
        outcomes, committed = _by_chunk(engine, checked, write), True
    rows = pd.concat(outcomes, ignore_index=True) if outcomes else pd.DataFrame(columns=[*OUTCOME, "county_code"])
    if committed:
        _look_up(engine, rows)
    else:
        rows["id"] = pd.array([pd.NA] * len(rows), dtype="Int64")
    return ImportResult(rows[OUTCOME].assign(status=rows["status"].astype(str)), committed=committed)


def _numbered(chunks: Iterable[Chunk]) -> Iterator[tuple[int, Chunk]]:
    """Each chunk with the number of rows before it."""
    first = 0
    for chunk in chunks:
        yield first, chunk
        first += len(chunk.frame)


def _checked(engine: Engine, chunk: Chunk, first: int, *args) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    with engine.connect() as connection:
        return check_rows(connection, chunk, first, *args)


def _write(
    connection: Connection,
    rows: pd.DataFrame,
    cases: pd.DataFrame,
    matters: dict[str, str],
    *,
    now: datetime,
    actor: str,
    settings: Settings,
    reporter: Reporter,
) -> tuple[pd.DataFrame, list[int]]:
    """Record a chunk's cases in the caller's transaction (one audit entry for them); its rows'
    outcomes: a created row's id; a row to create that was not written was stored already."""
    written = record_new(
        connection, cases, now, settings.place.timezone, actor=actor, audit_each=False, reporter=reporter
    )
    # Rows of a matter go to the department the routing rules name, in the same transaction.
    routed = {int(i): matters[e] for i, e in zip(written["id"], written["external_id"], strict=True) if e in matters}
    route_new(connection, routed, now, signed_in=actor)
    made = dict(zip(written["external_id"], written["id"], strict=True))
    todo = (rows["status"] == "created").to_numpy()
    rows.loc[todo, "id"] = rows.loc[todo, "external_id"].map(made)
    rows.loc[todo & rows["id"].isna().to_numpy(), "status"] = "existing"
    reporter.step(t("{count:,} rows done", count=int(rows["row"].iloc[-1]) if len(rows) else 0))
    return _kept(rows)


def _in_one_transaction(engine: Engine, checked, write) -> tuple[list[pd.DataFrame], bool]:
    outcomes, refused = [], False
    with engine.connect() as connection:
        transaction = connection.begin()
        for rows, cases, matters in checked:
            refused = refused or bool((rows["status"] == "error").any())
            if refused:
                outcomes.append(_kept(rows))
                continue
            outcomes.append(write(connection, rows, cases, matters))
        if refused:
            transaction.rollback()  # what the chunks before the bad row wrote is undone
        else:
            transaction.commit()
    return outcomes, not refused


def _by_chunk(engine: Engine, checked, write) -> list[pd.DataFrame]:
    """Each chunk written and committed in its own transaction, ``WRITERS`` at once, while the
    next is checked; at most ``WRITERS`` chunks wait in memory."""

    def one(rows, cases, matters):
        with engine.begin() as connection:
            return write(connection, rows, cases, matters)

    done: list = []
    with ThreadPoolExecutor(WRITERS) as pool:
        pending: deque = deque()
        for rows, cases, matters in checked:
            pending.append(pool.submit(one, rows, cases, matters))
            while len(pending) >= WRITERS:
                done.append(pending.popleft().result())
        done += [future.result() for future in pending]
    return done


def _kept(rows: pd.DataFrame) -> pd.DataFrame:
    """What is kept of a chunk's rows until the end: the outcome's columns, compactly (the
    status as a category, the id as a nullable integer), and the county of the rows whose id
    is looked up at the end."""
    lookup = rows["status"].isin(["existing", "duplicate"]) & rows["id"].isna()
    return rows[OUTCOME].assign(
        status=rows["status"].astype("category"),
        id=rows["id"].astype("Int64"),
        county_code=rows["county_code"].where(lookup, None),
    )


def _look_up(engine: Engine, rows: pd.DataFrame) -> None:
    """The stored id of each row repeated or stored already, in place, looked up in its county
    (external ids are a county's own) once every chunk is committed."""
    wanted = rows["county_code"].notna().to_numpy()
    if not wanted.any():
        return
    with engine.connect() as connection:
        stored = _stored_ids(
            connection, rows.loc[wanted, "external_id"].tolist(), rows.loc[wanted, "county_code"].tolist()
        )
    keyed = rows.loc[wanted, "external_id"] + "|" + rows.loc[wanted, "county_code"]
    rows.loc[wanted, "id"] = keyed.map(stored).astype("Int64")


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
    (reporter or Silent()).step(t("reading {source} ...", source=str(source)))
    chunks = _file_chunks(source, crs, crs_column, lon_column, lat_column)
    result = import_chunks(
        engine, chunks, all_or_nothing=all_or_nothing, actor=actor, settings=settings, reporter=reporter, scope=scope
    )
    if out is not None:
        if out.suffix.lower() == ".csv":
            result.rows.to_csv(out, index=False)
        else:
            result.rows.to_parquet(out)
    return result


def _file_chunks(source: Path, crs: str, crs_column: str | None, lon_column: str, lat_column: str) -> Iterator[Chunk]:
    """A point file's rows chunk by chunk, each with its datums, refused whole (before anything
    is written) when its columns are those of past cases or lack the datum column named."""
    for frame, lon, lat, problems in read_point_chunks(source, lon_column, lat_column, CHUNK_ROWS):
        past = sorted(set(frame.columns) & PAST_CASE_COLUMNS)
        if past:
            # New reports are dispatched now to today's people; a past case must keep its own
            # status and times, which only the county import does.
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
        yield Chunk(frame, lon, lat, datums, problems)


def _stored_ids(connection: Connection, external_ids: list[str], counties: list[str]) -> dict[str, int]:
    """``external_id|county_code`` -> id of the incidents stored under those pairs."""
    found = connection.execute(
        text("""SELECT i.external_id || '|' || i.county_code, i.id
                  FROM incidents i JOIN unnest(CAST(:ids AS text[]), CAST(:counties AS text[])) w(e, c)
                    ON i.external_id = w.e AND i.county_code = w.c"""),
        {"ids": external_ids, "counties": counties},
    )
    return dict(found.all())
