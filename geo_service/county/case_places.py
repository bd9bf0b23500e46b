"""Where a county's past cases lie: each row placed in the grid of the boundary version in force at
its own report time; a row in no grid of the county is reported (with the nearest grid)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from geo_service.boundaries.versions import in_force_positions, published_starts
from geo_service.county.case_problems import RowProblems
from geo_service.i18n import Message, t
from geo_service.lookup.bulk_assign import assign_points, snapshot
from geo_service.settings import Settings


def place_cases(
    connection: Connection,
    frame: pd.DataFrame,
    reported: pd.Series,
    problems: RowProblems,
    settings: Settings,
    county_units: set[str] | None,
) -> pd.DataFrame:
    """Each row's grid, village, town and county in the version in force at its report time."""
    n = len(frame)
    lon = frame["lon"].to_numpy(dtype=float) if "lon" in frame else np.full(n, np.nan)
    lat = frame["lat"].to_numpy(dtype=float) if "lat" in frame else np.full(n, np.nan)
    placed = pd.DataFrame(
        index=range(n),
        columns=["grid_code", "grid_name", "village_code", "town_code", "county_code", "lon_cgcs2000", "lat_cgcs2000"],
        dtype=object,
    )
    placed["version_id"] = pd.array([pd.NA] * n, dtype="Int64")
    no_point = np.isnan(lon) | np.isnan(lat)
    already = frame["_row"].isin(problems.table.report.bad_rows()).to_numpy()
    problems.add(no_point & ~already, "lon", lambda i: t("the row has no coordinates (longitude and latitude)"))
    published = published_starts(connection)
    which = in_force_positions(published, reported)
    which[no_point] = -2
    first = (
        t("the first takes effect {moment}", moment=published[0][1].isoformat())
        if published
        else t("none is published")
    )
    problems.add(
        which == -1,
        "reported_at",
        lambda i: t("no boundary version was in force at the report time ({first})", first=first),
    )
    for position in np.unique(which[which >= 0]):
        rows = np.flatnonzero(which == position)
        snap = snapshot(connection, published[position][1], settings)
        found = assign_points(snap, lon[rows], lat[rows], "cgcs2000")
        status = found["status"].to_numpy()
        far = (status == "error") & np.isfinite(found["lon_cgcs2000"].to_numpy(dtype=float))
        if far.any():  # outside the area covered: still name the nearest grid
            near, metres = snap.nearest(
                found["lon_cgcs2000"].to_numpy(dtype=float)[far], found["lat_cgcs2000"].to_numpy(dtype=float)[far]
            )
            found.loc[far, "grid_code"] = snap.table["code"].to_numpy()[near]
            found.loc[far, "grid_name"] = snap.table["name"].to_numpy()[near]
            found.loc[far, "nearest_distance_m"] = np.round(metres, 1)
        inside = status == "assigned"
        if county_units is not None:
            codes = found[["grid_code", "village_code", "town_code", "county_code"]]
            ours = codes.isin(county_units).any(axis=1).to_numpy()
            away = inside & ~ours
            problems.add(
                np.isin(np.arange(n), rows[away]),
                "lon",
                lambda i, f=found, r=rows: _outside(f.iloc[np.searchsorted(r, i)], other=True),
            )
            inside &= ours
        outside = (status == "outside_grids") | far
        problems.add(
            np.isin(np.arange(n), rows[outside]),
            "lon",
            lambda i, f=found, r=rows: _outside(f.iloc[np.searchsorted(r, i)]),
        )
        lost = (status == "error") & ~far
        problems.add(
            np.isin(np.arange(n), rows[lost]),
            "lon",
            lambda i, f=found, r=rows: _unplaced(f["error"].iloc[np.searchsorted(r, i)]),
        )
        placed.loc[rows[inside], placed.columns[:-1]] = found.loc[inside, placed.columns[:-1]].to_numpy()
        placed.loc[rows[inside], "version_id"] = snap.version_ids(found.loc[inside, "grid_code"]).to_numpy()
    return placed


def _outside(found: pd.Series, other: bool = False) -> Message:
    if other:
        return t(
            "outside the county: in grid {grid} of county {county}",
            grid=found["grid_code"],
            county=found["county_code"],
        )
    near = {"grid": found["grid_code"], "name": found["grid_name"], "metres": float(found["nearest_distance_m"])}
    if "swapped" in str(found["error"] or ""):
        return t(
            "outside the county: in no grid; the nearest is {grid} {name} at {metres:.0f} m; "
            "latitude and longitude look swapped",
            **near,
        )
    return t("outside the county: in no grid; the nearest is {grid} {name} at {metres:.0f} m", **near)


def _unplaced(error: object) -> Message:
    """Why the lookup could not place a row: its own message (``coordinates.coverage``), or its
    text said inside one of the catalogue."""
    return error if isinstance(error, Message) else t("the point cannot be placed: {reason}", reason=str(error))
