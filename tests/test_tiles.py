"""Vector tiles of the declared layers, decoded and checked against the database."""

from __future__ import annotations

import math
from pathlib import Path
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import numpy as np
import pytest
import shapely.geometry
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_service.api.app import create_app
from geo_service.coordinates import datum
from geo_service.db.engine import get_engine
from geo_service.lookup.cameras import cameras_seeing
from geo_service.settings import Settings
from geo_service.tiles.layers import LAYERS_DIR, LayerError, load_layers, parse_layer
from geo_service.tiles.mvt import Tile, lonlat_to_mercator
from geo_service.vocabulary import STATUSES

from .conftest import signed_in

BJ = ZoneInfo("Asia/Shanghai")
CENTRE = (104.10, 30.00)  # the demo county's seat, dense with grids, cameras and incidents
ENVELOPE = "ST_Transform(ST_TileEnvelope(:z, :x, :y), 4490)"
BUFFERED = "ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 64.0 / 4096), 4490)"


def tile_at(lon: float, lat: float, z: int) -> Tile:
    return Tile.at(lon, lat, z)


def get_tile(client, layer: str, tile: Tile, **query):
    return client.get(f"/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.mvt", params=query)


def features(response, layer: str) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.content)[layer]["features"]


# -- declarations ------------------------------------------------------------------------------


def test_every_declared_layer_loads():
    layers = load_layers()
    assert {"towns", "villages", "grids", "cameras", "camera_sectors", "incident_counts", "incidents"} <= set(layers)
    assert all(layer.path.parent == LAYERS_DIR for layer in layers.values())
    # The statuses a layer filters by are the service's own (geo_service.vocabulary), not a copy.
    assert all(
        layer.parameters["status"].choices == STATUSES for layer in layers.values() if "status" in layer.parameters
    )


GOOD = """
title = "t"
geometry_type = "polygon"
minzoom = 5
[source]
table = "grids"
[properties]
code = "string"
[[style]]
type = "line"
"""


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (("minzoom = 5", "minzoom = 30"), "minzoom", "from 0 to 24"),
        (("minzoom = 5", "minzoom = 5\nmaxzoom = 3"), "minzoom", "above maxzoom"),
        (('geometry_type = "polygon"', 'geometry_type = "blob"'), "geometry_type", "not one of"),
        (('table = "grids"', 'sql = "SELECT * FROM grids"'), "source.sql", ":bbox"),
        (('table = "grids"', 'table = "grids; DROP TABLE grids"'), "source.table", "plain table"),
        (('code = "string"', 'code = "text"'), "properties.code", "not one of"),
        (('type = "line"', 'type = "symbol"'), "style[0].type", "glyphs"),
        (('title = "t"', 'title = "t"\ncolour = 1'), "colour", "not a known field"),
        (('title = "t"', 'title = "t"\ntooltip = ["nope"]'), "tooltip", "not one of the layer's properties"),
        (("[source]", "[source]\nwhere = 1"), "source.where", "SQL condition"),
        (
            ('type = "line"', 'type = "line"\n[parameters.since]\ntype = "datetime"'),
            "parameters.since",
            "never uses :since",
        ),
        (
            (
                'table = "grids"',
                'sql = "SELECT * FROM grids WHERE geom && :bbox AND kind = ANY(:kind)"\n'
                '[parameters.kind]\ntype = "string_list"\nvocabulary = "colours"',
            ),
            "parameters.kind.vocabulary",
            "not one of",
        ),
        (('title = "t"', "title = [1"), "TOML", ""),
    ],
)
def test_a_broken_layer_file_is_refused_naming_file_and_field(tmp_path: Path, change, field, reason):
    path = tmp_path / "broken.toml"
    path.write_text(GOOD.replace(*change, 1))
    with pytest.raises(LayerError) as caught:
        parse_layer(path)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"broken.toml: {field}:")
    assert reason in caught.value.reason


def test_the_good_declaration_parses(tmp_path: Path):
    path = tmp_path / "good_layer.toml"
    path.write_text(GOOD)
    layer = parse_layer(path)
    assert (layer.name, layer.minzoom, layer.maxzoom, layer.properties) == ("good_layer", 5, 22, {"code": "string"})


