"""A published boundary version is frozen against additions too: no grid or unit can be inserted
into it (nor moved into it), so the boundaries a lookup or an incident was assigned under are
exactly those it had when it was published. A retired version is closed the same way: it is kept
for the record, as it was when it was set aside.

0005 froze the rows of a published version against UPDATE and DELETE; its trigger function now
also runs BEFORE INSERT and looks at the version a row is written into (``NEW.version_id``).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = (("grids", "grids_frozen"), ("admin_units", "admin_units_frozen"))

# One function for all three operations, as in 0005: a row of a published version cannot be
# changed or deleted (OLD.version_id); no row can be added to a published or retired version
# (NEW.version_id), by INSERT or by an UPDATE that moves a draft's row into it.
FREEZE = """
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

# 0005's function, as it was.
UNFREEZE = """
CREATE OR REPLACE FUNCTION boundary_rows_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM boundary_versions WHERE id = OLD.version_id AND status = 'published') THEN
        RAISE EXCEPTION '% of published boundary version % cannot be changed: import a new draft instead',
            TG_TABLE_NAME, OLD.version_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
"""


def _triggers(events: str) -> str:
    return "".join(
        f"DROP TRIGGER {trigger} ON {table}; "
        f"CREATE TRIGGER {trigger} BEFORE {events} ON {table} FOR EACH ROW EXECUTE FUNCTION boundary_rows_frozen();\n"
        for table, trigger in TABLES
    )


def upgrade() -> None:
    op.execute(FREEZE)
    op.execute(_triggers("INSERT OR UPDATE OR DELETE"))


def downgrade() -> None:
    op.execute(_triggers("UPDATE OR DELETE"))
    op.execute(UNFREEZE)
