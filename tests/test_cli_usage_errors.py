"""A command line typed wrong is answered in Chinese first, typer's English kept after it.

The service's commands are asked with the mistakes people make (a missing argument, a mistyped
command or option, a word where a number goes); and a small app of every kind of parameter typer
checks gives each of typer's complaints, so that a release of typer that words one differently
is noticed here rather than shown in English alone.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from geo_service.cli.help_text import HelpedGroup
from geo_service.cli.main import app
from geo_service.cli.usage_errors import in_chinese

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = re.compile(r"[│╭╮╰╯─]")


def _said(application: typer.Typer, args: list[str]) -> tuple[list[str], str]:
    """What the command line prints for ``args``: the lines above the complaint's panel, and the
    complaint as one line (the panel's borders and line breaks taken out)."""
    result = CliRunner().invoke(application, args, prog_name="geo-service")
    assert result.exit_code == 2, result.output
    head, _, panel = ANSI.sub("", result.output).partition("╭")
    lines = BOX.sub("", panel.partition("\n")[2]).splitlines()
    return head.strip().splitlines(), " ".join(line.strip() for line in lines if line.strip())


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    """A terminal wide enough for a complaint to fit one line of its panel."""
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 300)


@pytest.mark.parametrize(
    ("args", "usage", "complaint"),
    [
        (["users", "add"], "users add", "缺少参数 'name'（Missing argument 'name'.）"),
        (["users", "add", "wang"], "users add", "缺少选项 '--role'（Missing option '--role'.）"),
        (["users", "ad"], "users", "没有命令 'ad'；是要用 'add' 吗？（No such command 'ad'. Did you mean 'add'?）"),
        (
            ["users", "add", "wang", "--rol", "admin"],
            "users add",
            "没有选项 --rol；是要用 --role 吗？（No such option: --rol (Possible options: --role)）",
        ),
        (["users", "add", "wang", "--bogus"], "users add", "没有选项 --bogus（No such option: --bogus）"),
        (
            ["serve", "--workers", "two"],
            "serve",
            "'--workers' 的值无效：应为整数（Invalid value for '--workers': Input should be a valid integer, "
            "unable to parse string as an integer）",
        ),
        (["serve", "--workers"], None, "选项 '--workers' 需要一个值（Option '--workers' requires an argument.）"),
        (["users", "list", "extra"], "users list", "多出了参数：extra（Got unexpected extra argument(s) (extra)）"),
    ],
)
def test_a_command_typed_wrong_is_answered_in_chinese_then_english(args, usage, complaint):
    head, said = _said(app, args)
    assert said == complaint
    if usage is None:  # typer gives an option missing its value no usage line
        assert head == []
        return
    command = f"geo-service {usage}"
    assert head[0].startswith(f"用法（Usage）：{command} "), head
    assert head[1:] == [f"运行 '{command} --help' 查看帮助", f"（Try '{command} --help' for help.）"]


def test_the_usage_line_of_a_help_is_chinese_first_too():
    result = CliRunner().invoke(app, ["users", "add", "--help"], prog_name="geo-service")
    assert result.exit_code == 0
    assert "用法（Usage）：geo-service users add [OPTIONS] " in ANSI.sub("", result.output)


class Colour(enum.StrEnum):
    red = "red"
    blue = "blue"


def _every_kind() -> typer.Typer:
    """A command with a parameter of each kind typer checks, built as the service's root is."""
    every = typer.Typer(cls=HelpedGroup)

    @every.command()
    def check(
        pair: tuple[str, str] = typer.Argument(...),
        count: int = typer.Option(1),
        share: float = typer.Option(1.0),
        colour: Colour = typer.Option(Colour.red),
        source: Path = typer.Option(Path("."), exists=True),
        since: datetime = typer.Option(datetime(2026, 1, 1)),
        days: int = typer.Option(1, min=1, max=30),
        hours: int = typer.Option(1, min=1),
    ) -> None:
        """Check."""

    @every.command()
    def other() -> None:
        """Other."""

    return every


@pytest.mark.parametrize(
    ("args", "chinese"),
    [
        (["check"], "缺少参数 'pair'"),
        (["check", "a"], "参数 'pair' 需要 2 个值"),
        (["check", "a", "b", "--count", "x"], "'--count' 的值无效：应为整数"),
        (["check", "a", "b", "--share", "x"], "'--share' 的值无效：应为数字"),
        (["check", "a", "b", "--colour", "green"], "'--colour' 的值无效：'green' 不是可选的值，可选：'red', 'blue'"),
        (["check", "a", "b", "--source", "/no/such/place"], "'--source' 的值无效：'/no/such/place' 不存在"),
        (["check", "a", "b", "--since", "x"], "'--since' 的值无效：应为日期或时间，如 2026-03-01 08:00"),
        (["check", "a", "b", "--days", "31"], "'--days' 的值无效：不能大于 30"),
        (["check", "a", "b", "--hours", "0"], "'--hours' 的值无效：不能小于 1"),
        (["check", "a", "b", "--count"], "选项 '--count' 需要一个值"),
        (["check", "a", "b", "c"], "多出了参数：c"),
        (["chek"], "没有命令 'chek'；是要用 'check' 吗？"),
        ([], None),  # no command: typer shows the help, not a complaint
    ],
)
def test_every_complaint_of_typer_is_recognised(args, chinese):
    if chinese is None:
        result = CliRunner().invoke(_every_kind(), args)
        assert "用法（Usage）：" in ANSI.sub("", result.output)
        return
    _, said = _said(_every_kind(), args)
    assert said.startswith(chinese + "（"), said
    assert said.endswith("）") and re.search(r"[A-Za-z]{4}", said.partition("（")[2]), said


def test_a_complaint_not_recognised_still_opens_in_chinese():
    assert in_chinese("Something typer says one day.") == "命令行有误（Something typer says one day.）"
    assert in_chinese("错误：已是中文（in Chinese already）") == "错误：已是中文（in Chinese already）"