def test_the_service_refuses_to_start_with_a_broken_layer(demo_url, tmp_path, monkeypatch):
    from geo_service.tiles import layers

    (tmp_path / "bad.toml").write_text(GOOD.replace('geometry_type = "polygon"', ""))
    monkeypatch.setattr(layers, "LAYERS_DIR", tmp_path)
    with pytest.raises(LayerError, match="bad.toml: geometry_type: is required"):
        with TestClient(create_app(Settings(database_url=demo_url))):
            pass


# -- tiles against the database --------------------------------------------------------------------


@pytest.mark.parametrize("z", [11, 13, 15])
def test_grid_tiles_hold_exactly_the_grids_of_the_tile_with_their_properties(client, engine, z):
    tile = tile_at(*CENTRE, z)
    got = {f["properties"]["code"]: f for f in features(get_tile(client, "grids", tile), "grids")}
    with engine.connect() as connection:
        rows = (
            connection.execute(
                text(f"""
            SELECT g.id, g.code, g.name, g.level, g.kind, v.code AS village_code,
                   ST_Intersects(g.geom, {ENVELOPE}) AS inside
              FROM grids g JOIN admin_units v ON v.id = g.village_id
             WHERE g.version_id = 1 AND ST_Intersects(g.geom, {BUFFERED})
        """),
                {"z": z, "x": tile.x, "y": tile.y},
            )
            .mappings()
            .all()
        )
    inside = {r["code"] for r in rows if r["inside"]}
    assert len(inside) > 3
    # Every grid in the tile, and besides them only grids reaching into its 64-unit buffer.
    assert inside <= set(got) <= {r["code"] for r in rows}
    for row in (r for r in rows if r["code"] in got):
        feature = got[row["code"]]
        assert feature["id"] == row["id"]
        assert {k: feature["properties"][k] for k in ("name", "level", "kind", "village_code")} == {
            k: row[k] for k in ("name", "level", "kind", "village_code")
        }


def test_town_tiles_cover_the_county_at_low_zoom(client, engine):
    tile = tile_at(*CENTRE, 8)
    got = {f["properties"]["code"] for f in features(get_tile(client, "towns", tile), "towns")}
    assert got == {c for (c,) in engine.connect().execute(text("SELECT code FROM admin_units WHERE level = 'town'"))}


def test_incident_tiles_hold_the_filtered_incidents_of_the_tile(client, engine):
    tile = tile_at(*CENTRE, 15)
    query = {"start": "2026-06-01", "end": "2026-09-01", "category": "public_service,dispute", "status": "closed"}
    got = features(get_tile(client, "incidents", tile, **query), "incidents")
    with engine.connect() as connection:
        ids = {
            i
            for (i,) in connection.execute(
                text(f"""
            SELECT id FROM incidents
             WHERE ST_Intersects(geom, {ENVELOPE}) AND status = 'closed'
               AND category IN ('public_service', 'dispute')
               AND reported_at >= '2026-06-01 00:00+08' AND reported_at < '2026-09-01 00:00+08'
        """),
                {"z": 15, "x": tile.x, "y": tile.y},
            )
        }
    assert len(ids) > 5
    # Points on the tile's edge may be kept once by each neighbour: the tile holds at least the inside ones.
    assert ids <= {f["id"] for f in got}
    assert all(f["properties"]["status"] == "closed" for f in got)
    assert {f["properties"]["category"] for f in got} <= {"public_service", "dispute"}


def test_incident_counts_at_low_zoom_are_the_counts_per_grid(client, engine):
    tile = tile_at(*CENTRE, 11)
    got = features(
        get_tile(
            client, "incident_counts", tile, start="2026-03-01", end="2026-04-01", category="dispute,security_hazard"
        ),
        "incident_counts",
    )
    assert got
    with engine.connect() as connection:
        expected = dict(
            connection.execute(
                text("""
            SELECT top.code, count(*) FROM incidents i
              JOIN grids g ON g.id = i.grid_id
              JOIN grids top ON top.id = coalesce(g.parent_id, g.id)
             WHERE i.category IN ('dispute', 'security_hazard')
               AND i.reported_at >= '2026-03-01 00:00+08' AND i.reported_at < '2026-04-01 00:00+08'
             GROUP BY top.code
        """)
            ).all()
        )
    for feature in got:
        assert feature["properties"]["count"] == expected[feature["properties"]["code"]]
    total = sum(f["properties"]["count"] for f in got)
    assert 0 < total <= sum(expected.values())


