"""Who may use the service, and the record of what they did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo_service.db.models.base import Base


class AccessRole(Base):
    """Who a user of the service is (admin, planner, dispatcher, analyst, grid worker, leader):
    not to be confused with ``roles``, the posts officers hold in the responsibility rules."""

    __tablename__ = "access_roles"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)


class RolePermission(Base):
    """What a role may do (``geo_service/rules/permissions.csv`` seeds it; the table is the truth)."""

    __tablename__ = "role_permissions"

    role: Mapped[str] = mapped_column(ForeignKey("access_roles.code", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(40), primary_key=True)


class User(Base):
    """A user of the service: a role, a jurisdiction (county, town, village or grid code), maybe a
    department, and a bearer token of which only the SHA-256 is kept."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(r"jurisdiction ~ '^\d{12}(\d{3}){0,3}$'", name="jurisdiction_format"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(ForeignKey("access_roles.code"))
    jurisdiction: Mapped[str] = mapped_column(String(21))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    # A department's user sees that department's cases only (within the jurisdiction).
    department: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))


class AuditLog(Base):
    """Every write, and every read of personal data: who, when, what, before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(Text)
    before = mapped_column(JSONB)
    after = mapped_column(JSONB)


class ServiceMeta(Base):
    """Facts about the database's contents, such as which demo county it holds."""

    __tablename__ = "service_meta"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
