"""Every message in 简体中文 by default and in English on request, from the one catalogue.

The catalogue (``geo_service/i18n/catalogue``) is checked against the code: every template the code
passes to ``t()`` has its Chinese with the same values in braces, no entry is left over, every page
word has both languages and every word a page asks for exists. Then the service is asked: errors of
each kind (404, 409, 422, 401, and the answers of Starlette and the middleware) come in Chinese with
no ``Accept-Language`` and in English with ``Accept-Language: en``; the command line prints Chinese
then English.
"""

from __future__ import annotations

import ast
import os
import re
import string
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import text

from geo_service.i18n import CATALOGUE_DIR, Codes, negotiate, render, t, translated_templates, ui, vocabulary
from geo_service.vocabulary import STATUSES

from .conftest import FIGURES, signed_in

PACKAGE = Path(__file__).resolve().parents[1] / "geo_service"
WEB = PACKAGE / "web"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _literals(node: ast.expr) -> list[str] | None:
    """The template(s) of a ``t()`` call: a literal (Python joins literals written over several
    lines before ``ast`` sees them), or either literal of ``a if x else b``; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literals(node.body), _literals(node.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


class Use:
    """Where a template is written, and the values its calls give (None: a call gives ``**values``,
    so any name may be given)."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.given: set[str] | None = set()


def code_templates() -> dict[str, Use]:
    """Every template passed to ``t()`` in the package -> where it is written and what it is given."""
    found: dict[str, Use] = defaultdict(Use)
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t" and node.args:
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                templates = _literals(node.args[0])
                assert templates is not None, (
                    f"{where}: t() is given a template that is not written out, so no catalogue can hold it"
                )
                names = {keyword.arg for keyword in node.keywords}
                for template in templates:
                    use = found[template]
                    use.where.append(where)
                    if use.given is not None:
                        use.given = None if None in names else use.given | names
    return found


def catalogue() -> dict[str, str]:
    with open(CATALOGUE_DIR / "messages.toml", "rb") as file:
        entries = tomllib.load(file)["message"]
    english = [entry["en"] for entry in entries]
    assert len(english) == len(set(english)), "a template has two entries in messages.toml"
    return {entry["en"]: entry["zh"] for entry in entries}


def fields(template: str) -> list[tuple[str, str | None, str]]:
    """The ``{name!conversion:spec}`` fields of a template, in order."""
    return [
        (name, conversion, spec or "")
        for _, name, spec, conversion in string.Formatter().parse(template)
        if name is not None
    ]


def test_every_template_in_the_code_has_its_chinese_with_the_same_values():
    """Each English template has its Chinese, naming the same values with the same format specs.
    A translation may show a code by its label (``!v``), and may use instead of a value another
    one every call gives for it (``vacant_names``, the roles' Chinese names, for ``vacant``)."""
    templates = code_templates()
    translations = catalogue()
    missing = {template: use.where for template, use in templates.items() if template not in translations}
    assert not missing, "templates without a Chinese entry in messages.toml:\n" + "\n".join(
        f"  {where[0]}: {template!r}" for template, where in missing.items()
    )
    wrong = []
    for template, use in templates.items():
        english, chinese = fields(template), fields(translations[template])
        said = {(name, spec) for name, _, spec in english}
        translated = {(name, spec) for name, _, spec in chinese}
        conversions = {name: conversion for name, conversion, _ in english}
        extra = {name for name, _ in translated - said}
        given = extra if use.given is None else extra & use.given
        bad_conversion = [name for name, conversion, _ in chinese if conversion not in (conversions.get(name), "v")]
        unknown = extra - given
        dropped = said - translated
        if unknown or (dropped and not extra) or bad_conversion:
            wrong.append(f"  {use.where[0]}: {template!r}\n    -> {translations[template]!r}")
    assert not wrong, "translations whose values in braces differ from the English:\n" + "\n".join(wrong)
    FIGURES["messages"] = f"{len(templates)} templates, all in Chinese"


def test_no_entry_of_the_catalogue_is_stale():
    stale = sorted(set(catalogue()) - set(code_templates()))
    assert not stale, "entries of messages.toml no code uses any more:\n" + "\n".join(f"  {s!r}" for s in stale)
    assert translated_templates() == set(catalogue())


