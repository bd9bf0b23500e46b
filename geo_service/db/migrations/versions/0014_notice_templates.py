"""The texts of notifications as data: one template per kind of message (dispatch, urge, escalate,
deadline near, ...), in Chinese and English, which an administrator edits as a rule table; and the
text each message was sent with, kept on the message with its delivery state.

Revision ID: 0014
Revises: 0013
"""

import csv
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The default templates, read from the rule file the package ships.
DEFAULTS = Path(__file__).resolve().parents[3] / "rules" / "notice_templates.csv"


def upgrade() -> None:
    templates = op.create_table(
        "notice_templates",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("text_zh", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_notice_templates")),
    )
    with DEFAULTS.open(encoding="utf-8") as file:
        op.bulk_insert(templates, list(csv.DictReader(file)))
    op.add_column("outbox", sa.Column("text", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "text")
    op.drop_table("notice_templates")
