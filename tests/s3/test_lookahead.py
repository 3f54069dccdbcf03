"""The metadata lookahead on its own: which entries it fetches ahead, once each, and what it stores."""

from __future__ import annotations

import errno
import threading
from collections import Counter

from cloudfs.drivers.s3.cache import MetaCache
from cloudfs.drivers.s3.layout import Defaults, Entry, listed_file
from cloudfs.drivers.s3.lookahead import Lookahead
from cloudfs.errors import FsError

DEFAULTS = Defaults(uid=0, gid=0, umask=0o022)


class Store:
    """Answers fetches with a full copy of the listed entry, counting them; `gate` holds them back."""

    def __init__(self) -> None:
        self.fetched: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()
        self.fail: set[str] = set()

    def fetch(self, path: str, listed: Entry) -> Entry | None:
        with self.lock:
            self.fetched[path] += 1
        if threading.current_thread().name.startswith("s3-head"):
            self.gate.wait(10)  # only fetches ahead are held: the scan's own go through
        if path in self.fail:
            raise FsError(errno.EIO, f"HEAD {path} failed")
        return listed.copy(full=True, uid=1000)


def listed(cache: MetaCache, count: int) -> list[str]:
    """A listed directory `d` of `count` files f000…; returns their paths in readdir order."""
    cache.put_listing("d", {f"f{i:03d}": listed_file(i, 1, f"e{i}", DEFAULTS) for i in range(count)})
    return [f"d/f{i:03d}" for i in range(count)]


def scan(ahead: Lookahead, cache: MetaCache, paths: list[str]) -> list[Entry | None]:
    """Look each path up as the driver does for `ls -l`: the cache, else the lookahead, storing what it says."""
    out = []
    for path in paths:
        e = cache.entry(path)
        if e is None or not e.full:
            e = ahead.lookup(path, e)  # type: ignore[arg-type]
            if e is not None:
                cache.put(path, e)
        out.append(e)
    return out


def held_window() -> tuple[MetaCache, Store, Lookahead, list[str]]:
    """A listed directory of 20 whose scan has begun: f002…f009 are on their way ahead, held at the gate."""
    cache, store = MetaCache(60), Store()
    ahead = Lookahead(cache, store.fetch, first_window=8)
    paths = listed(cache, 20)
    store.gate.clear()
    scan(ahead, cache, paths[:2])
    return cache, store, ahead, paths


def test_a_scan_fetches_every_entry_once_with_the_window_ahead() -> None:
    cache, store = MetaCache(60), Store()
    ahead = Lookahead(cache, store.fetch, threads=4, first_window=4, max_window=16)
    paths = listed(cache, 100)
    found = scan(ahead, cache, paths)
    ahead.close()
    assert all(e is not None and e.full and e.uid == 1000 for e in found)
    assert store.fetched == Counter(paths)
    assert all(cache.entry(p).full for p in paths)  # type: ignore[union-attr]


def test_one_lookup_fetches_nothing_ahead() -> None:
    cache, store = MetaCache(60), Store()
    ahead = Lookahead(cache, store.fetch)
    paths = listed(cache, 20)
    scan(ahead, cache, paths[5:6])
    ahead.close()
    assert store.fetched == Counter(paths[5:6])


def test_an_abandoned_scan_costs_one_window_at_most() -> None:
    cache, store = MetaCache(60), Store()
    ahead = Lookahead(cache, store.fetch, first_window=8, max_window=64)
    paths = listed(cache, 200)
    scan(ahead, cache, paths[:2])
    ahead.close()
    assert sorted(store.fetched) == paths[:10]


def test_a_lookup_waits_for_the_fetch_on_its_way_instead_of_sending_another() -> None:
    cache, store, ahead, paths = held_window()
    waiter = threading.Thread(target=scan, args=(ahead, cache, [paths[3]]))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # waiting for the fetch on its way, not sending its own
    store.gate.set()
    waiter.join(10)
    ahead.close()
    assert store.fetched[paths[3]] == 1


def test_a_lookup_that_saw_the_listed_entry_takes_the_answer_landed_since() -> None:
    cache, store, ahead, paths = held_window()
    seen = cache.entry(paths[5])  # the caller looks at the cache just before the answer lands
    store.gate.set()
    ahead.close()
    assert ahead.lookup(paths[5], seen) is cache.entry(paths[5])  # type: ignore[arg-type]
    assert store.fetched[paths[5]] == 1


def test_an_entry_changed_meanwhile_is_not_overwritten() -> None:
    cache, store, ahead, paths = held_window()
    mine = listed_file(99, 2, "new", DEFAULTS).copy(full=True, uid=7)
    cache.put(paths[5], mine)  # written through the mount while its HEAD is on its way
    store.gate.set()
    ahead.close()
    assert cache.entry(paths[5]) is mine


def test_a_failed_fetch_ahead_fails_the_lookup_that_waits_for_it() -> None:
    cache, store, ahead, paths = held_window()
    store.fail.add(paths[4])  # checked after the gate opens
    results: list[BaseException] = []

    def look() -> None:
        try:
            ahead.lookup(paths[4], cache.entry(paths[4]))  # type: ignore[arg-type]
        except FsError as exc:
            results.append(exc)

    waiter = threading.Thread(target=look)
    waiter.start()
    store.gate.set()
    waiter.join(10)
    ahead.close()
    assert [getattr(e, "errno", None) for e in results] == [errno.EIO]
    assert store.fetched[paths[4]] == 1
    assert not cache.entry(paths[4]).full  # type: ignore[union-attr]


def test_an_expired_listing_sends_nothing_ahead() -> None:
    cache, store = MetaCache(0.0), Store()
    ahead = Lookahead(cache, store.fetch)
    paths = listed(cache, 20)  # expired at once
    for p in paths[:5]:
        ahead.lookup(p, listed_file(0, 1, None, DEFAULTS))
    ahead.close()
    assert store.fetched == Counter(paths[:5])
