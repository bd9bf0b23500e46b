"""Bound a camera's range at 1 km, the distance within which lookups search for cameras.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_cameras_range"), "cameras", type_="check")
    op.create_check_constraint(op.f("ck_cameras_range"), "cameras", "range_m > 0 AND range_m <= 1000")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_cameras_range"), "cameras", type_="check")
    op.create_check_constraint(op.f("ck_cameras_range"), "cameras", "range_m > 0")
