"""A tiny hand-made county whose every answer is known, for tests of lookups and assignment.

County 511421 (box 104.00-104.20 E, 29.95-30.05 N), one town, two villages:

* village 511421100201 (west half), version 1:
  - grid ...201001: NW square, split into level-2 grids ...001001 (west) and ...001002 (east)
  - grid ...201002: NE square
  - grid ...201003: SW square
  - grid ...201004: SE square with a hole; grid ...201005 fills the hole (an island: a school)
  The four squares meet at the vertex (104.05, 30.00).
* village 511421100202 (east half): grid ...202001 in two parts, grid ...202002.
* version 2, in force from 2026-06-01: the west village redrawn into two grids (north, south).

Officers: grid workers (one replaced on 2026-04-01), the village party secretary of the west
village only (the east village's post is vacant), a village cadre and a police officer for both.
Cameras are placed at exact geodesic offsets from ``SPOT``.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import shapely
from pyproj import Geod
from shapely import box
from sqlalchemy import text

from geo_service.db import migrate
from geo_service.db.engine import get_engine
from geo_service.rules.seed import seed_rules

BJ = ZoneInfo("Asia/Shanghai")
GEOD = Geod(ellps="WGS84")
COUNTY, TOWN = "511421000000", "511421100000"
WEST, EAST = "511421100201", "511421100202"
V1_FROM = datetime(2024, 1, 1, tzinfo=BJ)
V2_FROM = datetime(2026, 6, 1, tzinfo=BJ)

SCHOOL = box(104.07, 29.97, 104.08, 29.98)
V1_GRIDS = {
    WEST + "001": (1, box(104.00, 30.00, 104.05, 30.05)),
    WEST + "001001": (2, box(104.00, 30.00, 104.025, 30.05)),
    WEST + "001002": (2, box(104.025, 30.00, 104.05, 30.05)),
    WEST + "002": (1, box(104.05, 30.00, 104.10, 30.05)),
    WEST + "003": (1, box(104.00, 29.95, 104.05, 30.00)),
    WEST + "004": (1, box(104.05, 29.95, 104.10, 30.00).difference(SCHOOL)),
    WEST + "005": (1, SCHOOL),
    EAST + "001": (1, shapely.MultiPolygon([box(104.10, 29.95, 104.15, 30.05), box(104.15, 29.95, 104.20, 29.98)])),
    EAST + "002": (1, box(104.15, 29.98, 104.20, 30.05)),
}
V2_GRIDS = {
    WEST + "001": (1, box(104.00, 30.00, 104.10, 30.05)),
    WEST + "002": (1, box(104.00, 29.95, 104.10, 30.00)),
    EAST + "001": V1_GRIDS[EAST + "001"],
    EAST + "002": V1_GRIDS[EAST + "002"],
}

# A spot in grid ...201001's east half, and cameras around it at known distances and bearings.
SPOT = (104.04, 30.02)


def offset(point: tuple[float, float], bearing_deg: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(point[0], point[1], bearing_deg, metres)
    return lon, lat


CAMERAS = [
    # (code, kind, status, position, heading, fov, range): the first three are aimed at SPOT.
    (
        "51142100001310000001",
        "xueliang",
        "online",
        offset(SPOT, 270, 50),
        90.0,
        60.0,
        100.0,
    ),  # 50 m west, facing east: sees
    (
        "51142100001310000002",
        "zongzhi",
        "offline",
        offset(SPOT, 0, 30),
        0.0,
        360.0,
        50.0,
    ),  # dome 30 m north, offline: sees
    (
        "51142100001310000003",
        "tianwang",
        "online",
        offset(SPOT, 90, 150),
        270.0,
        90.0,
        100.0,
    ),  # 150 m east, range 100: no
    (
        "51142100001310000004",
        "xueliang",
        "online",
        offset(SPOT, 180, 40),
        180.0,
        60.0,
        150.0,
    ),  # 40 m south facing away: no
    ("51142100001310000005", "zongzhi", "online", offset(SPOT, 45, 2000), 225.0, 90.0, 100.0),  # 2 km away: not listed
]


def _multi(geometry):
    return geometry if geometry.geom_type == "MultiPolygon" else shapely.MultiPolygon([geometry])


def build(url: str) -> None:
    """Migrate the empty database at ``url`` and fill it with the tiny county."""
    migrate.upgrade(url)
    engine = get_engine(url)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            seed_rules(cursor)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as c:
        for name, start, grids in (("v1", V1_FROM, V1_GRIDS), ("v2", V2_FROM, V2_GRIDS)):
            # Written as a draft and published once complete: a published version takes no new rows.
            version = c.execute(
                text("INSERT INTO boundary_versions (name, status) VALUES (:n, 'draft') RETURNING id"), {"n": name}
            ).scalar_one()
            unit_ids = {}
            for code, level, kind, parent, geom in (
                (COUNTY, "county", "county", None, box(104.00, 29.95, 104.20, 30.05)),
                (TOWN, "town", "town", COUNTY, box(104.00, 29.95, 104.20, 30.05)),
                (WEST, "village", "village", TOWN, box(104.00, 29.95, 104.10, 30.05)),
                (EAST, "village", "village", TOWN, box(104.10, 29.95, 104.20, 30.05)),
            ):
                unit_ids[code] = c.execute(
                    text("""
                    INSERT INTO admin_units (version_id, code, level, kind, name, parent_id, geom)
                    VALUES (:v, :code, :level, :kind, :name, :parent, ST_GeomFromText(:wkt, 4490)) RETURNING id
                """),
                    {
                        "v": version,
                        "code": code,
                        "level": level,
                        "kind": kind,
                        "name": f"单元{code[-3:]}",
                        "parent": unit_ids.get(parent),
                        "wkt": _multi(geom).wkt,
                    },
                ).scalar_one()
            grid_ids = {}
            for code in sorted(grids, key=len):
                level, geom = grids[code]
                grid_ids[code] = c.execute(
                    text("""
                    INSERT INTO grids (version_id, code, name, level, kind, parent_id, village_id, geom)
                    VALUES (:v, :code, :name, :level, 'rural', :parent, :village, ST_GeomFromText(:wkt, 4490))
                    RETURNING id
                """),
                    {
                        "v": version,
                        "code": code,
                        "name": f"{name}网格{code[9:]}",
                        "level": level,
                        "parent": grid_ids.get(code[:-3]) if level > 1 else None,
                        "village": unit_ids[code[:12]],
                        "wkt": _multi(geom).wkt,
                    },
                ).scalar_one()
            c.execute(
                text("UPDATE boundary_versions SET status = 'published', effective_from = :f WHERE id = :v"),
                {"v": version, "f": start},
            )
        officers = [
            ("W1", "网格员甲", "13900000001", "grid_worker", WEST + "001", date(2024, 1, 1), None),
            ("W2a", "网格员乙", "13900000002", "grid_worker", WEST + "002", date(2024, 1, 1), date(2026, 3, 31)),
            ("W2b", "网格员丙", "13900000003", "grid_worker", WEST + "002", date(2026, 4, 1), None),
            ("W3", "网格员丁", "13900000004", "grid_worker", WEST + "003", date(2024, 1, 1), None),
            ("W5", "网格员戊", "13900000005", "grid_worker", EAST + "001", date(2024, 1, 1), None),
            ("S1", "书记甲", "13900000011", "village_party_secretary", WEST, date(2024, 1, 1), None),
            ("C1", "包村干部", "13900000021", "village_cadre", WEST, date(2024, 1, 1), None),
            ("C1", "包村干部", "13900000021", "village_cadre", EAST, date(2024, 1, 1), None),
            ("P1", "民警甲", "13900000031", "community_police", WEST, date(2024, 1, 1), None),
            ("P1", "民警甲", "13900000031", "community_police", EAST, date(2024, 1, 1), None),
            ("L1", "县领导", "13900000041", "county_leader", TOWN, date(2024, 1, 1), None),
        ]
        for code, name, phone, role, unit, start, end in officers:
            c.execute(
                text("""
                INSERT INTO officers (code, name, phone) VALUES (:code, :name, :phone)
                ON CONFLICT (code) DO NOTHING
            """),
                {"code": code, "name": name, "phone": phone},
            )
            c.execute(
                text("""
                INSERT INTO officer_assignments (officer_id, role, unit_code, valid_from, valid_to)
                VALUES ((SELECT id FROM officers WHERE code = :code), :role, :unit, :start, :end)
            """),
                {"code": code, "role": role, "unit": unit, "start": start, "end": end},
            )
        for device, kind, status, (lon, lat), heading, fov, reach in CAMERAS:
            c.execute(
                text("""
                INSERT INTO cameras (device_code, name, kind, status, heading_deg, fov_deg, range_m, geom)
                VALUES (:d, :d, :kind, :status, :h, :f, :r, ST_SetSRID(ST_MakePoint(:lon, :lat), 4490))
            """),
                {
                    "d": device,
                    "kind": kind,
                    "status": status,
                    "h": heading,
                    "f": fov,
                    "r": reach,
                    "lon": lon,
                    "lat": lat,
                },
            )
