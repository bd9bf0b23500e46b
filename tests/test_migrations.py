"""The schema is made only by migrations, and they run up and down cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool, text

from geo_service.db import migrate
from geo_service.db.models import Base

EXPECTED_TABLES = {
    "boundary_versions",
    "admin_units",
    "grids",
    "roles",
    "officers",
    "officer_assignments",
    "categories",
    "sources",
    "responsibility_rules",
    "time_limit_rules",
    "cameras",
    "incidents",
    "incident_officers",
    "incident_events",
    "audit_log",
    "service_meta",
    "outbox",
    "incident_extensions",
    "access_roles",
    "role_permissions",
    "users",
    "job_titles",
    "camera_kinds",
    "value_aliases",
    "regions",
    "notice_templates",
    "incident_attachments",
    "departments",
    "department_staff",
    "matters",
    "routing_rules",
    "incident_transfers",
    "incident_staff",
}


def _tables(url: str) -> set[str]:
    """The tables, not counting the partitions of incidents and their timelines: those are made
    per county (``geo_service.db.partitions``) and belong to their partitioned table."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            partitions = set(connection.execute(text("SELECT relname FROM pg_class WHERE relispartition")).scalars())
        return set(inspect(engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"} - partitions
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_downgrade_removes_them(scratch_url):
    migrate.upgrade(scratch_url)
    assert _tables(scratch_url) == EXPECTED_TABLES
    assert migrate.current_revision(scratch_url) == migrate.head_revision()

    migrate.downgrade(scratch_url, "base")
    assert _tables(scratch_url) == set()
    assert migrate.current_revision(scratch_url) is None

    migrate.upgrade(scratch_url)
    assert _tables(scratch_url) == EXPECTED_TABLES


def test_every_geometry_column_has_a_spatial_index(scratch_url):
    migrate.upgrade(scratch_url)
    engine = create_engine(scratch_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        columns = connection.execute(
            text("SELECT f_table_name, f_geometry_column, srid FROM geometry_columns WHERE f_table_schema = 'public'")
        ).all()
        unindexed = connection.execute(
            text("""
            SELECT g.f_table_name, g.f_geometry_column FROM geometry_columns g
             WHERE g.f_table_schema = 'public' AND NOT EXISTS (
                   SELECT 1 FROM pg_index i
                     JOIN pg_class c ON c.oid = i.indexrelid
                     JOIN pg_am am ON am.oid = c.relam
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                    WHERE i.indrelid = (quote_ident(g.f_table_name))::regclass
                      AND a.attname = g.f_geometry_column AND am.amname = 'gist')
        """)
        ).all()
    engine.dispose()
    assert {c[0] for c in columns} >= {"admin_units", "grids", "cameras", "incidents"}
    assert all(c[2] == 4490 for c in columns), columns
    assert unindexed == []


def test_models_agree_with_migrations(scratch_url):
    """Autogenerate finds nothing to do: the models describe exactly what the migrations made."""
    migrate.upgrade(scratch_url)
    engine = create_engine(scratch_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": migrate.include_object, "compare_type": True}
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_camera_cannot_claim_a_range_beyond_what_lookups_search(scratch_url):
    """Lookups search 1 km around a point for cameras that might see it; a longer range is refused."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    migrate.upgrade(scratch_url)
    engine = create_engine(scratch_url, poolclass=pool.NullPool)
    insert = text("""
        INSERT INTO cameras (device_code, name, kind, heading_deg, fov_deg, range_m, geom)
        VALUES (:code, 'c', 'tianwang', 0, 90, :range, ST_SetSRID(ST_MakePoint(104, 30), 4490))""")
    with engine.begin() as connection:
        connection.execute(insert, {"code": "5" * 20, "range": 1000})
    with pytest.raises(IntegrityError, match="ck_cameras_range"), engine.begin() as connection:
        connection.execute(insert, {"code": "6" * 20, "range": 1500})
    engine.dispose()
