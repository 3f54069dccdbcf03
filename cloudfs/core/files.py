"""Open files: handles, write-back staging and the read path.

Every inode with an open handle has one `OpenFile` shared by its handles.
Writes and truncates go to the inode's staged spool file; `flush` (on close,
on fsync and at unmount) hands the staged data to the driver in one
`write`. A file created through us is written once even if empty, so an
object store can defer creating it to that single upload. A close of such a
file before anything was written to it stores nothing while its creator still
holds another descriptor on it (a shell's `cmd > f` dup2s and closes first):
its last close stores it, so a closed file is still a stored one. When the
last handle goes, an inode whose last link went meanwhile is purged.

Lock order: an OpenFile's lock, then the table lock; never a driver call
under the table lock.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cloudfs.core.cache import MetaCache
from cloudfs.core.readcache import ReadCache
from cloudfs.core.staging import Spool, StagedFile
from cloudfs.driver import Attr, Driver
from cloudfs.errors import FsError

log = logging.getLogger(__name__)


@dataclass
class OpenFile:
    """State shared by all handles of one inode."""

    ino: int
    handles: int = 0
    staged: StagedFile | None = None
    needs_write: bool = False
    mtime_ns: int = 0
    creator: int = 0  # pid that created the file, while nothing has been written to it
    orphaned: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def dirty(self) -> bool:
        """True when the store is missing something of this file."""
        return self.needs_write or (self.staged is not None and self.staged.changed)


@dataclass(frozen=True, slots=True)
class Handle:
    """One open(2) of a file: which inode, and whether it may write."""

    ino: int
    writable: bool


class OpenFiles:
    """The table of open files and the data path through it."""

    def __init__(self, driver: Driver, cache: MetaCache, spool: Spool, read_cache: ReadCache) -> None:
        self.driver = driver
        self.cache = cache
        self.spool = spool
        self.read_cache = read_cache
        self._files: dict[int, OpenFile] = {}
        self._handles: dict[int, Handle] = {}
        self._next_fh = 1
        self._lock = threading.Lock()
        self.still_held: Callable[[int, int], bool] = lambda pid, ino: False  # (pid, ino): set by the adapter

    # -- handles ---------------------------------------------------------------

    def open(self, ino: int, writable: bool, created_ns: int | None = None, creator: int = 0) -> int:
        """Register a new handle on `ino`; `created_ns` marks a file just created (written once, even empty)
        by process `creator`."""
        with self._lock:
            of = self._files.get(ino)
            if of is None:
                of = self._files[ino] = OpenFile(ino)
            of.handles += 1
            if created_ns is not None:
                of.needs_write = True
                of.mtime_ns = created_ns
                of.creator = creator
            fh = self._next_fh
            self._next_fh += 1
            self._handles[fh] = Handle(ino, writable)
            return fh

    def handle(self, fh: int) -> Handle:
        """The handle for `fh`; EBADF if unknown."""
        try:
            return self._handles[fh]
        except KeyError:
            raise FsError(errno.EBADF, f"unknown file handle {fh}") from None

    def get(self, ino: int) -> OpenFile | None:
        """The open-file state of `ino`, if it is open."""
        with self._lock:
            return self._files.get(ino)

    def is_open(self, ino: int) -> bool:
        """True when some handle holds `ino`."""
        with self._lock:
            of = self._files.get(ino)
            return of is not None and of.handles > 0

    def release(self, fh: int) -> None:
        """Drop a handle; the last one flushes, then purges an orphan."""
        handle = self._handles.pop(fh, None)
        if handle is None:
            return
        of = self._files[handle.ino]
        with of.lock:
            with self._lock:
                of.handles -= 1
                if of.handles > 0:
                    return
            if of.orphaned:
                self._discard(of)
                try:
                    self.driver.purge(of.ino)
                except FsError as exc:
                    log.warning("orphan inode %d could not be purged (%s); the store keeps it", of.ino, exc)
                return
            try:
                self._flush(of)
            except FsError:
                return  # kept in the table and the spool, retried on next open/flush or unmount
            self._discard(of)

    def _discard(self, of: OpenFile) -> None:
        with self._lock:
            if of.handles > 0:
                return
            self._files.pop(of.ino, None)
        if of.staged is not None:
            of.staged.discard()
            of.staged = None

    def mark_orphan(self, ino: int) -> bool:
        """The last link to `ino` went; True if a handle still holds it (purge waits)."""
        with self._lock:
            of = self._files.get(ino)
            if of is None:
                return False
            of.orphaned = True
            if of.handles > 0:
                return True
        with of.lock:
            self._discard(of)  # kept only because its last close could not write: nothing left to save
        return False

    # -- data ------------------------------------------------------------------

    def read(self, fh: int, off: int, size: int) -> bytes:
        """Read through staging when the file has unflushed changes, else through the read cache."""
        ino = self.handle(fh).ino
        of = self._files[ino]
        with of.lock:
            if of.staged is not None and of.staged.changed:
                return of.staged.read(off, size)
            return self.read_clean(ino, off, size, self._store_attr(ino).size)

    def read_clean(self, ino: int, off: int, size: int, file_size: int) -> bytes:
        """Read what the store has, through the read cache."""
        return self.read_cache.read(ino, off, size, file_size, lambda o, n: self.driver.read(ino, o, n))

    def write(self, fh: int, off: int, data: bytes) -> int:
        """Stage `data` at `off`."""
        handle = self.handle(fh)
        if not handle.writable:
            raise FsError(errno.EBADF, f"handle {fh} is not open for writing")
        of = self._files[handle.ino]
        with of.lock:
            written = self._staged(of).write(off, data)
            of.mtime_ns = time.time_ns()
            of.creator = 0
            return written

    def truncate(self, ino: int, size: int, mtime_ns: int | None) -> bool:
        """Stage a size change if `ino` is open; False when the caller must ask the driver."""
        of = self.get(ino)
        if of is None:
            return False
        with of.lock:
            self._staged(of).truncate(size)
            of.mtime_ns = mtime_ns or time.time_ns()
            of.creator = 0
            of.needs_write = True  # even at the same size: truncate(2) and O_TRUNC set mtime and ctime
        return True

    def set_mtime(self, ino: int, mtime_ns: int) -> None:
        """An explicit utimens on an open file also sets what its next flush stores."""
        of = self.get(ino)
        if of is not None:
            with of.lock:
                of.mtime_ns = mtime_ns

    def _staged(self, of: OpenFile) -> StagedFile:
        if of.staged is None:
            ino = of.ino
            of.staged = self.spool.stage(
                ino, self._store_attr(ino).size, lambda o, n: self.read_clean(ino, o, n, self._store_attr(ino).size)
            )
        return of.staged

    def _store_attr(self, ino: int) -> Attr:
        attr = self.cache.attr(ino)
        if attr is None:
            attr = self.driver.getattr(ino)
            self.cache.put_attr(attr)
        return attr

    # -- flushing --------------------------------------------------------------

    def flush(self, fh: int, closing: bool = False) -> None:
        """Write the inode's staged changes to the store (fsync, and close unless `closing` may wait: see
        the module docstring)."""
        of = self._files.get(self.handle(fh).ino)
        if of is not None:
            with of.lock:
                if closing and of.creator and self.still_held(of.creator, of.ino):
                    return
                self._flush(of)

    def flush_inode(self, ino: int) -> None:
        """Write the staged changes of `ino`, if it is open (before its lock is released)."""
        of = self.get(ino)
        if of is not None:
            with of.lock:
                self._flush(of)

    def close_all(self) -> int:
        """Flush every file and drop its spool file (unmount, signals); returns how many could not be written."""
        with self._lock:
            files = list(self._files.values())
        failed = 0
        for of in files:
            with of.lock:
                try:
                    self._flush(of)
                except FsError:
                    failed += 1
                    continue
                if of.staged is not None:
                    of.staged.discard()
                    of.staged = None
        return failed

    def _flush(self, of: OpenFile) -> None:
        """Hand staged data to the driver; EIO (data kept in the spool) if it fails."""
        if of.orphaned or not of.dirty:
            return
        staged = self._staged(of)
        generation = staged.generation
        try:
            attr = self.driver.write(of.ino, staged, of.mtime_ns)
        except FsError as exc:
            log.error("writing inode %d failed (%s); its data stays in %s", of.ino, exc, staged.path)
            raise FsError(errno.EIO, f"write-back of inode {of.ino} failed") from exc
        except Exception:
            log.exception("writing inode %d failed; its data stays in %s", of.ino, staged.path)
            raise FsError(errno.EIO, f"write-back of inode {of.ino} failed") from None
        of.needs_write = False
        self.read_cache.invalidate(of.ino)
        staged.mark_flushed(generation)
        self.cache.put_attr(attr)

    def overlay(self, attr: Attr) -> Attr:
        """`attr` as the kernel must see it: staged size and write time included."""
        of = self.get(attr.ino)
        if of is None or not of.dirty:
            return attr
        size = attr.size if of.staged is None else of.staged.size
        mtime = max(attr.mtime_ns, of.mtime_ns)
        return dataclasses.replace(attr, size=size, mtime_ns=mtime, ctime_ns=max(attr.ctime_ns, mtime))
