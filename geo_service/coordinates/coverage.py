"""Coordinates as they come in: checked, converted to CGCS2000, and held to the area covered.

A location that cannot be right is refused with a reason a caller can act on: not a number, out
of range, outside the area this deployment covers, and, when swapping the two numbers would put
it inside, a note that latitude and longitude look swapped (the usual mistake).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.boundaries.versions import InForce
from geo_service.coordinates import datum
from geo_service.coordinates.projection import zone_srid
from geo_service.db.engine import database_name
from geo_service.errors import InvalidInput, OutsideCoverage
from geo_service.i18n import t
from geo_service.vocabulary import STORAGE_SRID

COUNTY_OUTLINE = text("""
    SELECT ST_AsBinary(ST_Union(geom)), string_agg(name, '、' ORDER BY code)
      FROM admin_units WHERE version_id = ANY(:versions) AND level = 'county'
""")


@dataclass(frozen=True)
class Coverage:
    """The area a deployment answers for: its counties, widened by a margin."""

    area: shapely.Geometry  # prepared: test it through contains_xy, under the lock
    names: str
    margin_m: float
    # GEOS's prepared geometries are not safe to test from two threads at once (libgeos/geos#825).
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def covers(self, lon: float, lat: float) -> bool:
        return bool(self.contains_xy(lon, lat))

    def contains_xy(self, x, y):
        with self.lock:
            return shapely.contains_xy(self.area, x, y)

    def describe(self) -> str:
        minx, miny, maxx, maxy = self.area.bounds
        return t(
            "{names} and {km:g} km around it (longitude {minx:.3f} to {maxx:.3f}, latitude {miny:.3f} to {maxy:.3f})",
            names=self.names,
            km=self.margin_m / 1000,
            minx=minx,
            maxx=maxx,
            miny=miny,
            maxy=maxy,
        )


_coverage: dict[tuple, Coverage] = {}
_lock = threading.Lock()


def coverage(connection: Connection, boundaries: InForce, margin_m: float) -> Coverage:
    """The coverage of the boundaries in force (every county's outline and the margin around it),
    computed once per process."""
    key = (database_name(connection), *boundaries.cache_key, margin_m)
    with _lock:
        if key in _coverage:
            return _coverage[key]
    wkb, names = connection.execute(COUNTY_OUTLINE, {"versions": boundaries.ids}).one()
    if wkb is None:
        raise InvalidInput(t("the boundary versions in force have no county outline"), field="at")
    outline = shapely.from_wkb(bytes(wkb))
    # The margin is a few kilometres: the zone of the whole area's centre measures it well enough.
    metric_srid = zone_srid(shapely.centroid(outline).x)
    to_metric = Transformer.from_crs(STORAGE_SRID, metric_srid, always_xy=True).transform
    to_storage = Transformer.from_crs(metric_srid, STORAGE_SRID, always_xy=True).transform
    metric = shapely.transform(outline, to_metric, interleaved=False)
    area = shapely.transform(metric.buffer(margin_m), to_storage, interleaved=False)
    shapely.prepare(area)
    found = Coverage(area, names, margin_m)
    with _lock:
        _coverage[key] = found
    return found


def number_errors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Per point, why its numbers cannot be coordinates ("" where they can), naming lon or lat first."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    error = np.full(lon.shape, "", dtype=object)

    def flag(mask, make):
        mask = mask & (error == "")
        error[mask] = [make(x, y) for x, y in zip(lon[mask], lat[mask])]

    # Each reason is a message (``t``): English where it is data (a row of a file assigned),
    # in the reader's language where it is the answer's message.
    flag(~np.isfinite(lon), lambda x, y: t("{name} is not a finite number ({value})", name="lon", value=x))
    flag(~np.isfinite(lat), lambda x, y: t("{name} is not a finite number ({value})", name="lat", value=y))
    out_of_range = (lat < -90) | (lat > 90)
    swapped = out_of_range & (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    flag(
        swapped,
        lambda x, y: t(
            "lat {lat} is outside -90 to 90 (it looks like a longitude: latitude and longitude look swapped)", lat=y
        ),
    )
    flag(out_of_range, lambda x, y: t("lat {lat} is outside -90 to 90", lat=y))
    flag((lon < -180) | (lon > 180), lambda x, y: t("lon {lon} is outside -180 to 180", lon=x))
    return error


def check_numbers(lon: float, lat: float) -> None:
    """Refuse coordinates that are not finite numbers or out of range, naming which and why."""
    for name, value in (("lon", lon), ("lat", lat)):
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(t("{name} must be a number, got {value!r}", name=name, value=value), field=name)
    if -180 <= lon <= 180 and -90 <= lat <= 90:  # finite and in range (NaN compares false)
        return
    error = number_errors(np.array([lon]), np.array([lat]))[0]
    if error:
        raise InvalidInput(error, field=error.split()[0])


def to_storage(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Checked coordinates in datum ``crs``, converted to CGCS2000."""
    check_numbers(lon, lat)
    try:
        name = datum.parse_datum(crs)
    except ValueError:
        raise InvalidInput(
            t(
                "unknown datum {crs!r}; expected one of {datums} (accepted spellings, case-insensitive: {accepted})",
                crs=crs,
                datums=", ".join(datum.DATUMS),
                accepted=", ".join(sorted(datum._ALIASES)),
            ),
            field="crs",
        ) from None
    x, y = datum.convert(lon, lat, name, "cgcs2000")
    return float(x), float(y)


def coverage_errors(
    area: Coverage, lon: np.ndarray, lat: np.ndarray, datums: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per point (given as lon/lat in its datum, and x/y in CGCS2000), why it is outside the area
    covered ("" where it is inside), and whether the point with its numbers swapped is inside."""
    inside = area.contains_xy(x, y)
    error = np.full(len(x), "", dtype=object)
    swapped = np.zeros(len(x), dtype=bool)
    candidates = np.flatnonzero(~inside & (np.abs(lon) <= 90) & (np.abs(lat) <= 180))
    for name in pd.unique(datums[candidates]):
        rows = candidates[datums[candidates] == name]
        sx, sy = datum.convert(lat[rows], lon[rows], name, "cgcs2000")
        swapped[rows] = area.contains_xy(sx, sy)
    described = area.describe()
    for row in np.flatnonzero(~inside):
        point = {"lon": lon[row], "lat": lat[row], "datum": datums[row], "area": described}
        error[row] = (
            t(
                "the point lon={lon}, lat={lat} ({datum}) is outside the area this deployment covers: {area}; "
                "latitude and longitude look swapped: lon={lat}, lat={lon} is inside",
                **point,
            )
            if swapped[row]
            else t(
                "the point lon={lon}, lat={lat} ({datum}) is outside the area this deployment covers: {area}", **point
            )
        )
    return error, swapped


def require_covered(area: Coverage, lon: float, lat: float, crs: str, stored: tuple[float, float]) -> None:
    """Refuse a point outside the coverage, saying so if the swapped point would be inside."""
    if area.covers(*stored):  # the usual case: no reason to compose
        return
    error, swapped = coverage_errors(
        area,
        np.array([lon]),
        np.array([lat]),
        np.array([crs], dtype=object),
        np.array([stored[0]]),
        np.array([stored[1]]),
    )
    if error[0]:
        raise OutsideCoverage(error[0], field="lon,lat", swapped=bool(swapped[0]))
