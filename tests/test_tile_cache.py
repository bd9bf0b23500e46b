"""The in-memory cache of boundary tiles: bounded in bytes, least recently used forgotten first;
what it serves is what drawing the tile gives, to the user it was drawn for and no other, and a
revoked token gets nothing from it."""

from __future__ import annotations

import gzip
import uuid

import mapbox_vector_tile
import pytest

from geo_service.auth.users import revoke_user
from geo_service.db.engine import get_engine
from geo_service.tiles.cache import KeptTile, TileCache
from geo_service.tiles.http import accepts_gzip, etag_matches

from .conftest import signed_in, token_for
from .test_tiles import CENTRE, tile_at

# A town of the demo county whose edge crosses the tile below, and another town.
TOWN, OTHER_TOWN = "511421001000", "511421002000"
IDENTITY = {"Accept-Encoding": "identity"}


def kept(letter: str, n: int = 100) -> KeptTile:
    return KeptTile(letter.encode() * n, f'"{letter}"')


def test_the_cache_keeps_what_was_used_last_within_its_bytes():
    size = kept("a").size
    cache = TileCache(max_bytes=16 * size)
    for name in "abcd":
        cache.put(name, kept(name))
    assert cache.get("a").body == b"a" * 100  # a is now the most recently used
    for name in "efghijklmnopq":  # 17 tiles: one too many
        cache.put(name, kept(name))
    assert cache.size <= 16 * size
    assert cache.get("b") is None  # the least recently used went first
    assert cache.get("a").body == b"a" * 100 and cache.get("q").body == b"q" * 100
    for name in "rst":
        cache.put(name, kept(name))
    assert cache.get("c") is None and cache.get("d") is None and cache.get("a").body == b"a" * 100
    cache.put("p", kept("x", 50))  # replacing a tile counts its new size only
    assert cache.get("p").body == b"x" * 50 and cache.size <= 16 * size
    assert cache.hits >= 2 and cache.misses >= 2


def test_one_huge_tile_does_not_empty_the_cache():
    cache = TileCache(max_bytes=1600)
    cache.put("small", kept("s", 10))
    cache.put("huge", kept("h", 1000))
    assert cache.get("huge") is None and cache.get("small").body == b"s" * 10


def test_a_kept_tile_is_gzipped_once_and_decodes_to_its_bytes():
    tile = kept("z", 5000)
    assert gzip.decompress(tile.gzipped) == tile.body and tile.gzipped is tile.gzipped


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("*", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("", False),
        (None, False),
    ],
)
def test_accept_encoding_is_read_with_its_weights(header, gzip_ok):
    assert accepts_gzip(header) is gzip_ok


def test_if_none_match_names_either_coding_of_a_tile():
    assert etag_matches('"a1"', '"a1"') and etag_matches('W/"a1-gz"', '"a1"') and etag_matches("*", '"a1"')
    assert etag_matches('"b2", "a1"', '"a1"') and not etag_matches('"b2"', '"a1"')


# -- served through the API ------------------------------------------------------------------------


def _pinned(client, tile, **headers):
    return get_tile_with(client, "grids", tile, headers, version=1)


def get_tile_with(client, layer: str, tile, headers: dict, **query):
    return client.get(f"/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.mvt", params=query, headers=headers)


def _codes(response) -> set[str]:
    if response.status_code == 204:
        return set()
    assert response.status_code == 200, response.text
    return {f["properties"]["code"] for f in mapbox_vector_tile.decode(response.content)["grids"]["features"]}


