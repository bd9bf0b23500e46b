"""A user's point tiles drawn with their jurisdiction's area near the tile, against the whole area.

    python bench/bench_scoped_tiles.py                 # the city: a city-wide user, and one county's
    python bench/bench_scoped_tiles.py --tiles 120 --scale demo

A user's tile holds the features whose point their jurisdiction covers. For a layer of points the
tile is drawn with the area clipped to the tile's query box (``Jurisdiction.area_in``: nothing at
all when the area covers the box); before, the whole area went with every tile's query, the
city's outline included (hundreds of kilobytes, sent, parsed and prepared each time). Both ways
here, side by side, on the same random tiles at incidents' places (``geo_service.tiles.mvt``'s
``render_tile`` on one connection, so the HTTP stack is left out): the median time a tile per
point layer, the ratio, and whether both ways drew the same features, in whatever order (they must).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from scale import add_scale_argument, scale_database, scales
from sqlalchemy import text

LAYERS = {"incidents": 14, "cameras": 15, "incident_counts": 12}


def features(data: bytes) -> set:
    """A tile's features, whatever their order: (layer, id, geometry, properties)."""
    import mapbox_vector_tile

    decoded = mapbox_vector_tile.decode(data) if data else {}
    return {
        (name, f.get("id"), repr(f["geometry"]), repr(sorted(f["properties"].items())))
        for name, layer in decoded.items()
        for f in layer["features"]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiles", type=int, default=60, help="random tiles per layer and user")
    add_scale_argument(parser, default="city")
    args = parser.parse_args()
    for scale in scales(args.scale):
        with scale_database(scale) as url:
            run(url, scale, args.tiles)


def run(url: str, scale: str, count: int) -> None:
    from geo_service.auth.jurisdiction import resolve
    from geo_service.boundaries.versions import in_force
    from geo_service.db.engine import get_engine
    from geo_service.settings import Settings
    from geo_service.tiles.layers import load_layers
    from geo_service.tiles.mvt import Tile, render_tile

    settings = Settings(database_url=url)
    layers = load_layers()
    with get_engine(url).connect() as c:
        versions = in_force(c, datetime.now(timezone(timedelta(hours=8)))).ids
        counties = c.execute(text("SELECT DISTINCT county_code FROM incidents ORDER BY 1")).scalars().all()
        city = counties[0][:4] + "00000000"
        users = {f"city-wide ({city})": city, f"one county ({counties[0]})": counties[0]}
        places = c.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE county_code = :c ORDER BY md5(id::text) LIMIT :n"),
            {"c": counties[0], "n": count},
        ).all()
        print(f"{scale}: {len(places)} tiles a layer at incidents' places, medians")
        print(f"  {'user':<34} {'layer':<16} {'near ms':>8} {'whole ms':>9} {'ratio':>6}  same")
        for label, code in users.items():
            scope = resolve(c, code, settings.place.timezone)
            for name, z in LAYERS.items():
                layer = layers[name]
                whole_area = replace(layer, geometry_type="polygon")  # the way every layer was drawn
                times: dict[str, list[float]] = {"near": [], "whole": []}
                same = True
                for lon, lat in places:
                    tile = Tile.at(lon, lat, z)
                    drawn = {}
                    for way, which in (("near", layer), ("whole", whole_area)):
                        start = time.perf_counter()
                        drawn[way] = render_tile(
                            c, which, tile, version_ids=versions, place=settings.place, scope=scope
                        )
                        times[way].append(time.perf_counter() - start)
                    same &= features(drawn["near"]) == features(drawn["whole"])
                near, whole = (statistics.median(times[w]) * 1000 for w in ("near", "whole"))
                print(f"  {label:<34} {name:<16} {near:8.2f} {whole:9.2f} {whole / near:5.1f}x  {same}")


if __name__ == "__main__":
    main()
