"""Rendering the library's answers for a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_location(found: dict, console: Console | None = None) -> None:
    console = console or Console()
    if found["grid"]:
        grid = found["grid"]
        console.print(f"[bold]{grid['name']}[/bold]  grid {grid['code']} (level {grid['level']})")
    elif found["nearest_grid"]:
        near = found["nearest_grid"]
        console.print(
            f"[yellow]outside every grid[/yellow]; nearest: [bold]{near['name']}[/bold] "
            f"{near['code']}, {near['distance_m']:,.0f} m away"
        )
    if found["village"]:
        console.print(
            f"{found['county']['name']} › {found['town']['name']} › {found['village']['name']}"
            f"   (boundaries: {found['boundary_version']['name']})"
        )
    people = Table("#", "role", "name", "phone", "answers for", title="officers to call")
    for officer in found["officers"]:
        people.add_row(
            str(officer["position"]),
            officer["role_name"],
            "[red]vacant[/red]" if officer["vacant"] else officer["name"],
            officer["phone"] or "",
            officer["unit_code"] or "",
        )
    console.print(people)
    for step in found["escalation"]:
        names = ", ".join(
            ("vacant " + o["role_name"]) if o["vacant"] else f"{o['role_name']} {o['name']}" for o in step["officers"]
        )
        console.print(f"escalates to {step['tier']}: {names}")
    cams = Table("device code", "kind", "status", "sees", "distance", title="cameras")
    for camera in found["cameras"]:
        cams.add_row(
            camera["device_code"],
            camera["kind"],
            camera["status"],
            "yes" if camera["sees"] else "no",
            f"{camera['distance_m']:,.0f} m",
        )
    console.print(cams)
