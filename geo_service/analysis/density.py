"""Density: hexagons of a chosen size, and a kernel density surface.

Hexagon density is :func:`geo_service.analysis.counts.counts` with ``unit='hex'`` (``per_km2``).

The kernel density surface is Gaussian. PostGIS bins the incidents into square cells of
``cell_m`` in the metric projection (one row per occupied cell, not per incident); the cells'
counts are smoothed with a Gaussian of standard deviation ``bandwidth_m`` (scipy's
``gaussian_filter``), which equals summing a Gaussian kernel over the points to within the cell
size. Without a bandwidth, the rule of thumb is Scott's, h = sigma * n ** (-1/6) (in two
dimensions Silverman's rule gives the same factor), sigma being the root mean of the two
coordinates' variances of the binned points. Over a whole county this smooths a great deal
(kilometres): it is the county-wide picture; give a bandwidth of a few hundred metres to see
hotspots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from scipy import ndimage
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.analysis.span import IncidentFilter
from geo_service.analysis.units import analysis_srid, no_jit, units_for
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.settings import PlaceSettings
from geo_service.vocabulary import STORAGE_SRID

CELL_RANGE_M = (25.0, 5000.0)
BANDWIDTH_RANGE_M = (10.0, 50_000.0)
MAX_CELLS = 4_000_000

# Grouped by one bigint (column in the high 32 bits, row offset into the low): one sort key
# instead of two, the fastest of the ways measured (bench/bench_analyses.py).
_BINS = """
    SELECT k >> 32 AS col, (k & 4294967295) - 2147483648 AS row, n FROM (
        SELECT (floor(ST_X(p) / :cell)::bigint << 32) + (floor(ST_Y(p) / :cell)::bigint + 2147483648) AS k,
               count(*) AS n
          FROM (SELECT ST_Transform(i.geom, :srid) AS p FROM incidents i WHERE {condition} OFFSET 0) s
         GROUP BY 1
    ) cells
