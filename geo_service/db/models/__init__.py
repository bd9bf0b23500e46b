"""The database schema as SQLAlchemy models.

The migrations in ``migrations/versions`` create and change the schema; these models describe
it for the code, and a test checks the two agree. Geometries are stored in CGCS2000
(EPSG:4490); every geometry has a GiST index.
"""

from geo_service.db.models.access import AccessRole, AuditLog, RolePermission, ServiceMeta, User
from geo_service.db.models.base import NAMING, Base
from geo_service.db.models.cases import (
    Incident,
    IncidentAttachment,
    IncidentEvent,
    IncidentExtension,
    IncidentOfficer,
    OutboxMessage,
)
from geo_service.db.models.departments import (
    Department,
    DepartmentStaff,
    IncidentStaff,
    IncidentTransfer,
    Matter,
    RoutingRule,
)
from geo_service.db.models.people import Officer, OfficerAssignment, Role
from geo_service.db.models.places import AdminUnit, BoundaryVersion, Camera, Grid
from geo_service.db.models.rules import (
    CameraKind,
    Category,
    JobTitle,
    NoticeTemplate,
    Region,
    ResponsibilityRule,
    Source,
    TimeLimitRule,
    ValueAlias,
)

__all__ = [
    "NAMING",
    "AccessRole",
    "AdminUnit",
    "AuditLog",
    "Base",
    "BoundaryVersion",
    "Camera",
    "CameraKind",
    "Category",
    "Department",
    "DepartmentStaff",
    "Grid",
    "Incident",
    "IncidentAttachment",
    "IncidentEvent",
    "IncidentExtension",
    "IncidentOfficer",
    "IncidentStaff",
    "IncidentTransfer",
    "JobTitle",
    "Matter",
    "NoticeTemplate",
    "Officer",
    "OfficerAssignment",
    "OutboxMessage",
    "ResponsibilityRule",
    "Role",
    "RolePermission",
    "RoutingRule",
    "ServiceMeta",
    "Source",
    "TimeLimitRule",
    "User",
    "Region",
    "ValueAlias",
]
