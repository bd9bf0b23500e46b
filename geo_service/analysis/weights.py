"""Spatial weights for the local statistics, built with libpysal and stated in words.

Polygons (grids, villages, towns) are neighbours when they share a boundary point (queen
contiguity); hexagons when they share a side (their centres are sqrt(3) * side apart, so a
distance band just beyond that finds exactly the six around). Weights are binary, and for Gi*
every unit is also its own neighbour with weight 1 (the "star").
"""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
from libpysal.graph import Graph


def unit_weights(frame: gpd.GeoDataFrame, unit: str, size_m: float | None = None) -> tuple[Graph, str]:
    """Binary weights over ``frame``'s rows (in order) and a sentence saying what they are."""
    if unit == "hex":
        # Centres from the cell indexes (units.py), exact in the metric projection.
        i, j = frame["i"].to_numpy(), frame["j"].to_numpy()
        xy = np.column_stack([1.5 * size_m * i, math.sqrt(3) * size_m * (j + (i & 1) / 2)])
        graph = Graph.build_distance_band(xy, threshold=math.sqrt(3) * size_m * 1.01, binary=True)
        return (
            graph,
            f"hexagons sharing a side (distance band {math.sqrt(3) * size_m * 1.01:.0f} m between centres), binary",
        )
    with warnings.catch_warnings():  # an island is reported by the graph itself, not as a warning
        warnings.simplefilter("ignore")
        graph = Graph.build_contiguity(frame.geometry.reset_index(drop=True), rook=False)
    return graph, "queen contiguity (a shared boundary point), binary"


def with_self(graph: Graph) -> Graph:
    """The weights with every unit its own neighbour (weight 1), as Getis-Ord's Gi* counts it."""
    return graph.assign_self_weight(1)
