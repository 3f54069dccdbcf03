"""Attribute and directory-entry cache with a time-to-live.

Fills from lookups, creations and whole directory listings, so `ls -l`
costs one listing instead of one request per entry. A listing that is
cached complete also answers "no such name" without asking the store,
which is what makes a new file in a listed directory cost a single write.
Local changes edit the cache in place; the TTL bounds how long a change
made by another host can go unseen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from cloudfs.driver import Attr

MISSING = object()
"""Returned by `MetaCache.entry` when the cache does not know."""


class MetaCache:
    """Thread-safe TTL cache of attributes, entries and complete listings."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._attrs: dict[int, tuple[float, Attr]] = {}
        self._entries: dict[tuple[int, bytes], tuple[float, int]] = {}
        self._listings: dict[int, tuple[float, set[bytes]]] = {}

    def _fresh(self, stamp: float) -> bool:
        return time.monotonic() - stamp < self.ttl

    def attr(self, ino: int) -> Attr | None:
        """The cached attributes of `ino`, or None."""
        with self._lock:
            hit = self._attrs.get(ino)
            return hit[1] if hit and self._fresh(hit[0]) else None

    def put_attr(self, attr: Attr) -> None:
        """Remember fresh attributes."""
        if self.ttl > 0:
            with self._lock:
                self._attrs[attr.ino] = (time.monotonic(), attr)

    def drop_attr(self, ino: int) -> None:
        """Forget the attributes of `ino` (they changed)."""
        with self._lock:
            self._attrs.pop(ino, None)

    def entry(self, parent: int, name: bytes) -> Attr | object | None:
        """Cached lookup: the Attr, None when known absent, or `MISSING` when unknown."""
        with self._lock:
            hit = self._entries.get((parent, name))
            if hit and self._fresh(hit[0]):
                attr = self._attrs.get(hit[1])
                if attr and self._fresh(attr[0]):
                    return attr[1]
                return MISSING
            listing = self._listings.get(parent)
            if listing and self._fresh(listing[0]) and name not in listing[1]:
                return None
            return MISSING

    def entry_ino(self, parent: int, name: bytes) -> int | None:
        """The inode a fresh cached entry names, however old its attributes: a name outlives attribute changes."""
        with self._lock:
            hit = self._entries.get((parent, name))
            return hit[1] if hit and self._fresh(hit[0]) else None

    def put_entry(self, parent: int, name: bytes, attr: Attr) -> None:
        """Remember that `name` in `parent` is `attr`, and add it to a cached listing."""
        if self.ttl <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._entries[(parent, name)] = (now, attr.ino)
            self._attrs[attr.ino] = (now, attr)
            listing = self._listings.get(parent)
            if listing:
                listing[1].add(name)

    def drop_entry(self, parent: int, name: bytes) -> None:
        """Forget `name` in `parent` (removed or renamed away)."""
        with self._lock:
            self._entries.pop((parent, name), None)
            listing = self._listings.get(parent)
            if listing:
                listing[1].discard(name)

    def put_listing(self, parent: int, entries: Iterable[tuple[bytes, Attr]], with_attrs: bool = True) -> None:
        """Remember a complete listing of `parent`, and each entry's attributes when they are complete."""
        if self.ttl <= 0:
            return
        now = time.monotonic()
        with self._lock:
            names = set()
            for name, attr in entries:
                names.add(name)
                if with_attrs:
                    self._entries[(parent, name)] = (now, attr.ino)
                    self._attrs[attr.ino] = (now, attr)
            self._listings[parent] = (now, names)

    def drop_listing(self, parent: int) -> None:
        """Forget the listing of `parent`."""
        with self._lock:
            self._listings.pop(parent, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._attrs.clear()
            self._entries.clear()
            self._listings.clear()
