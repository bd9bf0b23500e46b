"""The HTTP side of a tile's validators and encodings: which coding a client accepts, and whether
the validators it holds match (read as RFC 9110 says, by hand: two header grammars are all we need).
"""

from __future__ import annotations


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` admits gzip (``gzip``, ``x-gzip`` or ``*``, with q above 0)."""
    if not accept_encoding:
        return False
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        name, _, value = parameters.partition("=")
        if name.strip().lower() != "q":
            return True
        try:
            return float(value) > 0
        except ValueError:
            return False
    return False


def gzip_etag(etag: str) -> str:
    """The validator of the gzip-encoded representation of a body whose own is ``etag``."""
    return etag[:-1] + '-gz"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether ``If-None-Match`` names the representation of validator ``etag`` (or its gzip
    encoding): the weak comparison RFC 9110 prescribes for this header, ``*`` included."""
    held = {item.strip().removeprefix("W/") for item in if_none_match.split(",")}
    return "*" in held or etag in held or gzip_etag(etag) in held
