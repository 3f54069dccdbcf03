"""The S3 driver's data and attribute calls: read, write, truncate, setattr, xattrs.

Kept apart from the namespace calls in `driver.py` for size. Small files are
one PUT; large ones a multipart upload that copies unchanged parts. Attribute
changes rewrite headers with a metadata-only copy of the object onto itself
(a directory marker is PUT again instead: SeaweedFS cannot copy it).
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING

from cloudfs.driver import XATTR_CREATE, XATTR_REPLACE, Attr, AttrChanges, StagedData
from cloudfs.errors import FsError

from .layout import Entry, Orphan, now_ns
from .transfer import MAX_COPY, Multipart, check_size, copy_large, part_size_for, upload

if TYPE_CHECKING:
    from .driver import S3Driver

log = logging.getLogger(__name__)


class _Resized:
    """An object's current contents cut or zero-extended to `size`: a truncate's StagedData."""

    def __init__(self, driver: S3Driver, path: str, old_size: int, size: int) -> None:
        """The object at `path`, `old_size` bytes long now, seen as `size` bytes."""
        self._driver = driver
        self._path = path
        self._old = old_size
        self.size = size

    def dirty_ranges(self) -> list[tuple[int, int]]:
        """Only the zero-filled tail changed."""
        return [(self._old, self.size)] if self.size > self._old else []

    def read(self, off: int, size: int) -> bytes:
        """Old bytes below the old size, zeros above."""
        end = min(off + size, self.size)
        kept = self._driver.store.get(self._path, off, min(end, self._old)) if off < self._old else b""
        return kept + bytes(max(0, end - off - len(kept)))


class DataOps:
    """Mixin of S3Driver: data, attribute and xattr calls."""

    def read(self: S3Driver, ino: int, off: int, size: int) -> bytes:
        """A streaming GET for sequential readers, ranged GETs otherwise (`streaming.py`); holes are zeros."""
        orphan = self._orphan(ino)
        with self._lock:
            pending = self._pending.get(ino)
        if orphan is not None and not orphan.remote:
            if orphan.data is None:
                return bytes(max(0, min(off + size, orphan.entry.size) - off))
            return orphan.data[off : off + size]
        if pending is not None:
            return bytes(max(0, min(off + size, pending.size) - off))
        # An orphan reads the object it was unlinked from.
        path, e = (orphan.path, orphan.entry) if orphan else self._existing(ino)
        if e.is_dir:
            raise FsError(errno.EISDIR, "is a directory")
        return self.reader.read(ino, path, off, size, e.size)

    def _upload(self: S3Driver, path: str, data: StagedData, e: Entry, old: Entry | None) -> str | None:
        """Store `data` as `path` with `e`'s headers: one PUT, or multipart copying unchanged parts."""
        check_size(data.size)
        meta = self._headers(e)
        if data.size <= self.part_size:
            return self.store.put(path, data.read(0, data.size), meta)
        part = part_size_for(data.size, self.part_size)
        job = Multipart(self.store, self.pool, path, meta)
        return upload(job, data, part, old.size if old else 0, old.etag if old else None)

    def write(self: S3Driver, ino: int, data: StagedData, mtime_ns: int) -> Attr:
        """Upload staged contents; a file unlinked meanwhile is not resurrected."""
        orphan = self._orphan(ino)
        with self._lock:
            pending = self._pending.get(ino)
        if orphan is not None:
            # Nobody can open it again: keep the contents for its last readers, in memory.
            orphan.data, orphan.remote = data.read(0, data.size), False
            orphan.entry = orphan.entry.copy(size=data.size, mtime_ns=mtime_ns, ctime_ns=mtime_ns)
            return self._attr(ino, orphan.entry, nlink=0)
        path = self._path(ino)
        old = None if pending else self._entry(path, full=True)
        base = pending or old or self._new_entry(self.defaults.file_mode(), self.defaults.uid, self.defaults.gid)
        e = base.copy(size=data.size, mtime_ns=mtime_ns, ctime_ns=mtime_ns, full=True, stamp=0)
        remote = old if old is not None and old.etag else None
        e.etag = self._upload(path, data, e, remote)
        with self._lock:
            if self._pending.get(ino) is pending:
                self._pending.pop(ino, None)
        self.reader.drop(ino)
        self.cache.put(path, e)
        return self._attr(ino, e, path)

    def _flush_pending(self: S3Driver, ino: int) -> None:
        """Upload a new file the core never wrote (mknod(2), or a truncate before any write)."""
        with self._lock:
            e = self._pending.pop(ino, None)
        if e is None:
            return
        path = self._path(ino)
        try:
            e.etag = self.store.put(path, bytes(e.size), self._headers(e))
        except FsError:
            with self._lock:
                self._pending[ino] = e
            raise
        self.cache.put(path, e.copy(stamp=0))

    def _store_attrs(self: S3Driver, ino: int, path: str, old: Entry, e: Entry) -> Entry:
        """Make `e`'s attributes durable: nothing for a local file, a marker PUT or a self-copy."""
        with self._lock:
            if ino in self._pending:
                self._pending[ino] = e
                return e
        if e.is_dir:
            self._dir_attrs[ino] = e
            if path:
                e.etag = self.store.put(path + "/", b"", self._headers(e), is_dir=True)
        elif not self.no_metadata:
            meta = self._headers(e)
            if old.size > MAX_COPY:
                copy_large(Multipart(self.store, self.pool, path, meta), path, old.size, old.etag)
            else:
                self.store.copy(path, path, meta)
        if path:
            self.cache.put(path, e)
        return e

    def setattr(self: S3Driver, ino: int, changes: AttrChanges) -> Attr:
        """chmod/chown/utimens rewrite headers; a size change re-uploads (copying unchanged parts)."""
        orphan = self._orphan(ino)
        path, old = (orphan.path, orphan.entry) if orphan else self._existing(ino, full=True)
        t = now_ns()
        if self.no_metadata and (
            (changes.mode is not None and changes.mode != old.mode & 0o7777)
            or changes.uid not in (None, old.uid)
            or changes.gid not in (None, old.gid)
        ):
            raise FsError(errno.EPERM, "no_metadata: modes and owners are fixed")
        e = old.copy(
            mode=old.mode if changes.mode is None else (old.mode & ~0o7777) | changes.mode,
            uid=old.uid if changes.uid is None else changes.uid,
            gid=old.gid if changes.gid is None else changes.gid,
            atime_ns=old.atime_ns if changes.atime_ns is None else changes.atime_ns,
            mtime_ns=old.mtime_ns if changes.mtime_ns is None else changes.mtime_ns,
            ctime_ns=t,
            full=True,
            has_meta=not self.no_metadata,
        )
        if changes.size is not None and e.is_dir:
            raise FsError(errno.EISDIR, "cannot truncate a directory")
        if orphan is not None:
            return self._attr(ino, self._orphan_attrs(orphan, e, changes.size), nlink=0)
        if changes.size is not None:
            return self._attr(ino, self._truncate(ino, path, old, e, changes.size), path)
        return self._attr(ino, self._store_attrs(ino, path, old, e), path)

    def _orphan_attrs(self: S3Driver, orphan: Orphan, e: Entry, size: int | None) -> Entry:
        """An orphan's changes stay in memory: its object is going anyway."""
        if size is not None and size != orphan.entry.size:
            if orphan.remote:
                orphan.data, orphan.remote = self.store.get(orphan.path), False
            kept = orphan.data or b""
            orphan.data = kept[:size] + bytes(max(0, size - len(kept)))
            e.size = size
            e.mtime_ns = e.ctime_ns
        orphan.entry = e
        return e

    def touch_atime(self: S3Driver, ino: int, atime_ns: int) -> Attr:
        """Record a read in memory only (capabilities.atime is False: a stored atime costs a copy)."""
        orphan = self._orphan(ino)
        if orphan is not None:
            orphan.entry = orphan.entry.copy(atime_ns=atime_ns)
            return self._attr(ino, orphan.entry, nlink=0)
        path, e = self._existing(ino)
        e = e.copy(atime_ns=atime_ns)
        with self._lock:
            if ino in self._pending:
                self._pending[ino] = e
        if path:
            self.cache.put(path, e)
        return self._attr(ino, e, path)

    def _truncate(self: S3Driver, ino: int, path: str, old: Entry, e: Entry, size: int) -> Entry:
        """Cut or zero-extend the object to `size` (a size change sets mtime now unless given)."""
        if e.mtime_ns == old.mtime_ns and size != old.size:
            e.mtime_ns = e.ctime_ns
        e.size = size
        with self._lock:
            if ino in self._pending:
                self._pending[ino] = e
                self.cache.put(path, e)
                return e
        if size == old.size:
            return self._store_attrs(ino, path, old, e)
        e.stamp = 0
        e.etag = self._upload(path, _Resized(self, path, old.size, size), e, old)
        self.reader.drop(ino)
        self.cache.put(path, e)
        return e

    # -- extended attributes ---------------------------------------------

    def _xattr_entry(self: S3Driver, ino: int) -> tuple[str, Entry]:
        """Path and full entry of `ino` (or its orphan record), refusing xattrs under no_metadata."""
        if self.no_metadata:
            raise FsError(errno.ENOTSUP, "no_metadata: no extended attributes")
        orphan = self._orphan(ino)
        return (orphan.path, orphan.entry) if orphan else self._existing(ino, full=True)

    def _set_xattrs(self: S3Driver, ino: int, path: str, old: Entry, xattrs: dict[bytes, bytes]) -> None:
        """Store a new xattr set (an orphan's only in memory)."""
        e = old.copy(xattrs=xattrs, ctime_ns=now_ns())
        orphan = self._orphan(ino)
        if orphan is not None:
            orphan.entry = e
        else:
            self._store_attrs(ino, path, old, e)

    def getxattr(self: S3Driver, ino: int, name: bytes) -> bytes:
        """One xattr value from the headers (HEAD only if not cached)."""
        try:
            return self._xattr_entry(ino)[1].xattrs[name]
        except KeyError:
            raise FsError(errno.ENODATA, "no such attribute") from None

    def listxattr(self: S3Driver, ino: int) -> list[bytes]:
        """All xattr names from the headers."""
        return sorted(self._xattr_entry(ino)[1].xattrs)

    def setxattr(self: S3Driver, ino: int, name: bytes, value: bytes, flags: int) -> None:
        """Set one xattr: a metadata-only self-copy (or marker PUT)."""
        path, old = self._xattr_entry(ino)
        if flags & XATTR_CREATE and name in old.xattrs:
            raise FsError(errno.EEXIST, "attribute exists")
        if flags & XATTR_REPLACE and name not in old.xattrs:
            raise FsError(errno.ENODATA, "no such attribute")
        self._set_xattrs(ino, path, old, {**old.xattrs, name: value})

    def removexattr(self: S3Driver, ino: int, name: bytes) -> None:
        """Remove one xattr: a metadata-only self-copy (or marker PUT)."""
        path, old = self._xattr_entry(ino)
        if name not in old.xattrs:
            raise FsError(errno.ENODATA, "no such attribute")
        self._set_xattrs(ino, path, old, {k: v for k, v in old.xattrs.items() if k != name})
