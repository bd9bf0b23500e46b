"""A county's places from its files: outline, towns and streets, villages and communities, grids.

Codes are made exact (``unit_codes``) and must nest: a village's code under its town's, a grid's
under its village's, a sub-grid's under its grid's; a row whose parent is missing is refused with
the code it looked for. Shapes must be valid polygons. What the shapes say of each other (a grid
spilling over its village, siblings overlapping, gaps) is checked in PostGIS after they are
written into a draft version, by the planners' own checks (``geo_service.boundaries.checks``),
and reported against the row each problem is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.county.report import FileReport
from geo_service.county.unit_codes import clean_codes
from geo_service.i18n import Message, t
from geo_service.vocabulary import STORAGE_CRS

# Statistical division codes: streets 001-099, towns 100-199, townships 200-299 (the town's 3
# digits); communities 001-199 and villages 200-399 (the village's 3 digits).
_TOWN_KIND = (("street", 1, 99), ("town", 100, 199), ("township", 200, 299))
_UNIT_KINDS = ("county", "street", "town", "township", "community", "village")


@dataclass
class Origin:
    """Where a unit was read: to report a problem found later against its file and row."""

    report: FileReport
    row: int
    column: str
    geometry_column: str = "geometry"


@dataclass
class PreparedPlaces:
    """The county's units and grids, codes exact and nested, in CGCS2000, ready to write."""

    county_code: str  # 12 digits
    county: gpd.GeoDataFrame  # code, name, geometry
    towns: gpd.GeoDataFrame  # code, name, kind, population, households, geometry
    villages: gpd.GeoDataFrame  # code, name, town_code, kind, urban, population, households, geometry
    grids: gpd.GeoDataFrame  # code, name, level, kind, village_code, parent_code, population, households, geometry
    origins: dict[str, Origin] = field(default_factory=dict)  # unit or grid code -> where it was read

    @property
    def unit_levels(self) -> dict[str, str]:
        """Every code of the county and its level (county, town, village, grid)."""
        levels = {self.county_code: "county"}
        levels.update(dict.fromkeys(self.towns["code"], "town"))
        levels.update(dict.fromkeys(self.villages["code"], "village"))
        levels.update(dict.fromkeys(self.grids["code"], "grid"))
        return levels


def _frame(tables: list, kind: str) -> tuple[pd.DataFrame, list]:
    """The rows of every table of ``kind``, with the table each row came from."""
    chosen = [t for t in tables if t.kind == kind]
    if not chosen:
        return pd.DataFrame(), []
    frames = [t.frame.assign(_table=i) for i, t in enumerate(chosen)]
    return pd.concat(frames, ignore_index=True), chosen


def _error(tables: list, row: pd.Series, field_name: str, reason: Message) -> None:
    table = tables[int(row["_table"])]
    table.report.error(int(row["_row"]), table.columns.get(field_name, field_name), reason)


def _valid_shapes(frame: pd.DataFrame, tables: list, what: Message) -> pd.Series:
    """True for rows whose shape is a valid polygon; the others get their error. A row without a
    shape was refused by the reader (no geometry, not a polygon, off the globe) and already says so."""
    ok = pd.Series(True, index=frame.index)
    refused = [table.report.bad_rows() for table in tables]
    for index, row in frame.iterrows():
        geometry = row.get("geometry")
        if geometry is None or geometry.is_empty:
            if int(row["_row"]) not in refused[int(row["_table"])]:
                _error(tables, row, "geometry", t("the {what} has no shape", what=what))
            ok[index] = False
        elif not geometry.is_valid:
            reason = shapely.is_valid_reason(geometry)
            _error(
                tables,
                row,
                "geometry",
                t("the {what}'s polygon is broken ({reason}): repair it in the GIS", what=what, reason=reason),
            )
            ok[index] = False
    return ok


def _codes(frame: pd.DataFrame, tables: list, column: str, level: str, label: Message) -> pd.Series:
    """The column's codes made exact; a refused code is its row's error."""
    if column not in frame:
        return pd.Series(None, index=frame.index, dtype=object)
    codes, reasons = clean_codes(frame[column], level)
    for index in reasons[reasons.notna()].index:
        _error(tables, frame.loc[index], column, t("{where}: {problem}", where=label, problem=reasons[index]))
    return codes


def _numbers(frame: pd.DataFrame, tables: list, column: str) -> pd.Series:
    """Whole numbers (population, households); blank is 0, anything else not a number an error."""
    if column not in frame:
        return pd.Series(0, index=frame.index, dtype="int64")
    text = frame[column].fillna("").astype(str).str.strip().str.replace(",", "", regex=False)
    values = pd.to_numeric(text.replace("", "0"), errors="coerce")
    for index in values[values.isna() | (values < 0)].index:
        _error(tables, frame.loc[index], column, t("{value!r} is not a whole number", value=frame.loc[index, column]))
    return values.fillna(0).clip(lower=0).round().astype("int64")


