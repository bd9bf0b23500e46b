"""JSON request bodies, checked strictly before any route reads them.

Python's ``json`` (which FastAPI and Starlette use) is lenient where a service must not be: it
reads ``NaN``, ``Infinity`` and ``1e400`` (as infinity) as numbers, which then fail far from
where they came in (an answer that cannot be written as JSON, a query PostgreSQL refuses); it
keeps the last of two values given for one key, silently; it reads integers of any length (and
fails past 4,300 digits); it recurses once per level of nesting; and it reads bytes that are
not UTF-8 through a guess. ``StrictJsonBodies`` parses every body sent as JSON once, refusing
each of these with the service's error shape (``error``, ``message``, ``field``) before the
routes run; a body it passes parses the same way in FastAPI afterwards.

What it refuses, and how:

- bytes that are not UTF-8, or text that is not JSON (a truncated body): 400 ``MalformedBody``;
- a key given twice in one object: 400 naming the key;
- arrays and objects nested deeper than ``MAX_DEPTH``: 400 ``the body nests too deeply``;
- ``NaN``, ``Infinity``, ``-Infinity``, a number too large for a float (``1e400``), an integer
  past 64 bits, a string holding a lone surrogate escape (``"\\ud800"``) or NUL (``"\\u0000"``,
  which PostgreSQL cannot store): 422 ``InvalidInput`` naming the field that holds it (``body``
  for a bare value).

A body sent with another content type is left to the route: one that expects JSON answers 415
(``geo_service.api.errors``).
"""

from __future__ import annotations

import email.message
import json
import math
import re
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.errors import GeoServiceError, InvalidInput
from geo_service.i18n import negotiate, render, t

# Levels of arrays and objects a body may nest: a GeoJSON FeatureCollection of multipolygons
# needs 7; nothing the service reads needs more than a few.
MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
SHOWN = 40  # characters of a refused value the message quotes

# The escapes that can make a string the database cannot store: a UTF-16 surrogate (a pair of
# them is one character, a lone one is not) and NUL, which PostgreSQL's text cannot hold.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")
NOT_TEXT = t("the text holds a lone surrogate escape (such as \\ud800), which is not a character")
NUL = t("the text holds the NUL character (\\u0000), which no field may contain")


class MalformedBody(GeoServiceError):
    """A request body that cannot be read as JSON at all."""

    status_code = 400


class UnsupportedMediaType(GeoServiceError):
    status_code = 415


