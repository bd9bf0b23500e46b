"""Progress for long work: rich bars on a terminal, in Chinese (the county's language), silence in a
library call. Steps and tasks are named by messages of the catalogue (``geo_service.i18n.t``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from geo_service.i18n import render


class Reporter(Protocol):
    def step(self, message: str) -> None:
        """A step that has no measurable size."""

    def task(self, description: str, total: int) -> Callable[[int], None]:
        """A step of ``total`` units; call the returned function with each batch done."""


class Silent:
    def step(self, message: str) -> None:
        pass

    def task(self, description: str, total: int) -> Callable[[int], None]:
        return lambda n: None


class RichReporter:
    """Steps printed as lines, sized work as bars (stderr, so stdout stays for results)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def step(self, message: str) -> None:
        self.progress.console.log(render(message, "zh"), markup=False)

    def task(self, description: str, total: int) -> Callable[[int], None]:
        task_id = self.progress.add_task(escape(render(description, "zh")), total=total)
        return lambda n: self.progress.advance(task_id, n)


@contextmanager
def rich_reporter() -> Iterator[RichReporter]:
    console = Console(stderr=True, log_path=False)
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield RichReporter(progress)
