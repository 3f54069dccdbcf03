"""Headers fetched ahead of a directory scan: `ls -l` of a listed directory in parallel HEADs.

A listing carries no headers, so the first `ls -l` needs one HEAD per entry
(modes, owners and symlinks live in headers). Sent one after another, that is
N round trips. Once two lookups in one listed directory have needed a HEAD,
the following entries of its listing, in readdir order, are fetched in
parallel, in a window that doubles up to `max_window`. A lookup of an entry
being fetched waits for that request instead of sending its own, so the
request count stays what a sequential scan costs; only the last window of an
abandoned scan may be spent for nothing. A plain `ls` makes no lookups and
costs its listing alone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from .cache import MetaCache
from .inodes import child, name_bytes, parent_of
from .layout import Entry

Fetch = Callable[[str, Entry], "Entry | None"]
MAX_SCANS = 16  # directories whose scan position is remembered at once


@dataclass
class _Scan:
    """Where a scan of one listing stands: its names in readdir order and how far requests went ahead."""

    stamp: float
    order: list[str]
    position: dict[str, int]
    misses: int = 0
    ahead_until: int = 0
    window: int = 0


class Lookahead:
    """Parallel header fetches for the entries of listed directories, ahead of the lookups.

    `fetch(path, listed)` makes the requests for one entry known from a listing.
    Answers fetched ahead go into `cache` only if the entry did not change
    meanwhile. The threads here never wait for anything but S3.
    """

    def __init__(self, cache: MetaCache, fetch: Fetch, threads: int = 8, first_window: int = 8,
                 max_window: int = 64) -> None:  # fmt: skip
        """Fetch with `fetch`, at most `threads` requests at once, windows from `first_window` to `max_window`."""
        self._cache = cache
        self._fetch = fetch
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="s3-head")
        self._first_window = first_window
        self._max_window = max_window
        self._lock = threading.Lock()
        self._scans: OrderedDict[str, _Scan] = OrderedDict()
        self._in_flight: dict[str, Future[Entry | None]] = {}

    def lookup(self, path: str, listed: Entry) -> Entry | None:
        """What `path` is, for an entry known from a listing only.

        The answer fetched ahead if there is one (waiting for it while it is on its
        way), else fetched now, after the next window has been sent.
        """
        with self._lock:
            pending = self._in_flight.get(path)
            if pending is None:
                # A fetch ahead may have landed since the caller looked: it stores before it leaves.
                landed = self._cache.entry(path)
                if landed is not None and landed.full:
                    return landed
                self._ahead(parent_of(path), path.rpartition("/")[2])
        if pending is not None:
            return pending.result()
        return self._fetch(path, listed)

    def _ahead(self, parent: str, name: str) -> None:
        """Count a miss in the parent's scan; once two are counted, keep a window of requests ahead of it."""
        stamp = self._cache.listing_stamp(parent)
        if stamp is None:
            return
        scan = self._scans.get(parent)
        if scan is None or scan.stamp != stamp:
            order = sorted(self._cache.names(parent) or (), key=name_bytes)
            scan = _Scan(stamp, order, {n: i for i, n in enumerate(order)})
            self._scans[parent] = scan
            if len(self._scans) > MAX_SCANS:
                self._scans.popitem(last=False)
        self._scans.move_to_end(parent)
        index = scan.position.get(name)
        if index is None:
            return
        scan.misses += 1
        if scan.misses < 2 or index + scan.window // 2 < scan.ahead_until:
            return
        scan.window = min(self._max_window, max(self._first_window, scan.window * 2))
        start, scan.ahead_until = max(index + 1, scan.ahead_until), index + 1 + scan.window
        for sibling in scan.order[start : scan.ahead_until]:
            path = child(parent, sibling)
            listed = self._cache.entry(path)
            if listed is not None and not listed.full and path not in self._in_flight:
                future: Future[Entry | None] = Future()
                self._in_flight[path] = future
                self._pool.submit(self._run, path, listed, future)

    def _run(self, path: str, listed: Entry, future: Future[Entry | None]) -> None:
        """One fetch ahead: store the answer unless the entry changed, then hand it to any waiter."""
        try:
            found = self._fetch(path, listed)
            self._cache.replace(path, listed, found)
            future.set_result(found)
        except BaseException as exc:  # a waiter gets the error its own request would have had
            future.set_exception(exc)
        finally:
            with self._lock:
                self._in_flight.pop(path, None)

    def close(self) -> None:
        """Wait for the fetches on their way and stop the threads."""
        self._pool.shutdown(wait=True)
