"""Rendering the library's answers for a terminal, in Chinese first."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from geo_service.cli.errors import both
from geo_service.cli.terminal import cell, cells, joined, say, table, zh
from geo_service.i18n import label, t


def print_location(found: dict, console: Console | None = None) -> None:
    console = console or Console()
    if found["grid"]:
        grid = found["grid"]
        said = t("grid {code} (level {level})", code=grid["code"], level=grid["level"])
        console.print(Text.assemble((grid["name"], "bold"), f"  {both(said)}"), soft_wrap=True)
    elif found["nearest_grid"]:
        near = found["nearest_grid"]
        said = t(
            "outside every grid; nearest: {name} {code}, {distance:,.0f} m away",
            name=near["name"],
            code=near["code"],
            distance=near["distance_m"],
        )
        say(console, said, "yellow", len(zh(t("outside every grid"))))
    if found["village"]:
        path = f"{found['county']['name']} › {found['town']['name']} › {found['village']['name']}"
        said = t("{path}   (boundaries: {version})", path=path, version=found["boundary_version"]["name"])
        say(console, said)
    people = table(t("#"), t("role"), t("full name"), t("phone"), t("answers for"), title=t("officers to call"))
    for officer in found["officers"]:
        people.add_row(
            str(officer["position"]),
            cell(officer["role_name"]),
            Text(zh(t("vacant")), "red") if officer["vacant"] else cell(officer["name"]),
            *cells(officer["phone"], officer["unit_code"]),
        )
    console.print(people)
    for step in found["escalation"]:
        names = [
            t("vacant {role}", role=o["role_name"]) if o["vacant"] else f"{o['role_name']} {o['name']}"
            for o in step["officers"]
        ]
        said = t("escalates to {tier}: {names}", tier=step["tier"], names=joined(names))
        say(console, said)
    cams = table(t("device code"), t("kind"), t("status"), t("sees"), t("distance"), title=t("cameras"), right=(4,))
    for camera in found["cameras"]:
        cams.add_row(
            *cells(camera["device_code"], camera["kind"]),
            label(camera["status"], "zh", "camera"),
            zh(t("yes")) if camera["sees"] else zh(t("no")),
            zh(t("{distance:,.0f} m", distance=camera["distance_m"])),
        )
    console.print(cams)
