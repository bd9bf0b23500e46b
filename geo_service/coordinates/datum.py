"""Datum conversion between CGCS2000/WGS84, GCJ-02 and BD-09, vectorised with numpy.

Coordinates that reach this service come in four datums:

``cgcs2000`` (EPSG:4490)
    What the database stores.  It differs from WGS84 by well under a metre, so it
    is treated as identical to ``wgs84`` here.
``wgs84`` (EPSG:4326)
    GPS receivers, OpenStreetMap, most foreign data.
``gcj02`` ("Mars" coordinates)
    AMap/Gaode, Tencent, Google inside mainland China.  A deliberate, published
    non-PROJ obfuscation of WGS84 (Krasovsky ellipsoid constants
    ``a = 6378245.0``, ``ee = 0.00669342162296594323``), offset 100-700 m.
``bd09``
    Baidu: a second obfuscation applied on top of GCJ-02.

Every function takes longitude first (x, y order, as shapely and PostGIS do),
accepts python floats or numpy arrays of any shape and returns the same shape
(python floats for scalar input).  Conversions never modify their inputs.

Where the offset applies
------------------------
GCJ-02 (and therefore BD-09) is applied only inside **mainland China**.  Unlike the
usual lon/lat rectangle (which wrongly shifts Seoul, Pyongyang, Hanoi, Ulaanbaatar,
western Japan ...), :func:`in_china` tests against a simplified polygon of the
mainland shipped in ``geo_service/data/china_outline.geojson`` (see the README
there).  Hong Kong, Macau, Taiwan, Kinmen and Matsu are *excluded*: AMap and
Tencent show points there without the offset in practice.  (Some vendors,
e.g. Huawei Map Kit, do offset Hong Kong and Macau; convert such data as
``wgs84`` yourself.)  Points outside the outline pass through every conversion
unchanged, as in every reference implementation.

The decision is made on the *true* (WGS84/CGCS2000) position of a point: inverse
conversions first solve for the WGS84 candidate and keep it only if that candidate
lies in the outline.  This makes round trips exact for every point inside the
outline; within about 1 km outside it (the size of the offset) a GCJ-02/BD-09
input is inherently ambiguous.

Accuracy
--------
The forward formulas reproduce the widely published algorithm (coordtransform,
eviltransform, prcoords) bit for bit up to floating point.  The inverses are
fixed-point iterations on the whole array (the offsets' Jacobians are below 1e-2,
so each step gains 2-3 digits) until the remaining error bound
``step * q / (1 - q)`` is below 1e-10 degrees (~10 micrometres), at most 20
steps (3 in practice); measured round-trip error is ~1e-6 m.  The naive one-step
inverse found in most libraries (``wgs = 2 * gcj - forward(gcj)``) is off by up
to a few metres; it is kept as :func:`_gcj02_to_wgs84_naive` for tests only.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

import numpy as np
import shapely

if TYPE_CHECKING:  # geopandas is heavy; import it only where a GeoSeries is converted
    import geopandas

__all__ = [
    "DATUMS",
    "Datum",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "convert_geometry",
    "convert_geoseries",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "parse_datum",
    "to_storage",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

Datum: TypeAlias = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
DATUMS: tuple[str, ...] = get_args(Datum)

#: Storage datum of the service (EPSG:4490).
STORAGE_DATUM: Datum = "cgcs2000"
STORAGE_CRS = "EPSG:4490"

ArrayLike: TypeAlias = float | np.ndarray | Any
FloatOrArray: TypeAlias = float | np.ndarray

# --- constants of the published algorithm -------------------------------------
_GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis (m)
_GCJ_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

# Inverse iteration: stop when every point is within this of the solution
# (degrees, ~1e-5 m) or after _MAX_ITER steps (~2.5 digits/step: 3-4 steps).
_INV_TOL = 1e-10
_MAX_ITER = 20
# Upper bounds of the fixed-point maps' contraction factors (max-norm of the
# offsets' Jacobians) over China.  GCJ-02: the sin(6 pi x) term dominates,
# ~460 m/deg of lon offset at 53N -> <= 7.5e-3 (measured 6.3e-3).  BD-09: the
# 3e-6 rad rotation times |z| ~ 125 deg times x_pi -> <= 0.021 (measured 8e-3).
_GCJ_CONTRACTION = 0.01
_BD_CONTRACTION = 0.025

# GCJ/BD coordinates are at most ~0.02 deg away from the true position; widen the
# outline's bbox by this much before solving inverses so no candidate is skipped.
_INV_BBOX_MARGIN = 0.05

_OUTLINE_RESOURCE = "china_outline.geojson"

_ALIASES: dict[str, Datum] = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs_84": "wgs84",
    "wgs 84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gps": "wgs84",
    "cgcs2000": "cgcs2000",
    "cgcs-2000": "cgcs2000",
    "cgcs_2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj_02": "gcj02",
    "mars": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "tencent": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd_09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
}


# =============================================================================
# Input handling
# =============================================================================
def parse_datum(name: str) -> Datum:
    """Normalise a datum name or alias.

    Parameters
    ----------
    name : str
        Case-insensitive name, e.g. ``"WGS-84"``, ``"EPSG:4326"``, ``"4490"``,
        ``"cgcs2000"``, ``"GCJ-02"``, ``"mars"``, ``"amap"``, ``"tencent"``,
        ``"BD-09"``, ``"baidu"``.

    Returns
    -------
    Datum
        One of ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"``.

    Raises
    ------
    ValueError
        If the name is not recognised; the message lists the accepted values.
    """
    if not isinstance(name, str):
        raise TypeError(f"datum name must be a str, got {type(name).__name__}")
    key = name.strip().lower()
    try:
        return _ALIASES[key]
    except KeyError:
        accepted = ", ".join(sorted(_ALIASES))
        raise ValueError(
            f"unknown datum {name!r}; expected one of {', '.join(DATUMS)} "
            f"(accepted spellings, case-insensitive: {accepted})"
        ) from None


def _is_scalar(value: Any) -> bool:
    return np.ndim(value) == 0 and not isinstance(value, np.ndarray)


_Shape: TypeAlias = tuple[int, ...]


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray, _Shape, bool]:
    """Return flat float64 arrays, the common input shape and whether it was scalar.

    Work is done on 1-D arrays (boolean-mask assignment needs at least 1-D);
    :func:`_finish` restores the shape.
    """
    scalar = _is_scalar(lon) and _is_scalar(lat)
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        try:
            x, y = np.broadcast_arrays(x, y)
        except ValueError:
            raise ValueError(
                f"lon and lat shapes do not match: {x.shape} vs {y.shape}"
            ) from None
    return x.ravel(), y.ravel(), x.shape, scalar


def _validate(x: np.ndarray, y: np.ndarray, shape: _Shape) -> None:
    """Raise ValueError for NaN/inf or out-of-range coordinates (vectorised).

    One comparison pass covers everything: comparisons with NaN are False and
    +-inf fail the range test.
    """
    ok = (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0)
    if ok.all():
        return
    bad = ~ok
    n_bad = int(np.count_nonzero(bad))
    flat = int(np.argmax(bad))
    idx: Any = flat if len(shape) <= 1 else tuple(int(i) for i in np.unravel_index(flat, shape))
    raise ValueError(
        f"{n_bad} of {bad.size} coordinate(s) are NaN/inf or out of range "
        f"(lon must be in [-180, 180], lat in [-90, 90]); first at index {idx}: "
        f"lon={float(x[flat])!r}, lat={float(y[flat])!r}"
    )


def _prepare(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray, _Shape, bool]:
    x, y, shape, scalar = _as_arrays(lon, lat)
    _validate(x, y, shape)
    return x, y, shape, scalar


def _finish(
    x: np.ndarray, y: np.ndarray, shape: _Shape, scalar: bool
) -> tuple[FloatOrArray, FloatOrArray]:
    if scalar:
        return float(x[0]), float(y[0])
    return x.reshape(shape), y.reshape(shape)


# =============================================================================
# Raw (unconditional) formulas; they assume every point is in China.
# =============================================================================
def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * xy + 0.2 * sqrt_abs_x
        + common
        + (20.0 * s1y + 40.0 * s3y) * 2.0 / 3.0
        + (160.0 * np.sin(y_pi / 12.0) + 320.0 * np.sin(y_pi / 30.0)) * 2.0 / 3.0
    )
    dlon_m = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * xy + 0.1 * sqrt_abs_x
        + common
        + (20.0 * s1x + 40.0 * s3x) * 2.0 / 3.0
        + (150.0 * np.sin(x_pi / 12.0) + 300.0 * np.sin(x_pi / 30.0)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * math.pi
    sin_lat = np.sin(rad_lat)
    sin2 = sin_lat * sin_lat
    cos_lat = np.sqrt(1.0 - sin2)  # lat in [-90, 90] so cos >= 0
    magic = 1.0 - _GCJ_EE * sin2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat_m * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon_m * 180.0) / (_GCJ_A / sqrt_magic * cos_lat * math.pi)
    return dlon, dlat


def _wgs_to_gcj_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _gcj_to_bd_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd_to_gcj_approx(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baidu's published approximate inverse (~1e-6 deg); the iteration's start."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
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
    point's remaining error is provably below ``_INV_TOL`` degrees.
    """
    if x.size == 0:
        return x, y
    # For a contraction with factor q the error left after a step of size s is at
    # most s * q / (1 - q); stop once that bound is below _INV_TOL.  This saves the
    # last (confirming) evaluation without giving up accuracy.
    stop = _INV_TOL * (1.0 - contraction) / contraction
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        dx = fx - target_x
        dy = fy - target_y
        x = x - dx
        y = y - dy
        if max(float(np.max(np.abs(dx))), float(np.max(np.abs(dy)))) < stop:
            break
    return x, y


