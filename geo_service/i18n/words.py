"""What a page needs to speak its reader's language: the pages' words, the labels of the fixed
codes, and the names of the codes that are data (categories, sources, roles), in one document."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.i18n import Language, ui, vocabulary

_NAMED = text("""
    SELECT 'categories' AS kind, code, name_zh, name_en FROM categories
    UNION ALL SELECT 'sources', code, name_zh, name_en FROM sources
    UNION ALL SELECT 'roles', code, name_zh, name_en FROM roles
    UNION ALL SELECT 'access_roles', code, name_zh, name_en FROM access_roles
    UNION ALL SELECT 'camera_kinds', code, name_zh, name_en FROM camera_kinds
""")


def page_words(connection: Connection, language: Language, timezone: str) -> dict:
    """``{"language", "timezone", "ui": {key: text}, "vocabulary": {group: {code: label}},
    "categories"|"sources"|"roles"|"access_roles"|"camera_kinds": {code: name}}`` (``roles`` are
    the officers' posts, ``access_roles`` the users' roles)."""
    named: dict[str, dict[str, str]] = {
        "categories": {},
        "sources": {},
        "roles": {},
        "access_roles": {},
        "camera_kinds": {},
    }
    for kind, code, name_zh, name_en in connection.execute(_NAMED):
        named[kind][code] = (name_zh if language == "zh" else name_en) or name_zh or code
    return {
        "language": language,
        "timezone": timezone,
        "ui": ui(language),
        "vocabulary": {
            group: {code: names[language] for code, names in codes.items()} for group, codes in vocabulary().items()
        },
        **named,
    }
