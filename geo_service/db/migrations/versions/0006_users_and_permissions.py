"""Users with roles, jurisdictions and hashed bearer tokens; permissions per role as data; the
audit log made append-only for the service's own database role.

The default roles and permissions (``geo_service/rules/access_roles.csv`` and
``permissions.csv``) are written here, so a database is usable as soon as it is migrated.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from geo_service.rules import read_rule_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND_ONLY = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: rows are never changed or deleted'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
REVOKE UPDATE, DELETE ON audit_log FROM CURRENT_USER;
"""


def upgrade() -> None:
    roles = op.create_table(
        "access_roles",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_access_roles")),
    )
    permissions = op.create_table(
        "role_permissions",
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("permission", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["role"], ["access_roles.code"], name=op.f("fk_role_permissions_role_access_roles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("role", "permission", name=op.f("pk_role_permissions")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("jurisdiction", sa.String(length=21), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(r"jurisdiction ~ '^\d{12}(\d{3}){0,3}$'", name=op.f("ck_users_jurisdiction_format")),
        sa.ForeignKeyConstraint(["role"], ["access_roles.code"], name=op.f("fk_users_role_access_roles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_users_token_hash")),
    )
    op.bulk_insert(roles, read_rule_table("access_roles").to_dict("records"))
    op.bulk_insert(permissions, read_rule_table("permissions").to_dict("records"))
    op.execute(APPEND_ONLY)


def downgrade() -> None:
    op.execute(
        "GRANT UPDATE, DELETE ON audit_log TO CURRENT_USER; "
        "DROP TRIGGER audit_log_append_only ON audit_log; DROP FUNCTION audit_log_append_only()"
    )
    op.drop_table("users")
    op.drop_table("role_permissions")
    op.drop_table("access_roles")
