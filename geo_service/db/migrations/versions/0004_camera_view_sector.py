"""A camera's view sector as a polygon, for maps: one SQL function that tiles and folium maps share.

The sector is the one ``geo_service.lookup.cameras`` tests points against: centred on the camera,
``range_m`` on the spheroid, ``fov_deg`` wide around ``heading_deg`` (clockwise from north); a
camera with a full circle of view gets a circle. Arc vertices are at most 5 degrees apart.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # search_path is pinned so the function behaves the same whatever the caller's search_path.
    op.execute("""
        CREATE FUNCTION camera_view_sector(
            location geometry, heading_deg double precision, fov_deg double precision, range_m double precision
        ) RETURNS geometry
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        SET search_path = public, pg_temp
        AS $$
            SELECT CASE
              WHEN fov_deg >= 360 THEN
                ST_SetSRID(ST_Buffer(location::geography, range_m, 'quad_segs=18')::geometry, ST_SRID(location))
              ELSE ST_MakePolygon(ST_MakeLine(
                ARRAY[location]
                || ARRAY(SELECT ST_SetSRID(ST_Project(location::geography, range_m,
                                  radians(heading_deg - fov_deg / 2 + fov_deg * k / n))::geometry, ST_SRID(location))
                           FROM (SELECT greatest(2, ceil(fov_deg / 5))::int AS n) steps,
                                generate_series(0, steps.n) AS k
                          ORDER BY k)
                || ARRAY[location]))
            END
        $$
    """)


def downgrade() -> None:
    op.execute("DROP FUNCTION camera_view_sector(geometry, double precision, double precision, double precision)")
