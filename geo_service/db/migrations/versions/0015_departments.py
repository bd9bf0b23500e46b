"""Departments: who answers beyond the village (分流移交, 部门限时办理).

A county's departments (county departments 县直部门 and town offices) with their people, its
two-level list of matters (事项清单: a category > its matters, 公共服务 > 供水), and the routing
rules that send a matter (in a place, of a risk colour) to the department that handles it: rule
tables an administrator edits, as the other rules are. The default rows are written by
``geo_service.rules.seed`` into empty tables, not here: they name the demo county's departments.

An incident gains its matter and the department handling it now (null: the territorial people
alone); a user may belong to a department, and then sees only that department's cases. A case's
transfers to departments (waiting, accepted, sent back, replaced) are kept with who decided and
why, and the department's people bound to it while a transfer is open.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DEPARTMENT_KINDS = ("county_department", "town_office")
DUTIES = ("head", "member")
TRANSFER_STATES = ("pending", "accepted", "returned", "withdrawn")
RISK_COLOURS = ("red", "yellow", "blue")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _incident_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["incident_id", "county_code"],
        ["incidents.id", "incidents.county_code"],
        name=op.f(f"fk_{table}_incident_id_incidents"),
        ondelete="CASCADE",
        onupdate="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("town_code", sa.String(length=12), nullable=True),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("limit_hours", sa.Integer(), nullable=False),
        sa.CheckConstraint(r"county_code ~ '^\d{6}000000$'", name=op.f("ck_departments_county_code_format")),
        sa.CheckConstraint(_one_of("kind", DEPARTMENT_KINDS), name=op.f("ck_departments_kind")),
        sa.CheckConstraint(
            "(kind = 'town_office') = (town_code IS NOT NULL) AND (town_code IS NULL OR left(town_code, 6) = left(county_code, 6))",
            name=op.f("ck_departments_town"),
        ),
        sa.CheckConstraint("limit_hours > 0", name=op.f("ck_departments_positive")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_departments")),
    )
    op.create_table(
        "department_staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("duty", sa.String(length=8), nullable=False),
        sa.CheckConstraint(_one_of("duty", DUTIES), name=op.f("ck_department_staff_duty")),
        sa.ForeignKeyConstraint(
            ["department"], ["departments.code"], name=op.f("fk_department_staff_department_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_staff")),
        sa.UniqueConstraint("department", "name", name=op.f("uq_department_staff_department_name")),
    )
    op.create_table(
        "matters",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["category"], ["categories.code"], name=op.f("fk_matters_category_categories")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_matters")),
    )
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matter", sa.String(length=40), nullable=False),
        sa.Column("place", sa.String(length=12), nullable=True),
        sa.Column("risk_colour", sa.String(length=8), nullable=True),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.CheckConstraint(r"place IS NULL OR place ~ '^\d{6,12}$'", name=op.f("ck_routing_rules_place_format")),
        sa.CheckConstraint(
            f"risk_colour IS NULL OR {_one_of('risk_colour', RISK_COLOURS)}", name=op.f("ck_routing_rules_risk_colour")
        ),
        sa.ForeignKeyConstraint(["matter"], ["matters.code"], name=op.f("fk_routing_rules_matter_matters")),
        sa.ForeignKeyConstraint(
            ["department"], ["departments.code"], name=op.f("fk_routing_rules_department_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    op.create_index(
        "uq_routing_rules_match",
        "routing_rules",
        ["matter", sa.text("coalesce(place, '')"), sa.text("coalesce(risk_colour, '')")],
        unique=True,
    )

    # On the partitioned incidents, the columns, keys and index reach every county's partition.
    op.add_column("incidents", sa.Column("matter", sa.String(length=40), nullable=True))
    op.add_column("incidents", sa.Column("department", sa.String(length=40), nullable=True))
    op.create_foreign_key(op.f("fk_incidents_matter_matters"), "incidents", "matters", ["matter"], ["code"])
    op.create_foreign_key(
        op.f("fk_incidents_department_departments"), "incidents", "departments", ["department"], ["code"]
    )
    # A department user's every read of incidents names the department (and the county).
    op.create_index(
        "ix_incidents_department_status",
        "incidents",
        ["department", "status"],
        postgresql_where=sa.text("department IS NOT NULL"),
    )
    op.add_column("users", sa.Column("department", sa.String(length=40), nullable=True))
    op.create_foreign_key(op.f("fk_users_department_departments"), "users", "departments", ["department"], ["code"])

    op.create_table(
        "incident_transfers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transferred_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(_one_of("state", TRANSFER_STATES), name=op.f("ck_incident_transfers_state")),
        sa.CheckConstraint("(state = 'pending') = (decided_at IS NULL)", name=op.f("ck_incident_transfers_decided")),
        sa.CheckConstraint(
            "state <> 'returned' OR return_reason IS NOT NULL", name=op.f("ck_incident_transfers_return_reason")
        ),
        _incident_key("incident_transfers"),
        sa.ForeignKeyConstraint(
            ["department"], ["departments.code"], name=op.f("fk_incident_transfers_department_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_transfers")),
    )
    op.create_index("ix_incident_transfers_incident_id", "incident_transfers", ["incident_id"])
    # One open transfer (waiting or accepted) per case.
    op.create_index(
        "uq_incident_transfers_open",
        "incident_transfers",
        ["incident_id"],
        unique=True,
        postgresql_where=sa.text("state IN ('pending', 'accepted')"),
    )
    op.create_table(
        "incident_staff",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("transfer_id", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("duty", sa.String(length=8), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_one_of("duty", DUTIES), name=op.f("ck_incident_staff_duty")),
        _incident_key("incident_staff"),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["incident_transfers.id"],
            name=op.f("fk_incident_staff_transfer_id_incident_transfers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["department_staff.id"],
            name=op.f("fk_incident_staff_staff_id_department_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_staff")),
    )
    op.create_index("ix_incident_staff_incident_id", "incident_staff", ["incident_id"])
    op.create_index("ix_incident_staff_transfer_id", "incident_staff", ["transfer_id"])


def downgrade() -> None:
    op.drop_table("incident_staff")
    op.drop_table("incident_transfers")
    op.drop_constraint(op.f("fk_users_department_departments"), "users", type_="foreignkey")
    op.drop_column("users", "department")
    op.drop_index("ix_incidents_department_status", table_name="incidents")
    op.drop_constraint(op.f("fk_incidents_department_departments"), "incidents", type_="foreignkey")
    op.drop_constraint(op.f("fk_incidents_matter_matters"), "incidents", type_="foreignkey")
    op.drop_column("incidents", "department")
    op.drop_column("incidents", "matter")
    op.drop_index("uq_routing_rules_match", table_name="routing_rules")
    op.drop_table("routing_rules")
    op.drop_table("matters")
    op.drop_table("department_staff")
    op.drop_table("departments")
