"""The declarative base every table derives from, and the helpers its columns share."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

from geo_service.vocabulary import (
    STORAGE_SRID,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def geometry_column(kind: str) -> Geometry:
    # Indexes are declared explicitly (``__table_args__``) so the migrations and models match.
    return Geometry(kind, srid=STORAGE_SRID, spatial_index=False)
