"""Lines and tables for a terminal, in Chinese first (the county's language).

A line is a message of the catalogue printed with :func:`~geo_service.cli.errors.both` (Chinese,
then the English in brackets, which scripts and searches of the logs know); a table's title and
headers are in Chinese alone, as both languages would leave no room for its values. Words that come
from files or users are never read as rich markup, so a ``[`` in a name cannot break a line.
"""

from __future__ import annotations

from collections.abc import Iterable

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from geo_service.cli.errors import both, error_line
from geo_service.i18n import joined as i18n_joined
from geo_service.i18n import render, t


def zh(message: str) -> str:
    """``message`` in Chinese alone (a table's title or header)."""
    return render(message, "zh")


def line(message: str, style: str | None = None, styled: int = 0) -> Text:
    """``message`` as a terminal line (Chinese, English in brackets), never read as markup; its
    first ``styled`` characters in ``style`` (a word such as 错误 or 一致 in colour)."""
    text = Text(both(message))
    if style:
        text.stylize(style, 0, styled or len(text))
    return text


def say(console: Console, message: str, style: str | None = None, styled: int = 0) -> None:
    """Print ``message`` on ``console`` as one whole line (no breaks put in: a log keeps it whole)."""
    console.print(line(message, style, styled), soft_wrap=True)


def echo(message: str, err: bool = False) -> None:
    """Print ``message`` as plain text (Chinese, English in brackets), on stderr if ``err``."""
    typer.echo(both(message), err=err)


def table(*headers: str, title: str | None = None, right: Iterable[int] = ()) -> Table:
    """A table with its title and headers in Chinese; the columns numbered in ``right`` are
    right-aligned (numbers)."""
    aligned = set(right)
    made = Table(title=zh(title) if title is not None else None)
    for i, header in enumerate(headers):
        made.add_column(zh(header), justify="right" if i in aligned else "left")
    return made


def cell(value: object) -> Text:
    """A value of a table as it is (a name or a note from a user is not markup)."""
    return Text("" if value is None else str(value))


def cells(*values: object) -> list[Text]:
    """Each value of a row as it is (see :func:`cell`)."""
    return [cell(value) for value in values]


def fail(console: Console, message: str, status: int = 1) -> None:
    """Print ``message`` as a failure (``错误：...``, the word in red) and exit with ``status``."""
    say(console, error_line(message), "red", len("错误"))
    raise typer.Exit(status)


def joined(items: list[str]) -> str:
    """Messages (or plain words) as one list (``i18n.joined``), or "nobody" when there are none."""
    return i18n_joined(items) if items else t("nobody")
