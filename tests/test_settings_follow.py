"""Analyses, tiles and "today" follow the app's settings, not the process's environment.

An app is built over the demo county with another time zone (UTC: the county's day starts eight
hours later than Beijing's) and another metric projection (EPSG:4545, CGCS2000's 3-degree zone
of 108 E, whose grid is turned about two degrees against the default's 105 E zone over the
county). Meanwhile the environment names a third zone and projection, so a library function
that still read the process's settings would answer for neither app. Each answer is checked
against an independent computation (SQL, pyproj and shapely) for the app's own settings, and
against the default app's answer, which must differ.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import text

from geo_service.db.engine import get_engine
from geo_service.settings import get_settings
from geo_service.tiles.mvt import Tile

from .conftest import signed_in

DEFAULT = {"timezone": "Asia/Shanghai", "metric_srid": 4544}
OTHER = {"timezone": "UTC", "metric_srid": 4545}
# What a library that read the environment would use: neither app's.
ENVIRONMENT = {"GEO_SERVICE_TIMEZONE": "America/Los_Angeles", "GEO_SERVICE_METRIC_SRID": "32648"}
DAY = {"start": "2026-06-01", "end": "2026-06-02"}
HEX_M = 500.0
CENTRE = (104.10, 30.00)


@pytest.fixture(scope="module")
def apps(demo_url):
    """Two apps over the demo county, the environment naming a third zone and projection meanwhile."""
    patch = pytest.MonkeyPatch()
    for name, value in ENVIRONMENT.items():
        patch.setenv(name, value)
    get_settings.cache_clear()  # so that a stray get_settings() would read the environment above
    try:
        with signed_in(demo_url, **DEFAULT) as default, signed_in(demo_url, **OTHER) as other:
            yield default, other
    finally:
        patch.undo()
        get_settings.cache_clear()


def _count(demo_url: str, start: datetime, end: datetime, extra: str = "", **params) -> int:
    with get_engine(demo_url).connect() as connection:
        return connection.execute(
            text(f"""
            SELECT count(*) FROM incidents
             WHERE reported_at >= :start AND reported_at < :end AND status NOT IN ('rejected', 'merged') {extra}
        """),
            {"start": start, "end": end, **params},
        ).scalar()


def _midnight(day: str, zone: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone))


# -- analyses --------------------------------------------------------------------------------------


def test_counts_follow_the_apps_day(apps, demo_url):
    """A date is the app's county midnight: the day's counts are those of the app's zone."""
    answers = [client.get("/analysis/counts", params={"unit": "town", **DAY}).json() for client in apps]
    for answer, settings in zip(answers, (DEFAULT, OTHER)):
        zone = settings["timezone"]
        start, end = _midnight(DAY["start"], zone), _midnight(DAY["end"], zone)
        assert datetime.fromisoformat(answer["metadata"]["filter"]["start"]) == start
        with get_engine(demo_url).connect() as connection:
            expected = dict(
                connection.execute(
                    text("""
                SELECT town_code, count(*) FROM incidents
                 WHERE reported_at >= :start AND reported_at < :end AND status NOT IN ('rejected', 'merged')
                 GROUP BY town_code"""),
                    {"start": start, "end": end},
                ).all()
            )
        got = {f["properties"]["code"]: f["properties"]["count"] for f in answer["features"]}
        assert sum(expected.values()) > 20
        assert got == {code: expected.get(code, 0) for code in got}
    default, other = ({f["properties"]["code"]: f["properties"]["count"] for f in a["features"]} for a in answers)
    assert default != other, "the two zones' days should count differently"


def _hex_centre(code: str) -> tuple[float, float]:
    """A hexagon's centre in the metric projection, from its cell index (ST_HexagonGrid's layout)."""
    i, j = (int(v) for v in code.split(":"))
    return 1.5 * HEX_M * i, math.sqrt(3) * HEX_M * (j + (i & 1) / 2)


def _hexagon(x: float, y: float) -> shapely.Polygon:
    """The flat-topped hexagon of side HEX_M around (x, y)."""
    return shapely.Polygon(
        [(x + HEX_M * math.cos(k * math.pi / 3), y + HEX_M * math.sin(k * math.pi / 3)) for k in range(6)]
    )


