"""A bounding box as a request gives it: ``minx,miny,maxx,maxy`` in longitude and latitude."""

from __future__ import annotations

from geo_service.errors import InvalidInput

BBox = tuple[float, float, float, float]


def parse_bbox(
    value: str | None, *, lat_first: bool = False, field: str = "bbox", error: type[InvalidInput] = InvalidInput
) -> BBox | None:
    """``minx,miny,maxx,maxy`` as lon/lat, or None when no box is given.

    ``lat_first``: the numbers come latitude first (OGC's EPSG:4490 and EPSG:4326 axis order).
    Six numbers (a 3-D box) lose their heights. A box that is not four numbers, lies off the globe
    or has a minimum above its maximum is refused with ``error`` naming ``field``.
    """
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        raise error(
            f"{field}: {value!r} is not four numbers separated by commas (minlon,minlat,maxlon,maxlat)", field=field
        ) from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise error(f"{field}: {value!r} has {len(numbers)} numbers, not 4 (minlon,minlat,maxlon,maxlat)", field=field)
    if lat_first:
        numbers = [numbers[1], numbers[0], numbers[3], numbers[2]]
    minx, miny, maxx, maxy = numbers
    if not all(-180 <= x <= 180 for x in (minx, maxx)) or not all(-90 <= y <= 90 for y in (miny, maxy)):
        raise error(f"{field}: {value!r} is out of range for longitude and latitude", field=field)
    if not (minx < maxx and miny < maxy):
        raise error(f"{field}: {value!r} must have min < max (minlon,minlat,maxlon,maxlat)", field=field)
    return minx, miny, maxx, maxy
