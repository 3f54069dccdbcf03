"""libfuse 3 high-level requests as core calls: paths walked to inodes, locks, fallocate and rename flags.

The high-level API names files by path, so each request walks its path
through the core's lookups (cached for `cache_ttl`, as the kernel's entries
are with llfuse); requests on an open file use its handle, which keeps
working after the file is unlinked (`hard_remove`, `nullpath_ok`).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import logging
import math
import os
import stat
import time
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from cloudfs.core.context import Caller
from cloudfs.core.filesystem import Filesystem
from cloudfs.core.shared_locks import LockRequest
from cloudfs.driver import ROOT_INO, Attr, AttrChanges
from cloudfs.errors import FsError
from cloudfs.mfuse.library import libfuse, mfusepy

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

FUSE_CAP_ATOMIC_O_TRUNC = 1 << 3
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
LOCK_TYPES: dict[int, bool | None] = {fcntl.F_RDLCK: False, fcntl.F_WRLCK: True, fcntl.F_UNLCK: None}


def errors_as_errno(func: Callable[P, R]) -> Callable[P, R]:
    """Every failure reaches libfuse as an OSError with the errno the kernel gets (EIO for the unexpected)."""
    name = func.__name__

    @functools.wraps(func)
    def handler(*args: P.args, **kwargs: P.kwargs) -> R:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s%r", name, tuple(a for a in args[1:] if not isinstance(a, bytes | ctypes.Structure)))
        try:
            return func(*args, **kwargs)
        except FsError as exc:
            log.debug("%s: %s", name, exc)
            raise mfusepy.FuseOSError(exc.errno) from None
        except mfusepy.FuseOSError:
            raise
        except Exception:
            log.exception("%s failed unexpectedly", name)
            raise mfusepy.FuseOSError(errno.EIO) from None

    return handler


def current_caller() -> Caller:
    """The process behind the request being served; its groups are read from /proc only if a check needs them."""
    uid, gid, pid = mfusepy.fuse_get_context()
    return Caller(uid=uid, gid=gid, pid=pid, groups=lambda: supplementary_groups(pid))


def supplementary_groups(pid: int) -> frozenset[int]:
    """The groups of process `pid` (its `Groups:` line in /proc)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("Groups:"):
                    return frozenset(int(g) for g in line.split()[1:])
    except OSError:
        pass
    return frozenset()


def interrupted() -> bool:
    """True when the kernel has interrupted the request this thread serves (the caller got a signal)."""
    return bool(libfuse.fuse_interrupted())


def stat_of(attr: Attr, block_size: int) -> dict[str, int]:
    """Core attributes as mfusepy's stat dictionary (times in ns)."""
    return {
        "st_ino": attr.ino, "st_mode": attr.mode, "st_nlink": attr.nlink, "st_uid": attr.uid, "st_gid": attr.gid,
        "st_rdev": attr.rdev, "st_size": attr.size, "st_blksize": block_size, "st_blocks": math.ceil(attr.size / 512),
        "st_atime": attr.atime_ns, "st_mtime": attr.mtime_ns, "st_ctime": attr.ctime_ns,
    }  # fmt: skip


