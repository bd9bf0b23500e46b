"""Spatial weights for the local statistics, built with libpysal and stated in words.

Polygons (grids, villages, towns) are neighbours when they share a boundary point (queen
contiguity); hexagons when they share a side (their centres are sqrt(3) * side apart, so a
distance band just beyond that finds exactly the six around; they are found from the hexagons'
column and row instead, which is the same graph in a tenth of the time). Weights are binary, and
for Gi* every unit is also its own neighbour with weight 1 (the "star").
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import OrderedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from libpysal.graph import Graph

_CONTIGUITY: OrderedDict[str, Graph] = OrderedDict()
_CONTIGUITY_SIZE = 8


def unit_weights(frame: gpd.GeoDataFrame, unit: str, size_m: float | None = None) -> tuple[Graph, str]:
    """Binary weights over ``frame``'s rows (in order) and a sentence saying what they are."""
    if unit == "hex":
        return hexagon_weights(frame["i"].to_numpy(), frame["j"].to_numpy()), (
            f"hexagons sharing a side (distance band {math.sqrt(3) * size_m * 1.01:.0f} m between centres), binary"
        )
    return _contiguity(frame.geometry.reset_index(drop=True)), "queen contiguity (a shared boundary point), binary"


def _contiguity(geometries: gpd.GeoSeries) -> Graph:
    """Queen contiguity, kept for the next request over the same polygons: the grids in force
    change when a version is published, not between requests, and finding shared points costs
    a tenth of a second for a county's thousand grids and a second for a city's ten thousand.
    The key is the polygons themselves (their WKB), so a changed or reordered grid is a new key."""
    digest = hashlib.blake2b(digest_size=16)
    for wkb in shapely.to_wkb(geometries.values):
        digest.update(wkb)
    key = digest.hexdigest()
    if key in _CONTIGUITY:
        _CONTIGUITY.move_to_end(key)
        return _CONTIGUITY[key]
    with warnings.catch_warnings():  # an island is reported by the graph itself, not as a warning
        warnings.simplefilter("ignore")
        graph = Graph.build_contiguity(geometries, rook=False)
    _CONTIGUITY[key] = graph
    while len(_CONTIGUITY) > _CONTIGUITY_SIZE:
        _CONTIGUITY.popitem(last=False)
    return graph


def hexagon_weights(i: np.ndarray, j: np.ndarray) -> Graph:
    """Binary weights between the hexagons of column ``i``, row ``j`` (units.py's layout) that share
    a side: the same graph as a distance band just beyond sqrt(3) * side between their centres
    (what it was built as before), found by index arithmetic instead of distances.

    Column i's centres sit half a row higher when i is odd, so a hexagon's six neighbours are
    (i, j - 1) and (i, j + 1) in its column, and in the columns either side (i +- 1, j - 1) and
    (i +- 1, j) when i is even, (i +- 1, j) and (i +- 1, j + 1) when it is odd.
    """
    i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
    n = len(i)
    row = pd.Index(_key(i, j))
    odd = i & 1
    candidates = [(0, -1 + 0 * odd), (0, 1 + 0 * odd)]
    candidates += [(di, odd - 1) for di in (-1, 1)] + [(di, odd) for di in (-1, 1)]
    focal, neighbour = [], []
    for di, dj in candidates:
        found = row.get_indexer(_key(i + di, j + dj))
        focal.append(np.flatnonzero(found >= 0))
        neighbour.append(found[found >= 0])
    focal, neighbour = np.concatenate(focal), np.concatenate(neighbour)
    order = np.lexsort((neighbour, focal))
    focal, neighbour = focal[order], neighbour[order]
    # libpysal keeps an island as a zero weight to itself.
    islands = np.setdiff1d(np.arange(n), focal)
    focal = np.concatenate([focal, islands])
    neighbour = np.concatenate([neighbour, islands])
    weight = np.concatenate([np.ones(len(focal) - len(islands)), np.zeros(len(islands))])
    return Graph.from_arrays(focal, neighbour, weight)


def _key(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """One integer per (column, row), for lookups (rows fit in 32 bits many times over)."""
    return i * 2**32 + (j + 2**31)


def with_self(graph: Graph) -> Graph:
    """The weights with every unit its own neighbour (weight 1), as Getis-Ord's Gi* counts it."""
    return graph.assign_self_weight(1)
