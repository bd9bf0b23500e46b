"""Getis-Ord Gi* as array arithmetic: the analytic z of many series at once, and esda's
conditional permutations without its loop over units.

Both give the numbers esda's ``G_Local(y, w, transform="B", star=True)`` gives (the tests hold
them to it), only faster:

- The analytic z is esda's moments (``G_Local.calc``) written for a matrix of series, one column
  per time step, so that emerging hot spots take one sparse product for all their steps instead
  of one ``G_Local`` per step.
- The conditional permutations draw the very same random neighbours as esda without numba does
  (``np.random.seed(seed)``, then ``choice(n - 1, max_cardinality, replace=False)`` once per
  permutation, here from a private ``RandomState`` so that the process's global generator is left
  alone), so a seed gives the same ``p_sim`` and ``z_sim`` as before. What changes is how they are
  summed: esda, without numba, loops over the units in Python and copies the whole array for each
  one (quadratic: 2 s for 25,000 hexagons); here the units of one cardinality are done together,
  counts by step sums (:class:`_StepSums`), other values neighbour by neighbour. esda's numba path
  is no remedy: it compiles for 16 s in each new process, and its draws come from numba's own
  generator, not numpy's, so nothing promises today's answers from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from libpysal.graph import Graph

# Units drawn for at once times permutations: bounds a block's memory (a few arrays of 16 MB).
_BLOCK_ELEMENTS = 2_000_000


def binary_matrix(weights: Graph) -> sp.csr_matrix:
    """The weights as esda uses them with ``transform="B"``: a CSR matrix of ones (self included)."""
    return sp.csr_matrix(weights.transform("B").sparse, copy=True)


def gi_star_z(matrix: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
    """Gi*'s analytic z (esda's ``Zs``) of each column of ``values`` (units x series).

    The moments under total randomisation, as ``esda.G_Local.calc`` has them with the unit its
    own neighbour: G = (W y) / sum(y), E[G] = w_i / n, Var[G] = w_i (n - w_i) / (n - 1) / n^2 *
    s^2 / ybar^2. A constant column gives NaN (esda divides by zero there too).
    """
    y = np.asarray(values, float)
    single = y.ndim == 1
    if single:
        y = y[:, None]
    n = y.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = (matrix @ y) / y.sum(axis=0)
        mean = y.sum(axis=0) / n
        variance = (y**2).sum(axis=0) / n - mean**2
        cardinality = np.asarray(matrix.sum(axis=1)).reshape(-1, 1)
        expected = cardinality / n
        expected_variance = cardinality * (n - cardinality) / (n - 1) * (1 / n**2) * (variance / mean**2)
        z = (statistic - expected) / np.sqrt(expected_variance)
    return z[:, 0] if single else z


@dataclass
class Permuted:
    """Conditional-permutation inference for each unit: esda's ``p_sim`` (one-sided, towards the
    tail the statistic lies in; float32 as esda keeps it) and ``z_sim``."""

    p_sim: np.ndarray
    z_sim: np.ndarray


@lru_cache(maxsize=16)
def permuted_ids(n: int, max_cardinality: int, permutations: int, seed: int) -> np.ndarray:
    """esda's draws (``crand.vec_permutations`` without numba): per permutation, ``max_cardinality``
    distinct positions among the n - 1 other units. Kept for the next request over as many
    units (a few hundred kilobytes): drawing them takes 0.2 s for 25,000 hexagons."""
    generator = np.random.RandomState(seed)
    ids = np.empty((permutations, max_cardinality), dtype=np.int64)
    for k in range(permutations):
        ids[k] = generator.choice(n - 1, size=max_cardinality, replace=False)
    ids.flags.writeable = False
    return ids


def conditional_gi_star(matrix: sp.csr_matrix, values: np.ndarray, permutations: int, seed: int) -> Permuted:
    """Gi* under esda's conditional randomisation: each unit keeps its own value, its neighbours'
    are drawn from the other units (see the module's notes for why the draws are esda's)."""
    y = np.asarray(values, float)
    n = len(y)
    total = y.sum()
    observed = (matrix @ y) / total
    rows = np.repeat(np.arange(n), np.diff(matrix.indptr))
    diagonal = matrix.indices == rows
    self_weight = np.zeros(n)
    self_weight[rows[diagonal]] = matrix.data[diagonal]
    kept = ~diagonal & (matrix.data != 0)  # esda drops the diagonal, then any zero weight
    others = sp.csr_matrix(
        (matrix.data[kept], matrix.indices[kept], np.r_[0, np.cumsum(np.bincount(rows[kept], minlength=n))]),
        shape=matrix.shape,
    )
    cardinality = np.diff(others.indptr)
    draws = permuted_ids(n, int(cardinality.max()), permutations, seed)
    p_sim = np.zeros(n, dtype=np.float32)
    z_sim = np.zeros(n)
    # An island (no neighbour but itself): esda's simulated statistics are all zero.
    islands = np.flatnonzero(cardinality == 0)
    _summarise(islands, np.zeros((len(islands), permutations)), observed, p_sim, z_sim)
    exact = _whole_numbers(y)
    for size in np.unique(cardinality[cardinality > 0]):
        units = np.flatnonzero(cardinality == size)
        ids = draws[:, :size]
        weights = others.data[others.indptr[units][:, None] + np.arange(size)]
        binary = _all_ones(weights)
        # Counts (whole numbers, summed exactly in any order) over many units of one cardinality:
        # by steps (below); otherwise neighbour by neighbour, as esda adds them.
        steps = _StepSums(ids, y, n) if exact and binary and len(units) * 8 > n else None
        block = max(1, _BLOCK_ELEMENTS // permutations)
        for start in range(0, len(units), block):
            chunk = units[start : start + block]
            if steps is not None:
                simulated = steps.sums(chunk)
            else:
                simulated = _neighbour_sums(ids, y, chunk, None if binary else weights[start : start + block])
            simulated += (self_weight[chunk] * y[chunk])[:, None]
            simulated /= total
            _summarise(chunk, simulated, observed, p_sim, z_sim)
    return Permuted(p_sim, z_sim)


def _neighbour_sums(ids: np.ndarray, y: np.ndarray, units: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """The drawn neighbours' weighted sum for each of ``units`` (rows) and permutation (columns).

    esda takes a unit's neighbours from the array without the unit: position m is unit m before
    it and unit m + 1 from it on."""
    simulated = np.zeros((len(units), ids.shape[0]))
    for j in range(ids.shape[1]):
        at = ids[:, j]
        drawn = np.where(at[None, :] >= units[:, None], y[at + 1][None, :], y[at][None, :])
        simulated += drawn if weights is None else drawn * weights[:, j : j + 1]
    return simulated


class _StepSums:
    """Binary sums of the drawn neighbours for many units at once, for whole-number values.

    For a permutation the sum is that of the drawn positions' values, except that every drawn
    position at or after the unit takes its successor's value: so, as the unit moves along, the
    sum is a step function of it, with one step per drawn position. Per permutation, the sum at
    each step (``after``: the sum when the first k drawn positions, in order, lie before the
    unit) and how many drawn positions lie before each unit (``before``, a running count) give
    every unit's sum by lookup, without touching its neighbours one by one.
    """

    def __init__(self, ids: np.ndarray, y: np.ndarray, n: int):
        permutations, size = ids.shape
        ordered = np.sort(ids, axis=1)
        shift = y[ordered + 1] - y[ordered]
        # after[p, k]: the sum when the drawn positions from k on are at or after the unit.
        after = np.zeros((permutations, size + 1))
        after[:, :size] = np.cumsum(shift[:, ::-1], axis=1)[:, ::-1]
        self.after = after + y[ordered].sum(axis=1)[:, None]
        # One byte per permutation and unit (counted in place): 25 MB for 25,000 hexagons.
        small = np.int8 if size < 127 else np.int32
        self.before = np.zeros((permutations, n + 1), dtype=small)
        self.before[np.arange(permutations)[:, None], ordered + 1] = 1
        np.cumsum(self.before, axis=1, dtype=small, out=self.before)

    def sums(self, units: np.ndarray) -> np.ndarray:
        k = self.before[:, units].astype(np.intp)
        return np.ascontiguousarray(np.take_along_axis(self.after, k, axis=1).T)


def _whole_numbers(y: np.ndarray) -> bool:
    """Whether every sum of ``y``'s values is exact in floating point, whatever the order."""
    return bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)) and np.abs(y).sum() < 2**52)


def _all_ones(weights: np.ndarray) -> bool:
    return bool((weights == 1).all())


def _summarise(units: np.ndarray, simulated: np.ndarray, observed: np.ndarray, p_sim, z_sim) -> None:
    """esda's pseudo p-value (its ``directed`` alternative: the draws at least as extreme, on the
    side the statistic lies, plus one, over permutations plus one) and z from the draws' mean and
    standard deviation."""
    if not len(units):
        return
    permutations = simulated.shape[1]
    g = observed[units]
    larger = (simulated >= g[:, None]).sum(axis=1)
    larger = np.where(permutations - larger < larger, permutations - larger, larger)
    p_sim[units] = (larger + 1.0) / (permutations + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_sim[units] = (g - simulated.mean(axis=1)) / simulated.std(axis=1)
