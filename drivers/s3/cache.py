"""The driver's metadata cache: entries, directory listings and known-absent paths, with a TTL.

It is what keeps the driver frugal: a listing fills entries for all its
children, and a fresh listing answers "absent" for names it does not hold,
so creating a file in a listed directory needs no lookup request at all.
The cache only remembers; it never talks to S3.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .inodes import parent_of, under
from .layout import Entry


@dataclass
class _Listing:
    """One directory level: its child names, those that are directories, and when it was listed."""

    names: set[str]
    stamp: float
    dirs: set[str] = field(default_factory=set)


class MetaCache:
    """Path → entry, directory → child names, and path → absent, each valid for `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        """An empty cache whose entries stay valid for `ttl` seconds."""
        self.ttl = ttl
        self._lock = threading.RLock()
        self._entries: dict[str, tuple[Entry, float]] = {}
        self._lists: dict[str, _Listing] = {}
        self._absent: dict[str, float] = {}

    def _fresh(self, stamp: float) -> bool:
        """True while something cached at `stamp` is still valid."""
        return time.monotonic() - stamp < self.ttl

    def entry(self, path: str) -> Entry | None:
        """The fresh entry of `path`, if any."""
        with self._lock:
            hit = self._entries.get(path)
            return hit[0] if hit and self._fresh(hit[1]) else None

    def any_entry(self, path: str) -> Entry | None:
        """The entry of `path` even if stale (to compare with a new listing)."""
        with self._lock:
            hit = self._entries.get(path)
            return hit[0] if hit else None

    def known_absent(self, path: str) -> bool:
        """True when `path` is known absent: a fresh negative entry, or a fresh parent listing without it."""
        with self._lock:
            stamp = self._absent.get(path)
            if stamp is not None and self._fresh(stamp):
                return True
            listing = self._lists.get(parent_of(path)) if path else None
            name = path.rpartition("/")[2]
            return bool(listing and self._fresh(listing.stamp) and name not in listing.names)

    def names(self, path: str) -> set[str] | None:
        """The fresh child names of directory `path`, if listed."""
        with self._lock:
            hit = self._lists.get(path)
            return set(hit.names) if hit and self._fresh(hit.stamp) else None

    def subdirs(self, path: str) -> int | None:
        """How many subdirectories the fresh listing of `path` holds (kept as entries change: a
        directory's getattr asks this for its nlink, and counting would cost the whole listing)."""
        with self._lock:
            hit = self._lists.get(path)
            return len(hit.dirs) if hit and self._fresh(hit.stamp) else None

    def listing_stamp(self, path: str) -> float | None:
        """When the fresh listing of directory `path` was taken (tells one listing from the next)."""
        with self._lock:
            hit = self._lists.get(path)
            return hit.stamp if hit and self._fresh(hit.stamp) else None

    def replace(self, path: str, expected: Entry, entry: Entry | None) -> bool:
        """Store `entry` (None: absent) only if `path` still holds the very entry `expected`."""
        with self._lock:
            hit = self._entries.get(path)
            if hit is None or hit[0] is not expected:
                return False
            if entry is None:
                self.remove(path)
            else:
                self.put(path, entry)
            return True

    def put(self, path: str, entry: Entry) -> None:
        """Remember `entry` for `path` and add it to its parent's listing if that is cached."""
        with self._lock:
            now = time.monotonic()
            self._entries[path] = (entry, now)
            self._absent.pop(path, None)
            listing = self._lists.get(parent_of(path)) if path else None
            if listing is not None:
                name = path.rpartition("/")[2]
                listing.names.add(name)
                if entry.is_dir:
                    listing.dirs.add(name)
                else:
                    listing.dirs.discard(name)

    def put_listing(self, path: str, children: dict[str, Entry]) -> None:
        """Remember a whole directory level."""
        with self._lock:
            now = time.monotonic()
            for name, entry in children.items():
                child = f"{path}/{name}" if path else name
                self._entries[child] = (entry, now)
                self._absent.pop(child, None)
            dirs = {name for name, entry in children.items() if entry.is_dir}
            self._lists[path] = _Listing(set(children), now, dirs)

    def remove(self, path: str) -> None:
        """`path` is gone: forget it, drop it from its parent's listing, remember it absent."""
        with self._lock:
            self._entries.pop(path, None)
            self._lists.pop(path, None)
            self._absent[path] = time.monotonic()
            listing = self._lists.get(parent_of(path)) if path else None
            if listing is not None:
                listing.names.discard(path.rpartition("/")[2])
                listing.dirs.discard(path.rpartition("/")[2])

    def drop_tree(self, path: str) -> None:
        """Forget everything at or under `path` (after a directory rename)."""
        with self._lock:
            for table in (self._entries, self._lists, self._absent):
                for p in [p for p in table if under(p, path)]:
                    del table[p]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            self._lists.clear()
            self._absent.clear()
