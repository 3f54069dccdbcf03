"""llfuse request handlers: unpack, call the core with `llfuse.lock` released, reply.

Each handler stays a few lines; all logic lives in `cloudfs.core`. The lock
is released around every core call so slow store requests of one worker
never stall the others.
"""

from __future__ import annotations

import logging
import math
import stat
from collections.abc import Iterator

import llfuse

from cloudfs.core.context import Caller
from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import Attr, AttrChanges
from cloudfs.fuse.errors import fuse_errors, to_fuse_error

log = logging.getLogger(__name__)


def caller_of(ctx: llfuse.RequestContext) -> Caller:
    """The request's caller; supplementary groups are read from /proc only if a check needs them."""
    pid = ctx.pid
    return Caller(uid=ctx.uid, gid=ctx.gid, pid=pid, groups=lambda: frozenset(llfuse.get_sup_groups(pid)))


def changes_of(attr: llfuse.EntryAttributes, fields: llfuse.SetattrFields) -> AttrChanges:
    """The AttrChanges a setattr request asks for."""
    return AttrChanges(
        mode=stat.S_IMODE(attr.st_mode) if fields.update_mode else None,
        uid=attr.st_uid if fields.update_uid else None,
        gid=attr.st_gid if fields.update_gid else None,
        size=attr.st_size if fields.update_size else None,
        atime_ns=attr.st_atime_ns if fields.update_atime else None,
        mtime_ns=attr.st_mtime_ns if fields.update_mtime else None,
    )


