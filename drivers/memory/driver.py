"""MemoryDriver: the whole driver protocol on Python dicts behind one lock.

The reference implementation of `cloudfs/driver.py`: full POSIX semantics, no
persistence. Tests of the core run on it, using `calls` to count store
requests and `fail()` to inject errors; the contract suite in `tests/drivers`
checks it like any other driver. Capabilities can be narrowed to stand in for
a less capable store; the driver then refuses what it no longer supports.
"""

from __future__ import annotations

import errno
import functools
import logging
import math
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from cloudfs.driver import (
    ROOT_INO,
    XATTR_CREATE,
    XATTR_REPLACE,
    Attr,
    AttrChanges,
    Capabilities,
    StagedData,
    StatFs,
)
from cloudfs.errors import FsError

from .instrument import FaultPlan
from .nodes import Inode

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

FULL_CAPABILITIES = Capabilities(
    hard_links=True,
    symlinks=True,
    special_files=True,
    xattrs=True,
    persistent_inodes=False,
)
_SPECIAL_TYPES = frozenset({stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFCHR, stat.S_IFBLK})
_CAPACITY_BYTES = 2**40
_CAPACITY_FILES = 2**32


Method = Callable[Concatenate["MemoryDriver", P], R]


def _protocol_call(method: Method[P, R]) -> Method[P, R]:
    """Count the call, apply planned failures, then run the method under the driver lock."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: MemoryDriver, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            self.calls[name] += 1
            self._faults.check(name)
            return method(self, *args, **kwargs)

    return wrapper


class MemoryDriver:
    """An in-memory store implementing `Driver`.

    Attributes: `capabilities`; `calls`, a Counter of protocol calls by method
    name (failed and injected-failure calls included). Caveats: inode numbers
    are never reused; an unlinked file stays as an nlink-0 orphan until
    `purge`, while a removed or replaced directory is deleted at once.
    """

    def __init__(
        self,
        *,
        root_mode: int = 0o40755,
        root_uid: int = 0,
        root_gid: int = 0,
        capabilities: Capabilities = FULL_CAPABILITIES,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        """Create an empty store holding only the root directory."""
        self.capabilities = capabilities
        self.calls: Counter[str] = Counter()
        self._faults = FaultPlan()
        self._lock = threading.Lock()
        self._clock = clock
        now = clock()
        root = Inode(ROOT_INO, stat.S_IFDIR | stat.S_IMODE(root_mode), 2, root_uid, root_gid, now, now, now)
        root.parent = ROOT_INO
        self._inodes: dict[int, Inode] = {ROOT_INO: root}
        self._next_ino = ROOT_INO + 1

    def fail(self, method: str, errno: int, times: int = 1, after: int = 0) -> None:
        """Make the (after+1)th to (after+times)th next calls of `method` raise FsError(errno)."""
        with self._lock:
            self._faults.arm(method, errno, times, after)

    # -- lookups -----------------------------------------------------------

    def _node(self, ino: int) -> Inode:
        """The inode `ino`, ENOENT if it does not exist."""
        node = self._inodes.get(ino)
        if node is None:
            raise FsError(errno.ENOENT, f"no inode {ino}")
        return node

    def _dir(self, ino: int) -> Inode:
        """The directory `ino`, ENOTDIR if it is something else."""
        node = self._node(ino)
        if not node.is_dir:
            raise FsError(errno.ENOTDIR, f"inode {ino} is no directory")
        return node

    def _child(self, parent: Inode, name: bytes) -> Inode:
        """The inode that `name` in `parent` names, ENOENT if absent."""
        ino = parent.entries.get(name)
        if ino is None:
            raise FsError(errno.ENOENT, f"no entry {name!r} in {parent.ino}")
        return self._inodes[ino]

    def _check_new_name(self, parent: Inode, name: bytes) -> None:
        """Refuse malformed names (the core should have) and taken ones."""
        if not name or b"/" in name or b"\0" in name or name in (b".", b".."):
            raise FsError(errno.EINVAL, f"bad name {name!r}")
        if len(name) > self.capabilities.max_name_len:
            raise FsError(errno.ENAMETOOLONG, f"name of {len(name)} bytes")
        if name in parent.entries:
            raise FsError(errno.EEXIST, f"{name!r} exists in {parent.ino}")

    # -- namespace ---------------------------------------------------------

    @_protocol_call
    def getattr(self, ino: int, fresh: bool = False) -> Attr:
        """Attributes of `ino`; orphans included. Always fresh: the store is here."""
        return self._node(ino).attr()

    @_protocol_call
    def lookup(self, parent: int, name: bytes) -> Attr:
        """Attributes of entry `name` in `parent`."""
        return self._child(self._dir(parent), name).attr()

    @_protocol_call
    def readdir(self, parent: int) -> list[tuple[bytes, Attr]]:
        """Entries in creation order, materialised under the lock."""
        node = self._dir(parent)
        return [(name, self._inodes[ino].attr()) for name, ino in node.entries.items()]

    def _create(self, parent: Inode, name: bytes, mode: int, uid: int, gid: int, rdev: int = 0) -> Inode:
        """Add a new inode under `parent`, setting its times and the parent's mtime/ctime."""
        self._check_new_name(parent, name)
        now = self._clock()
        node = Inode(self._next_ino, mode, 1, uid, gid, now, now, now, rdev=rdev)
        self._next_ino += 1
        if node.is_dir:
            node.nlink = 2
            node.parent = parent.ino
            parent.nlink += 1
        self._inodes[node.ino] = node
        parent.entries[name] = node.ino
        parent.mtime_ns = parent.ctime_ns = now
        return node

    @_protocol_call
    def mknod(self, parent: int, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Attr:
        """Create a file, directory, FIFO, socket or device; type 0 means a regular file, as on Linux."""
        kind = stat.S_IFMT(mode) or stat.S_IFREG
        if kind not in _SPECIAL_TYPES | {stat.S_IFREG, stat.S_IFDIR}:
            raise FsError(errno.EINVAL, f"mknod cannot create type {kind:o}")
        if kind in _SPECIAL_TYPES and not self.capabilities.special_files:
            raise FsError(errno.EPERM, "special files are not supported")
        rdev = rdev if kind in (stat.S_IFCHR, stat.S_IFBLK) else 0
        node = self._create(self._dir(parent), name, kind | stat.S_IMODE(mode), uid, gid, rdev)
        return node.attr()

    @_protocol_call
    def symlink(self, parent: int, name: bytes, target: bytes, uid: int, gid: int) -> Attr:
        """Create a symlink; EPERM when symlinks are not among the capabilities."""
        if not self.capabilities.symlinks:
            raise FsError(errno.EPERM, "symlinks are not supported")
        node = self._create(self._dir(parent), name, stat.S_IFLNK | 0o777, uid, gid)
        node.target = bytes(target)
        return node.attr()

    @_protocol_call
    def readlink(self, ino: int) -> bytes:
        """Target of a symlink."""
        node = self._node(ino)
        if not stat.S_ISLNK(node.mode):
            raise FsError(errno.EINVAL, f"inode {ino} is no symlink")
        return node.target

    @_protocol_call
    def link(self, ino: int, new_parent: int, new_name: bytes) -> Attr:
        """Add a name for `ino`; an orphan cannot be linked again (ENOENT, as linkat gives)."""
        if not self.capabilities.hard_links:
            raise FsError(errno.EPERM, "hard links are not supported")
        node = self._node(ino)
        if node.is_dir:
            raise FsError(errno.EPERM, "cannot hard-link a directory")
        parent = self._dir(new_parent)
        self._check_new_name(parent, new_name)
        if node.nlink == 0:
            raise FsError(errno.ENOENT, f"inode {ino} has no links left")
        now = self._clock()
        node.nlink += 1
        node.ctime_ns = now
        parent.entries[new_name] = ino
        parent.mtime_ns = parent.ctime_ns = now
        return node.attr()

    def _drop(self, parent: Inode, name: bytes, node: Inode, now: int) -> None:
        """Remove entry `name` for `node` and the link it held; a directory goes at once."""
        del parent.entries[name]
        if node.is_dir:
            # The core purges only files, so a removed directory must not linger as an orphan.
            node.nlink = 0
            parent.nlink -= 1
            del self._inodes[node.ino]
        else:
            node.nlink -= 1
        node.ctime_ns = now
        parent.mtime_ns = parent.ctime_ns = now

    @_protocol_call
    def unlink(self, parent: int, name: bytes) -> Attr:
        """Remove a non-directory name; the last one leaves an orphan."""
        parent_node = self._dir(parent)
        node = self._child(parent_node, name)
        if node.is_dir:
            raise FsError(errno.EISDIR, f"{name!r} is a directory")
        self._drop(parent_node, name, node, self._clock())
        return node.attr()

    @_protocol_call
    def rmdir(self, parent: int, name: bytes) -> None:
        """Remove an empty directory; unlike a file it leaves no orphan behind."""
        parent_node = self._dir(parent)
        node = self._child(parent_node, name)
        if not node.is_dir:
            raise FsError(errno.ENOTDIR, f"{name!r} is no directory")
        if node.entries:
            raise FsError(errno.ENOTEMPTY, f"{name!r} is not empty")
        self._drop(parent_node, name, node, self._clock())

    def _check_rename(self, node: Inode, new_dir: Inode, replaced: Inode | None) -> None:
        """Refuse moving a directory into its own subtree and replacing across types."""
        if node.is_dir:
            ino = new_dir.ino
            while True:
                if ino == node.ino:
                    raise FsError(errno.EINVAL, "cannot move a directory into itself")
                if ino == ROOT_INO:
                    break
                ino = self._inodes[ino].parent
        if replaced is None:
            return
        if node.is_dir and not replaced.is_dir:
            raise FsError(errno.ENOTDIR, "cannot replace a non-directory with a directory")
        if replaced.is_dir and not node.is_dir:
            raise FsError(errno.EISDIR, "cannot replace a directory with a non-directory")
        if replaced.entries:
            raise FsError(errno.ENOTEMPTY, "target directory is not empty")

    @_protocol_call
    def rename(self, parent: int, name: bytes, new_parent: int, new_name: bytes, flags: int = 0) -> Attr | None:
        """Move an entry; returns the replaced inode after, or None. No rename flags (the core refuses them)."""
        old_dir, new_dir = self._dir(parent), self._dir(new_parent)
        node = self._child(old_dir, name)
        replaced_ino = new_dir.entries.get(new_name)
        if replaced_ino == node.ino:
            return None
        replaced = None if replaced_ino is None else self._inodes[replaced_ino]
        if replaced is None:
            self._check_new_name(new_dir, new_name)
        self._check_rename(node, new_dir, replaced)
        now = self._clock()
        if replaced is not None:
            self._drop(new_dir, new_name, replaced, now)
        del old_dir.entries[name]
        new_dir.entries[new_name] = node.ino
        if node.is_dir and old_dir is not new_dir:
            old_dir.nlink -= 1
            new_dir.nlink += 1
            node.parent = new_dir.ino
        node.ctime_ns = now
        for changed in (old_dir, new_dir):
            changed.mtime_ns = changed.ctime_ns = now
        return None if replaced is None else replaced.attr()

    # -- attributes and data ---------------------------------------------

    def _resize(self, node: Inode, size: int, now: int) -> None:
        """Truncate or zero-extend a regular file; a real change moves mtime as truncate(2) does."""
        if node.is_dir:
            raise FsError(errno.EISDIR, f"inode {node.ino} is a directory")
        if not node.is_reg:
            raise FsError(errno.EINVAL, f"inode {node.ino} is no regular file")
        if size < 0:
            raise FsError(errno.EINVAL, f"negative size {size}")
        if size > self.capabilities.max_file_size:
            raise FsError(errno.EFBIG, f"size {size} beyond the maximum")
        if size != node.data.size:
            node.data.truncate(size)
            node.mtime_ns = now

    @_protocol_call
    def setattr(self, ino: int, changes: AttrChanges) -> Attr:
        """Apply `changes`; the size goes first as it is the only change that can fail."""
        node = self._node(ino)
        now = self._clock()
        if changes.size is not None:
            self._resize(node, changes.size, now)
        if changes.mode is not None:
            node.mode = stat.S_IFMT(node.mode) | (changes.mode & 0o7777)
        if changes.uid is not None:
            node.uid = changes.uid
        if changes.gid is not None:
            node.gid = changes.gid
        if changes.atime_ns is not None:
            node.atime_ns = changes.atime_ns
        if changes.mtime_ns is not None:
            node.mtime_ns = changes.mtime_ns
        node.ctime_ns = now
        return node.attr()

    @_protocol_call
    def touch_atime(self, ino: int, atime_ns: int) -> Attr:
        """Set atime alone: an access is no metadata change."""
        node = self._node(ino)
        node.atime_ns = atime_ns
        return node.attr()

    def _file(self, ino: int) -> Inode:
        """The regular file `ino`; EISDIR for a directory, EINVAL for other types."""
        node = self._node(ino)
        if node.is_dir:
            raise FsError(errno.EISDIR, f"inode {ino} is a directory")
        if not node.is_reg:
            raise FsError(errno.EINVAL, f"inode {ino} is no regular file")
        return node

    @_protocol_call
    def read(self, ino: int, off: int, size: int) -> bytes:
        """Bytes of a regular file; holes are zeros."""
        if off < 0 or size < 0:
            raise FsError(errno.EINVAL, f"bad range {off}+{size}")
        return self._file(ino).data.read(off, size)

    @_protocol_call
    def write(self, ino: int, data: StagedData, mtime_ns: int) -> Attr:
        """Resize to `data.size` and replace the dirty ranges, all read before anything changes."""
        node = self._file(ino)
        size = data.size
        if size > self.capabilities.max_file_size:
            raise FsError(errno.EFBIG, f"size {size} beyond the maximum")
        pieces: list[tuple[int, bytes]] = []
        pos = 0
        for start, end in data.dirty_ranges():
            if not pos <= start < end <= size:
                raise FsError(errno.EINVAL, f"dirty range {start}-{end} unsorted or beyond size {size}")
            piece = data.read(start, end - start)
            if len(piece) != end - start:
                raise FsError(errno.EIO, f"staged data short at {start}: {len(piece)} of {end - start}")
            pieces.append((start, piece))
            pos = end
        node.data.truncate(size)
        for start, piece in pieces:
            node.data.write(start, piece)
        node.mtime_ns = node.ctime_ns = mtime_ns
        return node.attr()

    # -- extended attributes -----------------------------------------------

    def _xattrs(self, ino: int) -> Inode:
        """The inode whose xattrs are wanted; ENOTSUP when xattrs are not among the capabilities."""
        if not self.capabilities.xattrs:
            raise FsError(errno.ENOTSUP, "extended attributes are not supported")
        return self._node(ino)

    @_protocol_call
    def getxattr(self, ino: int, name: bytes) -> bytes:
        """Value of xattr `name`."""
        value = self._xattrs(ino).xattrs.get(name)
        if value is None:
            raise FsError(errno.ENODATA, f"no xattr {name!r}")
        return value

    @_protocol_call
    def listxattr(self, ino: int) -> list[bytes]:
        """Xattr names in the order they were first set."""
        return list(self._xattrs(ino).xattrs)

    @_protocol_call
    def setxattr(self, ino: int, name: bytes, value: bytes, flags: int) -> None:
        """Set xattr `name`, honouring XATTR_CREATE / XATTR_REPLACE."""
        node = self._xattrs(ino)
        if len(value) > self.capabilities.max_xattr_value:
            raise FsError(errno.E2BIG, f"xattr value of {len(value)} bytes")
        if flags & XATTR_CREATE and name in node.xattrs:
            raise FsError(errno.EEXIST, f"xattr {name!r} exists")
        if flags & XATTR_REPLACE and name not in node.xattrs:
            raise FsError(errno.ENODATA, f"no xattr {name!r}")
        node.xattrs[name] = bytes(value)
        node.ctime_ns = self._clock()

    @_protocol_call
    def removexattr(self, ino: int, name: bytes) -> None:
        """Remove xattr `name`."""
        node = self._xattrs(ino)
        if node.xattrs.pop(name, None) is None:
            raise FsError(errno.ENODATA, f"no xattr {name!r}")
        node.ctime_ns = self._clock()

    # -- store -------------------------------------------------------------

    @_protocol_call
    def purge(self, ino: int) -> None:
        """Delete an orphan; a linked or missing inode is left alone."""
        node = self._inodes.get(ino)
        if node is not None and node.nlink == 0:
            del self._inodes[ino]
            log.debug("purged inode %d", ino)

    @_protocol_call
    def forget(self, ino: int) -> None:
        """Nothing to drop: inode numbers here are the store's own."""

    @_protocol_call
    def statfs(self) -> StatFs:
        """Figures against a nominal 1 TiB, 2**32-inode capacity."""
        block_size = self.capabilities.block_size
        used = sum(node.data.stored_bytes() for node in self._inodes.values())
        blocks = _CAPACITY_BYTES // block_size
        return StatFs(
            block_size=block_size,
            blocks=blocks,
            blocks_free=max(0, blocks - math.ceil(used / block_size)),
            files=_CAPACITY_FILES,
            files_free=_CAPACITY_FILES - len(self._inodes),
            name_max=self.capabilities.max_name_len,
        )

    @_protocol_call
    def close(self) -> None:
        """Nothing to release; the contents stay until the object goes."""
