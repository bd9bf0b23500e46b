"""Initial schema: boundary versions, admin units, grids, officers and rules, cameras,
incidents with their timeline and bound officers, the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:16:32.154226
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_entity_entity_id", "audit_log", ["entity", "entity_id"], unique=False)
    op.create_table(
        "boundary_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status = 'draft' OR effective_from IS NOT NULL", name=op.f("ck_boundary_versions_published_has_date")
        ),
        sa.CheckConstraint("status IN ('draft', 'published', 'retired')", name=op.f("ck_boundary_versions_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boundary_versions")),
        sa.UniqueConstraint("name", name=op.f("uq_boundary_versions_name")),
    )
    op.create_index(
        "uq_boundary_versions_effective_from",
        "boundary_versions",
        ["effective_from"],
        unique=True,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_geospatial_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("heading_deg", sa.Float(), nullable=False),
        sa.Column("fov_deg", sa.Float(), nullable=False),
        sa.Column("range_m", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=8), server_default="online", nullable=False),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("device_code ~ '^\\d{20}$'", name=op.f("ck_cameras_device_code_format")),
        sa.CheckConstraint("kind IN ('xueliang', 'tianwang', 'zongzhi')", name=op.f("ck_cameras_kind")),
        sa.CheckConstraint("status IN ('online', 'offline', 'fault')", name=op.f("ck_cameras_status")),
        sa.CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name=op.f("ck_cameras_fov")),
        sa.CheckConstraint("heading_deg >= 0 AND heading_deg < 360", name=op.f("ck_cameras_heading")),
        sa.CheckConstraint("range_m > 0", name=op.f("ck_cameras_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("device_code", name=op.f("uq_cameras_device_code")),
    )
    op.create_geospatial_index(
        "ix_cameras_geom", "cameras", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_table(
        "categories",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_categories")),
    )
    op.create_table(
        "officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officers")),
        sa.UniqueConstraint("code", name=op.f("uq_officers_code")),
    )
    op.create_table(
        "roles",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("unit_level", sa.String(length=8), nullable=False),
        sa.CheckConstraint("unit_level IN ('grid', 'village', 'town', 'county')", name=op.f("ck_roles_unit_level")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_roles")),
    )
    op.create_table(
        "service_meta",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_service_meta")),
    )
    op.create_table(
        "sources",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_sources")),
    )
    op.create_geospatial_table(
        "admin_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("urban", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("population", sa.Integer(), server_default="0", nullable=False),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("(level = 'county') = (parent_id IS NULL)", name=op.f("ck_admin_units_parent_by_level")),
        sa.CheckConstraint("code ~ '^\\d{12}$'", name=op.f("ck_admin_units_code_format")),
        sa.CheckConstraint(
            "kind IN ('county', 'street', 'town', 'township', 'community', 'village')", name=op.f("ck_admin_units_kind")
        ),
        sa.CheckConstraint("level IN ('county', 'town', 'village')", name=op.f("ck_admin_units_level")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["admin_units.id"], name=op.f("fk_admin_units_parent_id_admin_units"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["boundary_versions.id"],
            name=op.f("fk_admin_units_version_id_boundary_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_units")),
        sa.UniqueConstraint("version_id", "code", name=op.f("uq_admin_units_version_id_code")),
    )
    op.create_geospatial_index(
        "ix_admin_units_geom", "admin_units", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index("ix_admin_units_parent_id", "admin_units", ["parent_id"], unique=False)
    op.create_table(
        "officer_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("unit_code", sa.String(length=21), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "unit_code ~ '^\\d{12}(\\d{3}){0,3}$'", name=op.f("ck_officer_assignments_unit_code_format")
        ),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_officer_assignments_dates")),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_officer_assignments_officer_id_officers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["role"], ["roles.code"], name=op.f("fk_officer_assignments_role_roles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officer_assignments")),
    )
    op.create_index("ix_officer_assignments_officer_id", "officer_assignments", ["officer_id"], unique=False)
    op.create_index("ix_officer_assignments_unit_code_role", "officer_assignments", ["unit_code", "role"], unique=False)
    op.create_table(
        "responsibility_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("risk_colour", sa.String(length=8), nullable=True),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("core", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint(
            "risk_colour IS NULL OR risk_colour IN ('red', 'yellow', 'blue')",
            name=op.f("ck_responsibility_rules_risk_colour"),
        ),
        sa.CheckConstraint("tier IN ('village', 'town', 'county')", name=op.f("ck_responsibility_rules_tier")),
        sa.ForeignKeyConstraint(["role"], ["roles.code"], name=op.f("fk_responsibility_rules_role_roles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responsibility_rules")),
    )
    op.create_index(
        "uq_responsibility_rules_slot",
        "responsibility_rules",
        ["tier", sa.literal_column("coalesce(risk_colour, '')"), "position"],
        unique=True,
    )
    op.create_table(
        "time_limit_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("risk_colour", sa.String(length=8), nullable=True),
        sa.Column("limit_hours", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "risk_colour IS NULL OR risk_colour IN ('red', 'yellow', 'blue')",
            name=op.f("ck_time_limit_rules_risk_colour"),
        ),
        sa.CheckConstraint("limit_hours > 0", name=op.f("ck_time_limit_rules_positive")),
        sa.ForeignKeyConstraint(
            ["category"], ["categories.code"], name=op.f("fk_time_limit_rules_category_categories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_limit_rules")),
    )
    op.create_index(
        "uq_time_limit_rules_match",
        "time_limit_rules",
        [sa.literal_column("coalesce(category, '')"), sa.literal_column("coalesce(risk_colour, '')")],
        unique=True,
    )
    op.create_geospatial_table(
        "grids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=21), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), server_default="rural", nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), server_default="0", nullable=False),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^\\d{15}(\\d{3}){0,2}$'", name=op.f("ck_grids_code_format")),
        sa.CheckConstraint("kind IN ('urban', 'rural', 'special')", name=op.f("ck_grids_kind")),
        sa.CheckConstraint("(level = 1) = (parent_id IS NULL)", name=op.f("ck_grids_parent_by_level")),
        sa.CheckConstraint("length(code) = 12 + 3 * level", name=op.f("ck_grids_code_matches_level")),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_grids_level")),
        sa.ForeignKeyConstraint(["parent_id"], ["grids.id"], name=op.f("fk_grids_parent_id_grids"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["boundary_versions.id"],
            name=op.f("fk_grids_version_id_boundary_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["admin_units.id"], name=op.f("fk_grids_village_id_admin_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("version_id", "code", name=op.f("uq_grids_version_id_code")),
    )
    op.create_geospatial_index(
        "ix_grids_geom", "grids", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index("ix_grids_version_id_level", "grids", ["version_id", "level"], unique=False)
    op.create_index("ix_grids_village_id", "grids", ["village_id"], unique=False)
    op.create_geospatial_table(
        "incidents",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("reporter_name", sa.Text(), nullable=True),
        sa.Column("reporter_phone", sa.String(length=20), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("input_datum", sa.String(length=8), nullable=False),
        sa.Column("input_lon", sa.Float(), nullable=False),
        sa.Column("input_lat", sa.Float(), nullable=False),
        sa.Column("boundary_version_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("grid_code", sa.String(length=21), nullable=True),
        sa.Column("village_code", sa.String(length=12), nullable=True),
        sa.Column("town_code", sa.String(length=12), nullable=True),
        sa.Column("county_code", sa.String(length=12), nullable=True),
        sa.Column("risk_colour", sa.String(length=8), server_default="blue", nullable=False),
        sa.Column("status", sa.String(length=12), server_default="reported", nullable=False),
        sa.Column("tier", sa.String(length=8), server_default="village", nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "input_datum IN ('wgs84', 'cgcs2000', 'gcj02', 'bd09')", name=op.f("ck_incidents_input_datum")
        ),
        sa.CheckConstraint("risk_colour IN ('red', 'yellow', 'blue')", name=op.f("ck_incidents_risk_colour")),
        sa.CheckConstraint(
            "status IN ('reported', 'dispatched', 'accepted', 'in_progress', 'resolved', 'closed', 'rejected', 'merged', 'reopened')",
            name=op.f("ck_incidents_status"),
        ),
        sa.CheckConstraint("tier IN ('village', 'town', 'county')", name=op.f("ck_incidents_tier")),
        sa.CheckConstraint("satisfaction BETWEEN 1 AND 5", name=op.f("ck_incidents_satisfaction")),
        sa.ForeignKeyConstraint(
            ["boundary_version_id"],
            ["boundary_versions.id"],
            name=op.f("fk_incidents_boundary_version_id_boundary_versions"),
        ),
        sa.ForeignKeyConstraint(["category"], ["categories.code"], name=op.f("fk_incidents_category_categories")),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_incidents_grid_id_grids")),
        sa.ForeignKeyConstraint(["source"], ["sources.code"], name=op.f("fk_incidents_source_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("external_id", name=op.f("uq_incidents_external_id")),
    )
    op.create_index("ix_incidents_category_reported_at", "incidents", ["category", "reported_at"], unique=False)
    op.create_geospatial_index(
        "ix_incidents_geom", "incidents", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index("ix_incidents_grid_code", "incidents", ["grid_code"], unique=False)
    op.create_index("ix_incidents_reported_at", "incidents", ["reported_at"], unique=False)
    op.create_index("ix_incidents_status_deadline", "incidents", ["status", "deadline"], unique=False)
    op.create_index("ix_incidents_town_code", "incidents", ["town_code"], unique=False)
    op.create_index("ix_incidents_village_code", "incidents", ["village_code"], unique=False)
    op.create_table(
        "incident_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_events_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    op.create_index("ix_incident_events_incident_id_at", "incident_events", ["incident_id", "at"], unique=False)
    op.create_table(
        "incident_officers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("unit_code", sa.String(length=21), nullable=True),
        sa.Column("bound_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("tier IN ('village', 'town', 'county')", name=op.f("ck_incident_officers_tier")),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_officers_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"], name=op.f("fk_incident_officers_officer_id_officers")),
        sa.ForeignKeyConstraint(["role"], ["roles.code"], name=op.f("fk_incident_officers_role_roles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_officers")),
    )
    op.create_index("ix_incident_officers_incident_id", "incident_officers", ["incident_id"], unique=False)
    op.create_index("ix_incident_officers_officer_id", "incident_officers", ["officer_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_incident_officers_officer_id", table_name="incident_officers")
    op.drop_index("ix_incident_officers_incident_id", table_name="incident_officers")
    op.drop_table("incident_officers")
    op.drop_index("ix_incident_events_incident_id_at", table_name="incident_events")
    op.drop_table("incident_events")
    op.drop_index("ix_incidents_village_code", table_name="incidents")
    op.drop_index("ix_incidents_town_code", table_name="incidents")
    op.drop_index("ix_incidents_status_deadline", table_name="incidents")
    op.drop_index("ix_incidents_reported_at", table_name="incidents")
    op.drop_index("ix_incidents_grid_code", table_name="incidents")
    op.drop_geospatial_index("ix_incidents_geom", table_name="incidents", postgresql_using="gist", column_name="geom")
    op.drop_index("ix_incidents_category_reported_at", table_name="incidents")
    op.drop_geospatial_table("incidents")
    op.drop_index("ix_grids_village_id", table_name="grids")
    op.drop_index("ix_grids_version_id_level", table_name="grids")
    op.drop_geospatial_index("ix_grids_geom", table_name="grids", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("grids")
    op.drop_index("uq_time_limit_rules_match", table_name="time_limit_rules")
    op.drop_table("time_limit_rules")
    op.drop_index("uq_responsibility_rules_slot", table_name="responsibility_rules")
    op.drop_table("responsibility_rules")
    op.drop_index("ix_officer_assignments_unit_code_role", table_name="officer_assignments")
    op.drop_index("ix_officer_assignments_officer_id", table_name="officer_assignments")
    op.drop_table("officer_assignments")
    op.drop_index("ix_admin_units_parent_id", table_name="admin_units")
    op.drop_geospatial_index(
        "ix_admin_units_geom", table_name="admin_units", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("admin_units")
    op.drop_table("sources")
    op.drop_table("service_meta")
    op.drop_table("roles")
    op.drop_table("officers")
    op.drop_table("categories")
    op.drop_geospatial_index("ix_cameras_geom", table_name="cameras", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("cameras")
    op.drop_index(
        "uq_boundary_versions_effective_from",
        table_name="boundary_versions",
        postgresql_where=sa.text("status = 'published'"),
    )
    op.drop_table("boundary_versions")
    op.drop_index("ix_audit_log_entity_entity_id", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