# Reports a county office reads to fix its files: every reason in them is a message of the catalogue.
REPORTING = sorted([*(PACKAGE / "county").glob("*.py"), *(PACKAGE / "rules").glob("*.py")])


def _reasons(call: ast.Call) -> list[ast.expr]:
    """The arguments of a call that are a report's reason: the last of ``error``/``warn``/``Problem``
    (``report.error(row, column, reason)``; before a severity, if one is last), the first of
    ``Bad``/``FileError``/``ValueError``, what the lambda given to ``RowProblems.add`` says."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name in ("error", "warn", "_error", "Problem") and call.args:
        last = call.args[-1]
        severity = isinstance(last, ast.Constant) and last.value in ("error", "warning")
        return [call.args[-2] if severity else last]
    if name in ("Bad", "FileError", "ValueError") and call.args:
        return [call.args[0]]
    if name == "add" and len(call.args) >= 3 and isinstance(call.args[2], ast.Lambda):
        return [call.args[2].body]
    return []


def _plain_text(node: ast.expr) -> bool:
    """Text no catalogue can translate: a literal, an f-string, text joined or made by ``str()``."""
    if isinstance(node, ast.IfExp):
        return _plain_text(node.body) or _plain_text(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str":
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
        return True
    return isinstance(node, (ast.JoinedStr, ast.BinOp)) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def test_the_import_and_rules_reports_give_no_reason_as_plain_text():
    """Every reason the county import and the rule tables report is written with ``t()`` (or is a
    message made so elsewhere): never an f-string, a literal or ``str(exc)``, which would reach the
    county office in English only."""
    plain = []
    for path in REPORTING:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            found = _reasons(node) if isinstance(node, ast.Call) else []
            if isinstance(node, ast.Dict):  # {"file": ..., "reason": ...}: a file skipped
                found = [
                    v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant) and k.value == "reason"
                ]
            plain += [
                f"  {path.relative_to(PACKAGE.parent)}:{n.lineno}: {ast.unparse(n)[:90]}"
                for n in found
                if _plain_text(n)
            ]
    assert not plain, "reasons given as plain text, not as t(...):\n" + "\n".join(plain)


def _literal(template: str) -> str:
    """A template's own words, without its fields."""
    return "".join(literal for literal, *_ in string.Formatter().parse(template))


def _sample(name: str, conversion: str | None, spec: str):
    """A value a field can be formatted with: a status code for labels, a number for numeric specs."""
    if conversion == "v":
        return "in_progress"
    if spec and spec[-1] in "xdc":
        return 42
    if spec:
        return 1234.5
    return f"<{name}>"


def test_the_chinese_messages_are_chinese_and_fill_every_value():
    """Rendered with values, no Chinese message keeps a brace, shows an English status code, or is
    missing Chinese words; a vocabulary code given to ``!v`` comes out as its label."""
    status_code = re.compile(r"\b(" + "|".join(re.escape(s) for s in STATUSES) + r")\b")
    problems = []
    for template, chinese in catalogue().items():
        params: dict = {}
        for name, conversion, spec in fields(template) + fields(chinese):
            if name not in params or conversion == "v":
                params[name] = _sample(name, conversion, spec)
        shown = render(t(template, **params), "zh")
        if shown == str(t(template, **params)):
            problems.append(f"  not translated when rendered: {template!r}")
            continue
        bare = shown
        for value in params.values():
            bare = bare.replace(str(value), "")
        if "{" in bare or "}" in bare:
            problems.append(f"  a brace left in {shown!r}")
        if status_code.search(re.sub(r"'[^']*'|`[^`]*`", "", bare)):
            problems.append(f"  an English status code in {shown!r}")
        if re.search(r"[A-Za-z]", _literal(template)) and not CJK.search(chinese):
            problems.append(f"  no Chinese in {chinese!r}")
        if any(conversion == "v" for _, conversion, _ in fields(chinese)) and "办理中" not in shown:
            problems.append(f"  a code not shown by its label in {shown!r}")
    assert not problems, "\n".join(problems)


