"""The command line's ``--help``, in Chinese first with the English after it.

Every help text, a command's or an option's, is a message of the catalogue: the code gives typer
``help=help_text(t("English template"))`` and ``messages.toml`` holds its Chinese, so the catalogue
stays the one place of the translations (and the i18n test finds these templates as it finds every
other). :class:`HelpedGroup`, the root command's class, says in both languages too what typer and
click write themselves: the ``--help`` option and the shell-completion options.

How it looks in a terminal: the Chinese, then the English in full-width brackets on a line of its
own (a paragraph of typer's); in the list of a group's commands, both lines. Help texts are plain
words, never rich markup (a ``[`` in them is escaped).

Chinese has no spaces, and rich breaks lines only at spaces: a table cell of typer's would crop a
long Chinese sentence with "…", or fold it in the middle of a code such as ``request_extension``.
Help texts are therefore wrapped here as Chinese is: between any two Chinese characters, never
inside a word of Latin letters, never before a closing mark (，。、）...) or after an opening one.
This wraps ``typer.rich_utils._make_rich_text``, a private function of typer's; should a release of
typer drop it, the help is shown as typer wraps it and ``tests/test_cli_help.py`` says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
import typer.rich_utils
from rich.cells import cell_len, chop_cells
from rich.containers import Lines
from rich.markup import escape
from rich.measure import Measurement
from rich.text import Text
from typer.core import TyperGroup

from geo_service.cli.errors import both
from geo_service.cli.usage_errors import BilingualContext
from geo_service.i18n import t

PARAGRAPH = "\n\n"


def help_text(message: str) -> str:
    """``message`` as a ``--help`` text: its Chinese, then its English in brackets as the next
    paragraph (the English alone if the catalogue has no Chinese for it, which the tests refuse)."""
    return escape(both(message, PARAGRAPH))


# What typer and click say themselves, in both languages.
HELP_OPTION = help_text(t("Show this message and exit"))
COMPLETION = {
    "install_completion": help_text(t("Install completion for the current shell")),
    "show_completion": help_text(t("Show completion for the current shell, to copy it or customize the installation")),
}


# typer's own words around the help texts: the titles of its panels and its marks after an
# option's help. Short, so both languages on one line; the marks are plain text, never markup.
TYPER_WORDS = {
    "ARGUMENTS_PANEL_TITLE": both(t("Arguments")),
    "OPTIONS_PANEL_TITLE": both(t("Options")),
    "COMMANDS_PANEL_TITLE": both(t("Commands")),
    "ERRORS_PANEL_TITLE": both(t("Error")),
    "REQUIRED_LONG_STRING": f"[{both(t('required'))}]",
    "DEFAULT_STRING": f"[{both(t('default'))}：{{}}]",  # {} takes the default, as typer formats it
    "ABORTED_TEXT": both(t("Aborted")) + "。",
}
for _name, _said in TYPER_WORDS.items():
    setattr(typer.rich_utils, _name, _said)


def _commands(command: Any) -> Iterator[Any]:
    """``command`` and every command under it."""
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _commands(sub)


class HelpedGroup(TyperGroup):
    """The root command (``typer.Typer(cls=HelpedGroup)``). When typer has built the tree of
    commands under it, every command's ``--help`` option gets its help in both languages, and every
    command its line in a group's list (typer lists a help's first paragraph only: the Chinese); the
    completion options, which typer adds to the root afterwards, when the root's options are read."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for command in _commands(self):
            command.context_class = BilingualContext  # its usage line in both languages
            option = command.get_help_option(typer.Context(command))
            if option is not None:
                option.help = HELP_OPTION
            if command is not self and command.help and not command.short_help:
                command.short_help = command.help.replace(PARAGRAPH, "\n")

    def get_params(self, ctx: typer.Context) -> list:
        for param in self.params:
            if param.name in COMPLETION:
                param.help = COMPLETION[param.name]
        return super().get_params(ctx)


# ---- wrapping Chinese

NO_LINE_START = set("，。、；：？！）》」』】〉”’…,.;:?!)]}")
NO_LINE_END = set("（《「『【〈“‘([{")


def _wide(char: str) -> bool:
    return cell_len(char) == 2


def units(text: str) -> list[str]:
    """``text`` cut where a line may break: after spaces (kept with the unit before them) and
    between Chinese characters, never before a closing mark nor after an opening one."""
    cut, start = [], 0
    for i in range(1, len(text)):
        before, after = text[i - 1], text[i]
        if after.isspace():
            continue
        if before.isspace() or (
            (_wide(before) or _wide(after)) and after not in NO_LINE_START and before not in NO_LINE_END
        ):
            cut.append(text[start:i])
            start = i
    cut.append(text[start:])
    return cut


def breaks(text: str, width: int) -> list[int]:
    """Where to break one line of ``text`` to fit ``width`` cells: as many units on a line as fit;
    a unit wider than a whole line is cut by cells."""
    offsets: list[int] = []
    position = used = 0
    for unit in units(text):
        if used and used + cell_len(unit.rstrip()) > width:
            offsets.append(position)
            used = 0
        pieces = chop_cells(unit, width) if cell_len(unit.rstrip()) > width else [unit]
        for piece in pieces[:-1]:
            position += len(piece)
            offsets.append(position)
        used += cell_len(pieces[-1])
        position += len(pieces[-1])
    return offsets


class ChineseText(Text):
    """A help text of typer's, wrapped as Chinese is (see :func:`units`)."""

    __slots__ = ()

    def wrap(self, console: Any, width: int, *, justify: Any = None, overflow: Any = None, **_: Any) -> Lines:
        lines = Lines()
        for line in self.split(allow_blank=True):
            pieces = line.divide(breaks(line.plain, width))
            for piece in pieces:
                piece.rstrip_end(width)
            pieces.justify(console, width, justify=justify or self.justify or "default", overflow="fold")
            for piece in pieces:
                piece.truncate(width, overflow="fold")
            lines.extend(pieces)
        return lines

    def __rich_measure__(self, console: Any, options: Any) -> Measurement:
        """As narrow as its widest unit; as wide as its longest line, or the whole width when it has
        both languages, so that typer puts ``[required]`` and ``[default: ...]`` under the English
        rather than beside the Chinese."""
        lines = self.plain.splitlines() or [""]
        longest = max(cell_len(line) for line in lines)
        narrowest = max((cell_len(unit.rstrip()) for line in lines for unit in units(line)), default=0)
        return Measurement(min(narrowest, longest), max(longest, options.max_width) if len(lines) > 1 else longest)


def _chinese(make: Any) -> Any:
    """typer's maker of a help text's rich ``Text``, making it a :class:`ChineseText`."""

    def made(**kwargs: Any) -> Any:
        text = make(**kwargs)
        if type(text) is Text:
            text.__class__ = ChineseText
        return text

    made.chinese = True
    return made


_make = getattr(typer.rich_utils, "_make_rich_text", None)
if _make is not None and not getattr(_make, "chinese", False):
    typer.rich_utils._make_rich_text = _chinese(_make)
