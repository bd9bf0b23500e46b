"""Change notices: a table whose rows a worker keeps in memory says when it changes.

Each of the service's processes keeps what every request would otherwise read again (the user a
token belongs to, the boundary versions in force, the people the rules name at a place); it listens on the channel
``geo_service_changes`` (``geo_service.db.changes``) and forgets what a change touches. A
statement-level trigger on each such table sends the table's name there when a statement
changes it; PostgreSQL delivers it at commit, to every listening process, and sends one notice
per table and transaction however many rows changed.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The tables whose rows are kept in memory by the service's workers (geo_service.db.changes.TOPICS).
WATCHED = (
    "users",
    "role_permissions",
    "roles",
    "departments",
    "admin_units",
    "boundary_versions",
    "officers",
    "officer_assignments",
    "responsibility_rules",
)


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION geo_service_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('geo_service_changes', TG_TABLE_NAME);
            RETURN NULL;
        END $$
    """)
    for table in WATCHED:
        op.execute(f"""
            CREATE TRIGGER {table}_notify_change
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION geo_service_notify_change()
        """)


def downgrade() -> None:
    for table in WATCHED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS geo_service_notify_change()")
