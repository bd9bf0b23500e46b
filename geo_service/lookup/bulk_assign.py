"""Bulk assignment: many points to grids at once, with the grids in force held in memory.

Held in memory the grids assign a million points in a fraction of a second, tens of times faster
than a PostGIS join (``bench/bench_assign.py``); PostGIS stays the source of truth, and the answer
is the database's (``geo_service.lookup.grid_index`` states the rule, tests check they agree).

Rows are checked one by one but in vectorised passes: a row that is not a number, out of range,
in an unknown datum or outside the covered area is reported with its row number and reason, and
the other rows are still assigned, unless the caller asks for all-or-nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.boundaries.versions import InForce, in_force
from geo_service.coordinates import datum
from geo_service.coordinates.coverage import Coverage, coverage, coverage_errors, number_errors
from geo_service.coordinates.projection import metric_srid_of
from geo_service.db.engine import database_name
from geo_service.errors import InvalidInput
from geo_service.i18n import Message, t
from geo_service.lookup.grid_index import GridIndex
from geo_service.lookup.hierarchy import GRID_HIERARCHY
from geo_service.lookup.place import Place
from geo_service.lookup.point_files import file_format, read_points, write_assigned
from geo_service.progress import Reporter, Silent
from geo_service.settings import Settings
from geo_service.times import as_aware
from geo_service.vocabulary import DATUMS, STORAGE_SRID

RESULT_COLUMNS = [
    "status",
    "error",
    "grid_code",
    "grid_name",
    "grid_level",
    "village_code",
    "village_name",
    "town_code",
    "town_name",
    "county_code",
    "nearest_distance_m",
    "lon_cgcs2000",
    "lat_cgcs2000",
]

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid

GRIDS = text(
    """
    SELECT g.code, g.name, g.level, g.kind, v.code AS village_code, v.name AS village_name,
           t.code AS town_code, t.name AS town_name, c.code AS county_code, c.name AS county_name, g.version_id,
           ST_AsBinary(g.geom) AS wkb
"""
    + GRID_HIERARCHY
    + """
     WHERE g.version_id = ANY(:versions)
     ORDER BY g.code
