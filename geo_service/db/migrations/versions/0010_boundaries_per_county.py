"""Boundary versions per county, and the provinces and cities above the counties.

Each version belongs to one county (``county_code``); "in force at a moment" is asked per county,
so a county publishes, schedules and retires its own versions without touching another's, and two
counties may publish for the same moment. Existing versions take the county of their places.

The trigger that freezes published boundaries (0005, 0009) also keeps a version to one county: a
draft takes the county of the first place written into it and refuses a place of another county.

``regions`` names the provinces and prefecture-level cities a user's jurisdiction may be.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from geo_service.rules import read_rule_table

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FREEZE = """
CREATE OR REPLACE FUNCTION boundary_rows_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    state text;
    county text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF EXISTS (SELECT 1 FROM boundary_versions WHERE id = OLD.version_id AND status = 'published') THEN
            RAISE EXCEPTION '% of published boundary version % cannot be changed: import a new draft instead',
                TG_TABLE_NAME, OLD.version_id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.version_id IS DISTINCT FROM OLD.version_id
                                                  OR NEW.code IS DISTINCT FROM OLD.code)) THEN
        SELECT status, county_code INTO state, county FROM boundary_versions WHERE id = NEW.version_id;
        IF state IN ('published', 'retired') THEN
            RAISE EXCEPTION '% of % boundary version % cannot be added to: import a new draft instead',
                TG_TABLE_NAME, state, NEW.version_id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF county IS NULL THEN
            UPDATE boundary_versions SET county_code = left(NEW.code, 6) || '000000' WHERE id = NEW.version_id;
        ELSIF left(NEW.code, 6) <> left(county, 6) THEN
            RAISE EXCEPTION '% % lies in county %, not in county % whose boundary version % this is',
                TG_TABLE_NAME, NEW.code, left(NEW.code, 6), left(county, 6), NEW.version_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
"""

# 0009's function, as it was.
UNFREEZE = """
CREATE OR REPLACE FUNCTION boundary_rows_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    closed text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF EXISTS (SELECT 1 FROM boundary_versions WHERE id = OLD.version_id AND status = 'published') THEN
            RAISE EXCEPTION '% of published boundary version % cannot be changed: import a new draft instead',
                TG_TABLE_NAME, OLD.version_id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.version_id IS DISTINCT FROM OLD.version_id) THEN
        SELECT status INTO closed FROM boundary_versions
         WHERE id = NEW.version_id AND status IN ('published', 'retired');
        IF FOUND THEN
            RAISE EXCEPTION '% of % boundary version % cannot be added to: import a new draft instead',
                TG_TABLE_NAME, closed, NEW.version_id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
"""


def upgrade() -> None:
    op.add_column("boundary_versions", sa.Column("county_code", sa.String(length=12), nullable=True))
    # A version's county is that of its places: its county unit, else its first grid.
    op.execute("""
        UPDATE boundary_versions b SET county_code = coalesce(
            (SELECT left(code, 6) || '000000' FROM admin_units u WHERE u.version_id = b.id ORDER BY u.level = 'county' DESC, u.code LIMIT 1),
            (SELECT left(code, 6) || '000000' FROM grids g WHERE g.version_id = b.id ORDER BY g.code LIMIT 1))
    """)
    op.create_check_constraint(
        op.f("ck_boundary_versions_published_has_county"),
        "boundary_versions",
        "status <> 'published' OR county_code IS NOT NULL",
    )
    op.create_check_constraint(
        op.f("ck_boundary_versions_county_code_format"), "boundary_versions", r"county_code ~ '^\d{6}000000$'"
    )
    op.drop_index("uq_boundary_versions_effective_from", table_name="boundary_versions")
    op.create_index(
        "uq_boundary_versions_county_effective_from",
        "boundary_versions",
        ["county_code", "effective_from"],
        unique=True,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.execute(FREEZE)
    op.create_index("ix_incidents_county_code", "incidents", ["county_code"])
    regions = op.create_table(
        "regions",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.CheckConstraint(
            r"code ~ '^\d{2}(\d{2})?0{8}$' AND code <> '000000000000'", name=op.f("ck_regions_code_format")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )
    op.bulk_insert(regions, read_rule_table("regions").to_dict("records"))


def downgrade() -> None:
    op.drop_table("regions")
    op.drop_index("ix_incidents_county_code", table_name="incidents")
    op.execute(UNFREEZE)
    op.drop_index("uq_boundary_versions_county_effective_from", table_name="boundary_versions")
    op.create_index(
        "uq_boundary_versions_effective_from",
        "boundary_versions",
        ["effective_from"],
        unique=True,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.drop_constraint(op.f("ck_boundary_versions_county_code_format"), "boundary_versions", type_="check")
    op.drop_constraint(op.f("ck_boundary_versions_published_has_county"), "boundary_versions", type_="check")
    op.drop_column("boundary_versions", "county_code")