def test_a_kept_tile_is_the_tile_drawn_afresh_in_either_coding(demo_url):
    tile = tile_at(*CENTRE, 13)
    with signed_in(demo_url, tile_cache_mb=0) as uncached, signed_in(demo_url) as client:
        drawn = _pinned(uncached, tile, **IDENTITY)
        first, again = _pinned(client, tile, **IDENTITY), _pinned(client, tile, **IDENTITY)
        cache = client.app.state.tiles.cache
        assert cache.hits >= 1
        assert drawn.status_code == first.status_code == again.status_code == 200
        assert drawn.content == first.content == again.content
        assert first.headers["etag"] == again.headers["etag"]
        assert again.headers["cache-control"] == "private, max-age=86400, immutable"
        # A client accepting gzip gets the same bytes gzip-encoded, under a validator of its own.
        request = client.build_request(
            "GET",
            f"/tiles/grids/{tile.z}/{tile.x}/{tile.y}.mvt",
            params={"version": 1},
            headers={"Accept-Encoding": "gzip"},
        )
        zipped = client.send(request, stream=True)
        raw = b"".join(zipped.iter_raw())
        zipped.close()
        assert zipped.headers["content-encoding"] == "gzip" and "accept-encoding" in zipped.headers["vary"].lower()
        assert gzip.decompress(raw) == drawn.content and len(raw) < len(drawn.content)
        assert zipped.headers["etag"] != first.headers["etag"]
        # Either validator revalidates the tile.
        for etag in (first.headers["etag"], zipped.headers["etag"]):
            assert _pinned(client, tile, **{"If-None-Match": etag}).status_code == 304
        # Found again with no query at all, once drawn (its versions known by id).
        service, query = client.app.state.tiles, {"version": ["1"]}
        assert service.kept_tile("grids", tile.z, tile.x, tile.y, query) is None
        assert service.tile("grids", tile.z, tile.x, tile.y, query).body == drawn.content
        assert service.kept_tile("grids", tile.z, tile.x, tile.y, query).body == drawn.content
        # A kept tile still refuses a bad request as a drawn one does.
        bad = get_tile_with(client, "grids", tile, {}, version=1, colour="red")
        assert bad.status_code == 422 and bad.json()["field"] == "colour"


def test_a_user_never_gets_a_tile_kept_for_another_jurisdiction(demo_url):
    """One app (one cache): the county's administrator first, then two towns' users, then the
    county again, all on a tile across the first town's edge."""
    with signed_in(demo_url) as county:
        candidates = (tile_at(104.10 + dx * 0.02, 30.00 + dy * 0.02, 14) for dx in range(-5, 6) for dy in range(-5, 6))
        tile, whole = next((t, codes) for t in candidates if _straddles(codes := _codes(_pinned(county, t))))
        town_token, other_token = token_for(demo_url, "dispatcher", TOWN), token_for(demo_url, "dispatcher", OTHER_TOWN)
        town = _codes(_pinned(county, tile, Authorization=f"Bearer {town_token}"))
        other = _codes(_pinned(county, tile, Authorization=f"Bearer {other_token}"))
        hits = county.app.state.tiles.cache.hits
        again = _codes(_pinned(county, tile))
        assert county.app.state.tiles.cache.hits == hits + 1  # the county's tile, from the cache
    assert town and town < whole and all(code.startswith(TOWN[:9]) for code in town)
    assert not other & town and all(code.startswith(OTHER_TOWN[:9]) for code in other)
    assert again == whole


def _straddles(codes: set[str]) -> bool:
    """Grids of the town and of other towns."""
    return any(c.startswith(TOWN[:9]) for c in codes) and any(not c.startswith(TOWN[:9]) for c in codes)


def test_a_revoked_token_gets_401_at_its_next_tile_even_when_the_tile_is_kept(demo_url):
    tile = tile_at(*CENTRE, 14)
    name = f"tiles-revoked-{uuid.uuid4().hex[:6]}"
    token = token_for(demo_url, "dispatcher", name=name)
    headers = {"Authorization": f"Bearer {token}"}
    with signed_in(demo_url) as client:
        assert _pinned(client, tile, **headers).status_code == 200
        assert _pinned(client, tile, **headers).status_code == 200  # kept now
        revoke_user(get_engine(demo_url), name, actor="tests")
        refused = _pinned(client, tile, **headers)
        assert refused.status_code == 401 and not refused.content.startswith(b"\x1a")
        assert _pinned(client, tile).status_code == 200  # others are still served
