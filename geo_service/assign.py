"""Assigning points to grids, with the grids held in memory.

The rule, the same wherever a point is assigned (here, and in SQL by ``ORDER BY level DESC,
code LIMIT 1`` over ``ST_Covers``):

1. a point belongs to the grids whose closed polygon covers it: interior or boundary, holes
   excluded, any part of a multi-part grid;
2. of those, the finest level wins (a level-2 grid over its level-1 parent);
3. of grids of that level (a point on an edge or vertex they share), the smallest code wins.

The answer therefore depends on the grids alone, never on the order rows come in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

CHUNK = 200_000


@dataclass(frozen=True)
class GridIndex:
    """Grids of one boundary version in an STR-tree, ranked by the tie rule."""

    codes: np.ndarray
    levels: np.ndarray
    geometries: np.ndarray
    tree: STRtree
    rank: np.ndarray  # rank[i]: grid i's place in the tie order, 0 wins

    @classmethod
    def build(cls, codes, levels, geometries) -> "GridIndex":
        codes = np.asarray(codes, dtype=object)
        levels = np.asarray(levels, dtype=np.int16)
        geometries = np.asarray(geometries, dtype=object)
        order = np.lexsort((codes.astype(str), -levels))
        rank = np.empty(len(codes), dtype=np.int64)
        rank[order] = np.arange(len(codes))
        shapely.prepare(geometries)
        return cls(codes, levels, geometries, STRtree(geometries), rank)

    def assign(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Index of each point's grid (into ``codes``), or -1 where no grid covers it."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        result = np.full(len(lon), -1, dtype=np.int64)
        for start in range(0, len(lon), CHUNK):
            stop = min(start + CHUNK, len(lon))
            points = shapely.points(lon[start:stop], lat[start:stop])
            # "intersects" on a point is "covered by": the boundary counts, holes do not.
            point_idx, grid_idx = self.tree.query(points, predicate="intersects")
            if len(point_idx):
                order = np.lexsort((self.rank[grid_idx], point_idx))
                point_idx, grid_idx = point_idx[order], grid_idx[order]
                first = np.unique(point_idx, return_index=True)[1]
                result[start + point_idx[first]] = grid_idx[first]
            if progress:
                progress(stop - start)
        return result