class Operations(mfusepy.Operations):
    """The kernel's view of one `Filesystem` through libfuse 3's high-level API (raw file infos)."""

    use_ns = True

    def __init__(self, fs: Filesystem, ready: Callable[[], None]) -> None:
        self.fs = fs
        self.ready = ready
        self.block_size = fs.caps.block_size
        self.timeout = 0.0 if fs.settings.check_permissions else fs.settings.cache_ttl
        self._fuse: int | None = None
        self._paths: dict[int, bytes] = {}  # where each open file was opened: what kernel invalidation names
        # The names seen of inodes with several links: libfuse gives each name a kernel inode of its own, so
        # a change through one name must drop what the kernel cached under the others.
        self._aliases: dict[int, set[bytes]] = {}

    # -- paths -----------------------------------------------------------------

    def _walk(self, path: str) -> int:
        ino = ROOT_INO
        caller = current_caller()
        for name in os.fsencode(path).split(b"/"):
            if name:
                ino = self.fs.resolve(ino, name, caller)
        return ino

    def _changed(self, ino: int, path: str | None = None) -> None:
        """Drop the kernel's view of `ino` under its other names (hard links)."""
        names = self._aliases.get(ino)
        if not names or self._fuse is None:
            return
        own = None if path is None else os.fsencode(path)
        for name in list(names):
            if name != own:
                libfuse.fuse_invalidate_path(self._fuse, name)

    def _split(self, path: str) -> tuple[int, bytes]:
        head, _, name = os.fsencode(path).rpartition(b"/")
        return self._walk(os.fsdecode(head)), name

    def _ino(self, path: str | None, fi: Any = None) -> int:
        """The inode a request is about: its open file's when it has one, else its path's."""
        if fi is not None and fi.fh:
            return self.fs.files.handle(fi.fh).ino
        if path is None:
            raise FsError(errno.EBADF, "request without a path or a file handle")
        return self._walk(path)

    def invalidate(self, ino: int) -> None:
        """Drop the kernel's cached pages and attributes of an open file (another host changed it)."""
        path = self._paths.get(ino)
        if path is not None and self._fuse is not None:
            libfuse.fuse_invalidate_path(self._fuse, path)

    # -- lifecycle -------------------------------------------------------------

    def init_with_config(self, conn: Any, config: Any) -> None:
        config.use_ino = 1
        config.nullpath_ok = 1
        config.hard_remove = 1
        config.entry_timeout = config.attr_timeout = config.negative_timeout = self.timeout
        # O_TRUNC as a truncate of its own, as libfuse 2 sends it: the core stages it and sets the times.
        conn.want &= ~FUSE_CAP_ATOMIC_O_TRUNC
        self._fuse = libfuse.fuse_get_context().contents.fuse
        self.fs.invalidate_kernel = self.invalidate
        log.info("mounted %s through libfuse 3 (mfusepy)", self.fs.driver.__class__.__name__)
        self.ready()

    # -- attributes ------------------------------------------------------------

    @errors_as_errno
    def getattr(self, path: str | None, fh: Any = None) -> dict[str, int]:
        attr = self.fs.getattr(self._ino(path, fh))
        if path is not None and attr.nlink > 1 and not stat.S_ISDIR(attr.mode):
            self._aliases.setdefault(attr.ino, set()).add(os.fsencode(path))
        return stat_of(attr, self.block_size)

    def _setattr(self, path: str | None, fi: Any, changes: AttrChanges) -> int:
        ino = self._ino(path, fi)
        self.fs.setattr(ino, changes, current_caller())
        self._changed(ino, path)
        return 0

    @errors_as_errno
    def chmod(self, path: str | None, mode: int, fi: Any = None) -> int:
        return self._setattr(path, fi, AttrChanges(mode=stat.S_IMODE(mode)))

    @errors_as_errno
    def chown(self, path: str | None, uid: int, gid: int, fi: Any = None) -> int:
        return self._setattr(path, fi, AttrChanges(uid=None if uid == -1 else uid, gid=None if gid == -1 else gid))

    @errors_as_errno
    def truncate(self, path: str | None, length: int, fi: Any = None) -> int:
        return self._setattr(path, fi, AttrChanges(size=length))

    @errors_as_errno
    def utimens(self, path: str | None, times: Any, fi: Any = None) -> int:
        """utimensat with UTIME_NOW and UTIME_OMIT as the kernel sent them."""
        now = None
        chosen: list[int | None] = []
        for ts in (times.actime, times.modtime) if times is not None else ():
            if ts.tv_nsec == UTIME_OMIT:
                chosen.append(None)
            elif ts.tv_nsec == UTIME_NOW:
                now = now or time.time_ns()
                chosen.append(now)
            else:
                chosen.append(ts.tv_sec * 10**9 + ts.tv_nsec)
        atime, mtime = chosen if chosen else (time.time_ns(),) * 2
        return self._setattr(path, fi, AttrChanges(atime_ns=atime, mtime_ns=mtime))

    @errors_as_errno
    def readlink(self, path: str) -> str:
        return os.fsdecode(self.fs.readlink(self._walk(path)))

    @errors_as_errno
    def access(self, path: str, amode: int) -> int:
        if not self.fs.access(self._walk(path), amode, current_caller()):
            raise FsError(errno.EACCES, f"no access {amode:o} to {path!r}")
        return 0

    @errors_as_errno
    def statfs(self, path: str) -> dict[str, int]:
        figures = self.fs.statfs()
        return {
            "f_bsize": figures.block_size, "f_frsize": figures.block_size, "f_blocks": figures.blocks,
            "f_bfree": figures.blocks_free, "f_bavail": figures.blocks_free, "f_files": figures.files,
            "f_ffree": figures.files_free, "f_favail": figures.files_free, "f_namemax": figures.name_max,
        }  # fmt: skip

    # -- namespace -------------------------------------------------------------

    @errors_as_errno
    def mknod(self, path: str, mode: int, dev: int) -> int:
        parent, name = self._split(path)
        self.fs.mknod(parent, name, mode, dev, current_caller())
        return 0

    @errors_as_errno
    def mkdir(self, path: str, mode: int) -> int:
        parent, name = self._split(path)
        self.fs.mkdir(parent, name, mode, current_caller())
        return 0

    @errors_as_errno
    def symlink(self, target: str, source: str) -> int:
        parent, name = self._split(target)
        self.fs.symlink(parent, name, os.fsencode(source), current_caller())
        return 0

    @errors_as_errno
    def link(self, target: str, source: str) -> int:
        parent, name = self._split(target)
        ino = self._walk(source)
        self.fs.link(ino, parent, name, current_caller())
        self._aliases.setdefault(ino, set()).update({os.fsencode(source), os.fsencode(target)})
        self._changed(ino, target)
        return 0

    @errors_as_errno
    def unlink(self, path: str) -> int:
        parent, name = self._split(path)
        ino = self._walk(path)
        self.fs.unlink(parent, name, current_caller())
        names = self._aliases.get(ino)
        if names is not None:
            names.discard(os.fsencode(path))
            self._changed(ino)
            if len(names) <= 1:
                self._aliases.pop(ino, None)
        return 0

    @errors_as_errno
    def rmdir(self, path: str) -> int:
        parent, name = self._split(path)
        self.fs.rmdir(parent, name, current_caller())
        return 0

    @errors_as_errno
    def rename(self, old: str, new: str, flags: int = 0) -> int:
        parent, name = self._split(old)
        new_parent, new_name = self._split(new)
        self.fs.rename(parent, name, new_parent, new_name, current_caller(), flags)
        return 0

    # -- directories -----------------------------------------------------------

    @errors_as_errno
    def opendir(self, path: str) -> int:
        return self.fs.opendir(self._walk(path), current_caller())

    @errors_as_errno
    def readdir_with_offset(self, path: str | None, offset: int, fh: int) -> Iterator[tuple[str, dict, int]]:
        entries = list(self.fs.readdir(fh, offset))
        for index, (name, attr) in enumerate(entries, start=offset + 1):
            yield os.fsdecode(name), {"st_ino": attr.ino, "st_mode": attr.mode}, index

    @errors_as_errno
    def releasedir(self, path: str | None, fh: int) -> int:
        self.fs.releasedir(fh)
        return 0

    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        """Every directory change is committed when its request returns."""
        return 0

    # -- files -----------------------------------------------------------------

    @errors_as_errno
    def open(self, path: str, fi: Any) -> int:
        ino = self._walk(path)
        self._paths[ino] = os.fsencode(path)
        fi.fh = self.fs.open(ino, fi.flags, current_caller())
        fi.keep_cache = 1  # the core drops the kernel's pages when another host changed the file
        return 0

    @errors_as_errno
    def create(self, path: str, mode: int, fi: Any) -> int:
        parent, name = self._split(path)
        fh, attr = self.fs.create(parent, name, mode, fi.flags, current_caller())
        self._paths[attr.ino] = os.fsencode(path)
        fi.fh = fh
        return 0

    @errors_as_errno
    def read(self, path: str | None, size: int, offset: int, fi: Any) -> bytes:
        return self.fs.read(fi.fh, offset, size)

    @errors_as_errno
    def write(self, path: str | None, data: bytes, offset: int, fi: Any) -> int:
        return self.fs.write(fi.fh, offset, data)

    @errors_as_errno
    def flush(self, path: str | None, fi: Any) -> int:
        self.fs.flush(fi.fh)
        self._changed(self.fs.files.handle(fi.fh).ino, path)
        return 0

    @errors_as_errno
    def fsync(self, path: str | None, datasync: int, fi: Any) -> int:
        self.fs.fsync(fi.fh)
        return 0

    @errors_as_errno
    def release(self, path: str | None, fi: Any) -> int:
        ino = self.fs.files.handle(fi.fh).ino
        self.fs.release(fi.fh)
        if not self.fs.files.is_open(ino):
            self._paths.pop(ino, None)
        return 0

    @errors_as_errno
    def fallocate(self, path: str | None, mode: int, offset: int, size: int, fi: Any) -> int:
        self.fs.fallocate(fi.fh, mode, offset, size)
        return 0

    # -- extended attributes -----------------------------------------------------

    @errors_as_errno
    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        return self.fs.getxattr(self._walk(path), os.fsencode(name), current_caller())

    @errors_as_errno
    def listxattr(self, path: str) -> list[str]:
        return [os.fsdecode(n) for n in self.fs.listxattr(self._walk(path), current_caller())]

    @errors_as_errno
    def setxattr(self, path: str, name: str, value: bytes, options: int, position: int = 0) -> int:
        self.fs.setxattr(self._walk(path), os.fsencode(name), value, options, current_caller())
        return 0

    @errors_as_errno
    def removexattr(self, path: str, name: str) -> int:
        self.fs.removexattr(self._walk(path), os.fsencode(name), current_caller())
        return 0


