"""The service's words in 简体中文 and English: one catalogue, read here, for every face.

Code writes its messages in English through :func:`t`, which keeps the template and its values
(a :class:`Message` is the English text, usable as any ``str``); the API, the pages and the command
line render it in the reader's language from the catalogue (``catalogue/``):

- ``messages.toml``: each message's English template and its Chinese one, with the same ``{names}``;
  ``{name!v}`` in a translation shows a code of the service's vocabulary (a status, an action, a
  risk colour, a tier) by its label, and a list of codes as a list of labels;
- ``vocabulary.toml``: those labels, both languages;
- ``ui/*.toml``: the words of the pages, one file per page (``key = {zh = "...", en = "..."}``).

Chinese is the default: a reader who says nothing (no ``Accept-Language``) reads Chinese.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
DEFAULT_LANGUAGE: Language = "zh"
CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"


class Message(str):
    """An English message that remembers its template and values, to be rendered in another
    language later. ``str(message)`` is the English text."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, params: Mapping[str, Any]) -> Message:
        # ``{code!v}`` may be written in the English too: the code's English label.
        text = _Formatter("en").format(template, **params) if params else template.replace("{{", "{").replace("}}", "}")
        message = super().__new__(cls, text)
        message.template = template
        message.params = dict(params)
        return message

    def __reduce__(self):
        # Raised in an analysis process and read in the service's: pickled as template and values.
        return (Message, (self.template, self.params))


class Codes(tuple):
    """Codes of the vocabulary given to a message: ``a, b`` in English, their labels (``{x!v}``) in
    a translation; empty, the ``none`` text given."""

    def __new__(cls, codes: Iterable[str], none: str = "") -> Codes:
        made = super().__new__(cls, codes)
        made.none = none
        return made

    def __str__(self) -> str:
        return ", ".join(self) or self.none

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def t(template: str, /, **params: Any) -> Message:
    """A message of the service: ``t("no such case: {incident_id}", incident_id=12)``."""
    return Message(template, params)


def negotiate(accept_language: str | None) -> Language:
    """The reader's language from an ``Accept-Language`` header: the first of Chinese or English by
    preference (q values honoured); Chinese when the header names neither or is absent."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for quality, _, tag in sorted(ranked):
        if quality < 0:
            primary = tag.split("-")[0]
            if primary in LANGUAGES:
                return primary  # type: ignore[return-value]
    return DEFAULT_LANGUAGE


@cache
def _messages() -> dict[str, str]:
    """English template -> Chinese template."""
    with open(CATALOGUE_DIR / "messages.toml", "rb") as file:
        entries = tomllib.load(file).get("message", [])
    return {entry["en"]: entry["zh"] for entry in entries}


@cache
def vocabulary() -> dict[str, dict[str, dict[str, str]]]:
    """``{group: {code: {"zh": label, "en": label}}}``: statuses, actions, risk colours, tiers..."""
    with open(CATALOGUE_DIR / "vocabulary.toml", "rb") as file:
        return tomllib.load(file)


@cache
def _labels() -> dict[Language, dict[str, str]]:
    """Every code of the vocabulary -> its label, per language (codes are unique across groups
    or mean the same thing in each)."""
    labels: dict[Language, dict[str, str]] = {"zh": {}, "en": {}}
    for group in vocabulary().values():
        for code, names in group.items():
            for language in LANGUAGES:
                labels[language].setdefault(code, names[language])
    return labels


def label(code: str, language: Language, group: str | None = None) -> str:
    """The label of a vocabulary code (a status, an action...), the code itself if it has none."""
    if group is not None:
        return vocabulary().get(group, {}).get(code, {}).get(language, code)
    return _labels()[language].get(code, code)


@cache
def ui(language: Language) -> dict[str, str]:
    """The pages' words in ``language``: ``{"console.inbox.title": "案件收件箱", ...}`` (each file's
    name is its keys' prefix)."""
    words: dict[str, str] = {}
    for path in sorted((CATALOGUE_DIR / "ui").glob("*.toml")):
        with open(path, "rb") as file:
            for key, names in _flatten(tomllib.load(file)):
                words[f"{path.stem}.{key}"] = names[language]
    return words


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Mapping[str, str]]]:
    for key, value in table.items():
        if isinstance(value, Mapping) and set(value) == set(LANGUAGES):
            yield f"{prefix}{key}", value
        elif isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")


class _Formatter(string.Formatter):
    def __init__(self, language: Language) -> None:
        self.language = language

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        # A message given as a value of another (a reason inside "{where}: {problem}") is read in
        # the same language as the message around it.
        if isinstance(value, Message) and conversion in (None, "s"):
            return render(value, self.language)
        if conversion == "v":
            if isinstance(value, (list, tuple, set, frozenset)):
                if not value and isinstance(value, Codes):
                    return label(value.none, self.language)
                return ("、" if self.language == "zh" else ", ").join(label(str(v), self.language) for v in value)
            return label(str(value), self.language)
        return super().convert_field(value, conversion)


def render(message: str, language: Language) -> str:
    """``message`` in ``language``: a :class:`Message` from its catalogue translation, any other
    text as it is (English: the code's own words)."""
    if not isinstance(message, Message) or language == "en":
        return str(message)
    translated = _messages().get(message.template)
    if translated is None:
        return str(message)
    try:
        return _Formatter(language).format(translated, **message.params)
    except (KeyError, IndexError, ValueError, TypeError):  # a translation naming a value the code does
        return str(message)  # not give, or a format spec the value cannot take: the English, never a fault


def reason_of(exc: BaseException) -> str:
    """What an exception says: the message it was raised with, still to be read in any language
    (``str(exc)`` is its English text alone), or its text when it was raised with plain words."""
    said = exc.args[0] if exc.args else None
    return said if isinstance(said, Message) else str(exc)


def joined(items: Sequence[str], separator: Literal[",", ";"] = ",") -> str:
    """Messages (or plain words) as one list, each said in the reader's language: ``a, b, c`` (in
    Chinese ``a、b、c``), or with ``;`` ``a; b; c``. ``items`` is not empty."""
    said = items[-1]
    for item in reversed(items[:-1]):
        if separator == ";":
            said = t("{first}; {rest}", first=item, rest=said)
        else:
            said = t("{head}, {tail}", head=item, tail=said)
    return said


def rendered(value: Any, language: Language) -> Any:
    """``value`` with every message in it (at any depth of dicts, lists and tuples) rendered in
    ``language``, ready for JSON: an answer's message and the reasons listed beside it."""
    if isinstance(value, Message):
        return render(value, language)
    if isinstance(value, Mapping):
        return {key: rendered(item, language) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not isinstance(value, Codes):
        return [rendered(item, language) for item in value]
    return value


def translated_templates() -> set[str]:
    """The English templates the catalogue translates (for the completeness test)."""
    return set(_messages())
