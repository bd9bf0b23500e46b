"""Coordinates as they come in: checked, converted to CGCS2000, and held to the area covered.

A location that cannot be right is refused with a reason a caller can act on: not a number, out
of range, outside the area this deployment covers, and, when swapping the two numbers would put
it inside, a note that latitude and longitude look swapped (the usual mistake).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import shapely
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service import datum
from geo_service.errors import InvalidInput, OutsideCoverage
from geo_service.versions import VersionInForce

COUNTY_OUTLINE = text("""
    SELECT ST_AsBinary(ST_Union(geom)), string_agg(name, '、' ORDER BY code)
      FROM admin_units WHERE version_id = :version AND level = 'county'
""")


@dataclass(frozen=True)
class Coverage:
    """The area a deployment answers for: its counties, widened by a margin."""

    area: shapely.Geometry
    names: str
    margin_m: float

    def covers(self, lon: float, lat: float) -> bool:
        return bool(shapely.contains_xy(self.area, lon, lat))

    def describe(self) -> str:
        minx, miny, maxx, maxy = self.area.bounds
        return (
            f"{self.names} and {self.margin_m / 1000:g} km around it "
            f"(longitude {minx:.3f} to {maxx:.3f}, latitude {miny:.3f} to {maxy:.3f})"
        )


_coverage: dict[tuple, Coverage] = {}
_lock = threading.Lock()


def coverage(connection: Connection, version: VersionInForce, margin_m: float, metric_srid: int) -> Coverage:
    """The coverage of a boundary version, computed once per process."""
    key = (str(connection.engine.url), *version.cache_key, margin_m)
    with _lock:
        if key in _coverage:
            return _coverage[key]
    wkb, names = connection.execute(COUNTY_OUTLINE, {"version": version.id}).one()
    if wkb is None:
        raise InvalidInput("the boundary version in force has no county outline", field="at")
    outline = shapely.from_wkb(bytes(wkb))
    to_metric = Transformer.from_crs(4490, metric_srid, always_xy=True).transform
    to_storage = Transformer.from_crs(metric_srid, 4490, always_xy=True).transform
    metric = shapely.transform(outline, to_metric, interleaved=False)
    area = shapely.transform(metric.buffer(margin_m), to_storage, interleaved=False)
    shapely.prepare(area)
    found = Coverage(area, names, margin_m)
    with _lock:
        _coverage[key] = found
    return found


def check_numbers(lon: float, lat: float) -> None:
    """Refuse coordinates that are not finite numbers or out of range, naming which and why."""
    for name, value in (("lon", lon), ("lat", lat)):
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{name} must be a number, got {value!r}", field=name)
        if not math.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number, got {value}", field=name)
    if not -90 <= lat <= 90:
        hint = " (it looks like a longitude: are latitude and longitude swapped?)" if -180 <= lat <= 180 and -90 <= lon <= 90 else ""
        raise InvalidInput(f"lat {lat} is outside -90 to 90{hint}", field="lat")
    if not -180 <= lon <= 180:
        raise InvalidInput(f"lon {lon} is outside -180 to 180", field="lon")


def to_storage(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Checked coordinates in datum ``crs``, converted to CGCS2000."""
    check_numbers(lon, lat)
    try:
        name = datum.parse_datum(crs)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="crs") from exc
    x, y = datum.convert(lon, lat, name, "cgcs2000")
    return float(x), float(y)


def require_covered(area: Coverage, lon: float, lat: float, crs: str, stored: tuple[float, float]) -> None:
    """Refuse a point outside the coverage, saying so if the swapped point would be inside."""
    if area.covers(*stored):
        return
    message = f"the point lon={lon}, lat={lat} ({crs}) is outside the area this deployment covers: {area.describe()}"
    swapped_inside = False
    if -180 <= lat <= 180 and -90 <= lon <= 90:
        try:
            swapped_inside = area.covers(*to_storage(lat, lon, crs))
        except InvalidInput:
            swapped_inside = False
    if swapped_inside:
        message += f"; latitude and longitude look swapped: lon={lat}, lat={lon} is inside"
    raise OutsideCoverage(message, field="lon,lat", swapped=swapped_inside)
