"""The names a county's own files use, as data: job titles and the roles they hold, kinds of
camera with the view each is given by default, and Chinese names of the service's values
(statuses, satisfaction, risk colours, ...). Camera kinds become a table instead of a fixed list.

The default camera kinds are written here, since cameras refer to them; the other defaults are
seeded with the rules (``geo_service.rules.seed``).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from geo_service.rules import read_rule_table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_titles",
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["role"], ["roles.code"], name=op.f("fk_job_titles_role_roles")),
        sa.PrimaryKeyConstraint("title", name=op.f("pk_job_titles")),
    )
    kinds = op.create_table(
        "camera_kinds",
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("fov_deg", sa.Float(), nullable=False),
        sa.Column("range_m", sa.Float(), nullable=False),
        sa.CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name=op.f("ck_camera_kinds_fov")),
        sa.CheckConstraint("range_m > 0", name=op.f("ck_camera_kinds_range")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_camera_kinds")),
    )
    op.create_table(
        "value_aliases",
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("field", "alias", name=op.f("pk_value_aliases")),
    )
    defaults = read_rule_table("camera_kinds")
    op.bulk_insert(kinds, defaults.to_dict("records"))
    # Any kind already in use stays valid.
    op.execute("""
        INSERT INTO camera_kinds (code, name_zh, name_en, fov_deg, range_m)
        SELECT DISTINCT kind, kind, kind, 90, 60 FROM cameras ON CONFLICT DO NOTHING
    """)
    op.drop_constraint(op.f("ck_cameras_kind"), "cameras", type_="check")
    op.create_foreign_key(op.f("fk_cameras_kind_camera_kinds"), "cameras", "camera_kinds", ["kind"], ["code"])


def downgrade() -> None:
    op.drop_constraint(op.f("fk_cameras_kind_camera_kinds"), "cameras", type_="foreignkey")
    op.create_check_constraint("kind", "cameras", "kind IN ('xueliang', 'tianwang', 'zongzhi')")
    op.drop_table("value_aliases")
    op.drop_table("camera_kinds")
    op.drop_table("job_titles")
