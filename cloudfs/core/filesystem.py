"""The filesystem core: every kernel request as a method, independent of the FUSE binding.

Invariants:
- Inode numbers are the driver's; `ROOT_INO` is the root.
- The core checks what is the same for every store (read-only mounts, name
  length, capabilities, permissions under `nodefault_permissions`) and leaves
  structural rules (EEXIST, ENOTEMPTY, ...) to the driver's atomic calls.
- Every Attr handed out passes through `_present`, which adds staged sizes
  and applies the mount's uid/gid/umask overrides.
- No lock is held across a driver call except an open file's own lock.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cloudfs.core import permissions as perms
from cloudfs.core.cache import MISSING, MetaCache
from cloudfs.core.context import Caller, MountSettings
from cloudfs.core.files import OpenFiles
from cloudfs.core.handle_locks import HandleLocks
from cloudfs.core.readcache import ReadCache
from cloudfs.core.shared_locks import LockRequest, SharedLocks
from cloudfs.core.staging import Spool
from cloudfs.driver import RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO, Attr, AttrChanges, Driver, LockRecord, StatFs
from cloudfs.errors import FsError

log = logging.getLogger(__name__)

XATTR_NAMESPACES = (b"user.", b"trusted.", b"security.")
RELATIME_NS = 24 * 3600 * 10**9
DIR_HANDLES = 1 << 62
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
ZEROS_CHUNK = 1024 * 1024


@dataclass
class DirHandle:
    """An open directory: a listing snapshot taken at the first readdir from offset 0."""

    ino: int
    entries: list[tuple[bytes, Attr]] | None = None


class Filesystem:
    """Binding-independent filesystem over one driver."""

    def __init__(
        self, driver: Driver, settings: MountSettings, invalidate_kernel: Callable[[int], None] = lambda ino: None
    ) -> None:
        """`invalidate_kernel(ino)` drops the kernel's cached pages of a file another host changed."""
        self.driver = driver
        self.invalidate_kernel = invalidate_kernel
        self.caps = driver.capabilities
        self.settings = settings
        self.cache = MetaCache(settings.cache_ttl)
        spool = Spool(None if settings.spool_dir is None else Path(settings.spool_dir))
        self.files = OpenFiles(driver, self.cache, spool, ReadCache(self.caps.block_size, settings.read_cache_bytes))
        self._lock = threading.Lock()
        self._lookups: dict[int, int] = {}
        self._parents: dict[int, int] = {ROOT_INO: ROOT_INO}
        self._dirs: dict[int, DirHandle] = {}
        self._next_dir_fh = DIR_HANDLES  # apart from file handles: a lock request may come on either
        self.locks = (
            SharedLocks(driver.lock_store, self.files.flush_inode, self._revalidate)  # type: ignore[attr-defined]
            if self.caps.locks == "shared"
            else None
        )
        self.handle_locks = HandleLocks(self.locks, self._handle_ino)

    # -- attributes ------------------------------------------------------------

    def getattr(self, ino: int) -> Attr:
        """Current attributes of `ino` as callers see them (overrides applied): what permission checks judge."""
        return self._present(self._attr(ino))

    def _attr(self, ino: int) -> Attr:
        attr = self.cache.attr(ino)
        if attr is None:
            attr = self.driver.getattr(ino)
            self.cache.put_attr(attr)
        return attr

    def _present(self, attr: Attr) -> Attr:
        attr = self.files.overlay(attr)
        s = self.settings
        if s.uid is None and s.gid is None and s.umask is None:
            return attr
        return dataclasses.replace(
            attr,
            mode=attr.mode if s.umask is None else attr.mode & ~(s.umask & 0o777),
            uid=attr.uid if s.uid is None else s.uid,
            gid=attr.gid if s.gid is None else s.gid,
        )

    def lookup(self, parent: int, name: bytes, caller: Caller, remember: bool = True) -> Attr | None:
        """Entry `name` in `parent`, or None when it does not exist; counts a kernel reference if `remember`.

        A path-based binding walks paths itself and never forgets: it passes `remember=False`.
        """
        self._check_name(name)
        if self.settings.check_permissions:
            perms.require_access(self.getattr(parent), caller, os.X_OK)
        if name == b".":
            attr = self._attr(parent)
        elif name == b"..":
            attr = self._attr(self._parents.get(parent, ROOT_INO))
        else:
            cached = self.cache.entry(parent, name)
            if cached is None:
                return None
            if cached is MISSING:
                try:
                    attr = self.driver.lookup(parent, name)
                except FsError as exc:
                    if exc.errno == errno.ENOENT:
                        return None
                    raise
                self.cache.put_entry(parent, name, attr)
            else:
                attr = cached  # type: ignore[assignment]
        # `.` and `..` name the directory itself or its parent: neither is a child of `parent`.
        if remember:
            self._remember(attr, None if name in (b".", b"..") else parent)
        return self._present(attr)

    def resolve(self, parent: int, name: bytes, caller: Caller) -> int:
        """A path walk's step: the inode `name` names in `parent`. ENOENT.

        A cached entry answers even after its inode's attributes changed (a
        create in a directory drops the directory's), so walking through a
        busy directory costs no request.
        """
        if not self.settings.check_permissions:
            ino = self.cache.entry_ino(parent, name)
            if ino is not None:
                return ino
        attr = self.lookup(parent, name, caller, remember=False)
        if attr is None:
            raise FsError(errno.ENOENT, f"no entry {name!r} in {parent}")
        return attr.ino

    def _remember(self, attr: Attr, parent: int | None) -> None:
        with self._lock:
            self._lookups[attr.ino] = self._lookups.get(attr.ino, 0) + 1
            if parent is not None and stat.S_ISDIR(attr.mode) and attr.ino != parent:
                self._parents.setdefault(attr.ino, parent)

    def forget(self, items: Sequence[tuple[int, int]]) -> None:
        """The kernel dropped `n` references to each inode; the last one lets the driver forget it."""
        gone = []
        with self._lock:
            for ino, n in items:
                left = self._lookups.get(ino, 0) - n
                if left > 0:
                    self._lookups[ino] = left
                else:
                    self._lookups.pop(ino, None)
                    self._parents.pop(ino, None)
                    gone.append(ino)
        for ino in gone:
            self.cache.drop_attr(ino)
            self.driver.forget(ino)

    def setattr(self, ino: int, changes: AttrChanges, caller: Caller) -> Attr:
        """chmod, chown, truncate and utimens in one call."""
        self._check_writable()
        if self.settings.check_permissions:
            shown = self.getattr(ino)
            self._check_setattr(shown, changes, caller)
            if changes.mode is not None and not caller.is_root and not caller.in_group(shown.gid):
                # chmod by someone outside the file's group cannot set setgid (Linux drops it silently).
                changes = dataclasses.replace(changes, mode=changes.mode & ~stat.S_ISGID)
        staged_only = False
        if changes.size is not None and changes.mtime_ns is None:
            # The kernel sends a truncate as a bare size; truncate(2) and O_TRUNC always set mtime.
            changes = dataclasses.replace(changes, mtime_ns=time.time_ns())
        if changes.size is not None:
            if changes.size > self.caps.max_file_size:
                raise FsError(errno.EFBIG, f"size {changes.size} is over the store's limit")
            if stat.S_ISDIR(self._attr(ino).mode):
                raise FsError(errno.EISDIR, "cannot truncate a directory")
            if self.files.truncate(ino, changes.size, changes.mtime_ns):
                # The flush stores the size and this mtime; the store needs no call now.
                changes = dataclasses.replace(changes, size=None, mtime_ns=None)
                staged_only = changes.empty()
            else:
                self.files.read_cache.invalidate(ino)
        if changes.mtime_ns is not None:
            self.files.set_mtime(ino, changes.mtime_ns)
        # A truncate of an open file alone waits in staging; the store learns it at flush.
        attr = self._attr(ino) if staged_only else self.driver.setattr(ino, changes)
        self.cache.put_attr(attr)
        return self._present(attr)

    def _check_setattr(self, attr: Attr, changes: AttrChanges, caller: Caller) -> None:
        if changes.mode is not None or changes.mtime_ns is not None or changes.atime_ns is not None:
            perms.require_owner(attr, caller)
        if changes.uid is not None and changes.uid != attr.uid and not caller.is_root:
            raise FsError(errno.EPERM, "only root may change a file's owner")
        if changes.gid is not None and changes.gid != attr.gid and not caller.is_root:
            perms.require_owner(attr, caller)
            if not caller.in_group(changes.gid):
                raise FsError(errno.EPERM, f"uid {caller.uid} is not in group {changes.gid}")
        if changes.size is not None:
            perms.require_access(attr, caller, os.W_OK)

    def readlink(self, ino: int) -> bytes:
        """Target of a symlink."""
        return self.driver.readlink(ino)

    def access(self, ino: int, mode: int, caller: Caller) -> bool:
        """access(2) when the kernel does not check permissions itself."""
        return perms.may_access(self.getattr(ino), caller, mode)

    # -- namespace -------------------------------------------------------------

    def mknod(self, parent: int, name: bytes, mode: int, rdev: int, caller: Caller) -> Attr:
        """Create a file, directory, FIFO, socket or device node."""
        kind = stat.S_IFMT(mode)
        if kind not in (stat.S_IFREG, stat.S_IFDIR) and not self.caps.special_files:
            raise FsError(errno.EPERM, "this store cannot hold FIFOs, sockets or device nodes")
        parent_attr = self._before_entry_change(parent, name, caller)
        uid, gid, mode = perms.new_inode_owner(parent_attr, caller, mode)
        attr = self.driver.mknod(parent, name, mode, rdev, uid, gid)
        return self._created(parent, name, attr)

    def mkdir(self, parent: int, name: bytes, mode: int, caller: Caller) -> Attr:
        """Create a directory."""
        return self.mknod(parent, name, stat.S_IFDIR | (mode & 0o7777), 0, caller)

    def symlink(self, parent: int, name: bytes, target: bytes, caller: Caller) -> Attr:
        """Create a symbolic link."""
        if not self.caps.symlinks:
            raise FsError(errno.EPERM, "this store cannot hold symlinks")
        parent_attr = self._before_entry_change(parent, name, caller)
        uid, gid, _ = perms.new_inode_owner(parent_attr, caller, stat.S_IFLNK | 0o777)
        attr = self.driver.symlink(parent, name, target, uid, gid)
        return self._created(parent, name, attr)

    def link(self, ino: int, new_parent: int, new_name: bytes, caller: Caller) -> Attr:
        """Add a hard link."""
        if not self.caps.hard_links:
            raise FsError(errno.EPERM, "this store has no hard links")
        self._before_entry_change(new_parent, new_name, caller)
        attr = self.driver.link(ino, new_parent, new_name)
        return self._created(new_parent, new_name, attr)

    def _before_entry_change(self, parent: int, name: bytes, caller: Caller) -> Attr:
        self._check_writable()
        self._check_name(name)
        parent_attr = self._attr(parent)
        if self.settings.check_permissions:
            perms.require_access(self._present(parent_attr), caller, os.W_OK | os.X_OK)
        return parent_attr

    def _created(self, parent: int, name: bytes, attr: Attr) -> Attr:
        self.cache.drop_attr(parent)
        self.cache.put_entry(parent, name, attr)
        self._remember(attr, parent)
        return self._present(attr)

    def unlink(self, parent: int, name: bytes, caller: Caller) -> None:
        """Remove a name; the inode goes with its last link and last open handle."""
        self._check_writable()
        if self.settings.check_permissions:
            perms.require_may_delete(self.getattr(parent), self._present(self._lookup_attr(parent, name)), caller)
        attr = self.driver.unlink(parent, name)
        self._entry_removed(parent, name, attr)

    def rmdir(self, parent: int, name: bytes, caller: Caller) -> None:
        """Remove an empty directory."""
        self._check_writable()
        if self.settings.check_permissions:
            perms.require_may_delete(self.getattr(parent), self._present(self._lookup_attr(parent, name)), caller)
        self.driver.rmdir(parent, name)
        self.cache.drop_entry(parent, name)
        self.cache.drop_attr(parent)
        self.cache.drop_listing(parent)

    def rename(
        self, parent: int, name: bytes, new_parent: int, new_name: bytes, caller: Caller, flags: int = 0
    ) -> None:
        """Move an entry, replacing the target; RENAME_NOREPLACE and RENAME_EXCHANGE where the driver has them."""
        self._check_writable()
        self._check_name(new_name)
        if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) or flags == RENAME_NOREPLACE | RENAME_EXCHANGE:
            raise FsError(errno.EINVAL, f"rename flags {flags:#x} are not valid")
        if flags and not self.caps.rename_flags:
            raise FsError(errno.EINVAL, "this store cannot rename with RENAME_NOREPLACE or RENAME_EXCHANGE")
        moved = self._lookup_attr(parent, name)
        if self.settings.check_permissions:
            self._check_rename(parent, moved, new_parent, new_name, caller)
        if flags & RENAME_EXCHANGE:
            other = self._lookup_attr(new_parent, new_name)
            self.driver.rename(parent, name, new_parent, new_name, flags)
            for directory, entry, attr in ((parent, name, other), (new_parent, new_name, moved)):
                self.cache.drop_entry(directory, entry)
                self.cache.drop_listing(directory)
                self.cache.drop_attr(directory)
                self.cache.drop_attr(attr.ino)
                if stat.S_ISDIR(attr.mode):
                    with self._lock:
                        self._parents[attr.ino] = directory
            return
        replaced = self.driver.rename(parent, name, new_parent, new_name, flags)
        self.cache.drop_entry(parent, name)
        self.cache.drop_listing(parent)  # a rename onto another link of the same inode leaves `name` in place
        self.cache.drop_attr(moved.ino)
        if replaced is not None:
            self._entry_removed(new_parent, new_name, replaced)
        self.cache.drop_entry(new_parent, new_name)
        self.cache.drop_listing(new_parent)
        self.cache.drop_attr(parent)
        self.cache.drop_attr(new_parent)
        if stat.S_ISDIR(moved.mode):
            with self._lock:
                self._parents[moved.ino] = new_parent

    def _check_rename(self, parent: int, moved: Attr, new_parent: int, new_name: bytes, caller: Caller) -> None:
        """Rename rights: delete from the old parent, add to or replace in the new one, and a moved dir's `..`."""
        perms.require_may_delete(self.getattr(parent), self._present(moved), caller)
        if stat.S_ISDIR(moved.mode) and new_parent != parent:
            perms.require_access(self._present(moved), caller, os.W_OK)
        try:
            victim = self._lookup_attr(new_parent, new_name)
        except FsError as exc:
            if exc.errno != errno.ENOENT:
                raise
            perms.require_access(self.getattr(new_parent), caller, os.W_OK | os.X_OK)
        else:
            perms.require_may_delete(self.getattr(new_parent), self._present(victim), caller)

    def _lookup_attr(self, parent: int, name: bytes) -> Attr:
        cached = self.cache.entry(parent, name)
        if isinstance(cached, Attr):
            return cached
        if cached is None:
            raise FsError(errno.ENOENT, f"no entry {name!r} in {parent}")
        return self.driver.lookup(parent, name)

    def _entry_removed(self, parent: int, name: bytes, attr: Attr) -> None:
        self.cache.drop_entry(parent, name)
        self.cache.drop_attr(parent)
        self.cache.put_attr(attr)
        if attr.nlink == 0 and not stat.S_ISDIR(attr.mode) and not self.files.mark_orphan(attr.ino):
            try:
                self.driver.purge(attr.ino)
            except FsError as exc:
                # The name is gone, so the unlink happened; only the orphan's space is not reclaimed yet.
                log.warning("unlinked inode %d could not be purged (%s); it stays in the store", attr.ino, exc)

    # -- directories -----------------------------------------------------------

    def opendir(self, ino: int, caller: Caller) -> int:
        """Open a directory for reading."""
        attr = self._attr(ino)
        if not stat.S_ISDIR(attr.mode):
            raise FsError(errno.ENOTDIR, f"inode {ino} is no directory")
        if self.settings.check_permissions:
            perms.require_access(self._present(attr), caller, os.R_OK)
        with self._lock:
            fh = self._next_dir_fh
            self._next_dir_fh += 1
            self._dirs[fh] = DirHandle(ino)
        return fh

    def readdir(self, fh: int, off: int) -> Iterator[tuple[bytes, Attr]]:
        """Entries from offset `off` on, `.` and `..` first; offsets index one stable snapshot.

        The store is asked (eagerly) only at offset 0; the rest is a lazy walk
        over the snapshot, so the binding can stop when its buffer is full.
        """
        handle = self._dirs[fh]
        if handle.entries is None or off == 0:
            listing = list(self.driver.readdir(handle.ino))
            self.cache.put_listing(handle.ino, listing, with_attrs=self.caps.listing_attrs)
            if not self.caps.listing_attrs:
                listing = [(name, _type_unknown(attr)) for name, attr in listing]
            dot = self._attr(handle.ino)
            dotdot = self._attr(self._parents.get(handle.ino, ROOT_INO))
            handle.entries = [(b".", dot), (b"..", dotdot), *listing]
            self._touch_atime(handle.ino)
        return ((name, self._present(attr)) for name, attr in handle.entries[off:])

    def releasedir(self, fh: int) -> None:
        """Close a directory, dropping the flock locks taken through it."""
        self.handle_locks.release_handle(fh)
        with self._lock:
            self._dirs.pop(fh, None)

    # -- files -----------------------------------------------------------------

    def open(self, ino: int, flags: int, caller: Caller) -> int:
        """Open a file; returns a file handle."""
        if self.caps.fresh_open and not self.files.is_open(ino):
            self.cache.put_attr(self.driver.getattr(ino, fresh=True))
        attr = self._attr(ino)
        if stat.S_ISDIR(attr.mode):
            raise FsError(errno.EISDIR, f"inode {ino} is a directory")
        writable = flags & os.O_ACCMODE != os.O_RDONLY
        if writable:
            self._check_writable()
        if self.settings.check_permissions:
            want = {os.O_RDONLY: os.R_OK, os.O_WRONLY: os.W_OK}.get(flags & os.O_ACCMODE, os.R_OK | os.W_OK)
            perms.require_access(self._present(attr), caller, want)
        # Close-to-open: blocks cached under other attributes may predate another host's write.
        if not self.files.is_open(ino) and self.files.read_cache.validate(ino, (attr.mtime_ns, attr.size)):
            self.invalidate_kernel(ino)
        return self.files.open(ino, writable)

    def create(self, parent: int, name: bytes, mode: int, flags: int, caller: Caller) -> tuple[int, Attr]:
        """Create and open a regular file."""
        attr = self.mknod(parent, name, stat.S_IFREG | (mode & 0o7777), 0, caller)
        created_ns = attr.mtime_ns if self.caps.create_needs_write else None
        return self.files.open(attr.ino, True, created_ns=created_ns, creator=caller.pid), attr

    def read(self, fh: int, off: int, size: int) -> bytes:
        """Read from an open file."""
        data = self.files.read(fh, off, size)
        self._touch_atime(self.files.handle(fh).ino)
        return data

    def _touch_atime(self, ino: int) -> None:
        """relatime, as Linux mounts by default: atime moves when it is older than mtime/ctime or a day."""
        if not self.caps.atime or self.settings.read_only or self.settings.noatime:
            return
        attr = self.files.overlay(self._attr(ino))
        now = time.time_ns()
        if attr.atime_ns <= max(attr.mtime_ns, attr.ctime_ns) or now - attr.atime_ns > RELATIME_NS:
            try:
                self.cache.put_attr(self.driver.touch_atime(ino, now))
            except FsError as exc:
                log.warning("atime of inode %d not updated (%s); the read itself succeeded", ino, exc)

    def write(self, fh: int, off: int, data: bytes) -> int:
        """Write to an open file (staged until flush)."""
        if off + len(data) > self.caps.max_file_size:
            raise FsError(errno.EFBIG, "write beyond the store's largest file size")
        return self.files.write(fh, off, data)

    def flush(self, fh: int) -> None:
        """close(2) of a descriptor: write staged data to the store."""
        self.files.flush(fh, closing=True)

    def fsync(self, fh: int) -> None:
        """fsync(2): the store has the data when this returns."""
        self.files.flush(fh)

    def release(self, fh: int) -> None:
        """Last close of a handle; locks taken through it go first (OFD locks: the kernel sends no unlock)."""
        self.handle_locks.release_handle(fh)
        self.files.release(fh)

    def fallocate(self, fh: int, mode: int, off: int, length: int) -> None:
        """fallocate(2): mode 0 grows the file to cover the range; KEEP_SIZE alone has nothing to reserve in a
        store; PUNCH_HOLE (with KEEP_SIZE) zeroes the range. Others: EOPNOTSUPP."""
        handle = self.files.handle(fh)
        if off < 0 or length <= 0:
            raise FsError(errno.EINVAL, "fallocate needs a non-negative offset and a positive length")
        if off + length > self.caps.max_file_size:
            raise FsError(errno.EFBIG, "fallocate beyond the store's largest file size")
        if mode not in (0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE):
            raise FsError(errno.EOPNOTSUPP, f"fallocate mode {mode:#x} is not supported")
        if not handle.writable:
            raise FsError(errno.EBADF, f"handle {fh} is not open for writing")
        size = self.getattr(handle.ino).size
        if mode == 0:
            if off + length > size:
                self.files.truncate(handle.ino, off + length, None)
        elif mode & FALLOC_FL_PUNCH_HOLE:
            for start in range(off, min(off + length, size), ZEROS_CHUNK):
                self.files.write(fh, start, bytes(min(ZEROS_CHUNK, min(off + length, size) - start)))

    # -- locks kept by the store (capabilities.locks == "shared") ----------------

    def lock_test(self, fh: int, request: LockRequest) -> LockRecord | None:
        """F_GETLK: the lock that would block `request`, on any host."""
        return self.handle_locks.test(fh, request)

    def lock(self, fh: int, request: LockRequest, wait: bool, interrupted: Callable[[], bool]) -> None:
        """F_SETLK, F_SETLKW and flock on a file or directory handle: EAGAIN when held elsewhere and not
        waiting, EINTR when interrupted."""
        self.handle_locks.set(fh, request, wait, interrupted)

    def release_locks(self, fh: int, owner: int, family: str) -> None:
        """A close: `owner` drops its locks of `family` on the file (nothing to do, no request, if it held none)."""
        self.handle_locks.release(fh, owner, family)

    def _handle_ino(self, fh: int) -> int:
        directory = self._dirs.get(fh)
        return directory.ino if directory is not None else self.files.handle(fh).ino

    def _revalidate(self, ino: int) -> None:
        """A lock was taken: what another host wrote before must be read anew, from the store (one read)."""
        self.cache.put_attr(self.driver.getattr(ino, fresh=True))
        self.files.read_cache.invalidate(ino)
        self.invalidate_kernel(ino)

    # -- extended attributes and the rest --------------------------------------

    def getxattr(self, ino: int, name: bytes, caller: Caller | None = None) -> bytes:
        """Value of an extended attribute; `caller` None skips permission checks (internal use)."""
        self._require_xattrs(name)
        self._check_xattr_access(ino, name, caller, os.R_OK)
        return self.driver.getxattr(ino, name)

    def listxattr(self, ino: int, caller: Caller | None = None) -> list[bytes]:
        """Names of the extended attributes."""
        if not self.caps.xattrs:
            return []
        self._check_xattr_access(ino, b"user.", caller, os.R_OK)
        return self.driver.listxattr(ino)

    def setxattr(self, ino: int, name: bytes, value: bytes, flags: int = 0, caller: Caller | None = None) -> None:
        """Set an extended attribute."""
        self._check_writable()
        self._require_xattrs(name)
        self._check_xattr_access(ino, name, caller, os.W_OK)
        if len(value) > self.caps.max_xattr_value:
            raise FsError(errno.E2BIG, f"xattr value of {len(value)} bytes is over the store's limit")
        self.driver.setxattr(ino, name, value, flags)
        self.cache.drop_attr(ino)

    def removexattr(self, ino: int, name: bytes, caller: Caller | None = None) -> None:
        """Remove an extended attribute."""
        self._check_writable()
        self._require_xattrs(name)
        self._check_xattr_access(ino, name, caller, os.W_OK)
        self.driver.removexattr(ino, name)
        self.cache.drop_attr(ino)

    def statfs(self) -> StatFs:
        """Capacity figures."""
        return self.driver.statfs()

    def shutdown(self) -> int:
        """Flush everything and close the driver; returns how many files could not be written."""
        started = time.monotonic()
        failed = self.files.close_all()
        if self.locks is not None:
            self.locks.release_all()
        if failed:
            log.error("%d file(s) could not be written; their data stays in %s", failed, self.files.spool.path)
        else:
            self.files.spool.remove_if_empty()
        self.driver.close()
        log.info("flushed and closed in %.1f s", time.monotonic() - started)
        return failed

    # -- checks ----------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.settings.read_only:
            raise FsError(errno.EROFS, "mounted read-only")

    def _check_name(self, name: bytes) -> None:
        if len(name) > self.caps.max_name_len:
            raise FsError(errno.ENAMETOOLONG, f"name of {len(name)} bytes is over {self.caps.max_name_len}")

    def _check_xattr_access(self, ino: int, name: bytes, caller: Caller | None, want: int) -> None:
        """Under nodefault_permissions: user.* needs read/write access to the inode, trusted.* needs root."""
        if caller is None or not self.settings.check_permissions or caller.is_root:
            return
        if name.startswith(b"trusted."):
            raise FsError(errno.EPERM, "trusted.* extended attributes are for root")
        if name.startswith(b"user."):
            perms.require_access(self.getattr(ino), caller, want)

    def _require_xattrs(self, name: bytes) -> None:
        if not self.caps.xattrs:
            raise FsError(errno.ENOTSUP, "this store has no extended attributes")
        if not name.startswith(XATTR_NAMESPACES):
            # POSIX ACLs (system.posix_acl_*) stored as plain values would not change the mode bits,
            # and cp -a would then skip its chmod: refuse them so tools fall back to chmod.
            raise FsError(errno.EOPNOTSUPP, f"extended attribute namespace of {name!r} is not supported")


def _type_unknown(attr: Attr) -> Attr:
    """A listed non-directory whose type the listing cannot tell (an S3 symlink looks like a file): DT_UNKNOWN,
    so tools like find and ls stat it instead of trusting the listing."""
    if stat.S_ISDIR(attr.mode):
        return attr
    return dataclasses.replace(attr, mode=stat.S_IMODE(attr.mode))