def test_density_hexagons_count_the_incidents_inside_them(client, engine):
    tile = tile_at(*CENTRE, 14)
    got = features(
        get_tile(client, "incident_density", tile, size_m="300", start="2026-01-01", end="2026-07-01"),
        "incident_density",
    )
    assert len(got) > 10
    # Each drawn hexagon, found again from a point inside it (its drawn part's centre, in tile
    # units, y up), and its incidents counted directly.
    count_at = text("""
        WITH env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e),
             spot AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(
                          ST_XMin(e) + :px / 4096.0 * (ST_XMax(e) - ST_XMin(e)),
                          ST_YMin(e) + :py / 4096.0 * (ST_YMax(e) - ST_YMin(e))), 3857), 4544) AS p FROM env),
             hex AS (SELECT h.geom FROM spot, ST_HexagonGrid(300, ST_Expand(spot.p, 1)) h
                      WHERE ST_Intersects(h.geom, spot.p) LIMIT 1)
        SELECT count(*) FROM hex JOIN incidents i ON ST_Intersects(hex.geom, ST_Transform(i.geom, 4544))
         WHERE i.reported_at >= '2026-01-01 00:00+08' AND i.reported_at < '2026-07-01 00:00+08'
           AND i.merged_into_id IS NULL""")
    with engine.connect() as connection:
        for feature in got[:25]:
            inside = shapely.geometry.shape(feature["geometry"]).representative_point()
            expected = connection.execute(
                count_at, {"z": tile.z, "x": tile.x, "y": tile.y, "px": inside.x, "py": inside.y}
            ).scalar()
            assert feature["properties"]["count"] == expected


def test_camera_tiles_and_sectors(client, engine):
    tile = tile_at(*CENTRE, 16)
    cameras = features(get_tile(client, "cameras", tile), "cameras")
    sectors = features(get_tile(client, "camera_sectors", tile), "camera_sectors")
    with engine.connect() as connection:
        inside = {
            c
            for (c,) in connection.execute(
                text(f"SELECT device_code FROM cameras WHERE ST_Intersects(geom, {ENVELOPE})"),
                {"z": 16, "x": tile.x, "y": tile.y},
            )
        }
    assert inside and inside <= {f["properties"]["device_code"] for f in cameras}
    assert {"kind", "status", "heading_deg", "fov_deg", "range_m"} <= set(cameras[0]["properties"])
    # A camera's sector is drawn even where only the sector, not the camera, reaches into the tile.
    assert inside <= {f["properties"]["device_code"] for f in sectors}
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in sectors)


def test_the_drawn_sector_is_the_one_lookups_test_points_against(engine):
    """Points just inside and just outside each drawn sector: cameras_seeing agrees with the drawing."""
    rng = np.random.default_rng(7)
    with engine.connect() as connection:
        cams = (
            connection.execute(
                text("""
            SELECT device_code, ST_X(geom) lon, ST_Y(geom) lat, heading_deg, fov_deg, range_m
              FROM cameras WHERE fov_deg < 360 ORDER BY device_code LIMIT 400
        """)
            )
            .mappings()
            .all()
        )
        for cam in [cams[i] for i in rng.choice(len(cams), 12, replace=False)]:
            for bearing, distance, sees in [
                (cam["heading_deg"], cam["range_m"] * 0.9, True),
                (cam["heading_deg"] + cam["fov_deg"] / 2 - 3, cam["range_m"] * 0.5, True),
                (cam["heading_deg"] + cam["fov_deg"] / 2 + 3, cam["range_m"] * 0.5, False),
                (cam["heading_deg"], cam["range_m"] * 1.05, False),
            ]:
                lon, lat = connection.execute(
                    text("""
                    SELECT ST_X(p::geometry), ST_Y(p::geometry) FROM (SELECT ST_Project(
                        ST_SetSRID(ST_MakePoint(:lon, :lat), 4490)::geography, :d, radians(:b)) AS p) q
                """),
                    {"lon": cam["lon"], "lat": cam["lat"], "d": distance, "b": bearing},
                ).one()
                drawn = connection.execute(
                    text("""
                    SELECT ST_Covers(camera_view_sector(geom, heading_deg, fov_deg, range_m),
                                     ST_SetSRID(ST_MakePoint(:lon, :lat), 4490))
                      FROM cameras WHERE device_code = :code
                """),
                    {"lon": lon, "lat": lat, "code": cam["device_code"]},
                ).scalar()
                looked_up = {c.device_code: c.sees for c in cameras_seeing(connection, lon, lat, limit=100)}
                assert drawn is sees, (cam["device_code"], bearing, distance)
                assert looked_up.get(cam["device_code"], False) is sees


