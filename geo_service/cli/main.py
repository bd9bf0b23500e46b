"""Entry point of the ``geo-service`` command."""

from __future__ import annotations

import json
from datetime import datetime

import typer

from geo_service.cli import db, demo
from geo_service.settings import get_settings

app = typer.Typer(
    help="geo_service: grids, officers, cameras and incidents of a county on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")


@app.command()
def locate(
    lon: float = typer.Argument(..., help="Longitude."),
    lat: float = typer.Argument(..., help="Latitude."),
    crs: str = typer.Option("cgcs2000", help="Datum: cgcs2000, wgs84, gcj02 or bd09."),
    at: datetime = typer.Option(None, help="Moment whose boundaries and officers apply (default now)."),
    risk_colour: str = typer.Option("blue", help="Risk colour of the case: red, yellow or blue."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON instead of a summary."),
) -> None:
    """Where is this point: grid, village, town, officers to call and cameras that see it."""
    from geo_service.cli.show import print_location
    from geo_service.db.engine import get_engine
    from geo_service.errors import GeoServiceError
    from geo_service.locate import locate as locate_point

    try:
        location = locate_point(get_engine(), lon, lat, crs, at, risk_colour=risk_colour)
    except GeoServiceError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps(location.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_location(location.to_dict())


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (default: settings)."),
    port: int = typer.Option(None, help="Port (default: settings)."),
    workers: int = typer.Option(1, help="Worker processes."),
) -> None:
    """Serve the API (and its OpenAPI document at /docs)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run("geo_service.api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=workers)


if __name__ == "__main__":
    app()
