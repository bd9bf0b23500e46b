"""Any version's boundaries as a file again, in the datum the planner's tools use."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.boundaries.versions import find_version
from geo_service.coordinates.datum import convert_geoseries, parse_datum
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.vocabulary import STORAGE_CRS

FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}
# GCJ-02 and BD-09 have no EPSG code: files in them say EPSG:4326, as AMap's and Baidu's tools expect.
FILE_CRS = {"cgcs2000": STORAGE_CRS, "wgs84": "EPSG:4326", "gcj02": "EPSG:4326", "bd09": "EPSG:4326"}
LAYERS = {
    "grids": """
        SELECT g.code, g.name, g.level, g.kind, v.code AS village_code, p.code AS parent_code,
               g.households, g.population, g.geom
          FROM grids g JOIN admin_units v ON v.id = g.village_id LEFT JOIN grids p ON p.id = g.parent_id
         WHERE g.version_id = :v ORDER BY g.level, g.code
    """,
    "villages": """
        SELECT u.code, u.name, u.kind, p.code AS town_code, u.urban, u.households, u.population, u.geom
          FROM admin_units u JOIN admin_units p ON p.id = u.parent_id
         WHERE u.version_id = :v AND u.level = 'village' ORDER BY u.code
    """,
    "towns": """
        SELECT u.code, u.name, u.kind, u.households, u.population, u.geom
          FROM admin_units u WHERE u.version_id = :v AND u.level = 'town' ORDER BY u.code
    """,
    "county": """
        SELECT u.code, u.name, u.households, u.population, u.geom
          FROM admin_units u WHERE u.version_id = :v AND u.level = 'county'
    """,
}


def version_layer(connection: Connection, version_id: int, layer: str, datum: str = "cgcs2000") -> gpd.GeoDataFrame:
    """One layer (grids, villages, towns, county) of a version, in ``datum``."""
    datum = parse_datum(datum)
    frame = gpd.read_postgis(text(LAYERS[layer]), connection, geom_col="geom", params={"v": version_id})
    frame = frame.set_crs(STORAGE_CRS, allow_override=True)
    if datum in ("gcj02", "bd09"):
        frame["geom"] = convert_geoseries(frame.geometry, "cgcs2000", datum)
    return frame.set_crs(FILE_CRS[datum], allow_override=True)


def export_version(
    engine: Engine,
    ref: int | str,
    path: str | Path,
    *,
    datum: str = "cgcs2000",
    layers: list[str] | None = None,
) -> Path:
    """Write a version to GeoJSON (its grids) or GeoPackage (county, towns, villages and grids).

    The grids' columns are the ones :func:`geo_service.boundaries.file_reading.read_boundary_file`
    reads, so an exported file can be edited and imported again.
    """
    path = Path(path)
    driver = FORMATS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInput(t("{name}: export to .geojson or .gpkg", name=path.name), field="out")
    layers = layers or (["grids"] if driver == "GeoJSON" else ["county", "towns", "villages", "grids"])
    unknown = [layer for layer in layers if layer not in LAYERS]
    if unknown or (driver == "GeoJSON" and len(layers) > 1):
        raise InvalidInput(
            t(
                "layers: {value}; choose from {LAYERS}",
                value=", ".join(unknown) or "a GeoJSON file holds one layer",
                LAYERS=", ".join(LAYERS),
            ),
            field="layers",
        )
    with engine.connect() as connection:
        version = find_version(connection, ref)
        frames = {layer: version_layer(connection, version.id, layer, datum) for layer in layers}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    for layer, frame in frames.items():
        frame.to_file(path, layer=layer if driver == "GPKG" else None, driver=driver, engine="pyogrio")
    return path