def _kinds(frame: pd.DataFrame, aliases: dict[str, str], default: pd.Series) -> pd.Series:
    """A unit's kind from its kind column (code or Chinese name), else the default."""
    if "kind" not in frame:
        return default
    given = frame["kind"].map(lambda v: None if v is None else aliases.get(str(v).strip(), str(v).strip()))
    return given.where(given.isin(_UNIT_KINDS + ("urban", "rural", "special")), default)


def _multi(geometries: pd.Series) -> np.ndarray:
    return np.asarray([g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geometries])


def _duplicates(frame: pd.DataFrame, tables: list, label: Message) -> pd.Series:
    """False for the second and later rows of a code already seen."""
    repeated = frame["code"].notna() & frame["code"].duplicated()
    for index in repeated[repeated].index:
        _error(
            tables,
            frame.loc[index],
            "code",
            t("{what} {code} appears twice", what=label, code=frame.loc[index, "code"]),
        )
    return ~repeated


def prepare_places(
    tables: list, *, unit_aliases: dict[str, str], grid_aliases: dict[str, str]
) -> PreparedPlaces | None:
    """The county's units and grids from the tables of kinds county, towns, villages and grids.

    Parameters
    ----------
    tables : list of SourceTable
        All the tables read; those of other kinds are ignored.
    unit_aliases, grid_aliases : dict
        Chinese names of unit kinds (街道 -> street) and grid kinds (农村 -> rural), from the
        ``value_aliases`` table.

    Returns
    -------
    PreparedPlaces, or None when the files hold no towns (the import then adds no places).
    Rows in error are left out, their problems on their files' reports.
    """
    towns_in, town_tables = _frame(tables, "towns")
    if towns_in.empty:
        return None
    origins: dict[str, Origin] = {}

    def remember(frame: pd.DataFrame, tables_of: list) -> None:
        for _, row in frame.iterrows():
            table = tables_of[int(row["_table"])]
            origins[row["code"]] = Origin(
                table.report,
                int(row["_row"]),
                table.columns.get("code", "code"),
                table.columns.get("geometry", "geometry"),
            )

    # Towns: 9 or 12 digits, all in one county.
    towns_in["code"] = _codes(towns_in, town_tables, "code", "town", t("town code"))
    ok = towns_in["code"].notna() & _valid_shapes(towns_in, town_tables, t("town"))
    ok &= _duplicates(towns_in, town_tables, t("town"))
    counties = towns_in.loc[ok, "code"].str[:6].value_counts()
    county6 = counties.index[0] if len(counties) else None
    for index in towns_in[ok & (towns_in["code"].str[:6] != county6)].index:
        _error(
            town_tables,
            towns_in.loc[index],
            "code",
            t(
                "town {code} is not in county {county}: one import loads one county",
                code=towns_in.loc[index, "code"],
                county=county6,
            ),
        )
        ok[index] = False
    towns = towns_in[ok].copy()
    serial = towns["code"].str[6:9].astype(int)
    by_code = pd.Series(None, index=towns.index, dtype=object)
    for kind, low, high in _TOWN_KIND:
        by_code[(serial >= low) & (serial <= high)] = kind
    towns["kind"] = _kinds(towns, unit_aliases, by_code.fillna("town"))
    towns["kind"] = towns["kind"].where(towns["kind"].isin(("street", "town", "township")), by_code.fillna("town"))
    towns["population"] = _numbers(towns, town_tables, "population")
    towns["households"] = _numbers(towns, town_tables, "households")
    remember(towns, town_tables)
    county_code = f"{county6}000000" if county6 else None
    if county_code is None:
        return None

    # The county: its outline if a file has one, else the union of its towns.
    county_in, county_tables = _frame(tables, "county")
    outline, name = None, None
    if not county_in.empty:
        valid = _valid_shapes(county_in, county_tables, t("county outline"))
        if valid.any():
            first = county_in[valid].iloc[0]
            outline, name = first["geometry"], first.get("name")
    if outline is None:
        outline = shapely.union_all(towns["geometry"].to_numpy())
    county = gpd.GeoDataFrame(
        {"code": [county_code], "name": [name or county6]}, geometry=_multi(pd.Series([outline])), crs=STORAGE_CRS
    )

    # Villages: 12 digits under a town of the file.
    villages_in, village_tables = _frame(tables, "villages")
    if not villages_in.empty:
        villages_in["code"] = _codes(villages_in, village_tables, "code", "village", t("village code"))
        ok = villages_in["code"].notna() & _valid_shapes(villages_in, village_tables, t("village"))
        ok &= _duplicates(villages_in, village_tables, t("village or community"))
        parent = villages_in["code"].str[:9] + "000"
        if "town_code" in villages_in:
            stated = _codes(villages_in, village_tables, "town_code", "town", t("its town's code"))
            differs = ok & stated.notna() & (stated != parent)
            for index in differs[differs].index:
                _error(
                    village_tables,
                    villages_in.loc[index],
                    "town_code",
                    t(
                        "village {code} is coded under town {town}, not {stated}",
                        code=villages_in.loc[index, "code"],
                        town=parent[index],
                        stated=stated[index],
                    ),
                )
            ok &= ~differs
        orphan = ok & ~parent.isin(set(towns["code"]))
        for index in orphan[orphan].index:
            _error(
                village_tables,
                villages_in.loc[index],
                "code",
                t(
                    "village {code}: its town {town} is in no towns file",
                    code=villages_in.loc[index, "code"],
                    town=parent[index],
                ),
            )
        ok &= ~orphan
        villages = villages_in[ok].copy()
        villages["town_code"] = parent[ok]
    else:
        villages = pd.DataFrame(columns=["code", "name", "town_code", "geometry", "_row", "_table"])
    serial = villages["code"].str[9:12].astype(int) if len(villages) else pd.Series(dtype=int)
    by_code = pd.Series(np.where(serial < 200, "community", "village"), index=villages.index, dtype=object)
    by_name = (
        villages["name"]
        .fillna("")
        .astype(str)
        .map(
            lambda n: (
                "community" if n.endswith(("社区", "居委会")) else "village" if n.endswith(("村", "村委会")) else None
            )
        )
    )
    villages["kind"] = _kinds(villages, unit_aliases, by_name.fillna(by_code))
    villages["kind"] = villages["kind"].where(villages["kind"].isin(("community", "village")), by_code)
    villages["urban"] = villages["kind"] == "community"
    villages["population"] = _numbers(villages, village_tables, "population")
    villages["households"] = _numbers(villages, village_tables, "households")
    remember(villages, village_tables)

    grids = _prepare_grids(
        tables, set(villages["code"]), dict(zip(villages["code"], villages["urban"])), grid_aliases, remember
    )
    return PreparedPlaces(
        county_code=county_code,
        county=county,
        towns=_geo(towns, ["code", "name", "kind", "population", "households"]),
        villages=_geo(villages, ["code", "name", "town_code", "kind", "urban", "population", "households"]),
        grids=grids,
        origins=origins,
    )


