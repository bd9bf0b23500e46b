"""How the command line reports failures: one line saying what is wrong, exit status 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy.exc import OperationalError

from geo_service.errors import GeoServiceError


@contextmanager
def reported() -> Iterator[None]:
    """Turn the library's errors and an unreachable database into a message and exit status 2."""
    try:
        yield
    except GeoServiceError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        typer.echo(
            f"error: cannot reach the database ({reason}): run `geo-service db up`, or check DATABASE_URL", err=True
        )
        raise typer.Exit(2) from None
