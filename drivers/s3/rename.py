"""Rename in the S3 driver: copy then delete, which S3 makes non-atomic.

A file is one server-side copy (multipart above 5 GiB) and one DELETE. A
directory is listed whole, its objects copied in parallel, then the old keys
deleted 1000 per request; a crash in between leaves both trees, never neither.
Markers are PUT anew rather than copied, since SeaweedFS cannot copy them.
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING

from cloudfs.driver import Attr
from cloudfs.errors import FsError

from .inodes import join, under
from .layout import Entry, Orphan, now_ns
from .store import NotFound
from .transfer import MAX_COPY, Multipart, copy_large

if TYPE_CHECKING:
    from .driver import S3Driver

log = logging.getLogger(__name__)


class RenameOps:
    """Mixin of S3Driver: rename."""

    def rename(
        self: S3Driver, parent: int, name: bytes, new_parent: int, new_name: bytes, flags: int = 0
    ) -> Attr | None:
        """Move `name` to `new_name`, replacing a file or an empty directory there. No rename flags (not atomic)."""
        with self._ns_lock:
            src_dir, dst_dir = self._dir(parent), self._dir(new_parent)
            src, dst = join(src_dir, name), join(dst_dir, new_name)
            e = self._entry(src, full=True)
            if e is None:
                raise FsError(errno.ENOENT, f"{src!r} does not exist")
            if src == dst:
                return None
            if e.is_dir and under(dst, src):
                raise FsError(errno.EINVAL, "cannot move a directory into itself")
            replaced = self._replace_target(dst, e, self._entry(dst))
            moved = e.copy(ctime_ns=now_ns())
            self._reuse(dst)
            if e.is_dir:
                self.deletes.flush()  # objects under `dst` unlinked before must go before the copies land
                self._move_tree(src, dst, moved)
            else:
                self._move_file(src, dst, moved)
            self._touch_dir(src_dir)
            self._touch_dir(dst_dir)
            return replaced

    def _replace_target(self: S3Driver, dst: str, e: Entry, old: Entry | None) -> Attr | None:
        """Refuse clashing types and non-empty directories; make what `dst` held an orphan."""
        if old is None:
            return None
        if e.is_dir and not old.is_dir:
            raise FsError(errno.ENOTDIR, f"{dst!r} is not a directory")
        if old.is_dir and not e.is_dir:
            raise FsError(errno.EISDIR, f"{dst!r} is a directory")
        ino = self.inodes.ino(dst)
        gone = old.copy(ctime_ns=now_ns())
        if old.is_dir:
            self._check_empty(dst)
            self.store.delete(dst + "/")
            self._forget_dir(dst)
            return self._attr(ino, gone, nlink=0)
        with self._lock:
            local = self._pending.pop(ino, None) is not None
        # The copy overwrites the object: keep its bytes for readers still holding it.
        snapshot = b"" if local else self.store.get(dst) if old.size <= self.part_size else None
        with self._lock:
            self._orphans[ino] = Orphan(dst, gone, remote=False, data=snapshot)
        self.inodes.detach(dst)
        self.cache.remove(dst)
        return self._attr(ino, gone, nlink=0)

    def _move_file(self: S3Driver, src: str, dst: str, e: Entry) -> None:
        """A file or symlink: one copy (with the new ctime) and one delete; a local file is re-keyed."""
        ino = self.inodes.known(src)
        with self._lock:
            local = ino is not None and ino in self._pending
            if local:
                self._pending[ino] = e
        if not local:
            meta = self._headers(e)
            if e.size > MAX_COPY:
                copy_large(Multipart(self.store, self.pool, dst, meta), src, e.size, e.etag)
            else:
                self.store.copy(src, dst, meta)
            self.store.delete(src)
        self.inodes.move(src, dst)
        self.cache.remove(src)
        self.cache.put(dst, e.copy(stamp=0))
        if ino is not None:
            self.reader.drop(ino)

    def _move_tree(self: S3Driver, src: str, dst: str, e: Entry) -> None:
        """A directory: copy every object under it in parallel, then batch-delete the old keys."""
        keys = self.store.list_tree(src)
        jobs = [self.pool.submit(self.store.put, dst + "/", b"", self._headers(e), True)]
        for key in keys:
            if key != src + "/":
                jobs.append(self.pool.submit(self._copy_key, key, dst + key[len(src) :]))
        for job in jobs:
            job.result()
        self.store.delete_many(_with_directories(src, keys))
        self.inodes.move(src, dst)
        ino = self.inodes.ino(dst)
        with self._lock:
            self._dir_attrs[ino] = e
        self.cache.drop_tree(src)
        self.cache.drop_tree(dst)
        self.cache.remove(src)
        self.cache.put(dst, e)

    def _copy_key(self: S3Driver, key: str, target: str) -> None:
        """Copy one object of a moved tree; markers below the top are PUT again with their headers."""
        if key.endswith("/"):
            head = self.store.head(key)
            self.store.put(target, b"", head.meta if head and head.meta else None, is_dir=True)
            return
        try:
            self.store.copy(key, target, None)
        except NotFound:
            log.warning("%s vanished while its directory was renamed", key)


def _with_directories(top: str, keys: list[str]) -> list[str]:
    """`keys` plus a marker key for every directory they imply under `top`, deepest first.

    Deleting a marker that does not exist costs nothing in a batch, and SeaweedFS,
    which keeps implied directories as real ones, needs them gone children first.
    """
    found = set(keys) | {top + "/"}
    for key in keys:
        parts = key[len(top) + 1 :].split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            found.add(top + "/" + "/".join(parts[:depth]) + "/")
    return sorted(found, reverse=True)
