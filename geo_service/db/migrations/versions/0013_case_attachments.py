"""Photos and short videos of a case (``geo_service.cases.attachments``).

The files themselves are kept on disk, named by the SHA-256 of their bytes, so that the same
photo sent twice, or attached to two cases, is stored once; this table records which case each
belongs to, what it is (the type read from its bytes, not from the sender's name for it), who
sent it and when, and the position its EXIF data gives (WGS84), if any.

The case is referred to by the incidents' key ``(id, county_code)``: an attachment follows its
case when the case is deleted or moved to another county (``ON UPDATE CASCADE``, as the other
children of incidents do since 0011). One case holds a file once: ``(incident_id, sha256)`` is
unique, which makes a repeated upload (a phone retrying after a lost answer) a no-op, and its
index serves listing a case's attachments.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "video/mp4", "video/quicktime")


def upgrade() -> None:
    media = ", ".join(f"'{m}'" for m in MEDIA_TYPES)
    op.create_table(
        "incident_attachments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("exif_lon", sa.Float(), nullable=True),
        sa.Column("exif_lat", sa.Float(), nullable=True),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_incident_attachments_sha256")),
        sa.CheckConstraint(f"media_type IN ({media})", name=op.f("ck_incident_attachments_media_type")),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_incident_attachments_size")),
        sa.CheckConstraint("(exif_lon IS NULL) = (exif_lat IS NULL)", name=op.f("ck_incident_attachments_position")),
        sa.ForeignKeyConstraint(
            ["incident_id", "county_code"],
            ["incidents.id", "incidents.county_code"],
            name=op.f("fk_incident_attachments_incident_id_incidents"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_attachments")),
        sa.UniqueConstraint("incident_id", "sha256", name=op.f("uq_incident_attachments_incident_id_sha256")),
    )
    # Whether a file on disk is still referred to, and by which cases.
    op.create_index("ix_incident_attachments_sha256", "incident_attachments", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_incident_attachments_sha256", table_name="incident_attachments")
    op.drop_table("incident_attachments")
