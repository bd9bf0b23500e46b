"""Small statistical helpers shared by the analyses: multiple testing, confidence classes, the
Mann-Kendall trend test over many series at once, and the two-span count test."""

from __future__ import annotations

import numpy as np
from scipy import stats

from geo_service.errors import InvalidInput
from geo_service.i18n import t

CONFIDENCES = (0.90, 0.95, 0.99)
NOT_SIGNIFICANT = "not significant"


def check_confidence(confidence: float) -> float:
    if confidence not in CONFIDENCES:
        raise InvalidInput(
            t(
                "confidence must be one of {value}, not {confidence!r}",
                value=", ".join(f"{c:g}" for c in CONFIDENCES),
                confidence=confidence,
            ),
            field="confidence",
        )
    return float(confidence)


def fdr(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (scipy's ``false_discovery_control``); NaN stays NaN."""
    p = np.asarray(p_values, float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(np.clip(p[ok], 0, 1), method="bh")
    return out


def confidence_classes(z: np.ndarray, p: np.ndarray, confidence: float = 0.90) -> np.ndarray:
    """'hot 99%', 'hot 95%', 'hot 90%', the same for 'cold', or 'not significant'.

    A unit is hot (cold) at a level when its p-value is at most 1 - level and its z is positive
    (negative); levels below ``confidence`` are not reported.
    """
    z = np.asarray(z, float)
    p = np.asarray(p, float)
    out = np.full(z.shape, NOT_SIGNIFICANT, dtype=object)
    for level in sorted(c for c in CONFIDENCES if c >= confidence):  # strictest last, so it wins
        significant = np.isfinite(p) & (p <= 1 - level + 1e-12)
        out[significant & (z > 0)] = f"hot {level:.0%}"
        out[significant & (z < 0)] = f"cold {level:.0%}"
    return out


def z_classes(z: np.ndarray, confidence: float = 0.90) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From z-scores: the two-sided normal p-value, its Benjamini-Hochberg adjustment over all
    units, and the confidence classes (:func:`confidence_classes`)."""
    z = np.asarray(z, float)
    p_value = 2 * stats.norm.sf(np.abs(z))
    p_fdr = fdr(p_value)
    return p_value, p_fdr, confidence_classes(z, p_fdr, confidence)


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Mann-Kendall trend test of each row of ``series`` (locations x time steps).

    The statistic S = sum over i < j of sign(x_j - x_i); its variance is corrected for ties,
    n(n-1)(2n+5)/18 less the sum over tied groups of t(t-1)(2t+5)/18; z has the continuity
    correction (S -+ 1); p is two-sided; tau = S / (n(n-1)/2). This is pymannkendall's
    ``original_test`` (Hipel and McLeod 1994) computed for all rows at once.

    Returns
    -------
    tau, z, p : numpy.ndarray
    """
    x = np.asarray(series, float)
    rows, n = x.shape
    s = np.zeros(rows)
    for lag in range(1, n):
        s += np.sign(x[:, lag:] - x[:, :-lag]).sum(axis=1)
    variance = np.full(rows, n * (n - 1) * (2 * n + 5) / 18.0)
    if rows:
        # Tied groups: runs of equal values in each row sorted (a sort per row, not of all rows at once).
        ordered = np.sort(x, axis=1)
        starts = np.ones(ordered.shape, bool)
        starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        ties = np.bincount(np.cumsum(starts.ravel()) - 1)
        row_of = np.repeat(np.arange(rows), n)[starts.ravel()]
        tied = ties > 1
        correction = np.bincount(
            row_of[tied], weights=ties[tied] * (ties[tied] - 1) * (2 * ties[tied] + 5), minlength=rows
        )
        variance -= correction / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(variance), np.where(s < 0, (s + 1) / np.sqrt(variance), 0.0))
    z = np.where(variance > 0, z, 0.0)
    p = 2 * stats.norm.sf(np.abs(z))
    tau = s / (0.5 * n * (n - 1))
    return tau, z, p


def two_span_test(count_a: np.ndarray, count_b: np.ndarray, share_a: float) -> np.ndarray:
    """Two-sided p-value that counts ``a`` and ``b`` come from one rate, spans weighted by duration.

    Given n = a + b, a is binomial(n, share_a) under that hypothesis, ``share_a`` being span a's
    share of the total duration (the conditional test for two Poisson counts). Two-sided by
    doubling the smaller tail, capped at 1; n = 0 gives p = 1.
    """
    a = np.asarray(count_a, float)
    n = a + np.asarray(count_b, float)
    lower = stats.binom.cdf(a, n, share_a)
    upper = stats.binom.sf(a - 1, n, share_a)
    return np.where(n > 0, np.minimum(1.0, 2 * np.minimum(lower, upper)), 1.0)
