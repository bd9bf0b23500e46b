"""Bearer tokens: random, shown once, stored only as a SHA-256 digest.

A token has 256 bits of entropy, so a plain digest is enough (a slow password hash protects
guessable secrets; these are not guessable) and lets a request be checked with one index lookup.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "gs_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
