"""The analysis endpoints: GeoJSON the map page can overlay, the same answers as the library, and a
422 naming the field for each bad parameter."""

from __future__ import annotations

import pytest

from geo_service.analysis import hotspots, incident_filter, make_span
from geo_service.settings import Settings

# The county's zone and metric projection, as the app over these tests reads them (a face builds settings).
PLACE = Settings().place
ZONE = PLACE.timezone

YEAR = {"start": "2025-11-17", "end": "2026-11-16"}
CLASSES = {"hot 99%", "hot 95%", "hot 90%", "cold 99%", "cold 95%", "cold 90%", "not significant"}


def _features(response) -> list[dict]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["metadata"]["crs"].startswith("EPSG:4490")
    return body["features"]


def test_hotspots_layer_for_the_map(client, engine):
    response = client.get("/analysis/hotspots", params={**YEAR, "category": "security_hazard", "unit": "grid"})
    features = _features(response)
    assert len(features) == 1019
    for feature in features:
        assert {"code", "count", "gi_z", "p_value", "p_fdr", "class"} <= set(feature["properties"])
        assert feature["properties"]["class"] in CLASSES
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        lon, lat = (
            feature["geometry"]["coordinates"][0][0][0]
            if feature["geometry"]["type"] == "MultiPolygon"
            else feature["geometry"]["coordinates"][0][0]
        )
        assert 103.5 < lon < 104.6 and 29.5 < lat < 30.4  # lon/lat order, in the county
    with engine.connect() as connection:
        where = incident_filter(connection, make_span(*YEAR.values(), zone=ZONE), ["security_hazard"])
    library = hotspots(engine, where, "grid", place=PLACE).set_index("code")
    by_code = {f["properties"]["code"]: f["properties"] for f in features}
    for code, row in library.iterrows():
        assert by_code[code]["class"] == row["class"] and by_code[code]["count"] == row["count"]
    assert response.json()["metadata"]["weights"].startswith("queen")


def test_hexagon_hotspots_and_density(client):
    features = _features(
        client.get(
            "/analysis/hotspots",
            params={
                **YEAR,
                "category": "dispute",
                "unit": "hex",
                "size_m": 400,
                "significant_only": True,
                "permutations": 0,
            },
        )
    )
    assert features and all(f["properties"]["class"] != "not significant" for f in features)
    density = _features(client.get("/analysis/density", params={**YEAR, "category": "dispute", "size_m": 400}))
    towns = _features(client.get("/analysis/counts", params={**YEAR, "category": "dispute", "unit": "town"}))
    assert sum(f["properties"]["count"] for f in density) == sum(f["properties"]["count"] for f in towns) > 4000
    assert all(f["properties"]["count"] > 0 and f["properties"]["per_km2"] > 0 for f in density)


@pytest.mark.parametrize(
    ("path", "params", "property_"),
    [
        ("/analysis/counts", {"unit": "town"}, "per_1000"),
        ("/analysis/kde", {"cell_m": 1000, "category": "dispute"}, "density_per_km2"),
        ("/analysis/clusters", {"category": "security_hazard", "eps_m": 150, "min_points": 15}, "main_category"),
        ("/analysis/emerging", {"category": "dispute", "step_days": 28, "with_pattern_only": True}, "pattern"),
        ("/analysis/compare", {"preset": "week", "at": "2026-11-12T15:00", "unit": "town"}, "direction"),
        (
            "/analysis/compare",
            {
                "base_start": "2026-05-01",
                "base_end": "2026-06-01",
                "current_start": "2026-06-01",
                "current_end": "2026-07-01",
                "category": "dispute,emergency",
            },
            "p_fdr",
        ),
        ("/analysis/coverage", {"category": "security_hazard"}, "share_seen"),
    ],
)
def test_each_endpoint_answers_geojson(client, path, params, property_):
    features = _features(
        client.get(path, params={**YEAR, **params} if "preset" not in params and "base_start" not in params else params)
    )
    assert features and all(property_ in f["properties"] for f in features)


def test_rankings_table(client):
    response = client.get("/analysis/rankings", params={**YEAR, "level": "town", "as_of": "2026-11-16"})
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert len(rows) == 30 and [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
    assert {
        "code",
        "name",
        "cases",
        "handled_rate",
        "closed_rate",
        "overdue_rate",
        "median_hours_to_close",
        "satisfaction",
    } <= set(rows[0])


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/analysis/hotspots", {"unit": "province"}, "unit"),
        ("/analysis/hotspots", {"confidence": "0.8"}, "confidence"),
        ("/analysis/hotspots", {"unit": "hex", "size_m": 5}, "size_m"),
        ("/analysis/hotspots", {"unit": "hex", "value": "per_1000"}, "value"),
        ("/analysis/hotspots", {"category": "nonsense"}, "category"),
        ("/analysis/hotspots", {"start": "2026-06-01", "end": "2026-05-01"}, "start"),
        ("/analysis/hotspots", {"start": "not-a-date"}, "start"),
        ("/analysis/emerging", {"start": "2026-10-01", "end": "2026-11-01"}, "step_days"),
        ("/analysis/compare", {"base_start": "2026-05-01"}, "base_end"),
        ("/analysis/compare", {"preset": "decade"}, "preset"),
        ("/analysis/rankings", {"order_by": "speed"}, "order_by"),
        ("/analysis/kde", {"cell_m": 1}, "cell_m"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(client, path, params, field):
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    named = body.get("field") or [part for error in body.get("detail", []) for part in error["loc"]]
    assert field in named, body
