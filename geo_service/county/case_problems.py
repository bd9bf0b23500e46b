"""Problems of an imported file's rows, gathered column by column and reported in row order."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from geo_service.i18n import Message


class RowProblems:
    """Problems gathered by row and handed to the file's report in row order."""

    def __init__(self, table) -> None:
        self.table = table
        self.rows = table.frame["_row"].to_numpy()
        self.bad = np.zeros(len(self.rows), dtype=bool)
        self.found: list[tuple[int, int, str, Message, bool]] = []

    def add(self, mask, field: str, say: Callable[[int], Message], *, error: bool = True) -> None:
        column = self.table.columns.get(field, field)
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            self.found.append((int(self.rows[i]), len(self.found), column, say(i), error))
        if error:
            self.bad |= np.asarray(mask, dtype=bool)

    def flush(self) -> None:
        for row, _, column, reason, error in sorted(self.found):
            (self.table.report.error if error else self.table.report.warn)(row, column, reason)