def _gcj_to_wgs_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Start from the naive inverse (metre-level), then iterate to ~1e-12 deg.
    dlon, dlat = _gcj_offset(lon, lat)
    return _invert(_wgs_to_gcj_raw, lon, lat, lon - dlon, lat - dlat, _GCJ_CONTRACTION)


def _bd_to_gcj_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x0, y0 = _bd_to_gcj_approx(lon, lat)
    return _invert(_gcj_to_bd_raw, lon, lat, x0, y0, _BD_CONTRACTION)


def _gcj02_to_wgs84_naive(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """The common one-step inverse ``2 * gcj - forward(gcj)`` (no China test).

    Metre-level error; kept only so tests can show why it is not used.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    dlon, dlat = _gcj_offset(x, y)
    return _finish(x - dlon, y - dlat, shape, scalar)


# =============================================================================
# Mainland China outline
# =============================================================================
@functools.cache
def _outline() -> tuple[Any, tuple[float, float, float, float]]:
    """Load and prepare the mainland outline once (WGS84/CGCS2000 lon/lat)."""
    text = resources.files("geo_service").joinpath("data", _OUTLINE_RESOURCE).read_text(
        encoding="utf-8"
    )
    doc = json.loads(text)
    if doc.get("type") == "FeatureCollection":
        geoms = [shapely.from_geojson(json.dumps(f["geometry"])) for f in doc["features"]]
        geom = shapely.union_all(geoms)
    elif doc.get("type") == "Feature":
        geom = shapely.from_geojson(json.dumps(doc["geometry"]))
    else:
        geom = shapely.from_geojson(text)
    shapely.prepare(geom)
    return geom, tuple(float(b) for b in geom.bounds)  # type: ignore[return-value]


def china_outline() -> shapely.Geometry:
    """Return the (prepared) mainland China outline used by :func:`in_china`."""
    return _outline()[0]


def _in_bbox(x: np.ndarray, y: np.ndarray, margin: float = 0.0) -> np.ndarray:
    minx, miny, maxx, maxy = _outline()[1]
    return (x >= minx - margin) & (x <= maxx + margin) & (y >= miny - margin) & (y <= maxy + margin)


def _in_china(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vectorised point-in-outline test; NaN gives False."""
    geom, _ = _outline()
    inside = _in_bbox(x, y)  # cheap reject: most foreign points never reach GEOS
    if inside.any():
        if inside.all():
            inside = shapely.contains_xy(geom, x, y)
        else:
            inside[inside] = shapely.contains_xy(geom, x[inside], y[inside])
    return inside


def in_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray | bool:
    """Whether WGS84/CGCS2000 positions lie in mainland China (GCJ-02 applies).

    Uses a simplified polygon of the mainland (Hong Kong, Macau, Taiwan, Kinmen
    and Matsu excluded), biased outwards by up to ~2 km so coastal points and
    offshore islets are not lost to the simplification; see
    ``geo_service/data/README.md``.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84/CGCS2000 longitude and latitude in degrees.  NaN yields False.

    Returns
    -------
    numpy.ndarray of bool or bool
        Same shape as the input; a python bool for scalar input.
    """
    x, y, shape, scalar = _as_arrays(lon, lat)
    inside = _in_china(x, y)
    return bool(inside[0]) if scalar else inside.reshape(shape)


def _china_mask_from_gcj(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """In-China test for GCJ-02 positions, judged at their (approximate) WGS84 spot.

    The naive inverse (metre-level) is plenty for a polygon simplified at ~1 km.
    """
    mask = _in_bbox(x, y, _INV_BBOX_MARGIN)
    if mask.any():
        dlon, dlat = _gcj_offset(x[mask], y[mask])
        mask[mask] = _in_china(x[mask] - dlon, y[mask] - dlat)
    return mask


# =============================================================================
# Public point conversions
# =============================================================================
_Raw = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _apply_forward(
    x: np.ndarray, y: np.ndarray, mask: np.ndarray, raw: _Raw
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``raw`` where ``mask`` holds; copy input elsewhere."""
    if mask.all():  # the common case: skip fancy indexing entirely
        return raw(x, y)
    out_x, out_y = x.copy(), y.copy()
    if mask.any():
        out_x[mask], out_y[mask] = raw(x[mask], y[mask])
    return out_x, out_y


def _apply_inverse(
    x: np.ndarray,
    y: np.ndarray,
    raw_inverse: _Raw,
    accept: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Solve the inverse near China; keep solutions whose true position is in China."""
    out_x, out_y = x.copy(), y.copy()
    cand = _in_bbox(x, y, _INV_BBOX_MARGIN)
    if cand.all():  # the common case: no fancy indexing
        sx, sy = raw_inverse(x, y)
        ok = accept(sx, sy)
        out_x[ok], out_y[ok] = sx[ok], sy[ok]
    elif cand.any():
        idx = np.flatnonzero(cand)
        sx, sy = raw_inverse(x[idx], y[idx])
        ok = accept(sx, sy)
        out_x[idx[ok]], out_y[idx[ok]] = sx[ok], sy[ok]
    return out_x, out_y


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert WGS84/CGCS2000 to GCJ-02 (offset only inside mainland China).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude/latitude in degrees, any (broadcastable) shape.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        GCJ-02 coordinates, same shape as the input.

    Raises
    ------
    ValueError
        For NaN/inf or out-of-range coordinates.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    return _finish(*_apply_forward(x, y, _in_china(x, y), _wgs_to_gcj_raw), shape, scalar)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert GCJ-02 to WGS84/CGCS2000 by iterative inversion (~1e-12 deg).

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude/latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        WGS84 coordinates; points whose solution lies outside mainland China are
        returned unchanged.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    return _finish(*_apply_inverse(x, y, _gcj_to_wgs_raw, _in_china), shape, scalar)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert GCJ-02 to BD-09 (Baidu), inside mainland China only.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude/latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        BD-09 coordinates, same shape as the input.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    return _finish(*_apply_forward(x, y, _china_mask_from_gcj(x, y), _gcj_to_bd_raw), shape, scalar)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert BD-09 to GCJ-02 by iterative inversion (~1e-12 deg).

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude/latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        GCJ-02 coordinates, same shape as the input.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    return _finish(*_apply_inverse(x, y, _bd_to_gcj_raw, _china_mask_from_gcj), shape, scalar)


def _wgs_to_bd_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _gcj_to_bd_raw(*_wgs_to_gcj_raw(lon, lat))


def _bd_to_wgs_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _gcj_to_wgs_raw(*_bd_to_gcj_raw(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert WGS84/CGCS2000 to BD-09 (via GCJ-02), inside mainland China only.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS84 longitude/latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        BD-09 coordinates, same shape as the input.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    return _finish(*_apply_forward(x, y, _in_china(x, y), _wgs_to_bd_raw), shape, scalar)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert BD-09 to WGS84/CGCS2000 (two exact inversions, ~1e-12 deg).

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude/latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        WGS84 coordinates, same shape as the input.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    return _finish(*_apply_inverse(x, y, _bd_to_wgs_raw, _in_china), shape, scalar)


def _identity(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    x, y, shape, scalar = _prepare(lon, lat)
    return _finish(x.copy(), y.copy(), shape, scalar)


# cgcs2000 is folded into wgs84 before lookup.
_Converter: TypeAlias = Callable[[ArrayLike, ArrayLike], tuple[FloatOrArray, FloatOrArray]]
_PAIRS: dict[tuple[str, str], _Converter] = {
    ("wgs84", "wgs84"): _identity,
    ("gcj02", "gcj02"): _identity,
    ("bd09", "bd09"): _identity,
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def _canonical(datum: str) -> str:
    d = parse_datum(datum)
    return "wgs84" if d == "cgcs2000" else d


def convert(
    lon: ArrayLike, lat: ArrayLike, src: Datum | str, dst: Datum | str
) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert coordinates between any two datums.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude/latitude in degrees, any (broadcastable) shape.
    src, dst : str
        Datum names or aliases accepted by :func:`parse_datum`.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        Converted coordinates (new arrays), same shape as the input.

    Raises
    ------
    ValueError
        Unknown datum, or NaN/inf/out-of-range coordinates (the message gives
        how many and the first offending index).
    """
    return _PAIRS[(_canonical(src), _canonical(dst))](lon, lat)


def to_storage(
    lon: ArrayLike, lat: ArrayLike, src: Datum | str
) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert coordinates in ``src`` to the storage datum CGCS2000 (EPSG:4490)."""
    return convert(lon, lat, src, STORAGE_DATUM)


# =============================================================================
# Geometries
# =============================================================================
def convert_geometry(geom: Any, src: Datum | str, dst: Datum | str) -> Any:
    """Convert every vertex of shapely geometries between datums.

    Uses :func:`shapely.transform`, so all vertices of all geometries are
    converted in one vectorised call; rings, holes, multi-parts, collections and
    Z values are preserved.

    Parameters
    ----------
    geom : shapely.Geometry or array_like of shapely.Geometry
        A geometry, or a sequence/array of geometries (``None`` allowed).
    src, dst : str
        Datum names or aliases.

    Returns
    -------
    shapely.Geometry or numpy.ndarray
        A new geometry for a single geometry, else an object ndarray of the same
        shape.
    """
    pair = _PAIRS[(_canonical(src), _canonical(dst))]

    def _transform(coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        if len(coords):
            out[:, 0], out[:, 1] = pair(coords[:, 0], coords[:, 1])
        return out

    if isinstance(geom, shapely.Geometry):
        return shapely.transform(geom, _transform, include_z=None)
    arr = np.asarray(geom, dtype=object)
    return shapely.transform(arr, _transform, include_z=None)


def convert_geoseries(
    gs: geopandas.GeoSeries, src: Datum | str, dst: Datum | str
) -> geopandas.GeoSeries:
    """Convert a GeoSeries of lon/lat geometries between datums.

    The result always carries ``crs=EPSG:4490``.  For ``wgs84``/``cgcs2000``
    output that is exact.  For ``gcj02``/``bd09`` output there is no EPSG code:
    the CRS is still EPSG:4490 but the coordinates are *offset* by 100-700 m
    inside mainland China -- only use such output to overlay on AMap/Tencent/Baidu
    base maps, never store it.

    Parameters
    ----------
    gs : geopandas.GeoSeries
        Geometries with lon/lat coordinates in ``src``.  Its CRS, if set, must
        be geographic (lon/lat); it is not used to infer ``src``.
    src, dst : str
        Datum names or aliases.

    Returns
    -------
    geopandas.GeoSeries
        New series with the same index and name.

    Raises
    ------
    ValueError
        If ``gs`` has a projected CRS.
    """
    import geopandas

    if gs.crs is not None and not gs.crs.is_geographic:
        raise ValueError(
            f"convert_geoseries needs lon/lat coordinates; got projected CRS {gs.crs.to_string()}"
        )
    converted = convert_geometry(np.asarray(gs.values, dtype=object), src, dst)
    return geopandas.GeoSeries(converted, index=gs.index, crs=STORAGE_CRS, name=gs.name)
