"""Folium maps: self-contained offline HTML, colours, the datum shift, lookups and declared layers."""

from __future__ import annotations

import json
import re
from datetime import date
from html.parser import HTMLParser

import folium
import geopandas
import pytest
import shapely
from sqlalchemy import text

from geo_service import maps
from geo_service.coordinates import datum
from geo_service.errors import InvalidInput
from geo_service.lookup.locate import locate
from geo_service.settings import Settings

PLACE = Settings().place  # the county's zone and metric projection, as a notebook builds them


class AssetLinks(HTMLParser):
    """Every script source and stylesheet link of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if attrs.get("src"):
                self.scripts.append(attrs["src"])
            else:
                self.inline_scripts += 1
        if tag == "link" and "stylesheet" in (attrs.get("rel") or ""):
            self.styles.append(attrs.get("href", ""))


def links(page: str) -> AssetLinks:
    parser = AssetLinks()
    parser.feed(page)
    return parser


def frame() -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame(
        {
            "code": ["a", "b", "c"],
            "kind": ["urban", "rural", "urban"],
            "count": [1, 50, 100],
            "when": geopandas.pd.to_datetime(["2026-01-01", "2026-02-01", None]),
        },
        geometry=[
            shapely.box(104.0, 30.0, 104.1, 30.1),
            shapely.box(104.1, 30.0, 104.2, 30.1),
            shapely.Point(104.05, 30.15),
        ],
        crs=4490,
    )


def geojson_layers(page: str) -> list[dict]:
    """The GeoJSON data folium wrote into the page."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(page, match.end())[0] for match in re.finditer(r"geo_json_\w+_add\((?=\{)", page)]


def test_a_saved_map_loads_nothing_from_the_internet(tmp_path):
    path = maps.save_html(
        maps.frame_map(frame(), name="grids", column="kind", tooltip=["code", "when"]), tmp_path / "out" / "grids.html"
    )
    page = path.read_text(encoding="utf-8")
    assets = links(page)
    assert assets.scripts == [] and assets.styles == []  # everything inline
    assert assets.inline_scripts >= 2 and "L.map(" in page  # Leaflet itself and the map
    assert "url(data:image/png;base64," in page  # Leaflet's images, inlined into its stylesheet


def test_to_html_refuses_a_map_that_links_a_cdn():
    with pytest.raises(RuntimeError, match="from the internet.*cdn"):
        maps.to_html(folium.Map(tiles=None))


def test_categorical_colours_are_applied_and_a_legend_drawn():
    page = maps.to_html(maps.frame_map(frame(), column="kind", colours={"urban": "#123456", "rural": "#abcdef"}))
    (data,) = geojson_layers(page)
    fills = {f["properties"]["kind"]: f["properties"]["__fill"] for f in data["features"]}
    assert fills == {"urban": "#123456", "rural": "#abcdef"}
    assert "kind</b>" in page and "#abcdef" in page


def test_numeric_columns_are_coloured_on_a_colour_map():
    page = maps.to_html(maps.frame_map(frame(), column="count", colours="Blues"))
    (data,) = geojson_layers(page)
    fills = [f["properties"]["__fill"] for f in sorted(data["features"], key=lambda f: f["properties"]["count"])]
    assert len(set(fills)) == 3  # low, middle and high differ
    with pytest.raises(InvalidInput) as caught:
        maps.frame_map(frame(), column="count", colours="NoSuchMap")
    assert caught.value.field == "colours"


@pytest.mark.parametrize(("kwargs", "field"), [({"column": "nope"}, "column"), ({"tooltip": ["code", "x"]}, "tooltip")])
def test_unknown_columns_are_named(kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        maps.frame_map(frame(), **kwargs)
    assert caught.value.field == field


def test_a_frame_without_crs_is_refused():
    with pytest.raises(InvalidInput, match="no CRS"):
        maps.frame_map(frame().set_crs(None, allow_override=True))


def test_frames_are_reprojected_and_shifted_onto_a_gcj02_basemap():
    projected = frame().to_crs(4544)  # metric: drawn in lon/lat all the same
    plain = geojson_layers(maps.to_html(maps.frame_map(projected)))[0]
    x, y = plain["features"][2]["geometry"]["coordinates"]
    assert (x, y) == pytest.approx((104.05, 30.15), abs=1e-7)

    m = maps.base_map(
        (104.0, 30.0, 104.2, 30.2), datum="gcj02", tiles="http://tiles.intranet/{z}/{x}/{y}.png", attr="intranet"
    )
    maps.add_frame(m, frame(), name="shifted")
    shifted = geojson_layers(maps.to_html(m))[0]
    expected = datum.convert(104.05, 30.15, "wgs84", "gcj02")
    assert tuple(shifted["features"][2]["geometry"]["coordinates"]) == pytest.approx(expected, abs=1e-9)


def test_a_lookup_map_shows_the_grid_the_point_and_the_cameras(engine, settings):
    result = locate(engine, 104.10, 30.00, settings=settings).to_dict()
    assert result["grid"] and result["cameras"]
    page = maps.to_html(maps.lookup_map(result, engine))
    data = geojson_layers(page)
    grid, cameras, point = data
    assert [f["properties"]["code"] for f in grid["features"]] == [result["grid"]["code"]]
    outline = shapely.geometry.shape(grid["features"][0]["geometry"])
    assert outline.covers(
        shapely.Point(result["point"]["lon"], result["point"]["lat"]).buffer(-1e-9)
        or shapely.Point(result["point"]["lon"], result["point"]["lat"])
    )
    drawn = {f["properties"]["device_code"]: f["properties"]["sees"] for f in cameras["features"]}
    assert drawn == {c["device_code"]: "sees the point" if c["sees"] else "nearby" for c in result["cameras"]}
    assert point["features"][0]["properties"]["grid"] == result["grid"]["code"]
    assert links(page).scripts == []


def test_a_declared_layer_as_a_folium_map(engine):
    bbox = (104.05, 29.95, 104.15, 30.05)
    page = maps.to_html(maps.layer_map(engine, "grids", bbox=bbox, place=PLACE))
    (data,) = geojson_layers(page)
    expected = (
        engine.connect()
        .execute(
            text("SELECT count(*) FROM grids WHERE version_id = 1 AND geom && ST_MakeEnvelope(:w, :s, :e, :n, 4490)"),
            dict(zip("wsen", bbox)),
        )
        .scalar()
    )
    assert len(data["features"]) == expected > 10
    counts = geojson_layers(
        maps.to_html(
            maps.layer_map(
                engine, "incident_counts", bbox=bbox, start=date(2026, 5, 1), category=["dispute"], place=PLACE
            )
        )
    )[0]
    assert all(f["properties"]["count"] >= 1 for f in counts["features"])
    with pytest.raises(InvalidInput, match="no layer 'roads'"):
        maps.layer_map(engine, "roads", place=PLACE)
