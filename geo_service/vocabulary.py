"""The service's words: the fixed values that the schema, the library, the API, the layer checks
and the map page all speak, defined here once and read from here everywhere.

What an administrator may change (categories, sources, roles, time limits, responsibility rules)
is data in the rule tables, not here. What is here changes only with the code: the storage CRS,
the datums a coordinate may come in, the states of a case, risk colours and tiers.
"""

from __future__ import annotations

from typing import Literal, get_args

from geo_service.cases.states import ACTIONS, OPEN, OPEN_STATUSES, STATUSES

# Everything is stored in CGCS2000 (EPSG:4490): lookups, checks and tiles decide in it.
STORAGE_SRID = 4490
# The largest id a table's bigint key holds: an id above it names nothing.
LARGEST_ID = 2**63 - 1
STORAGE_CRS = f"EPSG:{STORAGE_SRID}"

# The datums coordinates arrive in; ``geo_service.coordinates.datum`` converts between them.
Datum = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
DATUMS: tuple[str, ...] = get_args(Datum)
# The datums a client's basemap may be drawn in (CGCS2000 draws as WGS84: within a metre).
DISPLAY_DATUMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

# A case's risk colour (red: likely to escalate; yellow: complex; blue: ordinary) and the tiers
# that handle it, from the village up.
RiskColour = Literal["red", "yellow", "blue"]
RISK_COLOURS: tuple[str, ...] = get_args(RiskColour)
Tier = Literal["village", "town", "county"]
TIERS: tuple[str, ...] = get_args(Tier)

# Boundary versions, units and grids.
VERSION_STATES = ("draft", "published", "retired")
ADMIN_LEVELS = ("county", "town", "village")
ADMIN_KINDS = ("county", "street", "town", "township", "community", "village")
GRID_KINDS = ("urban", "rural", "special")
UNIT_LEVELS = ("grid", "village", "town", "county")

# Cameras (their kinds are data: the camera_kinds table).
CAMERA_STATES = ("online", "offline", "fault")
MAX_CAMERA_RANGE_M = 1000

__all__ = [
    "ACTIONS",
    "ADMIN_KINDS",
    "ADMIN_LEVELS",
    "CAMERA_STATES",
    "DATUMS",
    "DISPLAY_DATUMS",
    "GRID_KINDS",
    "MAX_CAMERA_RANGE_M",
    "OPEN",
    "OPEN_STATUSES",
    "RISK_COLOURS",
    "STATUSES",
    "STORAGE_CRS",
    "STORAGE_SRID",
    "TIERS",
    "UNIT_LEVELS",
    "VERSION_STATES",
    "Datum",
    "RiskColour",
    "Tier",
]
