"""Entry point of the ``geo-service`` command."""

from __future__ import annotations

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