def test_codes_and_nested_messages_are_rendered_in_the_readers_language():
    step = t(
        "cannot {action} incident {incident_id}: it is {status}; allowed now: {allowed}",
        action="dispatch",
        incident_id=12,
        status="closed",
        allowed=Codes([], none="nothing (the case is finished)"),
    )
    assert str(step) == "cannot dispatch incident 12: it is closed; allowed now: nothing (the case is finished)"
    assert render(step, "en") == str(step)
    assert render(step, "zh") == "案件 12 当前为“已结案”，不能执行“派遣”；当前可办理：无（案件已结束）"
    assert render(
        t(
            "cannot {action} incident {incident_id}: it is {status}; allowed now: {allowed}",
            action="close",
            incident_id=3,
            status="in_progress",
            allowed=Codes(["resolve", "urge"]),
        ),
        "zh",
    ).endswith("当前可办理：办结、催办")
    # A message inside another (a reason inside "where: problem") follows the outer one's language.
    inner = t("no incident with id {incident_id}", incident_id=7)
    outer = t("reported_at {value}: {message}", value="2026-11-27T14:05:00+08:00", message=inner)
    assert render(outer, "zh") == "上报时间 reported_at（2026-11-27T14:05:00+08:00）：没有编号为 7 的案件"
    assert render(outer, "en") == "reported_at 2026-11-27T14:05:00+08:00: no incident with id 7"
    # Text that is not a message of the catalogue is shown as it is.
    assert render("plain words", "zh") == "plain words"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9", "en"),
        ("en-GB,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr", "zh"),
        ("fr-FR,fr;q=0.9,en;q=0.5", "en"),
        ("en;q=0, zh;q=0.1", "zh"),
        ("zh;q=0,en", "en"),
        ("en;q=0", "zh"),
        ("*", "zh"),
        ("", "zh"),
        (None, "zh"),
        ("en;q=abc,zh", "zh"),
    ],
)
def test_negotiate_reads_real_accept_language_headers(header, language):
    assert negotiate(header) == language


# ---- the pages' words


def _leaves(table: dict, prefix: str = ""):
    """(key, value) of every entry of a ui file: a value is a table of zh and en, or something wrong."""
    for key, value in table.items():
        if isinstance(value, dict) and ("zh" in value or "en" in value):
            yield f"{prefix}{key}", value
        elif isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_every_page_word_has_chinese_and_english():
    wrong = []
    for path in sorted((CATALOGUE_DIR / "ui").glob("*.toml")):
        with open(path, "rb") as file:
            for key, value in _leaves(tomllib.load(file)):
                if not (
                    isinstance(value, dict)
                    and set(value) == {"zh", "en"}
                    and all(isinstance(v, str) for v in value.values())
                    # (a language may need no word where the other has one: a counter, 件)
                    and any(v.strip() for v in value.values())
                ):
                    wrong.append(f"  {path.name}: {key} = {value!r}")
                elif fields(value["zh"]) and {f[0] for f in fields(value["zh"])} != {f[0] for f in fields(value["en"])}:
                    wrong.append(f"  {path.name}: {key}: zh and en name different {{values}}: {value!r}")
    assert not wrong, "page words without both languages:\n" + "\n".join(wrong)
    assert set(ui("zh")) == set(ui("en"))


def _script_text(path: Path) -> str:
    """A script without its comments (a comment may quote a call as an example)."""
    source = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"(^|\s)//.*", r"\1", source, flags=re.M)


KEY = r"([a-z][\w-]*(?:\.[\w-]+)+)"


def words_asked_by_pages() -> dict[str, dict[str, set[str]]]:
    """file -> {"keys": page words it asks for, "groups": label groups it asks for}."""
    asked: dict[str, dict[str, set[str]]] = {}
    for path in sorted((WEB / "static").glob("*.js")):
        source = _script_text(path)
        asked[f"static/{path.name}"] = {
            "keys": set(re.findall(r"\bt\(\s*[\"']" + KEY + r"[\"']", source)),
            "groups": set(re.findall(r"\blabel\(\s*[\"'](\w+)[\"']", source)),
        }
    for path in sorted(WEB.glob("*.html")):
        source = path.read_text(encoding="utf-8")
        asked[path.name] = {"keys": set(re.findall(r"data-i18n(?:-[\w-]+)?=\"" + KEY + '"', source)), "groups": set()}
    return asked


