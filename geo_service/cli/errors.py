"""How the command line reports failures: one line saying what is wrong, exit status 2.

The line is in Chinese, the county's language, with the English after it in brackets, so that a
person reads it and a script (or a search of the logs) still finds the words it knows:
``错误：没有编号为 12 的案件（no incident with id 12）``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy.exc import OperationalError

from geo_service.errors import GeoServiceError
from geo_service.i18n import render, t


def both(message: str, between: str = "") -> str:
    """``message`` in Chinese, then ``between`` and its English in brackets (once, if they are the
    same): on one line, or (``between`` a line break) the English on a line or paragraph of its own."""
    chinese, english = render(message, "zh"), render(message, "en")
    return chinese if chinese == english else f"{chinese}{between}（{english}）"


def error_line(message: str) -> str:
    """The line the command line prints for a failure."""
    return f"错误：{both(message)}"


@contextmanager
def reported() -> Iterator[None]:
    """Turn the library's errors and an unreachable database into a message and exit status 2."""
    try:
        yield
    except GeoServiceError as exc:
        typer.echo(error_line(exc.message), err=True)
        raise typer.Exit(2) from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        said = t("cannot reach the database ({reason}): run `geo-service db up`, or check DATABASE_URL", reason=reason)
        typer.echo(error_line(said), err=True)
        raise typer.Exit(2) from None
