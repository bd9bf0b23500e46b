"""How the library's errors reach an HTTP client: status code and a JSON body naming the problem."""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

import psycopg2
import psycopg2.errors
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pandas.errors import DatabaseError as PandasDatabaseError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_service.api.json_bodies import shown
from geo_service.errors import GeoServiceError, Unauthenticated
from geo_service.i18n import Language, Message, label, negotiate, render, rendered, t

# Browsers and scripts send a bearer token, GIS desktop clients Basic. Basic is offered only to a
# request that tried it: to a page's fetch it would bring up the browser's own password dialog.
BEARER = 'Bearer realm="geo_service"'
BASIC = 'Basic realm="geo_service"'


def _challenge(request: Request) -> str:
    tried = (request.headers.get("authorization") or "").split(" ", 1)[0].lower()
    return BASIC if tried == "basic" else BEARER


def _language(request: Request) -> Language:
    return negotiate(request.headers.get("accept-language"))


def _answer(body: dict[str, Any], status_code: int, language: Language, headers: dict | None = None) -> JSONResponse:
    """An error answer: ``body`` with its message, and any message in its details (the reasons of
    a list of problems), in ``language``, saying so in Content-Language."""
    body = rendered(body, language)
    return JSONResponse(body, status_code=status_code, headers={**(headers or {}), "Content-Language": language})