def test_every_word_a_page_asks_for_is_in_the_catalogue():
    """Fails, naming the file, for a page word (``GS.t("...")``, ``data-i18n*="..."``) or a label
    group (``GS.label("...", code)``) that the catalogue does not have."""
    words = set(ui("zh"))
    groups = set(vocabulary()) | {"category", "source", "role"}
    missing = []
    for name, asked in words_asked_by_pages().items():
        if lost := sorted(asked["keys"] - words):
            missing.append(f"  {name}: {', '.join(lost)}")
        if lost := sorted(asked["groups"] - groups):
            missing.append(f"  {name}: label groups {', '.join(lost)}")
    assert not missing, "words the pages ask for that geo_service/i18n/catalogue/ui lacks:\n" + "\n".join(missing)


# ---- the API


@pytest.fixture(scope="module")
def anyone(demo_url):
    """A client of the demo county sending no Accept-Language (as a browser or GDAL may not),
    signed in as an administrator over the county."""
    with signed_in(demo_url, accept_language=None) as client:
        yield client


def _both(client, method: str, url: str, **kwargs) -> tuple:
    """The answer to the same request with no Accept-Language, then with ``en``."""
    headers = kwargs.pop("headers", {})
    chinese = client.request(method, url, headers=headers, **kwargs)
    english = client.request(method, url, headers={**headers, "Accept-Language": "en"}, **kwargs)
    assert chinese.status_code == english.status_code
    assert chinese.headers["content-language"] == "zh" and english.headers["content-language"] == "en"
    chinese_body, english_body = chinese.json(), english.json()
    # The same answer but its message: error, field and the details a client reads do not change.
    assert {k: v for k, v in chinese_body.items() if k != "message"} == {
        k: v for k, v in english_body.items() if k != "message"
    }
    assert CJK.search(chinese_body["message"]), chinese_body
    assert not CJK.search(english_body["message"]), english_body
    return chinese.status_code, chinese_body, english_body


def test_not_found_in_chinese_and_english(anyone):
    status, chinese, english = _both(anyone, "GET", "/incidents/987654321")
    assert status == 404 and chinese["error"] == "NotFound" and chinese["field"] == "id"
    assert chinese["message"] == "没有编号为 987654321 的案件"
    assert english["message"] == "no incident with id 987654321"


def test_a_step_not_allowed_in_chinese_and_english(demo_copy_url):
    with signed_in(demo_copy_url, accept_language=None) as client:
        with client.app.state.engine.connect() as connection:
            closed = connection.execute(text("SELECT id FROM incidents WHERE status = 'closed' LIMIT 1")).scalar()
            before = connection.execute(
                text("SELECT count(*) FROM incident_events WHERE incident_id = :i"), {"i": closed}
            ).scalar()
        status, chinese, english = _both(client, "POST", f"/incidents/{closed}/dispatch", json={"note": "再派一次"})
        with client.app.state.engine.connect() as connection:
            after = connection.execute(
                text("SELECT count(*) FROM incident_events WHERE incident_id = :i"), {"i": closed}
            ).scalar()
    assert status == 409 and chinese["error"] == "Conflict"
    assert chinese["message"].startswith(f"案件 {closed} 当前为“已结案”，不能执行“派遣”；当前可办理：")
    assert "closed" not in chinese["message"] and "dispatch" not in chinese["message"]
    assert english["message"].startswith(f"cannot dispatch incident {closed}: it is closed; allowed now: ")
    assert after == before, "a refused step recorded something"


def test_invalid_input_in_chinese_and_english(anyone):
    # FastAPI's own validation: a query parameter of the wrong type, then a body value out of range.
    status, chinese, english = _both(anyone, "GET", "/incidents", params={"limit": "many"})
    assert status == 422 and chinese["error"] == "InvalidInput" and chinese["field"] == "limit"
    assert chinese["message"] == "limit：须为整数"
    assert english["message"].startswith("limit: Input should be a valid integer")
    assert chinese["detail"][0]["type"] == "int_parsing"

    body = {"external_id": "i18n-1", "lon": 104.1, "lat": 30.0, "category": "x" * 500, "source": "hotline"}
    body |= {"reported_at": "2026-11-27T14:05:00", "risk_colour": "purple"}
    status, chinese, english = _both(anyone, "POST", "/incidents", json=body)
    assert status == 422 and len(chinese["detail"]) >= 2
    assert re.fullmatch(r"\S+：.+（另有 \d+ 处问题）", chinese["message"]), chinese["message"]
    assert re.search(r"\(and \d+ more problems?\)$", english["message"]), english["message"]

    # The service's own check, after validation: a coordinate off the globe.
    status, chinese, english = _both(anyone, "GET", "/locate", params={"lon": 104.1, "lat": 95})
    assert status == 422 and chinese["field"] == "lat"
    assert "纬度 lat 95" in chinese["message"] and "超出 -90 至 90 的范围" in chinese["message"]
    assert "lat 95" in english["message"] and "is outside -90 to 90" in english["message"]


