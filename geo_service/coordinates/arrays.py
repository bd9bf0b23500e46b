"""Coordinates in and out of the datum conversions: python floats or numpy arrays of any
(broadcastable) shape, worked on as flat float64 arrays and given back in the caller's shape."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

ArrayLike: TypeAlias = float | np.ndarray | Any
FloatOrArray: TypeAlias = float | np.ndarray
Shape: TypeAlias = tuple[int, ...]


def is_scalar(value: Any) -> bool:
    return np.ndim(value) == 0 and not isinstance(value, np.ndarray)


def as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray, Shape, bool]:
    """Return flat float64 arrays, the common input shape and whether it was scalar.

    Work is done on 1-D arrays (boolean-mask assignment needs at least 1-D);
    :func:`finish` restores the shape.
    """
    scalar = is_scalar(lon) and is_scalar(lat)
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        try:
            x, y = np.broadcast_arrays(x, y)
        except ValueError:
            raise ValueError(f"lon and lat shapes do not match: {x.shape} vs {y.shape}") from None
    return x.ravel(), y.ravel(), x.shape, scalar


def validate(x: np.ndarray, y: np.ndarray, shape: Shape) -> None:
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


def prepare(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray, Shape, bool]:
    """:func:`as_arrays`, refusing NaN, inf and out-of-range coordinates."""
    x, y, shape, scalar = as_arrays(lon, lat)
    validate(x, y, shape)
    return x, y, shape, scalar


def finish(x: np.ndarray, y: np.ndarray, shape: Shape, scalar: bool) -> tuple[FloatOrArray, FloatOrArray]:
    """The flat results in the caller's shape (python floats for scalar input)."""
    if scalar:
        return float(x[0]), float(y[0])
    return x.reshape(shape), y.reshape(shape)
