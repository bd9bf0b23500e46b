"""Personal data: reporters' names and phones, officers' phones. Masked for principals without
the ``personal.read`` permission; for those with it, each unmasked read is put on the audit log
(which records whose data was read, never the data)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from geo_service.auth import audit
from geo_service.auth.principal import Principal


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else "*" * len(phone)


def present_incident(connection: Connection, incident: dict, principal: Principal | None) -> dict:
    """The incident as the principal may see it (``None``: the local command line, unmasked)."""
    if principal is None:
        return incident
    if not principal.can("personal.read"):
        if incident.get("reporter"):
            incident["reporter"] = {
                "name": mask_name(incident["reporter"]["name"]),
                "phone": mask_phone(incident["reporter"]["phone"]),
            }
        for officer in incident.get("officers", []):
            officer["phone"] = mask_phone(officer.get("phone"))
        return incident
    if incident.get("reporter") or any(o.get("phone") for o in incident.get("officers", [])):
        audit.record(connection, principal.name, "read_personal", "incident", incident["id"])
    return incident


def present_incidents(connection: Connection, incidents: list[dict], principal: Principal | None) -> list[dict]:
    """A page of incidents: masked, or one audit entry naming every incident whose reporter was read."""
    if principal is None:
        return incidents
    if not principal.can("personal.read"):
        return [present_incident(connection, incident, principal) for incident in incidents]
    read = [incident["id"] for incident in incidents if incident.get("reporter")]
    if read:
        audit.record(connection, principal.name, "read_personal", "incident", None, after={"ids": read})
    return incidents


def present_officers(
    connection: Connection, officers: list[dict], principal: Principal | None, context: str, context_id: str
) -> list[dict]:
    """Officers' phones in a lookup's answer, masked or put on record (:func:`audit.record_read`)."""
    read = officers_shown(officers, principal)
    if read:
        audit.record_read(connection, principal.name, "read_personal", context, context_id, after={"officers": read})
    return officers


def officers_shown(officers: list[dict], principal: Principal | None) -> list[str]:
    """Mask the officers' phones for a principal who may not read them; else the codes of the
    officers whose phones are shown, sorted, which the read's audit entry must name (none for
    the local command line)."""
    if principal is None:
        return []
    if not principal.can("personal.read"):
        for officer in officers:
            if officer.get("phone"):
                officer["phone"] = mask_phone(officer["phone"])
        return []
    return sorted({o["officer_code"] for o in officers if o.get("phone") and o.get("officer_code")})
