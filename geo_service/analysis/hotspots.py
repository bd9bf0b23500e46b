"""Hot and cold spots: Getis-Ord Gi* (esda's ``G_Local`` with ``star=True``) over counts that
PostGIS has aggregated, with a correction for testing every unit at once.

The statistic compares the sum over a unit and its neighbours with what the county's mean would
give. It is esda's ``G_Local(transform="B", star=True)``, computed by
:mod:`geo_service.analysis.gi` (the same numbers and the same seeded permutations, as arrays).
Weights: binary, the unit itself included (see :mod:`geo_service.analysis.weights`).

Inference:

``analytic`` (default)
    z from Gi*'s moments under total randomisation (``Zs``), two-sided normal p-value, as
    ArcGIS's Hot Spot Analysis reports it.
``permutation``
    esda's conditional permutations: the unit's own value stays, its neighbours' are drawn
    from the rest (``z_sim``; p two-sided from it). Note that Gi* sums the unit's own value,
    which this null holds fixed, so a one-unit hotspot ringed by ordinary units is not called
    hot by it, while its neighbours are; the demo county's one-grid hotspot shows this.

Either way esda's pseudo p-value (``p_sim``, doubled to be two-sided) is reported too; with 999
permutations it cannot fall below 0.002, too coarse to pass a false-discovery-rate correction over
a thousand units, which is why the class comes from a z. p-values are adjusted with
Benjamini-Hochberg (``p_fdr``) and units classed hot or cold at 90, 95 and 99% confidence.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.graph import Graph
from sqlalchemy.engine import Engine

from geo_service.analysis.counts import counts
from geo_service.analysis.gi import binary_matrix, conditional_gi_star, gi_star_z
from geo_service.analysis.span import IncidentFilter
from geo_service.analysis.stats import check_confidence, z_classes
from geo_service.analysis.weights import unit_weights, with_self
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.settings import PlaceSettings

INFERENCES = ("analytic", "permutation")
VALUES = ("count", "per_1000")
SEED = 12345  # permutations are seeded: the same question gets the same answer
MAX_PERMUTATIONS = 9999
# The usual diverging scheme of hot spot maps (ColorBrewer RdBu), for maps of the ``class`` column.
CLASS_COLOURS = {
    "hot 99%": "#b2182b",
    "hot 95%": "#ef8a62",
    "hot 90%": "#fddbc7",
    "not significant": "#f7f7f7",
    "cold 90%": "#d1e5f0",
    "cold 95%": "#67a9cf",
    "cold 99%": "#2166ac",
}


def gi_star(
    values: np.ndarray,
    weights: Graph,
    *,
    inference: str = "analytic",
    permutations: int = 999,
    confidence: float = 0.90,
    seed: int = SEED,
) -> pd.DataFrame:
    """Gi* of ``values`` over ``weights`` (which must include each unit's self-weight).

    Returns
    -------
    pandas.DataFrame
        One row per value: ``gi_z`` (analytic z), ``z_sim`` and ``p_sim`` (permutation z and
        two-sided pseudo p-value; NaN without permutations), ``p_value`` (two-sided, by
        ``inference``), ``p_fdr`` (Benjamini-Hochberg) and ``class``.
    """
    if inference not in INFERENCES:
        raise InvalidInput(
            t(
                "inference must be one of {INFERENCES}, not {inference!r}",
                INFERENCES=", ".join(INFERENCES),
                inference=inference,
            ),
            field="inference",
        )
    if not 0 <= permutations <= MAX_PERMUTATIONS:
        raise InvalidInput(
            t(
                "permutations must be between 0 and {MAX_PERMUTATIONS}, not {permutations}",
                MAX_PERMUTATIONS=MAX_PERMUTATIONS,
                permutations=permutations,
            ),
            field="permutations",
        )
    if inference == "permutation" and permutations < 99:
        raise InvalidInput(t("permutation inference needs at least 99 permutations"), field="permutations")
    check_confidence(confidence)
    y = np.asarray(values, float)
    n = len(y)
    out = pd.DataFrame({"gi_z": np.full(n, np.nan), "z_sim": np.nan, "p_sim": np.nan})
    if n > 1 and np.ptp(y) > 0:  # a constant surface has no hot or cold spot (and Gi* divides by 0)
        # esda's G_Local(y, weights, transform="B", star=True), computed as arrays (analysis.gi).
        if (weights.sparse.diagonal() == 0).all():
            weights = weights.assign_self_weight(1)
        matrix = binary_matrix(weights)
        out["gi_z"] = gi_star_z(matrix, y)
        if permutations:
            permuted = conditional_gi_star(matrix, y, permutations, seed)
            out["z_sim"] = permuted.z_sim
            out["p_sim"] = np.minimum(1.0, 2 * permuted.p_sim)
    z = out["gi_z"] if inference == "analytic" else out["z_sim"]
    out["p_value"], out["p_fdr"], out["class"] = z_classes(z.to_numpy(), confidence)
    return out


def hotspots(
    engine: Engine,
    where: IncidentFilter,
    unit: str = "grid",
    size_m: float | None = None,
    *,
    place: PlaceSettings,
    value: str = "count",
    confidence: float = 0.90,
    inference: str = "analytic",
    permutations: int = 999,
    seed: int = SEED,
) -> gpd.GeoDataFrame:
    """Gi* hot and cold spots of the incidents ``where`` selects, by ``unit``.

    Parameters
    ----------
    place
        The county's zone and metric projection (``settings.place``).
    value
        ``count`` (incidents) or ``per_1000`` (per 1,000 residents: where incidents are many
        for the people who live there; grids, villages and towns only).
    confidence
        The lowest confidence reported as hot or cold: 0.90, 0.95 or 0.99.
    inference, permutations, seed
        See the module's notes.

    Returns
    -------
    geopandas.GeoDataFrame
        The frame of :func:`geo_service.analysis.counts.counts` with the columns of
        :func:`gi_star`; ``attrs`` states the weights and the inference.
    """
    if value not in VALUES:
        raise InvalidInput(
            t("value must be one of {VALUES}, not {value!r}", VALUES=", ".join(VALUES), value=value), field="value"
        )
    if value == "per_1000" and unit == "hex":
        raise InvalidInput(t("hexagons have no residents: use value=count for unit=hex"), field="value")
    check_confidence(confidence)
    frame = counts(engine, where, unit, size_m, place=place)
    graph, described = unit_weights(frame, unit, size_m)
    y = frame[value].fillna(0).to_numpy(float)
    result = gi_star(
        y, with_self(graph), inference=inference, permutations=permutations, confidence=confidence, seed=seed
    )
    for column in result.columns:
        frame[column] = result[column].to_numpy()
    frame.attrs.update(
        value=value,
        weights=described + "; each unit its own neighbour (Gi*)",
        inference=inference,
        permutations=permutations,
        confidence=confidence,
        correction="Benjamini-Hochberg false discovery rate over all units",
    )
    return frame
