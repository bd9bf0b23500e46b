"""typer's own complaints about a command line in Chinese first, with typer's English after them.

A missing argument, an unknown option or command, a value of the wrong kind: typer words these
itself, in English, in its copy of click, which has no catalogue to translate them. Each is
recognised here by typer's English and said in Chinese from the catalogue, typer's words kept
whole in brackets after it, as every other line of the command line is (``cli.errors.both``)::

    用法（Usage）：geo-service users add [OPTIONS] {name}
    运行 'geo-service users add --help' 查看帮助
    （Try 'geo-service users add --help' for help.）
    ╭─ 错误（Error） ─────────────────────────────────────────╮
    │ 缺少参数 'name'（Missing argument 'name'.）            │

A complaint not recognised (a newer typer's) still opens in Chinese, 命令行有误, and keeps typer's
words. The usage line, of an error and of every ``--help``, opens with 用法（Usage）：, which every
command's context writes (:class:`BilingualContext`, given to each command by ``HelpedGroup``).
The complaint reaches the terminal through ``typer.rich_utils.rich_format_error``, wrapped here;
``tests/test_cli_usage_errors.py`` asks typer for each complaint, so a typer that words one anew,
or prints it another way, is noticed there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer
import typer.rich_utils

from geo_service.cli.errors import both
from geo_service.i18n import Message, render, t

CJK = re.compile(r"[\u4e00-\u9fff]")
USAGE = both(t("Usage")) + "："
# The hint under the usage line, as a help text is: the Chinese, then the English on a line of its own.
_TRY = t("Try {command} for help.", command="'{command_path} {help_option}'")
typer.rich_utils.RICH_HELP = both(_TRY, "\n").replace(
    "'{command_path} {help_option}'", "[blue]'{command_path} {help_option}'[/]"
)


class BilingualFormatter(typer.Context.formatter_class):
    """typer's help formatter, its usage line opening with :data:`USAGE`."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, USAGE if prefix is None else prefix)


class BilingualContext(typer.Context):
    formatter_class = BilingualFormatter


Rule = tuple[str, Callable[[re.Match], Message]]

# What is wrong with a value (after typer's "Invalid value for '--x': "): pydantic's words and
# typer's, each matched whole.
REASONS: list[Rule] = [
    (r"Input should be a valid integer.*", lambda m: t("a whole number is wanted")),
    (r"Input should be a valid number.*", lambda m: t("a number is wanted")),
    (r"Input should be a valid boolean.*", lambda m: t("true or false is wanted")),
    (r"Input should be a valid (datetime|date).*", lambda m: t("a date or time is wanted, as 2026-03-01 08:00")),
    (r"Input should be less than or equal to (?P<limit>.+)", lambda m: t("at most {limit}", limit=m["limit"])),
    (r"Input should be less than (?P<limit>.+)", lambda m: t("less than {limit}", limit=m["limit"])),
    (r"Input should be greater than or equal to (?P<limit>.+)", lambda m: t("at least {limit}", limit=m["limit"])),
    (r"Input should be greater than (?P<limit>.+)", lambda m: t("more than {limit}", limit=m["limit"])),
    (
        r"(Value error, )?(?P<value>.+) is not one of (?P<choices>.+)\.",
        lambda m: t("{value} is not one of {choices}", value=m["value"], choices=m["choices"]),
    ),
    (
        r"Value (?P<value>.+) is not a valid (?P<kind>.+)\.",
        lambda m: t("{value} is not a valid {kind}", value=m["value"], kind=m["kind"]),
    ),
    (r"([Pp]ath|File|Directory) (?P<path>.+) does not exist\.", lambda m: t("{path} does not exist", path=m["path"])),
    (r"([Pp]ath|File) (?P<path>.+) is a directory\.", lambda m: t("{path} is a folder, not a file", path=m["path"])),
    (r"([Pp]ath|Directory) (?P<path>.+) is a file\.", lambda m: t("{path} is a file, not a folder", path=m["path"])),
]

# typer's complaints about a command line, each matched whole.
COMPLAINTS: list[Rule] = [
    (r"Missing argument (?P<name>.+?)\.( .+)?", lambda m: t("missing argument {name}", name=m["name"])),
    (r"Missing option (?P<name>.+?)\.( .+)?", lambda m: t("missing option {name}", name=m["name"])),
    (r"Missing parameter:? (?P<name>.+?)\.?", lambda m: t("missing parameter {name}", name=m["name"])),
    (r"Missing command\.", lambda m: t("a command is missing")),
    (
        r"No such command (?P<name>'.*?')\. Did you mean (?P<like>.+)\?",
        lambda m: t("no command {name}; did you mean {like}?", name=m["name"], like=m["like"]),
    ),
    (r"No such command (?P<name>'.*?')\.", lambda m: t("no command {name}", name=m["name"])),
    (
        r"No such option: (?P<name>\S+) \(Possible options: (?P<like>.+)\)",
        lambda m: t("no option {name}; did you mean {like}?", name=m["name"], like=m["like"]),
    ),
    (r"No such option: (?P<name>\S+)", lambda m: t("no option {name}", name=m["name"])),
    (r"Option (?P<name>'.+?') requires an argument\.", lambda m: t("option {name} needs a value", name=m["name"])),
    (
        r"Option (?P<name>'.+?') requires (?P<n>\d+) arguments\.",
        lambda m: t("option {name} needs {n} values", name=m["name"], n=m["n"]),
    ),
    (r"Option (?P<name>'.+?') does not take a value\.", lambda m: t("option {name} takes no value", name=m["name"])),
    (
        r"Argument (?P<name>'.+?') takes (?P<n>\d+) values\.",
        lambda m: t("argument {name} takes {n} values", name=m["name"], n=m["n"]),
    ),
    (
        r"Got unexpected extra argument\(s\) \((?P<extra>.*)\)",
        lambda m: t("unexpected extra arguments: {extra}", extra=m["extra"]),
    ),
    (
        r"Invalid value for (?P<name>.+?): (?P<reason>.+)",
        lambda m: t("invalid value for {name}: {reason}", name=m["name"], reason=_reason(m["reason"])),
    ),
    (r"Invalid value: (?P<reason>.+)", lambda m: t("invalid value: {reason}", reason=_reason(m["reason"]))),
]


def _first(rules: list[Rule], english: str) -> Message | None:
    for pattern, said in rules:
        match = re.fullmatch(pattern, english, flags=re.DOTALL)
        if match:
            return said(match)
    return None


def _reason(english: str) -> str:
    """What is wrong with a value, in Chinese where it is recognised (typer's English otherwise)."""
    return _first(REASONS, english) or english


def in_chinese(english: str) -> str:
    """typer's complaint in Chinese, typer's own words after it in brackets (a complaint of the
    service's own, in Chinese already, as it is)."""
    if CJK.search(english):
        return english
    said = _first(COMPLAINTS, english)
    chinese = render(said if said is not None else t("the command line is not right"), "zh")
    return f"{chinese}（{english}）"


def _bilingual(format_error: Callable[[Any], None]) -> Callable[[Any], None]:
    """typer's printer of a complaint, given the complaint in both languages."""

    def print_error(error: Any) -> None:
        english = error.format_message()
        said = in_chinese(english)
        error.format_message = lambda: said
        format_error(error)

    print_error.bilingual = True
    return print_error


if not getattr(typer.rich_utils.rich_format_error, "bilingual", False):
    typer.rich_utils.rich_format_error = _bilingual(typer.rich_utils.rich_format_error)
