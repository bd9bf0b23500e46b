"""The GCJ-02 and BD-09 formulas, unconditional: they assume every point is in mainland China
(``geo_service.coordinates.datum`` decides where they apply), and work on flat float64 arrays.

Accuracy
--------
The forward formulas reproduce the widely published algorithm (coordtransform,
eviltransform, prcoords) bit for bit up to floating point.  The inverses are
fixed-point iterations on the whole array (the offsets' Jacobians are below 1e-2,
so each step gains 2-3 digits) until the remaining error bound
``step * q / (1 - q)`` is below 1e-10 degrees (~10 micrometres), at most 20
steps (3 in practice); measured round-trip error is ~1e-6 m.  The naive one-step
inverse found in most libraries (``wgs = 2 * gcj - forward(gcj)``) is off by up
to a few metres; ``datum._gcj02_to_wgs84_naive`` keeps it for tests only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# --- constants of the published algorithm -------------------------------------
GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis (m)
GCJ_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
X_PI = math.pi * 3000.0 / 180.0
BD_DLON = 0.0065
BD_DLAT = 0.006

# Inverse iteration: stop when every point is within this of the solution
# (degrees, ~1e-5 m) or after MAX_ITER steps (~2.5 digits/step: 3-4 steps).
INV_TOL = 1e-10
MAX_ITER = 20
# Upper bounds of the fixed-point maps' contraction factors (max-norm of the
# offsets' Jacobians) over China.  GCJ-02: the sin(6 pi x) term dominates,
# ~460 m/deg of lon offset at 53N -> <= 7.5e-3 (measured 6.3e-3).  BD-09: the
# 3e-6 rad rotation times |z| ~ 125 deg times x_pi -> <= 0.021 (measured 8e-3).
GCJ_CONTRACTION = 0.01
BD_CONTRACTION = 0.025

Raw = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset ``(dlon, dlat)`` in degrees at WGS84 position ``(lon, lat)``.

    Faithful to the published algorithm (coordtransform's ``transformlat`` /
    ``transformlng``): distortions are computed in metres around (105E, 35N) and
    converted to degrees on the Krasovsky ellipsoid.  Sines are the cost here, so
    sin(pi x), sin(2 pi x), sin(6 pi x) and sin(pi y) come from the 1/3-angle
    sine/cosine by multiple-angle identities, and cos(lat) from sin(lat): 8
    transcendental calls instead of 12, equal to the textbook form to ~1e-15 m.
    """
    x = lon - 105.0
    y = lat - 35.0
    xy = x * y
    sqrt_abs_x = np.sqrt(np.abs(x))
    x_pi = x * math.pi
    y_pi = y * math.pi
    s3x = np.sin(x_pi / 3.0)
    c3x = np.cos(x_pi / 3.0)
    s1x = s3x * (3.0 - 4.0 * s3x * s3x)  # sin(3a) = sin a (3 - 4 sin^2 a)
    c1x = c3x * (4.0 * c3x * c3x - 3.0)  # cos(3a) = cos a (4 cos^2 a - 3)
    s2x = 2.0 * s1x * c1x  # sin(2 pi x)
    s6x = s2x * (3.0 - 4.0 * s2x * s2x)  # sin(6 pi x) = sin(3 * 2 pi x)
    s3y = np.sin(y_pi / 3.0)
    s1y = s3y * (3.0 - 4.0 * s3y * s3y)  # sin(pi y)
    common = (20.0 * s6x + 20.0 * s2x) * 2.0 / 3.0
    dlat_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * xy
        + 0.2 * sqrt_abs_x
        + common
        + (20.0 * s1y + 40.0 * s3y) * 2.0 / 3.0
        + (160.0 * np.sin(y_pi / 12.0) + 320.0 * np.sin(y_pi / 30.0)) * 2.0 / 3.0
    )
    dlon_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * xy
        + 0.1 * sqrt_abs_x
        + common
        + (20.0 * s1x + 40.0 * s3x) * 2.0 / 3.0
        + (150.0 * np.sin(x_pi / 12.0) + 300.0 * np.sin(x_pi / 30.0)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * math.pi
    sin_lat = np.sin(rad_lat)
    sin2 = sin_lat * sin_lat
    cos_lat = np.sqrt(1.0 - sin2)  # lat in [-90, 90] so cos >= 0
    magic = 1.0 - GCJ_EE * sin2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat_m * 180.0) / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon_m * 180.0) / (GCJ_A / sqrt_magic * cos_lat * math.pi)
    return dlon, dlat


def wgs_to_gcj(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj_to_bd(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * X_PI)
    return z * np.cos(theta) + BD_DLON, z * np.sin(theta) + BD_DLAT


def bd_to_gcj_approx(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baidu's published approximate inverse (~1e-6 deg); the iteration's start."""
    x = lon - BD_DLON
    y = lat - BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def invert(
    forward: Raw,
    target_x: np.ndarray,
    target_y: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    contraction: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == target`` by fixed-point iteration from ``(x, y)``.

    ``forward`` is identity plus a small, smooth offset, so
    ``p <- p - (forward(p) - target)`` is a contraction with factor below
    ``contraction`` (~1e-2).  The whole array is iterated until the worst
    point's remaining error is provably below ``INV_TOL`` degrees.
    """
    if x.size == 0:
        return x, y
    # For a contraction with factor q the error left after a step of size s is at
    # most s * q / (1 - q); stop once that bound is below INV_TOL.  This saves the
    # last (confirming) evaluation without giving up accuracy.
    stop = INV_TOL * (1.0 - contraction) / contraction
    for _ in range(MAX_ITER):
        fx, fy = forward(x, y)
        dx = fx - target_x
        dy = fy - target_y
        x = x - dx
        y = y - dy
        if max(float(np.max(np.abs(dx))), float(np.max(np.abs(dy)))) < stop:
            break
    return x, y


def gcj_to_wgs(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Start from the naive inverse (metre-level), then iterate to ~1e-12 deg.
    dlon, dlat = gcj_offset(lon, lat)
    return invert(wgs_to_gcj, lon, lat, lon - dlon, lat - dlat, GCJ_CONTRACTION)


def bd_to_gcj(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x0, y0 = bd_to_gcj_approx(lon, lat)
    return invert(gcj_to_bd, lon, lat, x0, y0, BD_CONTRACTION)


def wgs_to_bd(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return gcj_to_bd(*wgs_to_gcj(lon, lat))


def bd_to_wgs(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return gcj_to_wgs(*bd_to_gcj(lon, lat))
