"""Map layers: declared in tiles/, cut into vector tiles by PostGIS, described by TileJSON and a style."""
