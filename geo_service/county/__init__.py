"""A county's own data: its outline, towns, villages, grids, roster, cameras and past cases,
loaded from the files the county holds (zipped Shapefiles, GeoPackages, GeoJSON, CSV, Excel).

``load.import_county`` is the entry point (``geo-service county import``); ``sources`` reads the
files, ``fields`` recognises what each holds, ``report`` says what was found and what is wrong.
"""