def test_hexagon_density_is_drawn_in_the_apps_projection(apps, demo_url):
    """Hexagons are the app's projection's: regular there, centred where their index says, and
    holding the incidents that fall inside them there (pyproj and shapely, not the service)."""
    params = {"size_m": HEX_M, "category": "security_hazard", "start": "2026-06-01", "end": "2026-07-01"}
    answers = [client.get("/analysis/density", params=params).json() for client in apps]
    for answer, settings in zip(answers, (DEFAULT, OTHER)):
        to_metric = Transformer.from_crs(4490, settings["metric_srid"], always_xy=True)
        features = answer["features"]
        assert len(features) > 20
        for feature in features[:50]:
            ring = np.array(feature["geometry"]["coordinates"][0])
            x, y = to_metric.transform(ring[:, 0], ring[:, 1])
            centre = shapely.Polygon(np.column_stack([x, y])).centroid
            assert (centre.x, centre.y) == pytest.approx(_hex_centre(feature["properties"]["code"]), abs=1.0)
        # The incidents inside each hexagon, counted in the app's projection.
        start, end = _midnight("2026-06-01", settings["timezone"]), _midnight("2026-07-01", settings["timezone"])
        with get_engine(demo_url).connect() as connection:
            lon, lat = np.array(
                connection.execute(
                    text("""
                SELECT ST_X(geom), ST_Y(geom) FROM incidents
                 WHERE category = 'security_hazard' AND reported_at >= :start AND reported_at < :end
                   AND status NOT IN ('rejected', 'merged')"""),
                    {"start": start, "end": end},
                ).all()
            ).T
        points = shapely.points(*to_metric.transform(lon, lat))
        for feature in sorted(features, key=lambda f: -f["properties"]["count"])[:10]:
            inside = shapely.covers(_hexagon(*_hex_centre(feature["properties"]["code"])), points).sum()
            assert inside == feature["properties"]["count"]
    # Another projection, other hexagons: none of the default's is one of the other's.
    default, other = (
        {shapely.Polygon(f["geometry"]["coordinates"][0]).centroid for f in a["features"]} for a in answers
    )
    assert all(min(c.distance(o) for o in other) > 1e-5 for c in list(default)[:50])


# -- "today" ---------------------------------------------------------------------------------------


def test_a_days_comparison_starts_at_the_apps_midnight(apps, demo_url):
    """20:00 UTC on 1 June is already 2 June in Beijing: "today" is the app's."""
    at = "2026-06-01T20:00:00+00:00"
    answers = [
        client.get("/analysis/compare", params={"preset": "day", "at": at, "unit": "town"}).json() for client in apps
    ]
    starts = {"Asia/Shanghai": _midnight("2026-06-02", "Asia/Shanghai"), "UTC": _midnight("2026-06-01", "UTC")}
    for answer, settings in zip(answers, (DEFAULT, OTHER)):
        start = starts[settings["timezone"]]
        current = answer["metadata"]["current"]
        assert datetime.fromisoformat(current["start"]) == start
        assert datetime.fromisoformat(current["end"]) == datetime.fromisoformat(at)
        assert datetime.fromisoformat(answer["metadata"]["base"]["start"]) == start - timedelta(days=1)
        assert answer["metadata"]["total"]["current"] == _count(demo_url, start, datetime.fromisoformat(at))


def test_today_without_a_moment_is_the_apps_today(apps):
    answers = [client.get("/analysis/compare", params={"preset": "day", "unit": "town"}).json() for client in apps]
    for answer, settings in zip(answers, (DEFAULT, OTHER)):
        zone = ZoneInfo(settings["timezone"])
        start = datetime.fromisoformat(answer["metadata"]["current"]["start"])
        end = datetime.fromisoformat(answer["metadata"]["current"]["end"])
        assert end.tzinfo is not None and abs(end - datetime.now(UTC)) < timedelta(minutes=5)
        assert start == datetime.combine(end.astimezone(zone).date(), datetime.min.time(), zone)


# -- tiles -----------------------------------------------------------------------------------------


def _tile_at(lon: float, lat: float, z: int) -> Tile:
    n = 1 << z
    return Tile(z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def test_a_days_incident_tile_follows_the_apps_zone(apps, demo_url):
    """The incidents layer's day filter and the times it shows are the app's zone's."""
    tile = _tile_at(*CENTRE, 13)
    got = []
    for client, settings in zip(apps, (DEFAULT, OTHER)):
        response = client.get(f"/tiles/incidents/{tile.z}/{tile.x}/{tile.y}.mvt", params=DAY)
        assert response.status_code == 200, response.text
        features = mapbox_vector_tile.decode(response.content)["incidents"]["features"]
        zone = settings["timezone"]
        with get_engine(demo_url).connect() as connection:
            expected = dict(
                connection.execute(
                    text("""
                SELECT id, to_char(reported_at AT TIME ZONE :zone, 'YYYY-MM-DD"T"HH24:MI') FROM incidents
                 WHERE ST_Intersects(geom, ST_Transform(ST_TileEnvelope(:z, :x, :y), 4490))
                   AND reported_at >= :start AND reported_at < :end"""),
                    {
                        "zone": zone,
                        "z": tile.z,
                        "x": tile.x,
                        "y": tile.y,
                        "start": _midnight(DAY["start"], zone),
                        "end": _midnight(DAY["end"], zone),
                    },
                ).all()
            )
        shown = {f["id"]: f["properties"]["reported_at"] for f in features}
        assert len(expected) > 3
        # Points on the tile's edge may be kept once by each neighbour: the tile holds at least the inside ones.
        assert set(expected) <= set(shown) and all(shown[i] == expected[i] for i in expected)
        assert all(v.startswith(("2026-06-01",)) for v in shown.values())
        got.append(set(shown))
    assert got[0] != got[1]