def test_an_empty_tile_answers_204(client):
    response = get_tile(client, "grids", tile_at(0.0, 0.0, 12))
    assert response.status_code == 204 and response.content == b""
    assert response.headers["etag"]


def test_tiles_outside_the_layers_zoom_range_are_empty(client):
    assert get_tile(client, "incidents", tile_at(*CENTRE, 10)).status_code == 204
    assert get_tile(client, "incident_counts", tile_at(*CENTRE, 14)).status_code == 204


def test_gcj02_tiles_are_shifted_as_the_datum_module_shifts_points(client, engine):
    tile = tile_at(*CENTRE, 14)
    shifted = {
        f["properties"]["device_code"]: f["geometry"]["coordinates"]
        for f in features(get_tile(client, "cameras", tile, datum="gcj02"), "cameras")
    }
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT device_code, ST_X(geom), ST_Y(geom) FROM cameras WHERE device_code = ANY(:codes)"),
            {"codes": list(shifted)},
        ).all()
    west, south, east, north = tile.mercator_bounds()
    checked = 0
    for code, lon, lat in rows:
        glon, glat = datum.convert(lon, lat, "wgs84", "gcj02")
        mx, my = lonlat_to_mercator(glon, glat)
        px, py = (mx - west) / (east - west) * 4096, (my - south) / (north - south) * 4096
        if 0 <= px < 4096 and 0 <= py < 4096:
            x, y = shifted[code]
            assert abs(x - px) <= 2 and abs(y - py) <= 2, code  # 2 units = 1.2 m at zoom 14
            checked += 1
    assert checked > 10
    plain = {
        f["properties"]["device_code"]: f["geometry"]["coordinates"]
        for f in features(get_tile(client, "cameras", tile), "cameras")
    }
    both = set(plain) & set(shifted)
    moved = [math.dist(plain[c], shifted[c]) * tile.size_m / 4096 for c in both]
    assert 100 < np.median(moved) < 800  # GCJ-02 moves points by hundreds of metres


# -- caching ---------------------------------------------------------------------------------------


