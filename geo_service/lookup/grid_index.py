"""Assigning points to grids, with the grids held in memory.

The rule, the same wherever a point is assigned (here, and in SQL by ``ORDER BY level DESC,
code LIMIT 1`` over ``ST_Covers``):

1. a point belongs to the grids whose closed polygon covers it: interior or boundary, holes
   excluded, any part of a multi-part grid;
2. of those, the finest level wins (a level-2 grid over its level-1 parent);
3. of grids of that level (a point on an edge or vertex they share), the smallest code wins.

The answer therefore depends on the grids alone, never on the order rows come in.

An index is shared by the threads that serve requests, but GEOS's prepared geometries are not
safe to test from two threads at once (libgeos/geos#825: their point locators are built lazily,
on first use): every exact test of an index runs under its own lock.

For large batches a raster of the grids answers most points by a table lookup: a cell more than
one cell away from every grid boundary lies wholly inside one grid (or none), so every point in
it has that answer. Points in cells near a boundary, where a lookup could be wrong, go to the
exact test against the polygons. The two paths give the same answer (``tests/test_assign.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import shapely
from shapely import STRtree

CHUNK = 200_000
RASTER_MIN_POINTS = 20_000  # below this, building the raster costs more than it saves
RASTER_CELL_M = 25.0  # the coarsest cell; smaller grids get smaller cells
RASTER_MIN_CELL_M = 5.0
RASTER_MAX_CELLS = 16_000_000
NEAR_BOUNDARY = -2
NO_GRID = -1


class GridRaster:
    """Grid indices on a regular lon/lat raster; ``NEAR_BOUNDARY`` where the exact test is needed."""

    def __init__(self, geometries: np.ndarray, levels: np.ndarray) -> None:
        minx, miny, maxx, maxy = shapely.total_bounds(geometries)
        metres_x = 111_320.0 * max(np.cos(np.radians((miny + maxy) / 2)), 0.01)
        metres_y = 110_574.0
        # Cells of about 1/40 of a typical grid's width keep the near-boundary share near 10%.
        typical = np.sqrt(np.median(shapely.area(geometries)) * metres_x * metres_y)
        cell = float(np.clip(typical / 40, RASTER_MIN_CELL_M, RASTER_CELL_M))
        dx, dy = cell / metres_x, cell / metres_y
        scale = max(1.0, np.sqrt((maxx - minx) / dx * (maxy - miny) / dy / RASTER_MAX_CELLS))
        self.dx, self.dy = dx * scale, dy * scale
        # One cell of margin all round, so that every point outside the grids' bounds falls outside.
        self.x0, self.y0 = minx - self.dx, miny - self.dy
        self.ncols = int(np.ceil((maxx - self.x0) / self.dx)) + 2
        self.nrows = int(np.ceil((maxy - self.y0) / self.dy)) + 2
        self.cells = np.full((self.nrows, self.ncols), NO_GRID, dtype=np.int32)
        # Coarser levels first, so a finer grid paints over its parent; within a level grids do
        # not overlap, so one pass paints them all.
        for level in np.unique(levels):
            chosen = np.flatnonzero(levels == level)
            self._fill(geometries[chosen], chosen)
        self._mark_boundaries(geometries)

    def _fill(self, geometries: np.ndarray, values: np.ndarray) -> None:
        """Paint each cell whose centre lies inside a geometry with its value (even-odd per geometry)."""
        parts, part_of = shapely.get_parts(geometries, return_index=True)
        rings, ring_of = shapely.get_rings(parts, return_index=True)
        xy, coord_ring = shapely.get_coordinates(rings, return_index=True)
        same_ring = coord_ring[:-1] == coord_ring[1:]
        x1, y1 = xy[:-1][same_ring].T
        x2, y2 = xy[1:][same_ring].T
        owner = values[part_of[ring_of[coord_ring[:-1][same_ring]]]]
        # Row centres are at y0 + (r + 0.5) dy; an edge crosses row r if that centre is in [low, high).
        low, high = np.minimum(y1, y2), np.maximum(y1, y2)
        first = np.ceil((low - self.y0) / self.dy - 0.5).astype(np.int64)
        last = np.ceil((high - self.y0) / self.dy - 0.5).astype(np.int64)  # exclusive
        count = np.maximum(last - first, 0)
        if not count.sum():
            return
        edge = np.repeat(np.arange(len(x1)), count)
        row = first[edge] + _ramp(count)
        t = (self.y0 + (row + 0.5) * self.dy - y1[edge]) / (y2[edge] - y1[edge])
        xc = x1[edge] + t * (x2[edge] - x1[edge])
        value = owner[edge]
        order = np.lexsort((xc, row, value))
        row, xc, value = row[order], xc[order], value[order]
        # Each geometry crosses each row an even number of times: the crossings pair up in order.
        if len(row) % 2 or np.any(row[0::2] != row[1::2]) or np.any(value[0::2] != value[1::2]):
            raise ValueError("a grid polygon has an unclosed ring")
        c0 = np.ceil((xc[0::2] - self.x0) / self.dx - 0.5).astype(np.int64)
        c1 = np.ceil((xc[1::2] - self.x0) / self.dx - 0.5).astype(np.int64)
        run = c1 > c0
        rows, c0, c1, tag = row[0::2][run], c0[run], c1[run], value[0::2][run].astype(np.int32) + 1
        # A difference array along each row: +tag where a run starts, -tag where it ends; the
        # running sum is then tag inside runs and 0 between them (runs of one level never overlap).
        marks = np.zeros((self.nrows, self.ncols + 1), dtype=np.int32)
        np.add.at(marks, (rows, c0), tag)
        np.add.at(marks, (rows, c1), -tag)
        painted = np.cumsum(marks, axis=1, dtype=np.int32)[:, :-1]
        inside = painted > 0
        self.cells[inside] = painted[inside] - 1

    def _mark_boundaries(self, geometries: np.ndarray) -> None:
        """Mark every cell a grid boundary passes through, and its neighbours, for the exact test."""
        lines = shapely.segmentize(shapely.boundary(geometries), min(self.dx, self.dy) / 2)
        xy = shapely.get_coordinates(lines)
        cols = np.floor((xy[:, 0] - self.x0) / self.dx).astype(np.int64)
        rows = np.floor((xy[:, 1] - self.y0) / self.dy).astype(np.int64)
        near = np.zeros_like(self.cells, dtype=bool)
        near[rows, cols] = True
        # Grow by one cell each way: a segment may clip a cell's corner between two samples.
        grown = near.copy()
        grown[1:, :] |= near[:-1, :]
        grown[:-1, :] |= near[1:, :]
        wide = grown.copy()
        wide[:, 1:] |= grown[:, :-1]
        wide[:, :-1] |= grown[:, 1:]
        self.cells[wide] = NEAR_BOUNDARY

    def lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Grid index per point, ``NO_GRID`` outside, ``NEAR_BOUNDARY`` where the raster cannot say."""
        cols = np.floor((x - self.x0) / self.dx)
        rows = np.floor((y - self.y0) / self.dy)
        inside = (cols >= 0) & (cols < self.ncols) & (rows >= 0) & (rows < self.nrows)
        result = np.full(len(x), NO_GRID, dtype=np.int64)
        result[inside] = self.cells[rows[inside].astype(np.int64), cols[inside].astype(np.int64)]
        return result


