"""Administrators may import a county's files (``POST /county/import``) and change the rules (``/rules``).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PERMISSIONS = (("admin", "county.import"), ("admin", "rules.admin"))


def upgrade() -> None:
    for role, permission in PERMISSIONS:
        op.execute(
            f"INSERT INTO role_permissions (role, permission) SELECT '{role}', '{permission}' "
            f"WHERE EXISTS (SELECT 1 FROM access_roles WHERE code = '{role}') ON CONFLICT DO NOTHING"
        )


def downgrade() -> None:
    for role, permission in PERMISSIONS:
        op.execute(f"DELETE FROM role_permissions WHERE role = '{role}' AND permission = '{permission}'")