def test_tiles_carry_validators_and_answer_304(client):
    tile = tile_at(*CENTRE, 13)
    first = get_tile(client, "grids", tile)
    assert first.headers["cache-control"] == "no-cache"
    again = client.get(f"/tiles/grids/13/{tile.x}/{tile.y}.mvt", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    pinned = get_tile(client, "grids", tile, version=1)
    assert "immutable" in pinned.headers["cache-control"] and pinned.content == first.content
    live = get_tile(client, "incidents", tile_at(*CENTRE, 14))
    assert live.headers["cache-control"] == "private, max-age=30"


def test_publishing_a_boundary_version_changes_tile_addresses_and_validators(demo_copy_url):
    with signed_in(demo_copy_url) as client:
        tile = tile_at(*CENTRE, 13)
        before = get_tile(client, "grids", tile)
        url_before = client.get("/tiles/grids.json").json()["tiles"][0]
        engine = get_engine(demo_copy_url)
        with engine.begin() as connection:
            new_id = connection.execute(
                text("""
                INSERT INTO boundary_versions (name, status) VALUES ('redrawn', 'draft') RETURNING id
            """)
            ).scalar()
            connection.execute(
                text("""
                INSERT INTO admin_units (version_id, code, level, kind, name, urban, population, households, geom)
                SELECT :v, code, level, kind, name, urban, population, households, geom
                  FROM admin_units WHERE level = 'county'
            """),
                {"v": new_id},
            )
            connection.execute(  # published once written: a published version takes no new rows
                text("""
                UPDATE boundary_versions SET status = 'published', effective_from = now() - interval '1 hour',
                       published_at = now()
                 WHERE id = :v
            """),
                {"v": new_id},
            )
        after = get_tile(client, "grids", tile)
        url_after = client.get("/tiles/grids.json").json()["tiles"][0]
        assert f"version={new_id}" in url_after and url_after != url_before
        assert after.headers["etag"] != before.headers["etag"]
        assert after.status_code == 204  # the new version has no grids yet
        old = get_tile(client, "grids", tile, version=1)
        assert old.status_code == 200 and old.content == before.content


# -- parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status", "field", "words"),
    [
        ("/tiles/incidents/14/0/0.mvt?category=dispute,arson", 422, "category", "unknown value 'arson'"),
        ("/tiles/incidents/14/0/0.mvt?status=open", 422, "status", "unknown value 'open'"),
        ("/tiles/incidents/14/0/0.mvt?start=2026-02-30", 422, "start", "not an ISO 8601"),
        ("/tiles/incidents/14/0/0.mvt?start=2026-03-01&end=2026-02-01", 422, "end", "not after start"),
        ("/tiles/incidents/14/0/0.mvt?colour=red", 422, "colour", "takes no such parameter"),
        ("/tiles/grids/14/0/0.mvt?datum=mars2", 422, "datum", "unknown datum"),
        ("/tiles/grids/14/0/0.mvt?version=x", 422, "version", "not a list of boundary version ids"),
        ("/tiles/grids/14/0/0.mvt?version=999", 404, "version", "no published boundary version"),
        ("/tiles/grids/3/8/0.mvt", 422, "x", "outside 0..7"),
        ("/tiles/roads/3/0/0.mvt", 404, "layer", "no map layer 'roads'"),
    ],
)
def test_bad_tile_requests_name_the_field_and_reason(client, url, status, field, words):
    response = client.get(url)
    assert response.status_code == status
    body = response.json()
    assert body["field"] == field and words in body["message"]


# -- TileJSON and style ----------------------------------------------------------------------------


def test_tilejson_describes_the_layer_and_its_fields(client):
    doc = client.get("/tiles/grids.json").json()
    assert doc["tilejson"] == "3.0.0" and (doc["minzoom"], doc["maxzoom"]) == (11, 22)
    assert doc["vector_layers"][0]["fields"]["code"] == "String"
    assert doc["tiles"][0].endswith("/tiles/grids/{z}/{x}/{y}.mvt?version=1")
    west, south, east, north = doc["bounds"]
    assert west < CENTRE[0] < east and south < CENTRE[1] < north
    incidents = client.get("/tiles/incidents.json", params={"category": "dispute"}).json()
    assert "category=dispute" in incidents["tiles"][0] and "version=" not in incidents["tiles"][0]


def test_the_style_draws_every_layer_and_carries_the_filters(client):
    style = client.get("/tiles/style.json", params={"start": "2026-10-01", "status": "closed"}).json()
    assert style["version"] == 8
    assert set(style["sources"]) == set(load_layers())
    assert "start=2026-10-01" in style["sources"]["incidents"]["tiles"][0]
    assert "start=" not in style["sources"]["grids"]["tiles"][0]
    kinds = [layer["type"] for layer in style["layers"][1:]]
    assert kinds == sorted(kinds, key=["fill", "line", "circle"].index)  # fills under lines under points
    assert "glyphs" not in style and "sprite" not in style
    assert client.get("/tiles/style.json", params={"category": "nope"}).status_code == 422


def test_a_gcj02_basemap_from_the_settings_shifts_the_styles_tiles(demo_url):
    with signed_in(demo_url, basemap_url="http://tiles.intranet/{z}/{x}/{y}.png", basemap_datum="gcj02") as client:
        style = client.get("/tiles/style.json").json()
        config = client.get("/map/config.json").json()
    assert style["sources"]["basemap"]["tiles"] == ["http://tiles.intranet/{z}/{x}/{y}.png"]
    assert style["layers"][1]["id"] == "basemap"
    assert all("datum=gcj02" in s["tiles"][0] for name, s in style["sources"].items() if name != "basemap")
    assert config["datum"] == "gcj02" and config["basemap"] is True