class _Refused:
    """A value of the body the service does not accept, left in its place by the parser so the
    check afterwards can say where it was."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem  # what is wrong with it, quoting it


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def is_json_type(content_type: str | None) -> bool:
    """Whether a Content-Type header declares JSON, as FastAPI decides it (``application/json``
    or ``application/...+json``)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def shown(text: str) -> str:
    """``text`` as a message quotes it: at most ``SHOWN`` characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate as its escape
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text):,} characters)"


def _where(path: tuple) -> tuple[str, str]:
    """The dotted path of a value (``incidents.3.lon``) and the field it names (``lon``)."""
    if not path:
        return "body", "body"
    parts = [shown(part) if isinstance(part, str) else str(part) for part in path]
    field = next((part for part, raw in zip(reversed(parts), reversed(path)) if isinstance(raw, str)), "body")
    return ".".join(parts), field


def _unstorable(value: Any) -> str | None:
    """What makes a string unfit to store (``NOT_TEXT`` or ``NUL``), or None."""
    if type(value) is not str:
        return None
    if "\x00" in value:
        return NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return NOT_TEXT
    return None


def check_json(body: bytes) -> Any:
    """The JSON value of ``body``, or the service's error saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(
            t(
                "the body is not valid UTF-8 (byte {start:,} is 0x{value:02x}); JSON must be sent as UTF-8",
                start=exc.start,
                value=body[exc.start],
            ),
            field="body",
        ) from None
    text = text.removeprefix("\ufeff")  # a byte order mark may be ignored (RFC 8259, 8.1)
    refused: list[_Refused] = []

    def constant(name: str) -> _Refused:
        refused.append(_Refused(t("{value} is not a number the service accepts", value=shown(name))))
        return refused[-1]

    def floating(literal: str) -> float | _Refused:
        value = float(literal)
        if math.isfinite(value):
            return value
        refused.append(_Refused(t("{value} is too large to be a number the service accepts", value=shown(literal))))
        return refused[-1]

    def integer(literal: str) -> int | _Refused:
        # Checked by length first: int() refuses more than 4,300 digits with an error of its own.
        if len(literal) <= 20 and INT_MIN <= (value := int(literal)) <= INT_MAX:
            return value
        refused.append(
            _Refused(
                t(
                    "{value} is past the range of a 64-bit integer ({low:,} to {high:,})",
                    value=shown(literal),
                    low=INT_MIN,
                    high=INT_MAX,
                )
            )
        )
        return refused[-1]

    def pairs(items: list[tuple[str, Any]]) -> dict:
        value = dict(items)
        if len(value) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    raise _RepeatedKey(key)
                seen.add(key)
        return value

    try:
        value = json.loads(
            text, object_pairs_hook=pairs, parse_constant=constant, parse_float=floating, parse_int=integer
        )
    except _RepeatedKey as exc:
        raise MalformedBody(
            t('the key "{key}" appears twice in one object of the body; give each key once', key=shown(exc.key)),
            field=shown(exc.key),
        ) from None
    except RecursionError:
        raise MalformedBody(
            t("the body nests too deeply: at most {MAX_DEPTH} levels of arrays and objects", MAX_DEPTH=MAX_DEPTH),
            field="body",
        ) from None
    except json.JSONDecodeError as exc:
        raise MalformedBody(
            t(
                "the body is not valid JSON: {msg} at line {lineno}, column {colno} (character {pos:,})",
                msg=exc.msg,
                lineno=exc.lineno,
                colno=exc.colno,
                pos=exc.pos,
            ),
            field="body",
        ) from None

    strings = _SUSPECT_ESCAPE.search(body) is not None
    if refused or strings or body.count(b"[") + body.count(b"{") > MAX_DEPTH:
        _check_tree(value, strings)
    return value


def _refuse(path: tuple, problem: str) -> InvalidInput:
    where, field = _where(path)
    return InvalidInput(t("{where}: {problem}", where=where, problem=problem), field=field)


def _check_tree(value: Any, strings: bool) -> None:
    """Refuse the first value of ``value`` the service does not take, naming its place, and any
    nesting deeper than ``MAX_DEPTH``."""
    if type(value) is _Refused:
        raise _refuse((), value.problem)
    if strings and (problem := _unstorable(value)):
        raise _refuse((), problem)
    stack: list[tuple[Any, tuple]] = [(value, ())] if type(value) in (dict, list) else []
    while stack:
        node, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            raise MalformedBody(
                t("the body nests too deeply: at most {MAX_DEPTH} levels of arrays and objects", MAX_DEPTH=MAX_DEPTH),
                field="body",
            )
        for key, child in node.items() if type(node) is dict else enumerate(node):
            if strings and (problem := _unstorable(key)):
                raise _refuse(path, problem)
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, (*path, key)))
            elif kind is _Refused:
                raise _refuse((*path, key), child.problem)
            elif strings and (problem := _unstorable(child)):
                raise _refuse((*path, key), problem)


class StrictJsonBodies:
    """ASGI middleware: a body declared as JSON is parsed by ``check_json`` before the app sees
    it; a bad one is answered here (400 or 422), a good one is handed on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The first Content-Type header, as Starlette reads it.
        content_type = next((v for k, v in scope.get("headers") or [] if k == b"content-type"), b"").decode("latin-1")
        if not is_json_type(content_type):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        if message["type"] != "http.request":  # the client went away (or the body was over its limit)
            await self.app(scope, _replay(messages, receive), send)
            return
        body = b"".join(m.get("body", b"") for m in messages)
        if body:
            try:
                check_json(body)
            except GeoServiceError as exc:
                # Answered here, before the app's handlers: in the reader's language as they would.
                language = negotiate(Headers(scope=scope).get("accept-language"))
                await JSONResponse(
                    {**exc.to_dict(), "message": render(exc.message, language)},
                    status_code=exc.status_code,
                    headers={"Content-Language": language},
                )(scope, receive, send)
                return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` giving ``messages`` first, then whatever the client sends next."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
