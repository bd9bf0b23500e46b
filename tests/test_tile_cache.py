"""The in-memory cache of boundary tiles: bounded in bytes, least recently used forgotten first."""

from __future__ import annotations

from geo_service.tiles.cache import TileCache


def test_the_cache_keeps_what_was_used_last_within_its_bytes():
    cache = TileCache(max_bytes=1600)
    for name in "abcd":
        cache.put(name, name.encode() * 100)
    assert cache.get("a") == b"a" * 100  # a is now the most recently used
    for name in "efghijklmnopq":  # 17 tiles of 100 bytes: one too many
        cache.put(name, name.encode() * 100)
    assert cache.size <= 1600
    assert cache.get("b") is None  # the least recently used went first
    assert cache.get("a") == b"a" * 100 and cache.get("q") == b"q" * 100
    for name in "rst":
        cache.put(name, name.encode() * 100)
    assert cache.get("c") is None and cache.get("d") is None and cache.get("a") == b"a" * 100
    cache.put("p", b"x" * 50)  # replacing a tile counts its new size only
    assert cache.get("p") == b"x" * 50 and cache.size <= 1600
    assert cache.hits >= 2 and cache.misses >= 2


def test_one_huge_tile_does_not_empty_the_cache():
    cache = TileCache(max_bytes=1600)
    cache.put("small", b"s" * 10)
    cache.put("huge", b"h" * 1000)
    assert cache.get("huge") is None and cache.get("small") == b"s" * 10