"""
)


@dataclass(frozen=True)
class GridSnapshot:
    """The grids in force (every county's version), in memory, with their hierarchy."""

    boundaries: InForce
    table: pd.DataFrame
    index: GridIndex
    coverage: Coverage
    level1_tree: shapely.STRtree  # level-1 grids in the metric projection, for nearest-grid answers
    level1_rows: np.ndarray
    to_metric: Transformer

    @classmethod
    def load(cls, connection: Connection, boundaries: InForce, settings: Settings) -> GridSnapshot:
        table = pd.DataFrame(connection.execute(GRIDS, {"versions": boundaries.ids}).mappings().all())
        if table.empty:
            raise InvalidInput(t("boundary versions {value} have no grids", value=boundaries.name()), field="at")
        geometries = shapely.from_wkb(table.pop("wkb").map(bytes).to_numpy())
        index = GridIndex(table["code"], table["level"], geometries)
        srid = metric_srid_of(settings.place, shapely.total_bounds(geometries))
        to_metric = Transformer.from_crs(STORAGE_SRID, srid, always_xy=True)
        level1_rows = np.flatnonzero(table["level"].to_numpy() == 1)
        level1_tree = shapely.STRtree(
            shapely.transform(geometries[level1_rows], to_metric.transform, interleaved=False)
        )
        area = coverage(connection, boundaries, settings.place.coverage_margin_m)
        return cls(boundaries, table, index, area, level1_tree, level1_rows, to_metric)

    @cached_property
    def places(self) -> list[Place]:
        """The grids as places, row for row (made once, on first use)."""
        return [
            Place(
                grid_code=r.code,
                grid_name=r.name,
                grid_level=int(r.level),
                grid_kind=r.kind,
                village_code=r.village_code,
                village_name=r.village_name,
                town_code=r.town_code,
                town_name=r.town_name,
                county_code=r.county_code,
                county_name=r.county_name,
                version_id=int(r.version_id),
                distance_m=0.0,
            )
            for r in self.table.itertuples(index=False)
        ]

    def version_ids(self, grid_codes: pd.Series) -> pd.Series:
        """The boundary version of each grid code (None where there is none): its county's."""
        found = grid_codes.map(self.table.set_index("code")["version_id"]).astype("Int64")
        return found.astype(object).where(found.notna(), None)

    def nearest(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row of the nearest level-1 grid to each point, and the distance in metres on the spheroid
        (as PostGIS's geography measures it for a single lookup)."""
        mx, my = self.to_metric.transform(x, y)
        points = shapely.points(mx, my)
        point_idx, grid_idx = self.level1_tree.query_nearest(points, all_matches=False)
        rows = np.full(len(x), -1)
        metres = np.full(len(x), np.nan)
        rows[point_idx] = self.level1_rows[grid_idx]
        # The nearest point found in the projection, then the geodesic distance to it.
        ends = shapely.get_coordinates(shapely.shortest_line(points[point_idx], self.level1_tree.geometries[grid_idx]))
        ex, ey = self.to_metric.transform(ends[1::2, 0], ends[1::2, 1], direction="INVERSE")
        metres[point_idx] = GEOD.inv(x[point_idx], y[point_idx], ex, ey)[2]
        return rows, metres


_snapshots: dict[tuple, GridSnapshot] = {}
_lock = threading.Lock()


def snapshot(connection: Connection, at: datetime | None, settings: Settings) -> GridSnapshot:
    """The in-memory grids in force at ``at`` (None: now; a time without a zone is the county's,
    ``settings.place.timezone``), loaded once per process."""
    return snapshot_of(connection, in_force(connection, as_aware(at, settings.place.timezone)), settings)


def snapshot_of(connection: Connection, boundaries: InForce, settings: Settings) -> GridSnapshot:
    """The in-memory grids of the versions ``boundaries``, loaded once per process.

    A published version's grids do not change (a redraw is a new version); the key also holds the
    versions' creation times, so a database loaded afresh under the same ids is read afresh.
    """
    key = (database_name(connection), *boundaries.cache_key)
    with _lock:
        found = _snapshots.get(key)
    if found is None:
        found = GridSnapshot.load(connection, boundaries, settings)
        with _lock:
            _snapshots[key] = found
    return found


# -- assigning arrays of points ---------------------------------------------------------------


def _errors_for(lon: np.ndarray, lat: np.ndarray, datums: np.ndarray) -> np.ndarray:
    """Per-row reason a row cannot be used (empty string where it can)."""
    known = np.isin(datums, DATUMS)
    named = ", ".join(DATUMS)
    unknown = np.array(
        [t("unknown datum {value!r}; use one of {datums}", value=d, datums=named) for d in datums[~known]], dtype=object
    )
    error = number_errors(lon, lat)
    error[~known] = unknown
    return error


def assign_points(
    snap: GridSnapshot,
    lon: np.ndarray,
    lat: np.ndarray,
    datums: np.ndarray | str = "cgcs2000",
    reporter: Reporter | None = None,
    problems: np.ndarray | None = None,
) -> pd.DataFrame:
    """Assign points (in any mix of datums) to the snapshot's grids.

    Returns one row per point with the columns of ``RESULT_COLUMNS``: ``status`` is ``assigned``,
    ``outside_grids`` (within the covered area but in no grid: the nearest grid and its distance
    are given) or ``error`` (``error`` says why).
    """
    reporter = reporter or Silent()
    n = len(lon)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    # Each distinct datum name is parsed once (aliases such as "gcj-02" allowed); unknown names stay
    # as given and are reported per row.
    raw = pd.Series(np.broadcast_to(np.asarray(datums, dtype=object), (n,)))
    datums = raw.map({name: canonical_datum(name) for name in raw.unique()}).to_numpy(dtype=object)
    error = _errors_for(lon, lat, datums)
    if problems is not None:  # what the reader already knew, in its own words, comes first
        error = np.where(problems != "", problems, error)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    for name in pd.unique(datums[error == ""]):
        rows = np.flatnonzero((error == "") & (datums == name))
        x[rows], y[rows] = datum.convert(lon[rows], lat[rows], name, "cgcs2000")
    usable = np.flatnonzero(error == "")
    error[usable] = coverage_errors(snap.coverage, lon[usable], lat[usable], datums[usable], x[usable], y[usable])[0]
    ok = error == ""
    found = np.full(n, -1)
    found[ok] = snap.index.assign(x[ok], y[ok], progress=reporter.task(t("assigning to grids"), int(ok.sum())))
    no_grid = ok & (found < 0)
    distance = np.full(n, np.nan)
    if no_grid.any():
        found[no_grid], distance[no_grid] = snap.nearest(x[no_grid], y[no_grid])
    result = pd.DataFrame(
        {
            "status": np.where(~ok, "error", np.where(no_grid, "outside_grids", "assigned")),
            # Kept as objects: each reason stays a message (``t``), to be read in Chinese where a
            # person reads it (the command line), and as its English text in a file or an answer.
            "error": pd.Series(np.where(ok, None, error), dtype=object),
        }
    )
    table = snap.table
    picked = table.iloc[np.maximum(found, 0)].reset_index(drop=True)
    has = found >= 0
    for column, source in (
        ("grid_code", "code"),
        ("grid_name", "name"),
        ("grid_level", "level"),
        ("village_code", "village_code"),
        ("village_name", "village_name"),
        ("town_code", "town_code"),
        ("town_name", "town_name"),
        ("county_code", "county_code"),
    ):
        result[column] = picked[source].where(has, None)
    # Outside every grid, the grid columns name the nearest grid, not a containing one.
    result["nearest_distance_m"] = np.round(distance, 1)
    result["lon_cgcs2000"] = x
    result["lat_cgcs2000"] = y
    result["grid_level"] = result["grid_level"].astype("Int64")
    return result[RESULT_COLUMNS]


def canonical_datum(name) -> str:
    """The datum's canonical name, or the name as given when it is not a datum."""
    try:
        return datum.parse_datum(str(name))
    except ValueError:
        return str(name)


@dataclass(frozen=True)
class FileSummary:
    rows: int
    assigned: int
    outside_grids: int
    errors: pd.DataFrame  # row (1-based), error
    version: str
    written: bool

    def summary(self) -> Message:
        """One line on what became of the rows."""
        return t(
            "{rows:,} rows: {assigned:,} assigned, {outside:,} outside every grid (nearest given), "
            "{errors:,} in error; boundaries {version}",
            rows=self.rows,
            assigned=self.assigned,
            outside=self.outside_grids,
            errors=len(self.errors),
            version=self.version,
        )


def assign_file(
    engine: Engine,
    source: Path,
    destination: Path,
    *,
    crs: str | None = "cgcs2000",
    crs_column: str | None = None,
    at: datetime | None = None,
    all_or_nothing: bool = False,
    lon_column: str = "lon",
    lat_column: str = "lat",
    reporter: Reporter | None = None,
    settings: Settings,
) -> FileSummary:
    """Assign every row of ``source`` and write the rows with their grids to ``destination``.

    Parameters
    ----------
    crs, crs_column
        The datum of every row, or the column that gives each row's datum.
    at
        Whose boundaries: the version in force at this moment (default now).
    all_or_nothing
        Write nothing if any row is in error.
    settings
        The county's zone (``at`` without one) and the coverage of lookups.
    """
    reporter = reporter or Silent()
    file_format(destination)
    reporter.step(t("reading {source} ...", source=str(source)))
    frame, lon, lat, problems = read_points(source, lon_column, lat_column)
    if crs_column:
        if crs_column not in frame.columns:
            raise InvalidInput(
                t("{name}: no column {crs_column}", name=source.name, crs_column=crs_column), field="crs_column"
            )
        datums = frame[crs_column].astype(str).str.strip().str.lower().to_numpy(dtype=object)
    else:
        datums = np.asarray(crs)
    with engine.connect() as connection:
        snap = snapshot(connection, at, settings)
    reporter.step(t("{count:,} rows; boundaries {name}", count=len(frame), name=snap.boundaries.name()))
    result = assign_points(snap, lon, lat, datums, reporter, problems)
    bad = result["status"] == "error"
    errors = pd.DataFrame(
        {
            "row": np.flatnonzero(bad.to_numpy()) + 1,
            "error": pd.Series(result.loc[bad, "error"].to_numpy(), dtype=object),
        }
    )
    written = not (all_or_nothing and len(errors))
    if written:
        reporter.step(t("writing {destination} ...", destination=str(destination)))
        write_assigned(frame, result, destination)
    return FileSummary(
        len(frame),
        int((result["status"] == "assigned").sum()),
        int((result["status"] == "outside_grids").sum()),
        errors,
        snap.boundaries.name(),
        written,
    )