def _ramp(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., n-1 for each n in ``counts``, concatenated."""
    return np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)


class GridIndex:
    """Grids of one boundary version in an STR-tree, ranked by the tie rule."""

    def __init__(self, codes, levels, geometries) -> None:
        self.codes = np.asarray(codes, dtype=object)
        self.levels = np.asarray(levels, dtype=np.int16)
        self.geometries = np.asarray(geometries, dtype=object)
        order = np.lexsort((self.codes.astype(str), -self.levels))
        self.rank = np.empty(len(self.codes), dtype=np.int64)  # rank[i]: grid i's place in the tie order
        self.rank[order] = np.arange(len(self.codes))
        shapely.prepare(self.geometries)
        self.tree = STRtree(self.geometries)
        self._raster: GridRaster | None = None
        self._lock = threading.Lock()

    @property
    def raster(self) -> GridRaster:
        """Built on first use and kept: a snapshot's index serves many batches."""
        if self._raster is None:
            self._raster = GridRaster(self.geometries, self.levels)
        return self._raster

    def _exact(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        points = shapely.points(x, y)
        result = np.full(len(x), NO_GRID, dtype=np.int64)
        # "intersects" on a point is "covered by": the boundary counts, holes do not.
        with self._lock:
            point_idx, grid_idx = self.tree.query(points, predicate="intersects")
        if len(point_idx):
            order = np.lexsort((self.rank[grid_idx], point_idx))
            point_idx, grid_idx = point_idx[order], grid_idx[order]
            first = np.unique(point_idx, return_index=True)[1]
            result[point_idx[first]] = grid_idx[first]
        return result

    def assign(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        progress: Callable[[int], None] | None = None,
        *,
        use_raster: bool | None = None,
    ) -> np.ndarray:
        """Index of each point's grid (into ``codes``), or -1 where no grid covers it.

        ``use_raster`` forces the raster path on or off; by default it is used for large batches.
        """
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if use_raster is None:
            use_raster = len(lon) >= RASTER_MIN_POINTS
        result = np.full(len(lon), NO_GRID, dtype=np.int64)
        for start in range(0, len(lon), CHUNK):
            stop = min(start + CHUNK, len(lon))
            x, y = lon[start:stop], lat[start:stop]
            if use_raster:
                found = self.raster.lookup(x, y)
                near = found == NEAR_BOUNDARY
                found[near] = self._exact(x[near], y[near])
            else:
                found = self._exact(x, y)
            result[start:stop] = found
            if progress:
                progress(stop - start)
        return result
