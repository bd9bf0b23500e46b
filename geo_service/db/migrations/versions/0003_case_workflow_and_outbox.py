"""The closed loop of a case: merges, follow-up visits, urging, extensions, and the transactional outbox.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("merged_into_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_incidents_merged_into_id_incidents"), "incidents", "incidents", ["merged_into_id"], ["id"]
    )
    op.add_column("incidents", sa.Column("visited_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incidents", sa.Column("urge_count", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column("incidents", sa.Column("reminded_deadline", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=40), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_outbox_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"], name=op.f("fk_outbox_officer_id_officers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_pending", "outbox", ["next_attempt_at"], unique=False, postgresql_where=sa.text("sent_at IS NULL")
    )
    op.create_index("ix_outbox_incident_id", "outbox", ["incident_id"], unique=False)
    op.create_table(
        "incident_extensions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("granted", sa.Boolean(), nullable=True),
        sa.CheckConstraint("hours > 0", name=op.f("ck_incident_extensions_positive")),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_extensions_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_extensions")),
    )
    # At most one request waits for a decision.
    op.create_index(
        "uq_incident_extensions_pending",
        "incident_extensions",
        ["incident_id"],
        unique=True,
        postgresql_where=sa.text("decided_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_incident_extensions_pending",
        table_name="incident_extensions",
        postgresql_where=sa.text("decided_at IS NULL"),
    )
    op.drop_table("incident_extensions")
    op.drop_index("ix_outbox_incident_id", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox", postgresql_where=sa.text("sent_at IS NULL"))
    op.drop_table("outbox")
    op.drop_column("incidents", "reminded_deadline")
    op.drop_column("incidents", "urge_count")
    op.drop_column("incidents", "visited_at")
    op.drop_constraint(op.f("fk_incidents_merged_into_id_incidents"), "incidents", type_="foreignkey")
    op.drop_column("incidents", "merged_into_id")
