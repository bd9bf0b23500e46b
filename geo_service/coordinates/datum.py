"""Datum conversion between CGCS2000/WGS84, GCJ-02 and BD-09, vectorised with numpy.

Coordinates that reach this service come in four datums:

``cgcs2000`` (the storage CRS, ``geo_service.vocabulary.STORAGE_CRS``)
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
(python floats for scalar input; ``geo_service.coordinates.arrays``).  Conversions
never modify their inputs.

GCJ-02 (and therefore BD-09) is applied only inside **mainland China**
(:func:`in_china`, ``geo_service.coordinates.china_outline``); points outside pass through
every conversion unchanged, as in every reference implementation.  The decision is made on
the *true* (WGS84/CGCS2000) position of a point: inverse conversions first solve for the
WGS84 candidate and keep it only if that candidate lies in the outline.  This makes round
trips exact for every point inside the outline; within about 1 km outside it (the size of
the offset) a GCJ-02/BD-09 input is inherently ambiguous.  The formulas themselves and their
accuracy (~1e-6 m round trips): ``geo_service.coordinates.offsets``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import shapely

from geo_service.coordinates import offsets
from geo_service.coordinates.arrays import ArrayLike, FloatOrArray
from geo_service.coordinates.arrays import finish as _finish
from geo_service.coordinates.arrays import prepare as _prepare
from geo_service.coordinates.china_outline import (
    INV_BBOX_MARGIN,
    china_mask_from_gcj,
    china_outline,
    in_bbox,
    in_china,
    in_china_flat,
)
from geo_service.vocabulary import DATUMS, STORAGE_CRS, Datum

if TYPE_CHECKING:  # geopandas is heavy; import it only where a GeoSeries is converted
    import geopandas

__all__ = [
    "DATUMS",
    "STORAGE_CRS",
    "Datum",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "china_outline",
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

#: Storage datum of the service (``STORAGE_CRS``).
STORAGE_DATUM: Datum = "cgcs2000"

# Every spelling a caller may use for each datum, case-insensitive.
_SPELLINGS: dict[Datum, tuple[str, ...]] = {
    "wgs84": ("wgs84", "wgs-84", "wgs_84", "wgs 84", "epsg:4326", "4326", "gps"),
    "cgcs2000": ("cgcs2000", "cgcs-2000", "cgcs_2000", STORAGE_CRS.lower(), STORAGE_CRS.split(":")[1]),
    "gcj02": ("gcj02", "gcj-02", "gcj_02", "mars", "amap", "gaode", "tencent"),
    "bd09": ("bd09", "bd-09", "bd_09", "bd09ll", "baidu"),
}
_ALIASES: dict[str, Datum] = {spelling: d for d, spellings in _SPELLINGS.items() for spelling in spellings}


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


def _gcj02_to_wgs84_naive(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """The common one-step inverse ``2 * gcj - forward(gcj)`` (no China test).

    Metre-level error; kept only so tests can show why it is not used.
    """
    x, y, shape, scalar = _prepare(lon, lat)
    dlon, dlat = offsets.gcj_offset(x, y)
    return _finish(x - dlon, y - dlat, shape, scalar)


# =============================================================================
# Public point conversions
# =============================================================================
def _apply_forward(x: np.ndarray, y: np.ndarray, mask: np.ndarray, raw: offsets.Raw) -> tuple[np.ndarray, np.ndarray]:
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
    raw_inverse: offsets.Raw,
    accept: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Solve the inverse near China; keep solutions whose true position is in China."""
    out_x, out_y = x.copy(), y.copy()
    cand = in_bbox(x, y, INV_BBOX_MARGIN)
    if x.size == 1 and cand[0]:
        # One point (a lookup): numpy's scalars iterate five times faster than arrays of one,
        # with the same result to the bit.
        sx, sy = (np.array([v]) for v in raw_inverse(x[0], y[0]))
        ok = accept(sx, sy)
        out_x[ok], out_y[ok] = sx[ok], sy[ok]
    elif cand.all():  # the common case: no fancy indexing
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
    return _finish(*_apply_forward(x, y, in_china_flat(x, y), offsets.wgs_to_gcj), shape, scalar)


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
    return _finish(*_apply_inverse(x, y, offsets.gcj_to_wgs, in_china_flat), shape, scalar)


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
    return _finish(*_apply_forward(x, y, china_mask_from_gcj(x, y), offsets.gcj_to_bd), shape, scalar)


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
    return _finish(*_apply_inverse(x, y, offsets.bd_to_gcj, china_mask_from_gcj), shape, scalar)


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
    return _finish(*_apply_forward(x, y, in_china_flat(x, y), offsets.wgs_to_bd), shape, scalar)


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
    return _finish(*_apply_inverse(x, y, offsets.bd_to_wgs, in_china_flat), shape, scalar)


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


def convert(lon: ArrayLike, lat: ArrayLike, src: Datum | str, dst: Datum | str) -> tuple[FloatOrArray, FloatOrArray]:
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


def to_storage(lon: ArrayLike, lat: ArrayLike, src: Datum | str) -> tuple[FloatOrArray, FloatOrArray]:
    """Convert coordinates in ``src`` to the storage datum CGCS2000 (``STORAGE_CRS``)."""
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


def convert_geoseries(gs: geopandas.GeoSeries, src: Datum | str, dst: Datum | str) -> geopandas.GeoSeries:
    """Convert a GeoSeries of lon/lat geometries between datums.

    The result always carries ``crs=STORAGE_CRS`` (CGCS2000).  For ``wgs84``/``cgcs2000``
    output that is exact.  For ``gcj02``/``bd09`` output there is no EPSG code:
    the CRS is still the storage CRS but the coordinates are *offset* by 100-700 m
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
        raise ValueError(f"convert_geoseries needs lon/lat coordinates; got projected CRS {gs.crs.to_string()}")
    converted = convert_geometry(np.asarray(gs.values, dtype=object), src, dst)
    return geopandas.GeoSeries(converted, index=gs.index, crs=STORAGE_CRS, name=gs.name)
