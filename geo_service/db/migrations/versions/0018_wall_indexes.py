"""Indexes for the wall screen at a city's scale: the cases closed in a span, and the open red cases.

The wall counts, for today and this month and the periods it compares them with, the cases
received, closed and overdue in each; and it lists the open red cases. Counted over every incident
of the jurisdiction, that read a city's millions of rows on each refresh. Each count now reads the
rows its own index finds in the spans: the reported time's and (status, deadline) had their
indexes; the closing time of the closed cases gets one here. The open red cases, a few hundred
among millions, get a partial index of their own.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OPEN_RED = "risk_colour = 'red' AND status IN ('reported', 'dispatched', 'accepted', 'in_progress', 'reopened')"


def upgrade() -> None:
    # On the partitioned incidents, each index reaches every county's partition.
    op.create_index("ix_incidents_closed_at", "incidents", ["closed_at"], postgresql_where=sa.text("status = 'closed'"))
    op.create_index(
        "ix_incidents_open_red_reported_at", "incidents", ["reported_at"], postgresql_where=sa.text(OPEN_RED)
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_open_red_reported_at", table_name="incidents")
    op.drop_index("ix_incidents_closed_at", table_name="incidents")
