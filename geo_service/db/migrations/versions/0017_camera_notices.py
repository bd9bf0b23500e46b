"""Change notices for cameras: each worker keeps the cameras in memory for lookups.

A lookup lists the cameras that see its point; the workers answer it from the cameras they keep
(``geo_service.lookup.cameras``) and forget them when a statement changes the table, as for the
tables of migration 0016.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TRIGGER cameras_notify_change
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cameras
        FOR EACH STATEMENT EXECUTE FUNCTION geo_service_notify_change()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS cameras_notify_change ON cameras")