def test_unauthenticated_in_chinese_and_english(demo_url):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    with TestClient(create_app(Settings(database_url=demo_url))) as nobody:
        status, chinese, english = _both(nobody, "GET", "/incidents")
        assert status == 401 and chinese["error"] == "Unauthenticated"
        assert chinese["message"].startswith("请先登录")
        assert english["message"].startswith("sign in: send the header 'Authorization: Bearer <token>'")
        status, chinese, english = _both(nobody, "GET", "/incidents", headers={"Authorization": "Bearer not-a-token"})
        assert status == 401 and chinese["message"] == "令牌无效或已被吊销"
        assert english["message"] == "the token is unknown or revoked"


def test_the_frameworks_own_refusals_in_chinese_and_english(anyone):
    status, chinese, english = _both(anyone, "GET", "/no/such/path")
    assert status == 404 and chinese["error"] == "NotFound" and chinese["detail"] == "Not Found"
    assert chinese["message"] == "地址 /no/such/path 不存在"
    assert english["message"] == "there is nothing at /no/such/path"

    status, chinese, english = _both(anyone, "DELETE", "/incidents")
    assert status == 405 and chinese["error"] == "MethodNotAllowed"
    assert chinese["message"].startswith("/incidents 不支持 DELETE 请求；支持：")
    assert english["message"].startswith("/incidents does not take DELETE; it takes ")

    # A multipart upload Starlette cannot parse (its reason is its own, quoted).
    sent = {"content": b"--x\r\nnot a part", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}
    status, chinese, english = _both(anyone, "POST", "/boundaries/drafts", **sent)
    assert status == 400 and chinese["error"] == "BadRequest"
    assert chinese["message"] == f"无法读取请求：{chinese['detail']}"
    assert english["message"] == f"the request cannot be read: {chinese['detail']}"

    # The strict JSON middleware answers before the app: a key given twice, NaN, bytes not UTF-8.
    sent = {"content": b'{"lon": 1, "lon": 2}', "headers": {"Content-Type": "application/json"}}
    status, chinese, english = _both(anyone, "POST", "/incidents", **sent)
    assert status == 400 and chinese["error"] == "MalformedBody" and chinese["field"] == "lon"
    assert chinese["message"] == '请求体的同一个对象中键 "lon" 出现了两次；每个键只能出现一次'
    assert english["message"] == 'the key "lon" appears twice in one object of the body; give each key once'
    sent = {"content": b'{"lon": NaN, "lat": 30}', "headers": {"Content-Type": "application/json"}}
    status, chinese, english = _both(anyone, "POST", "/incidents", **sent)
    assert status == 422 and chinese["message"] == "lon：NaN 不是本服务接受的数值"
    assert english["message"] == "lon: NaN is not a number the service accepts"

    # A body sent as something other than JSON to a route that reads JSON.
    sent = {"content": b"lon=1", "headers": {"Content-Type": "text/plain"}}
    status, chinese, english = _both(anyone, "POST", "/incidents", **sent)
    assert status == 415 and chinese["message"].startswith("请求体须为 JSON")
    assert english["message"].startswith("the body must be JSON")


def test_the_body_limit_in_chinese_and_english(demo_url):
    """Over the body limit, the middleware refuses before the route reads it."""
    with signed_in(demo_url, accept_language=None, max_body_bytes=2_000) as small:
        sent = {"content": b"[" + b"0," * 2_000 + b"0]", "headers": {"Content-Type": "application/json"}}
        status, chinese, english = _both(small, "POST", "/incidents", **sent)
    assert status == 413 and chinese["error"] == "TooLarge" and chinese["field"] == "body"
    assert chinese["message"] == "请求体超过 2,000 字节：请分批提交，或使用命令行"
    assert english["message"] == "the request body is over 2,000 bytes; split it or use the command line"