class LockingOperations(Operations):
    """Operations that also take fcntl and flock requests, for stores that keep locks across hosts.

    Only this class has `lock` and `flock`, so only its mounts ask libfuse to
    forward locks; elsewhere the kernel keeps them.
    """

    @errors_as_errno
    def lock(self, path: str | None, fi: Any, cmd: int, lock: Any) -> int:
        fl = lock.contents
        end = None if fl.l_len == 0 else fl.l_start + fl.l_len
        if fl.l_type not in LOCK_TYPES:
            raise FsError(errno.EINVAL, f"lock type {fl.l_type}")
        pid = fl.l_pid or current_caller().pid
        request = LockRequest(fi.lock_owner, "posix", LOCK_TYPES[fl.l_type], fl.l_start, end, pid)
        if cmd == fcntl.F_GETLK:
            held = self.fs.lock_test(fi.fh, request)
            if held is None:
                fl.l_type = fcntl.F_UNLCK
            else:
                fl.l_type = fcntl.F_WRLCK if held.exclusive else fcntl.F_RDLCK
                fl.l_whence = os.SEEK_SET
                fl.l_start = held.start
                fl.l_len = 0 if held.end is None else held.end - held.start
                # A holder on another host has no pid here: 0, as NFS reports it.
                fl.l_pid = held.pid if self.fs.locks is not None and held.session == self.fs.locks.store.session else 0
            return 0
        if cmd not in (fcntl.F_SETLK, fcntl.F_SETLKW):
            raise FsError(errno.EINVAL, f"lock command {cmd}")
        self.fs.lock(fi.fh, request, cmd == fcntl.F_SETLKW, interrupted)
        return 0

    @errors_as_errno
    def flock(self, path: str | None, fi: Any, op: int) -> int:
        if op & fcntl.LOCK_UN:
            self.fs.release_locks(fi.fh, fi.lock_owner, "flock")
            return 0
        request = LockRequest(fi.lock_owner, "flock", bool(op & fcntl.LOCK_EX), 0, None, current_caller().pid)
        self.fs.lock(fi.fh, request, not op & fcntl.LOCK_NB, interrupted)
        return 0