"""


@dataclass
class KernelDensity:
    """A density surface: incidents per km2 over cells of ``cell_m`` in the metric projection.

    ``array[r, c]`` is the cell whose lower-left corner is (x0 + c * cell_m, y0 + r * cell_m);
    ``cells`` holds the cells inside the county (or the user's jurisdiction) as polygons (EPSG:4490) with ``density_per_km2``.
    """

    array: np.ndarray
    x0: float
    y0: float
    cell_m: float
    bandwidth_m: float
    rule: str
    n: int
    cells: gpd.GeoDataFrame


def scott_bandwidth(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """Scott's rule, h = sigma * n ** (-1/6), for weighted points (n = total weight)."""
    n = float(weights.sum())
    if n < 2:
        raise InvalidInput(t("too few incidents for a bandwidth rule: give bandwidth_m"), field="bandwidth_m")
    mean_x, mean_y = np.average(x, weights=weights), np.average(y, weights=weights)
    variance = (np.average((x - mean_x) ** 2, weights=weights) + np.average((y - mean_y) ** 2, weights=weights)) / 2
    return math.sqrt(variance) * n ** (-1 / 6)


def kernel_density(
    engine: Engine,
    where: IncidentFilter,
    *,
    place: PlaceSettings,
    cell_m: float = 250.0,
    bandwidth_m: float | None = None,
) -> KernelDensity:
    """A Gaussian kernel density surface of the incidents ``where`` selects (see the module's notes),
    binned and smoothed in the metric projection of the area analysed (:func:`analysis_srid`)."""
    _check_range("cell_m", cell_m, CELL_RANGE_M)
    if bandwidth_m is not None:
        _check_range("bandwidth_m", bandwidth_m, BANDWIDTH_RANGE_M)
    with engine.begin() as connection:
        no_jit(connection)
        srid = analysis_srid(connection, where, place)
        area = _area(connection, where, place, srid)
        result = connection.execute(
            text(_BINS.format(condition=where.sql("i"))),
            {**where.params(), "cell": float(cell_m), "srid": srid},
        )
        # Straight from the driver's tuples: a frame of rows costs more than the query's sort.
        bin_col, bin_row, bin_n = np.array(result.cursor.fetchall(), dtype=np.int64).reshape(-1, 3).T
    n = int(bin_n.sum())
    centres_x = (bin_col + 0.5) * cell_m
    centres_y = (bin_row + 0.5) * cell_m
    if bandwidth_m is None:
        bandwidth, rule = scott_bandwidth(centres_x, centres_y, bin_n.astype(float)), "Scott: sigma * n^(-1/6)"
    else:
        bandwidth, rule = float(bandwidth_m), "given"
    # The raster spans the area and three bandwidths around it, so nothing near the edge is cut.
    minx, miny, maxx, maxy = area.bounds
    margin = 3 * bandwidth
    col0, row0 = math.floor((minx - margin) / cell_m), math.floor((miny - margin) / cell_m)
    cols, rows = math.ceil((maxx + margin) / cell_m) - col0, math.ceil((maxy + margin) / cell_m) - row0
    if cols * rows > MAX_CELLS:
        raise InvalidInput(
            t(
                "{value:,} cells of {cell_m:g} m: more than {MAX_CELLS:,}; use larger cells",
                value=cols * rows,
                cell_m=cell_m,
                MAX_CELLS=MAX_CELLS,
            ),
            field="cell_m",
        )
    raster = np.zeros((rows, cols))
    inside = (bin_col >= col0) & (bin_col < col0 + cols) & (bin_row >= row0) & (bin_row < row0 + rows)
    np.add.at(raster, (bin_row[inside] - row0, bin_col[inside] - col0), bin_n[inside])
    smoothed = ndimage.gaussian_filter(raster, sigma=bandwidth / cell_m, mode="constant", truncate=4.0)
    density = smoothed / (cell_m * cell_m / 1e6)
    x0, y0 = col0 * cell_m, row0 * cell_m
    cells = _cells_inside(density, x0, y0, cell_m, area, srid)
    cells.attrs.update(bandwidth_m=bandwidth, rule=rule, cell_m=cell_m, n=n, filter=where.to_dict())
    return KernelDensity(density, x0, y0, float(cell_m), bandwidth, rule, n, cells)


def _area(connection, where: IncidentFilter, place: PlaceSettings, srid: int) -> shapely.Geometry:
    """Where the surface is drawn, in the metric projection: the county, or the user's jurisdiction
    (a village holds no town, so the towns inside it would be none)."""
    if where.scope.unrestricted:
        return units_for(connection, where, "town", place=place).to_crs(srid).union_all()
    return gpd.GeoSeries([shapely.from_wkb(where.scope.area)], crs=STORAGE_SRID).to_crs(srid).iloc[0]


def _cells_inside(density: np.ndarray, x0: float, y0: float, cell_m: float, area, srid: int) -> gpd.GeoDataFrame:
    """The cells whose centre is inside ``area``, as squares in EPSG:4490.

    Neighbouring cells share corners: each distinct corner is projected once (a fifth of the
    points), and the squares are made from the projected corners. The corners are those
    ``shapely.box`` gives, in its order, so the squares are the same to the last bit.
    """
    rows, cols = np.indices(density.shape)
    cx, cy = x0 + (cols.ravel() + 0.5) * cell_m, y0 + (rows.ravel() + 0.5) * cell_m
    keep = shapely.contains_xy(area, cx, cy)
    cx, cy, half = cx[keep], cy[keep], cell_m / 2
    xs = np.stack([cx + half, cx + half, cx - half, cx - half, cx + half], axis=1).ravel()
    ys = np.stack([cy - half, cy + half, cy + half, cy - half, cy - half], axis=1).ravel()
    corners, which = np.unique(xs + 1j * ys, return_inverse=True)  # exact values: no two merged
    to_storage = Transformer.from_crs(srid, STORAGE_SRID, always_xy=True)
    lon, lat = to_storage.transform(corners.real, corners.imag)
    points = np.column_stack([lon, lat])[which.ravel()]
    squares = shapely.from_ragged_array(
        shapely.GeometryType.POLYGON, points, (np.arange(0, len(points) + 1, 5), np.arange(len(cx) + 1))
    )
    return gpd.GeoDataFrame({"density_per_km2": density.ravel()[keep]}, geometry=squares, crs=STORAGE_SRID)


def _check_range(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise InvalidInput(
            t(
                "{name} must be between {low:g} and {high:g} metres, not {value!r}",
                name=name,
                low=low,
                high=high,
                value=value,
            ),
            field=name,
        )
