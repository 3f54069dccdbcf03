"""ReadCache: block-aligned store reads, one fetch per miss, an LRU bounded in bytes, invalidation."""

from __future__ import annotations

import pytest

from cloudfs.core.readcache import ReadCache
from cloudfs.drivers.memory import MemoryDriver

from .helpers import store_file

BS = 16
DATA = bytes(range(100))


class Store:
    """A store file holding DATA and a fetch function that records each (offset, size) asked."""

    def __init__(self, driver: MemoryDriver, name: bytes = b"f") -> None:
        self.driver = driver
        self.ino = store_file(driver, name, DATA)
        self.fetches: list[tuple[int, int]] = []

    def fetch(self, off: int, size: int) -> bytes:
        """Read from the store, recording the request."""
        self.fetches.append((off, size))
        return self.driver.read(self.ino, off, size)

    def read(self, cache: ReadCache, off: int, size: int) -> bytes:
        """Read through `cache`."""
        return cache.read(self.ino, off, size, len(DATA), self.fetch)


@pytest.fixture
def store(driver: MemoryDriver) -> Store:
    """A 100-byte store file."""
    return Store(driver)


def test_small_read_fetches_its_whole_block(store: Store) -> None:
    """An unaligned 3-byte read asks the store for the aligned block around it."""
    cache = ReadCache(BS, 1024)
    assert store.read(cache, 5, 3) == DATA[5:8]
    assert store.fetches == [(0, BS)]


def test_cached_block_serves_later_reads(store: Store) -> None:
    """Reads inside a cached block cost no store request."""
    cache = ReadCache(BS, 1024)
    store.read(cache, 0, 1)
    assert store.read(cache, 3, 10) == DATA[3:13]
    assert store.fetches == [(0, BS)]


def test_multi_block_miss_is_one_fetch(store: Store) -> None:
    """A read over several missing blocks is one store read spanning them."""
    cache = ReadCache(BS, 1024)
    assert store.read(cache, 10, 40) == DATA[10:50]
    assert store.fetches == [(0, 4 * BS)]
    assert store.driver.calls["read"] == 1


def test_fetch_spans_first_to_last_missing_block(store: Store) -> None:
    """With blocks 0 and 3 cached, a read of blocks 0-3 fetches only blocks 1-2."""
    cache = ReadCache(BS, 1024)
    store.read(cache, 0, 1)
    store.read(cache, 3 * BS, 1)
    store.fetches.clear()
    assert store.read(cache, 0, 4 * BS) == DATA[: 4 * BS]
    assert store.fetches == [(BS, 2 * BS)]


def test_last_block_is_cut_at_file_size(store: Store) -> None:
    """The fetch stops at the end of file and the read comes back short there."""
    cache = ReadCache(BS, 1024)
    assert store.read(cache, 90, 50) == DATA[90:]
    assert store.fetches == [(80, 20)]


def test_read_at_end_of_file_fetches_nothing(store: Store) -> None:
    """A read starting at the end of file is empty and costs no request."""
    cache = ReadCache(BS, 1024)
    assert store.read(cache, 100, 10) == b""
    assert store.fetches == []


def test_lru_evicts_least_recently_used_block(store: Store) -> None:
    """At two blocks' capacity, reading a third evicts the one used least recently."""
    cache = ReadCache(BS, 2 * BS)
    store.read(cache, 0, 1)
    store.read(cache, BS, 1)
    store.read(cache, 0, 1)
    store.read(cache, 2 * BS, 1)
    store.fetches.clear()
    store.read(cache, 0, 1)
    store.read(cache, 2 * BS, 1)
    assert store.fetches == []
    store.read(cache, BS, 1)
    assert store.fetches == [(BS, BS)]


def test_capacity_bounds_bytes_not_blocks(store: Store) -> None:
    """Capacity counts bytes: 40 bytes hold two 16-byte blocks, never three."""
    cache = ReadCache(BS, 40)
    for index in range(3):
        store.read(cache, index * BS, 1)
    store.fetches.clear()
    for index in (1, 2, 0):
        store.read(cache, index * BS, 1)
    assert store.fetches == [(0, BS)]


def test_block_larger_than_capacity_is_not_cached(store: Store) -> None:
    """A cache smaller than one block passes every read to the store."""
    cache = ReadCache(BS, BS - 1)
    store.read(cache, 0, 1)
    store.read(cache, 0, 1)
    assert store.fetches == [(0, BS), (0, BS)]


def test_invalidate_drops_only_that_inode(driver: MemoryDriver, store: Store) -> None:
    """invalidate(ino) makes that file's next read go to the store, and only that file's."""
    other = Store(driver, b"g")
    cache = ReadCache(BS, 1024)
    store.read(cache, 0, 1)
    other.read(cache, 0, 1)
    cache.invalidate(store.ino)
    store.read(cache, 0, 1)
    other.read(cache, 0, 1)
    assert store.fetches == [(0, BS), (0, BS)]
    assert other.fetches == [(0, BS)]