# ---- the command line


def test_the_command_line_prints_chinese_then_english(tmp_path):
    """An error of the library, as the command line prints it: Chinese first, English in brackets."""
    command = [sys.executable, "-m", "geo_service.cli.main"] if not _console_script() else [_console_script()]
    done = subprocess.run(
        [*command, "db", "recover", str(tmp_path / "base"), "--to", "someday", "--into", str(tmp_path / "into")],
        capture_output=True,
        text=True,
        env={**os.environ, "LANG": "C.UTF-8"},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line == (
        "错误：--to 'someday' 不是有效的时间：请写作如 2026-11-10T09:30:00 或 2026-11-10 09:30+08:00"
        "（--to 'someday' is not a time: give e.g. 2026-11-10T09:30:00 or 2026-11-10 09:30+08:00）"
    )
    assert not (tmp_path / "into").exists()


def _console_script() -> str | None:
    script = Path(sys.executable).parent / "geo-service"
    return str(script) if script.exists() else None


def test_each_kind_of_validation_problem_has_its_own_chinese():
    """pydantic's problems, as FastAPI reports them, each said in Chinese from its type and limits."""
    from enum import StrEnum
    from typing import Literal

    from pydantic import BaseModel, Field, ValidationError

    from geo_service.api.errors import validation_message

    class Colour(StrEnum):
        red = "red"
        blue = "blue"

    class Body(BaseModel):
        name: str = Field(min_length=2, max_length=3)
        count: int = Field(ge=1, le=5)
        ratio: float = Field(gt=0, lt=1)
        tier: Literal["village", "town"]
        colour: Colour
        codes: list[int] = Field(max_length=2)
        flag: bool

    expected = {
        "missing": "name：必须填写",
        "string_too_short": "name：至少 2 个字符",
        "string_too_long": "name：最多 3 个字符",
        "greater_than_equal": "count：须大于或等于 1",
        "less_than_equal": "count：须小于或等于 5",
        "greater_than": "ratio：须大于 0",
        "less_than": "ratio：须小于 1",
        "int_parsing": "count：须为整数",
        "int_from_float": "count：须为整数，不能带小数",
        "float_parsing": "ratio：须为数字",
        "literal_error": "tier：须为 'village', 'town' 之一",
        "enum": "colour：须为 'red', 'blue' 之一",
        "too_long": "codes：最多 2 项，当前为 3 项",
        "list_type": "codes：须为列表（JSON 数组）",
        "bool_parsing": "flag：须为 true 或 false",
        "string_type": "name：须为文本",
    }
    bodies = [
        {},
        {"name": "a", "count": 0, "ratio": 0, "tier": "city", "colour": "green", "codes": [1, 2, 3], "flag": "maybe"},
        {"name": "abcd", "count": 6, "ratio": 1, "codes": "x"},
        {"name": 5, "count": "many", "ratio": "half"},
        {"count": 1.5},
    ]
    seen = {}
    for body in bodies:
        try:
            Body.model_validate(body)
        except ValidationError as error:
            for problem in error.errors():
                where = ".".join(str(part) for part in problem["loc"])
                seen.setdefault(problem["type"], validation_message(problem, where, 0, "zh"))
                assert validation_message(problem, where, 0, "en") == f"{where}: {problem['msg']}"
    assert {kind: seen.get(kind) for kind in expected} == expected
    problem = {"type": "missing", "loc": ("query", "lon"), "msg": "Field required", "input": None}
    assert validation_message(problem, "lon", 2, "zh") == "lon：必须填写（另有 2 处问题）"
    assert validation_message(problem, "lon", 2, "en") == "lon: Field required (and 2 more problems)"
    assert validation_message(problem, "lon", 1, "en") == "lon: Field required (and 1 more problem)"
    # A problem pydantic may add in a later version is still said, with pydantic's own words.
    odd = {"type": "something_new", "loc": ("body", "x"), "msg": "Something new is wrong"}
    assert validation_message(odd, "x", 0, "zh") == "x：取值无效：Something new is wrong"