def install(app: FastAPI) -> None:
    @app.exception_handler(GeoServiceError)
    async def _service_error(request: Request, exc: GeoServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": _challenge(request)} if isinstance(exc, Unauthenticated) else {}
        if "retry_after" in exc.detail:
            headers["Retry-After"] = str(exc.detail["retry_after"])
        return _answer(exc.to_dict(), exc.status_code, _language(request), headers)

    # FastAPI's own validation answers in the service's shape (error, message, field), keeping its
    # list of problems as ``detail`` for clients that read every one. The problems' ``input`` is
    # the request's own value, which may be anything the client sent (NaN, bytes, a huge integer):
    # it is made plain JSON first (``plain``), so that the answer can always be written.
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        language = _language(request)
        raw = list(exc.errors())
        # A route expecting JSON is given the raw bytes of a body sent as anything else.
        if any(tuple(p.get("loc", ())) == ("body",) and isinstance(p.get("input"), (bytes, bytearray)) for p in raw):
            sent = request.headers.get("content-type")
            said = (
                t(
                    'the body must be JSON, sent with Content-Type: application/json; it came as "{sent}"',
                    sent=shown(sent),
                )
                if sent
                else t("the body must be JSON, sent with Content-Type: application/json; it came with no Content-Type")
            )
            return _answer({"error": "UnsupportedMediaType", "message": said, "field": "body"}, 415, language)
        problems = [plain(problem) for problem in raw]
        first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
        loc = first.get("loc") or []
        where = [str(part) for part in loc if part not in ("query", "path", "body", "header")]
        field = next((part for part in reversed(where) if not part.isdigit()), None)
        if field is None and loc[:1] == ["body"]:  # the body itself, or an item of a list body
            where, field = ["body", *where], "body"
        message = validation_message(raw[0] if raw else {}, ".".join(where), len(problems) - 1, language)
        body = {"error": "InvalidInput", "message": message, "field": field, "detail": problems}
        return JSONResponse(body, status_code=422, headers={"Content-Language": language})

    # Starlette's and FastAPI's own refusals (an unknown path, a wrong method, a multipart body
    # that cannot be parsed) in the service's shape, keeping ``detail`` as they give it.
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        try:
            name = "".join(word.title() for word in HTTPStatus(exc.status_code).phrase.split())
        except ValueError:
            name = "HTTPError"
        detail = plain(exc.detail)
        language = _language(request)
        message = http_message(exc.status_code, detail, request, exc.headers or {}, language)
        return JSONResponse(
            {"error": name, "message": message, "detail": detail},
            status_code=exc.status_code,
            headers={**(exc.headers or {}), "Content-Language": language},
        )

    # PostgreSQL's text cannot hold the NUL character; psycopg2 refuses it before sending, with a
    # ValueError of its own, wherever a request's text meets a query.
    @app.exception_handler(ValueError)
    async def _nul_in_text(request: Request, exc: ValueError) -> JSONResponse:
        if "NUL (0x00)" not in str(exc):
            raise exc
        said = t("a text value of the request holds the NUL character (\\u0000), which no field may contain")
        return _answer({"error": "InvalidInput", "message": said}, 422, _language(request))

    # The database going away (a restart, a failover) is the service being briefly unavailable, not
    # a fault: 503 with a hint to retry; the pool reconnects by itself on the next request. pandas
    # (read_sql, and geopandas' read_postgis) wraps the driver's error in one of its own. Text
    # PostgreSQL refuses on its side (NUL reaching it through COPY, which psycopg2 does not check)
    # is the request's fault: 422, as for NUL above.
    async def _maybe_unavailable(request: Request, exc: Exception) -> JSONResponse:
        if _caused_by(exc, (psycopg2.errors.CharacterNotInRepertoire, psycopg2.errors.UntranslatableCharacter)):
            said = t(
                "a text value of the request holds a character the database cannot store "
                "(such as NUL, \\u0000), which no field may contain"
            )
            return _answer({"error": "InvalidInput", "message": said}, 422, _language(request))
        if not database_gone(exc):
            raise exc
        said = t("the database cannot be reached just now; retry shortly")
        return _answer({"error": "Unavailable", "message": said}, 503, _language(request), {"Retry-After": "2"})

    for kind in (DBAPIError, PandasDatabaseError, psycopg2.Error):
        app.add_exception_handler(kind, _maybe_unavailable)


def validation_message(problem: dict[str, Any], where: str, more: int, language: Language) -> str:
    """The message of a 422 for FastAPI's validation problems: the first one, where it is, and how
    many more. English is pydantic's own wording (as clients have always read it); Chinese is
    written here from the problem's ``type`` and ``ctx``."""
    if language == "en":
        said = plain(problem.get("msg", "invalid value"))
        if (bad := _non_finite(problem.get("input"))) is not None:
            said = f"{bad} is not a number the service accepts"
        message = f"{where}: {said}" if where else said
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        return message
    said = _problem_said(problem)
    message: Message = t("{where}: {problem}", where=where, problem=said) if where else said
    if more == 1:
        message = t("{message} (and 1 more problem)", message=message)
    elif more > 1:
        message = t("{message} (and {more} more problems)", message=message, more=more)
    return render(message, language)


def _choices(expected: Any) -> str:
    """pydantic's ``'a', 'b' or 'c'`` as ``'a', 'b', 'c'`` (no English word inside a translation)."""
    return str(expected).replace(" or ", ", ")


def _problem_said(problem: dict[str, Any]) -> Message:
    """What is wrong with one value, as a message of the catalogue, from pydantic's ``type``."""
    kind, ctx = problem.get("type", ""), problem.get("ctx") or {}
    if (bad := _non_finite(problem.get("input"))) is not None:
        return t("{value} is not a number the service accepts", value=bad)
    # ``ctx`` values are the model's own limits (numbers, short texts): ``plain`` keeps them short.
    # A float limit that is whole is shown as pydantic shows it (0, not 0.0).
    value = {
        name: int(v) if isinstance(v, float) and v.is_integer() else plain(v)
        for name, v in ctx.items()
        if name != "error"
    }
    match kind:
        case "missing" | "missing_argument" | "missing_keyword_only_argument" | "missing_positional_only_argument":
            return t("this value is required")
        case "string_too_short":
            return t("at least {min_length} characters", min_length=value.get("min_length"))
        case "string_too_long":
            return t("at most {max_length} characters", max_length=value.get("max_length"))
        case "too_short":
            return t(
                "at least {min_length} items, not {actual_length}",
                min_length=value.get("min_length"),
                actual_length=value.get("actual_length"),
            )
        case "too_long":
            return t(
                "at most {max_length} items, not {actual_length}",
                max_length=value.get("max_length"),
                actual_length=value.get("actual_length"),
            )
        case "greater_than":
            return t("must be greater than {gt}", gt=value.get("gt"))
        case "greater_than_equal":
            return t("must be greater than or equal to {ge}", ge=value.get("ge"))
        case "less_than":
            return t("must be less than {lt}", lt=value.get("lt"))
        case "less_than_equal":
            return t("must be less than or equal to {le}", le=value.get("le"))
        case "multiple_of":
            return t("must be a multiple of {multiple_of}", multiple_of=value.get("multiple_of"))
        case "literal_error" | "enum":
            return t("must be one of {expected}", expected=_choices(value.get("expected", "")))
        case "int_parsing" | "int_type" | "int_parsing_size":
            return t("must be a whole number")
        case "int_from_float":
            return t("must be a whole number, without a fractional part")
        case "float_parsing" | "float_type" | "decimal_parsing" | "decimal_type":
            return t("must be a number")
        case "finite_number":
            return t("must be a finite number")
        case "bool_parsing" | "bool_type":
            return t("must be true or false")
        case "string_type" | "string_sub_type":
            return t("must be text")
        case "string_unicode":
            return t("must be text in Unicode")
        case "string_pattern_mismatch":
            return t("does not have the expected form (the pattern {pattern})", pattern=value.get("pattern"))
        case "json_invalid":
            return t("is not valid JSON: {reason}", reason=plain(str(ctx.get("error", problem.get("msg", "")))))
        case "json_type":
            return t("must be JSON text")
        case "dict_type" | "model_type" | "model_attributes_type" | "mapping_type" | "dataclass_type":
            return t("must be a JSON object")
        case "list_type" | "tuple_type" | "set_type" | "frozen_set_type" | "iterable_type":
            return t("must be a list (a JSON array)")
        case "extra_forbidden":
            return t("is not a field of this request")
        case "datetime_parsing" | "datetime_from_date_parsing" | "datetime_type" | "datetime_object_invalid":
            return t("is not a date and time (write e.g. 2026-11-10T09:30:00+08:00)")
        case "date_parsing" | "date_from_datetime_parsing" | "date_from_datetime_inexact" | "date_type":
            return t("is not a date (write e.g. 2026-11-10)")
        case "timezone_aware":
            return t("must carry a time zone (such as +08:00)")
        case "value_error" | "assertion_error":
            error = ctx.get("error")
            reason = error.args[0] if isinstance(error, Exception) and error.args else problem.get("msg", "")
            # A validator's own message: translated when it was written with ``t``.
            return t("is not valid: {reason}", reason=reason if isinstance(reason, Message) else plain(str(reason)))
    return t("is not valid: {reason}", reason=plain(problem.get("msg", "")))


def http_message(status: int, detail: Any, request: Request, headers: dict[str, str], language: Language) -> str:
    """The message of Starlette's own refusals: an unknown path, a method the path does not take,
    a body that cannot be parsed; any other status by its name."""
    if status == 404:
        message: Message = t("there is nothing at {path}", path=shown(request.url.path))
    elif status == 405:
        allowed = headers.get("allow") or headers.get("Allow") or ""
        message = t(
            "{path} does not take {method}; it takes {allowed}",
            path=shown(request.url.path),
            method=request.method,
            allowed=allowed,
        )
    elif status == 400 and isinstance(detail, str):
        message = t("the request cannot be read: {reason}", reason=detail)
    elif isinstance(detail, str) and detail != _phrase(status):
        return detail  # a refusal written for the client: its own words
    else:
        return label(str(status), language, "http") if language == "zh" else _phrase(status)
    return render(message, language)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


LONGEST = 200  # characters of a client's value an error answer repeats
MOST = 20  # items of a list or object it repeats


def _non_finite(value: Any) -> str | None:
    """``NaN``, ``Infinity`` or ``-Infinity`` for such a float, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return None


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON can always hold it: floats that are not finite as their names, bytes as
    text, huge integers and long texts cut short, deep or long structures trimmed."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return _non_finite(value) or value
    if isinstance(value, int):
        # (not its digits: str() refuses integers of more than 4,300)
        return value if -(2**63) <= value < 2**63 else f"an integer of {value.bit_length():,} bits"
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[: LONGEST * 4]).decode("utf-8", "replace")
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return text if len(text) <= LONGEST else f"{text[:LONGEST]}... ({len(text):,} characters)"
    if depth >= 6:
        return "..."
    if isinstance(value, dict):
        items = list(value.items())
        kept = {plain(str(k) if not isinstance(k, str) else k): plain(v, depth + 1) for k, v in items[:MOST]}
        if len(items) > MOST:
            kept["..."] = f"{len(items) - MOST:,} more"
        return kept
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        kept = [plain(v, depth + 1) for v in items[:MOST]]
        return kept + [f"... {len(items) - MOST:,} more"] if len(items) > MOST else kept
    try:
        return plain(jsonable_encoder(value), depth + 1)
    except Exception:  # noqa: BLE001 - whatever it is, its text will do
        return plain(str(value), depth + 1)


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether ``exc``, or an error it was raised from, is one of ``kinds``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds) or isinstance(getattr(seen, "orig", None), kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def database_gone(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from, is the connection to the database failing."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (OperationalError, psycopg2.OperationalError, psycopg2.InterfaceError)):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