def _prepare_grids(
    tables: list, villages: set[str], urban: dict[str, bool], aliases: dict[str, str], remember
) -> gpd.GeoDataFrame:
    grids_in, grid_tables = _frame(tables, "grids")
    columns = ["code", "name", "level", "kind", "village_code", "parent_code", "population", "households"]
    if grids_in.empty:
        return gpd.GeoDataFrame(columns=[*columns, "geometry"], geometry="geometry", crs=STORAGE_CRS)
    grids_in["code"] = _codes(grids_in, grid_tables, "code", "grid", t("grid code"))
    ok = grids_in["code"].notna() & _valid_shapes(grids_in, grid_tables, t("grid"))
    ok &= _duplicates(grids_in, grid_tables, t("grid"))
    grids_in["village_code"] = grids_in["code"].str[:12]
    orphan = ok & ~grids_in["village_code"].isin(villages)
    for index in orphan[orphan].index:
        _error(
            grid_tables,
            grids_in.loc[index],
            "code",
            t(
                "grid {code}: its village or community {village} is in no villages file",
                code=grids_in.loc[index, "code"],
                village=grids_in.loc[index, "village_code"],
            ),
        )
    ok &= ~orphan
    grids_in["level"] = grids_in["code"].str.len().map({15: 1, 18: 2, 21: 3})
    grids_in["parent_code"] = np.where(grids_in["level"] > 1, grids_in["code"].str[:-3], None)
    known = set(grids_in.loc[ok, "code"])
    lost = ok & grids_in["parent_code"].notna() & ~grids_in["parent_code"].isin(known)
    for index in lost[lost].index:
        _error(
            grid_tables,
            grids_in.loc[index],
            "code",
            t(
                "sub-grid {code}: its grid {parent} is in no grids file",
                code=grids_in.loc[index, "code"],
                parent=grids_in.loc[index, "parent_code"],
            ),
        )
    ok &= ~lost
    grids = grids_in[ok].copy()
    default = grids["village_code"].map(lambda v: "urban" if urban.get(v) else "rural")
    grids["kind"] = _kinds(grids, aliases, default)
    grids["kind"] = grids["kind"].where(grids["kind"].isin(("urban", "rural", "special")), default)
    grids["name"] = grids["name"] if "name" in grids else None
    grids["name"] = grids["name"].fillna(grids["code"])
    grids["population"] = _numbers(grids, grid_tables, "population")
    grids["households"] = _numbers(grids, grid_tables, "households")
    remember(grids, grid_tables)
    return _geo(grids, columns)


def _geo(frame: pd.DataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    frame = frame.reset_index(drop=True)
    for column in columns:
        if column not in frame:
            frame[column] = None
    geometry = _multi(frame["geometry"]) if len(frame) else []
    return gpd.GeoDataFrame(frame[columns], geometry=geometry, crs=STORAGE_CRS)
