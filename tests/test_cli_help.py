"""``geo-service ... --help`` in Chinese first, with the English after it, for every command.

The commands are walked as click builds them from the app (no list kept here), and each one's
``--help`` is asked of the real command line. Every help text it shows (the command's own, each
argument's and option's, typer's ``--help`` and completion options, the line of each sub-command)
must hold Chinese, then the English in brackets; in an 80-column terminal nothing of it may be lost:
no "…" cropping a Chinese sentence, no Chinese character missing, no code cut in two.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
import typer
import typer.main
import typer.rich_utils
from rich.cells import cell_len
from rich.text import Text
from typer.testing import CliRunner

from geo_service.cli.help_text import TYPER_WORDS
from geo_service.cli.main import app
from geo_service.cli.usage_errors import USAGE

CJK = re.compile(r"[\u4e00-\u9fff]")
# What typer shows of its own words (the usage line's too), as far as its value (a default's) if it has one.
TYPER_CHINESE = [word.split("{}")[0] for word in TYPER_WORDS.values()] + [USAGE]
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{3,}")  # a code or an English word a line must not cut
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = re.compile(r"[\s│─╭╮╰╯]")


def _commands(command, path: tuple[str, ...] = ()):
    """(path, command) of ``command`` and of every command under it."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = list(_commands(ROOT))


def _plain(help: str) -> str:
    """A help text as the terminal shows it (it is given to rich as markup, escaped)."""
    return Text.from_markup(help).plain


def _help_texts(command) -> dict[str, str]:
    """What the command's ``--help`` shows, by whose it is: its own help, each parameter's (with
    typer's own options), each sub-command's line."""
    texts = {"the command": command.help}
    for param in command.get_params(typer.Context(command)):
        if not getattr(param, "hidden", False):
            texts[f"option {'/'.join(param.opts)}"] = param.help
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            texts[f"the line of {name}"] = sub.short_help or sub.help
    return {what: _plain(text or "") for what, text in texts.items()}


def _shown(path: tuple[str, ...], width: int, monkeypatch) -> str:
    """``geo-service PATH --help`` as a terminal ``width`` columns wide shows it."""
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", width)
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    return ANSI.sub("", result.output)


def _flat(text: str) -> str:
    """Text without spaces, line ends and the panels' borders: wrapped lines joined up."""
    return BOX.sub("", text)


def test_the_walk_finds_the_command_tree():
    groups = [command for _, command in COMMANDS if getattr(command, "commands", None)]
    assert len(groups) >= 8 and len(COMMANDS) >= 40
    assert ("users", "add") in dict(COMMANDS) and ("db", "recover") in dict(COMMANDS)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(path) or "geo-service" for path, _ in COMMANDS])
def test_every_help_is_chinese_then_english(path, command, monkeypatch):
    name = " ".join(("geo-service", *path))
    texts = _help_texts(command)
    for what, text in texts.items():
        chinese, paragraph, english = text.partition("\n")
        assert CJK.search(chinese), f"{name}, {what}: no Chinese first: {text!r}"
        english = english.strip()
        assert paragraph and english.startswith("（") and english.endswith("）"), (
            f"{name}, {what}: no English in brackets after the Chinese: {text!r}"
        )
        assert re.search(r"[A-Za-z]{3}", english) and english[1:-1] not in chinese, f"{name}, {what}: {text!r}"

    # As shown, wide enough for no line to wrap: each text's Chinese, then its English.
    shown = _flat(_shown(path, 1000, monkeypatch))
    for what, text in texts.items():
        chinese, _, english = (_flat(part) for part in text.partition("\n"))
        assert chinese in shown and english in shown, f"{name}, {what}: not shown whole: {text!r}"
        assert shown.index(chinese) < shown.index(english), f"{name}, {what}: the English before the Chinese"

    # In an 80-column terminal: every line fits, nothing is cropped or lost, no code is cut in two.
    shown = _shown(path, 80, monkeypatch)
    assert "…" not in shown, f"{name}: a help text cropped:\n{shown}"
    assert max(cell_len(line) for line in shown.splitlines()) <= 80, shown
    said = Counter(CJK.findall("".join(texts.values())))
    bare = shown
    for word in TYPER_CHINESE:  # typer's own words around the texts
        bare = bare.replace(word, "")
    assert Counter(CJK.findall(bare)) == said, f"{name}: Chinese characters lost or added in 80 columns:\n{shown}"
    words = Counter(WORD.findall("\n".join(texts.values())))
    cut = [word for word, count in words.items() if len(re.findall(rf"\b{word}\b", shown)) < count]
    assert not cut, f"{name}: {cut} cut at a line's end in 80 columns:\n{shown}"


def test_users_add_in_80_columns(monkeypatch):
    shown = _shown(("users", "add"), 80, monkeypatch)
    lines = [line.strip("│ ").rstrip() for line in shown.splitlines()]
    assert "添加用户并显示其访问令牌（仅此一次显示；服务只保存令牌的摘要）" in lines
    assert lines[lines.index("添加用户并显示其访问令牌（仅此一次显示；服务只保存令牌的摘要）") + 2] == (
        "（Add a user and print their bearer token (shown only now; only its digest is"
    )
    role = dict(COMMANDS)[("users", "add")].params[1]
    assert role.opts == ["--role"]
    assert role.help == (
        "角色：admin（系统管理员）、planner（网格规划员）、dispatcher（调度员）、analyst（分析员）、"
        "grid_worker（网格员）或 leader（领导）\n\n（admin, planner, dispatcher, analyst, grid_worker or leader）"
    )
    assert "*    name      <str>  用户名（不可重复）" in lines
    # typer's own words too: its panels' titles and its marks.
    assert "╭─ 参数（Arguments） ─" in shown and "╭─ 选项（Options） ─" in shown
    assert lines.count("[必填（required）]") == 2  # the name and --role
    assert "--help                <bool>  显示此帮助信息并退出" in lines
    assert lines[lines.index("--help                <bool>  显示此帮助信息并退出") + 1].endswith(
        "（Show this message and exit）"
    )


def test_the_list_of_commands_shows_both_languages(monkeypatch):
    lines = [line.strip("│ ").rstrip() for line in _shown((), 80, monkeypatch).splitlines()]
    users = lines.index("users       用户：添加（仅此一次显示令牌）、列出、吊销")
    assert lines[users + 1].strip() == "（Users: add (prints the token, once), list, revoke）"
    assert "case        办理案件的一个环节，与 POST /incidents/{id}/{action} 相同" in lines


def test_chinese_breaks_between_characters_never_inside_a_code_nor_before_a_closing_mark():
    from geo_service.cli.help_text import breaks, units

    assert units("申请延期（request_extension）时：延长的小时数") == [
        *"申请延期",
        "（request_extension）",
        "时：",
        *"延长的小时数",
    ]
    text = "办理人（记入流转记录）"
    assert [text[a:b] for a, b in zip([0, *breaks(text, 18)], [*breaks(text, 18), len(text)])] == [
        "办理人（记入流转记",
        "录）",
    ]