class Operations(llfuse.Operations):
    """The kernel's view of one `Filesystem`."""

    def __init__(self, fs: Filesystem) -> None:
        super().__init__()
        self.fs = fs
        # Without default_permissions the kernel checks nothing on a cached entry, so every path
        # walk must reach the core's search-permission check: no kernel caching then.
        self.timeout = 0.0 if fs.settings.check_permissions else fs.settings.cache_ttl
        self.block_size = fs.caps.block_size

    def entry(self, attr: Attr) -> llfuse.EntryAttributes:
        """Core attributes as the kernel wants them, with cache timeouts."""
        e = llfuse.EntryAttributes()
        e.st_ino = attr.ino
        e.generation = 0
        e.entry_timeout = e.attr_timeout = self.timeout
        e.st_mode, e.st_nlink, e.st_uid, e.st_gid = attr.mode, attr.nlink, attr.uid, attr.gid
        e.st_rdev, e.st_size, e.st_blksize = attr.rdev, attr.size, self.block_size
        e.st_blocks = math.ceil(attr.size / 512)
        e.st_atime_ns, e.st_mtime_ns, e.st_ctime_ns = attr.atime_ns, attr.mtime_ns, attr.ctime_ns
        return e

    def negative_entry(self) -> llfuse.EntryAttributes:
        """A cacheable "no such entry" reply."""
        e = llfuse.EntryAttributes()
        e.st_ino = 0
        e.entry_timeout = self.timeout
        return e

    @fuse_errors
    def lookup(self, parent_inode, name, ctx):
        with llfuse.lock_released:
            attr = self.fs.lookup(parent_inode, name, caller_of(ctx))
        return self.negative_entry() if attr is None else self.entry(attr)

    def forget(self, inode_list):
        try:
            with llfuse.lock_released:
                self.fs.forget(inode_list)
        except Exception:
            log.exception("forget failed")

    @fuse_errors
    def getattr(self, inode, ctx):
        with llfuse.lock_released:
            return self.entry(self.fs.getattr(inode))

    @fuse_errors
    def setattr(self, inode, attr, fields, fh, ctx):
        with llfuse.lock_released:
            return self.entry(self.fs.setattr(inode, changes_of(attr, fields), caller_of(ctx)))

    @fuse_errors
    def readlink(self, inode, ctx):
        with llfuse.lock_released:
            return self.fs.readlink(inode)

    @fuse_errors
    def access(self, inode, mode, ctx):
        with llfuse.lock_released:
            return self.fs.access(inode, mode, caller_of(ctx))

    @fuse_errors
    def mknod(self, parent_inode, name, mode, rdev, ctx):
        with llfuse.lock_released:
            return self.entry(self.fs.mknod(parent_inode, name, mode, rdev, caller_of(ctx)))

    @fuse_errors
    def mkdir(self, parent_inode, name, mode, ctx):
        with llfuse.lock_released:
            return self.entry(self.fs.mkdir(parent_inode, name, mode, caller_of(ctx)))

    @fuse_errors
    def symlink(self, parent_inode, name, target, ctx):
        with llfuse.lock_released:
            return self.entry(self.fs.symlink(parent_inode, name, target, caller_of(ctx)))

    @fuse_errors
    def link(self, inode, new_parent_inode, new_name, ctx):
        with llfuse.lock_released:
            return self.entry(self.fs.link(inode, new_parent_inode, new_name, caller_of(ctx)))

    @fuse_errors
    def unlink(self, parent_inode, name, ctx):
        with llfuse.lock_released:
            self.fs.unlink(parent_inode, name, caller_of(ctx))

    @fuse_errors
    def rmdir(self, parent_inode, name, ctx):
        with llfuse.lock_released:
            self.fs.rmdir(parent_inode, name, caller_of(ctx))

    @fuse_errors
    def rename(self, parent_inode_old, name_old, parent_inode_new, name_new, ctx):
        with llfuse.lock_released:
            self.fs.rename(parent_inode_old, name_old, parent_inode_new, name_new, caller_of(ctx))

    @fuse_errors
    def opendir(self, inode, ctx):
        with llfuse.lock_released:
            return self.fs.opendir(inode, caller_of(ctx))

    def readdir(self, fh, off) -> Iterator[tuple[bytes, llfuse.EntryAttributes, int]]:
        try:
            with llfuse.lock_released:
                entries = self.fs.readdir(fh, off)
            for index, (name, attr) in enumerate(entries, start=off + 1):
                yield name, self.entry(attr), index
        except Exception as exc:
            raise to_fuse_error(exc, "readdir") from None

    @fuse_errors
    def releasedir(self, fh):
        self.fs.releasedir(fh)

    def fsyncdir(self, fh, datasync):
        """Every directory change is committed when its request returns."""

    @fuse_errors
    def open(self, inode, flags, ctx):
        with llfuse.lock_released:
            return self.fs.open(inode, flags, caller_of(ctx))

    @fuse_errors
    def create(self, parent_inode, name, mode, flags, ctx):
        with llfuse.lock_released:
            fh, attr = self.fs.create(parent_inode, name, mode, flags, caller_of(ctx))
            return fh, self.entry(attr)

    @fuse_errors
    def read(self, fh, off, size):
        with llfuse.lock_released:
            return self.fs.read(fh, off, size)

    @fuse_errors
    def write(self, fh, off, buf):
        with llfuse.lock_released:
            return self.fs.write(fh, off, buf)

    @fuse_errors
    def flush(self, fh):
        with llfuse.lock_released:
            self.fs.flush(fh)

    @fuse_errors
    def fsync(self, fh, datasync):
        with llfuse.lock_released:
            self.fs.fsync(fh)

    @fuse_errors
    def release(self, fh):
        with llfuse.lock_released:
            self.fs.release(fh)

    @fuse_errors
    def getxattr(self, inode, name, ctx=None):
        # llfuse emulates XATTR_CREATE/XATTR_REPLACE by calling getxattr itself, without a ctx.
        with llfuse.lock_released:
            return self.fs.getxattr(inode, name, None if ctx is None else caller_of(ctx))

    @fuse_errors
    def listxattr(self, inode, ctx):
        with llfuse.lock_released:
            return self.fs.listxattr(inode, caller_of(ctx))

    @fuse_errors
    def setxattr(self, inode, name, value, ctx):
        with llfuse.lock_released:
            self.fs.setxattr(inode, name, value, caller=caller_of(ctx))

    @fuse_errors
    def removexattr(self, inode, name, ctx):
        with llfuse.lock_released:
            self.fs.removexattr(inode, name, caller_of(ctx))

    @fuse_errors
    def statfs(self, ctx):
        with llfuse.lock_released:
            figures = self.fs.statfs()
        out = llfuse.StatvfsData()
        out.f_bsize = out.f_frsize = figures.block_size
        out.f_blocks, out.f_bfree, out.f_bavail = figures.blocks, figures.blocks_free, figures.blocks_free
        out.f_files, out.f_ffree, out.f_favail = figures.files, figures.files_free, figures.files_free
        out.f_namemax = figures.name_max
        return out
