"""MetaCache: TTL expiry, negative answers from complete listings, and in-place edits of listings."""

from __future__ import annotations

from cloudfs.core.cache import MISSING, MetaCache
from cloudfs.driver import Attr

DIR = 1


def _attr(ino: int) -> Attr:
    return Attr(ino=ino, mode=0o100644, nlink=1, uid=0, gid=0, size=0, atime_ns=0, mtime_ns=0, ctime_ns=0)


def test_fresh_attr_is_returned() -> None:
    """Within the TTL the cached attributes come back."""
    cache = MetaCache(ttl=3600)
    cache.put_attr(_attr(5))
    assert cache.attr(5) == _attr(5)


def test_expired_attr_is_not_returned() -> None:
    """Once the TTL has passed (here shrunk to zero), the attributes are unknown again."""
    cache = MetaCache(ttl=3600)
    cache.put_attr(_attr(5))
    cache.ttl = 0
    assert cache.attr(5) is None


def test_zero_ttl_caches_nothing() -> None:
    """ttl=0 turns the cache off: nothing put is ever returned."""
    cache = MetaCache(ttl=0)
    cache.put_attr(_attr(5))
    cache.put_entry(DIR, b"a", _attr(6))
    cache.put_listing(DIR, [(b"b", _attr(7))])
    assert cache.attr(5) is None
    assert cache.entry(DIR, b"a") is MISSING
    assert cache.entry(DIR, b"zzz") is MISSING


def test_unknown_entry_is_missing() -> None:
    """Without a listing, an unknown name is MISSING (ask the store), not absent."""
    cache = MetaCache(ttl=3600)
    cache.put_entry(DIR, b"a", _attr(6))
    assert cache.entry(DIR, b"a") == _attr(6)
    assert cache.entry(DIR, b"b") is MISSING


def test_complete_listing_answers_absent_names() -> None:
    """A cached listing answers every name: present ones with attributes, others with None."""
    cache = MetaCache(ttl=3600)
    cache.put_listing(DIR, [(b"a", _attr(6)), (b"b", _attr(7))])
    assert cache.entry(DIR, b"b") == _attr(7)
    assert cache.entry(DIR, b"c") is None
    assert cache.entry(DIR + 1, b"c") is MISSING


def test_expired_listing_gives_no_negative_answer() -> None:
    """After the TTL the listing no longer proves a name absent."""
    cache = MetaCache(ttl=3600)
    cache.put_listing(DIR, [(b"a", _attr(6))])
    cache.ttl = 0
    assert cache.entry(DIR, b"c") is MISSING
    assert cache.entry(DIR, b"a") is MISSING


def test_entry_with_dropped_attr_is_missing() -> None:
    """An entry whose attributes were dropped sends the caller to the store."""
    cache = MetaCache(ttl=3600)
    cache.put_entry(DIR, b"a", _attr(6))
    cache.drop_attr(6)
    assert cache.entry(DIR, b"a") is MISSING


def test_put_entry_adds_to_cached_listing() -> None:
    """A name created locally joins the cached listing and is found."""
    cache = MetaCache(ttl=3600)
    cache.put_listing(DIR, [])
    cache.put_entry(DIR, b"new", _attr(8))
    assert cache.entry(DIR, b"new") == _attr(8)
    cache.drop_attr(8)
    assert cache.entry(DIR, b"new") is MISSING


def test_drop_entry_removes_from_cached_listing() -> None:
    """A name removed locally is known absent while the listing is fresh."""
    cache = MetaCache(ttl=3600)
    cache.put_listing(DIR, [(b"a", _attr(6))])
    cache.drop_entry(DIR, b"a")
    assert cache.entry(DIR, b"a") is None


def test_drop_listing_forgets_negatives() -> None:
    """Without its listing a directory can no longer answer absent names."""
    cache = MetaCache(ttl=3600)
    cache.put_listing(DIR, [(b"a", _attr(6))])
    cache.drop_listing(DIR)
    assert cache.entry(DIR, b"c") is MISSING
    assert cache.entry(DIR, b"a") == _attr(6)


def test_clear_forgets_everything() -> None:
    """clear() empties attributes, entries and listings."""
    cache = MetaCache(ttl=3600)
    cache.put_listing(DIR, [(b"a", _attr(6))])
    cache.clear()
    assert cache.attr(6) is None
    assert cache.entry(DIR, b"a") is MISSING
    assert cache.entry(DIR, b"c") is MISSING
