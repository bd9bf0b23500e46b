"""Boundary versions' lifecycle: a draft may be retired without ever taking effect, and the
grids and units of a published version are frozen, so incidents recorded under it keep the
shapes they were assigned by and a lookup never sees a version change under it.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FREEZE = """
CREATE FUNCTION boundary_rows_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM boundary_versions WHERE id = OLD.version_id AND status = 'published') THEN
        RAISE EXCEPTION '% of published boundary version % cannot be changed: import a new draft instead',
            TG_TABLE_NAME, OLD.version_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER grids_frozen BEFORE UPDATE OR DELETE ON grids
    FOR EACH ROW EXECUTE FUNCTION boundary_rows_frozen();
CREATE TRIGGER admin_units_frozen BEFORE UPDATE OR DELETE ON admin_units
    FOR EACH ROW EXECUTE FUNCTION boundary_rows_frozen();
-- A published version stays: deleting it would take its grids with it (a cascade runs after the
-- version's row is gone, so the rows' own trigger cannot see that they were published).
CREATE FUNCTION published_version_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'published' AND (TG_OP = 'DELETE' OR NEW.status <> 'published'
                                     OR NEW.effective_from IS DISTINCT FROM OLD.effective_from) THEN
        RAISE EXCEPTION 'published boundary version % cannot be deleted, withdrawn or moved in time', OLD.name
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER published_version_kept BEFORE UPDATE OR DELETE ON boundary_versions
    FOR EACH ROW EXECUTE FUNCTION published_version_kept();
"""


def upgrade() -> None:
    op.drop_constraint(op.f("ck_boundary_versions_published_has_date"), "boundary_versions", type_="check")
    op.create_check_constraint(
        op.f("ck_boundary_versions_published_has_date"),
        "boundary_versions",
        "status <> 'published' OR effective_from IS NOT NULL",
    )
    op.execute(FREEZE)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER published_version_kept ON boundary_versions; DROP FUNCTION published_version_kept(); "
        "DROP TRIGGER admin_units_frozen ON admin_units; DROP TRIGGER grids_frozen ON grids; "
        "DROP FUNCTION boundary_rows_frozen()"
    )
    op.drop_constraint(op.f("ck_boundary_versions_published_has_date"), "boundary_versions", type_="check")
    op.execute("UPDATE boundary_versions SET status = 'draft' WHERE status = 'retired' AND effective_from IS NULL")
    op.create_check_constraint(
        op.f("ck_boundary_versions_published_has_date"),
        "boundary_versions",
        "status = 'draft' OR effective_from IS NOT NULL",
    )
