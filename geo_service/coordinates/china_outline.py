"""Where the GCJ-02 offset applies: mainland China, tested against an outline of it.

Unlike the usual lon/lat rectangle (which wrongly shifts Seoul, Pyongyang, Hanoi, Ulaanbaatar,
western Japan ...), :func:`in_china` tests against a simplified polygon of the mainland shipped
in ``geo_service/data/china_outline.geojson`` (see the README there).  Hong Kong, Macau, Taiwan,
Kinmen and Matsu are *excluded*: AMap and Tencent show points there without the offset in
practice.  (Some vendors, e.g. Huawei Map Kit, do offset Hong Kong and Macau; convert such data
as ``wgs84`` yourself.)
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import numpy as np
import shapely

from geo_service.coordinates.arrays import ArrayLike, as_arrays
from geo_service.coordinates.offsets import gcj_offset

_OUTLINE_RESOURCE = "china_outline.geojson"

# GCJ/BD coordinates are at most ~0.02 deg away from the true position; widen the
# outline's bbox by this much before solving inverses so no candidate is skipped.
INV_BBOX_MARGIN = 0.05


@functools.cache
def _outline() -> tuple[Any, tuple[float, float, float, float]]:
    """Load and prepare the mainland outline once (WGS84/CGCS2000 lon/lat)."""
    text = resources.files("geo_service").joinpath("data", _OUTLINE_RESOURCE).read_text(encoding="utf-8")
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


def in_bbox(x: np.ndarray, y: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Whether flat arrays of points lie in the outline's bounding box widened by ``margin``."""
    minx, miny, maxx, maxy = _outline()[1]
    return (x >= minx - margin) & (x <= maxx + margin) & (y >= miny - margin) & (y <= maxy + margin)


def in_china_flat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vectorised point-in-outline test on flat arrays; NaN gives False."""
    geom, _ = _outline()
    inside = in_bbox(x, y)  # cheap reject: most foreign points never reach GEOS
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
    x, y, shape, scalar = as_arrays(lon, lat)
    inside = in_china_flat(x, y)
    return bool(inside[0]) if scalar else inside.reshape(shape)


def china_mask_from_gcj(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """In-China test for GCJ-02 positions, judged at their (approximate) WGS84 spot.

    The naive inverse (metre-level) is plenty for a polygon simplified at ~1 km.
    """
    mask = in_bbox(x, y, INV_BBOX_MARGIN)
    if mask.any():
        dlon, dlat = gcj_offset(x[mask], y[mask])
        mask[mask] = in_china_flat(x[mask] - dlon, y[mask] - dlat)
    return mask
