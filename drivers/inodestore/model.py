"""InodeStoreDriver: the driver protocol written once over an inode store's transactions (layer: drivers).

Every call is one function of a `Transaction` that `Store.run` commits whole
(see `txn`); the POSIX rules come from `rules`. Times follow POSIX: a change
of a directory's entries sets its mtime and ctime, a change of an inode's
metadata its ctime. Unlinked files stay as nlink-0 orphans until `purge`;
directories go at once.
"""

from __future__ import annotations

import errno
import logging
import stat
import time

from cloudfs.driver import (
    RENAME_EXCHANGE,
    RENAME_NOREPLACE,
    ROOT_INO,
    Attr,
    AttrChanges,
    Capabilities,
    StagedData,
    StatFs,
)
from cloudfs.errors import FsError

from . import rules
from .records import Inode
from .txn import Store, Transaction

log = logging.getLogger(__name__)

# What every inode store keeps; each store adds its consistency, block size and costs.
INODE_STORE_CAPABILITIES = Capabilities(
    hard_links=True,
    symlinks=True,
    special_files=True,
    xattrs=True,
    persistent_inodes=True,
    create_needs_write=False,
    rename_flags=True,
)

# Ancestors a directory rename checks; a deeper tree than this is refused (EMLINK) rather than risk a cycle.
MAX_DEPTH = 64


class InodeStoreDriver:
    """A fully POSIX driver over any `Store`.

    Attributes: `capabilities`, `store`. Caveat: the store's own caches (if
    any) serve optimistic attempts only; every answer that decides an errno
    is checked on fresh reads by `Store.run`.
    """

    def __init__(self, store: Store, capabilities: Capabilities) -> None:
        """Serve the protocol from `store`, which keeps what `capabilities` promise."""
        self.store = store
        self.capabilities = capabilities

    # Lookups.

    def getattr(self, ino: int, fresh: bool = False) -> Attr:
        """Attributes of `ino`, read fresh when asked, else possibly from what the store learnt just now. ENOENT."""
        return self.store.read("getattr", lambda txn: txn.inode(ino), fresh=fresh).attr()

    def lookup(self, parent: int, name: bytes) -> Attr:
        """Attributes of entry `name` in directory `parent`, read fresh. ENOENT, ENOTDIR."""
        found = self.store.read("lookup", lambda txn: txn.entry(parent, name))
        if found is None:
            # A directory stays a directory, so a known one answers ENOTDIR-or-ENOENT without a read.
            self.store.read("lookup", lambda txn: rules.require_dir(txn.inode(parent)), fresh=False)
        found = rules.require_present(found, parent, name)
        return self.store.read("lookup", lambda txn: txn.inode(found)).attr()

    def readdir(self, parent: int) -> list[tuple[bytes, Attr]]:
        """Entries of directory `parent` sorted by name (a stable order). ENOTDIR."""
        return [(name, inode.attr()) for name, inode in self.store.listing(parent)]

    def readlink(self, ino: int) -> bytes:
        """Target of symlink `ino`. EINVAL if it is no symlink."""
        # A symlink's target never changes, so a cached inode answers.
        inode = self.store.read("readlink", lambda txn: txn.inode(ino), fresh=False)
        if inode.target is None:
            raise FsError(errno.EINVAL, f"inode {ino} is not a symlink")
        return inode.target

    # Namespace changes.

    def _create(self, parent: int, name: bytes, fields: dict) -> Attr:
        """Store a new inode under `parent`/`name`; EEXIST if taken."""

        def op(txn: Transaction) -> Attr:
            directory = rules.require_dir(txn.inode(parent))
            rules.require_absent(txn.entry(parent, name), parent, name)
            now = time.time_ns()
            is_dir = stat.S_ISDIR(fields["mode"])
            inode = Inode(
                ino=txn.new_ino(),
                nlink=2 if is_dir else 1,
                atime_ns=now,
                mtime_ns=now,
                ctime_ns=now,
                parent=directory.ino if is_dir else None,
                version=1,
                **fields,
            )
            txn.insert_inode(inode)
            txn.add_entry(parent, name, inode.ino)
            txn.touch_dir(parent, now, 1 if is_dir else 0)
            return inode.attr()

        return self.store.run("create", op)

    def mknod(self, parent: int, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Attr:
        """Create a file, directory, FIFO, socket or device node. EEXIST, EINVAL for other types."""
        mode = rules.node_mode(mode)
        return self._create(
            parent, name, {"mode": mode, "uid": uid, "gid": gid, "rdev": rules.device_number(mode, rdev)}
        )

    def symlink(self, parent: int, name: bytes, target: bytes, uid: int, gid: int) -> Attr:
        """Create a symlink to `target` (mode 0o120777). EEXIST if name exists."""
        fields = {"mode": stat.S_IFLNK | 0o777, "uid": uid, "gid": gid, "size": len(target), "target": target}
        return self._create(parent, name, fields)

    def link(self, ino: int, new_parent: int, new_name: bytes) -> Attr:
        """Add a hard link. EEXIST, EPERM for directories, ENOENT for an orphan."""

        def op(txn: Transaction) -> Attr:
            inode = txn.inode(ino)
            rules.require_linkable(inode)
            rules.require_dir(txn.inode(new_parent))
            rules.require_absent(txn.entry(new_parent, new_name), new_parent, new_name)
            now = time.time_ns()
            linked = inode.changed(nlink=inode.nlink + 1, ctime_ns=now)
            txn.add_entry(new_parent, new_name, ino)
            txn.update_inode(inode, linked)
            txn.touch_dir(new_parent, now)
            return linked.attr()

        return self.store.run("link", op)

    def _child(self, txn: Transaction, parent: int, name: bytes) -> Inode:
        """The inode entry `name` of directory `parent` names; ENOENT, ENOTDIR."""
        found = txn.entry(parent, name)
        if found is None:
            rules.require_dir(txn.inode(parent))
        return txn.inode(rules.require_present(found, parent, name))

    def unlink(self, parent: int, name: bytes) -> Attr:
        """Remove a non-directory entry; returns the inode after (nlink 0 = orphan). EISDIR."""

        def op(txn: Transaction) -> Attr:
            inode = self._child(txn, parent, name)
            if inode.is_dir:
                raise FsError(errno.EISDIR, f"{name!r} in directory {parent} is a directory")
            now = time.time_ns()
            after = inode.changed(nlink=inode.nlink - 1, ctime_ns=now)
            txn.remove_entry(parent, name, inode.ino)
            txn.update_inode(inode, after)
            txn.touch_dir(parent, now)
            return after.attr()

        return self.store.run("unlink", op)

    def rmdir(self, parent: int, name: bytes) -> None:
        """Remove an empty directory and its inode. ENOTEMPTY, ENOTDIR, ENOENT."""

        def op(txn: Transaction) -> None:
            inode = self._child(txn, parent, name)
            if not inode.is_dir:
                raise FsError(errno.ENOTDIR, f"{name!r} in directory {parent} is not a directory")
            rules.require_empty(inode.ino, txn.has_entries(inode.ino))
            txn.remove_entry(parent, name, inode.ino)
            txn.delete_inode(inode)
            txn.touch_dir(parent, time.time_ns(), -1)

        self.store.run("rmdir", op)

    def rename(self, parent: int, name: bytes, new_parent: int, new_name: bytes, flags: int = 0) -> Attr | None:
        """Move an entry in one transaction, whatever a directory holds; returns the replaced inode after.

        EINVAL for a directory moved into itself, EISDIR/ENOTDIR when types
        clash, ENOTEMPTY for a non-empty target directory; another name of the
        same inode is left alone and None returned. RENAME_NOREPLACE: EEXIST
        when the target exists; RENAME_EXCHANGE swaps two entries atomically.
        """
        if flags & RENAME_EXCHANGE:
            return self.store.run("rename", lambda txn: self._exchange(txn, parent, name, new_parent, new_name))
        return self.store.run(
            "rename", lambda txn: self._rename(txn, parent, name, new_parent, new_name, bool(flags & RENAME_NOREPLACE))
        )

    def _rename(
        self, txn: Transaction, parent: int, name: bytes, new_parent: int, new_name: bytes, noreplace: bool = False
    ) -> Attr | None:
        """One attempt of `rename`."""
        moved = self._child(txn, parent, name)
        rules.require_dir(txn.inode(new_parent))
        if moved.is_dir and new_parent != parent:
            rules.require_not_within(moved.ino, self._ancestors(txn, new_parent))
        dst_ino = txn.entry(new_parent, new_name)
        if noreplace:
            rules.require_absent(dst_ino, new_parent, new_name)
        if dst_ino == moved.ino:
            return None
        now = time.time_ns()
        # The entry moves before the replaced inode goes: no entry may name a deleted inode, even mid-change.
        if dst_ino is None:
            txn.add_entry(new_parent, new_name, moved.ino)
        else:
            txn.replace_entry(new_parent, new_name, dst_ino, moved.ino)
        replaced = None if dst_ino is None else self._replace(txn, moved.is_dir, txn.inode(dst_ino), now)
        txn.remove_entry(parent, name, moved.ino)
        reparented = moved.parent if not moved.is_dir else new_parent
        txn.update_inode(moved, moved.changed(ctime_ns=now, parent=reparented))
        moved_dir_links = 1 if moved.is_dir and parent != new_parent else 0
        # A replaced directory's `..` link to new_parent goes with it.
        lost = 1 if replaced is not None and replaced.is_dir else 0
        txn.touch_dir(parent, now, -moved_dir_links)
        txn.touch_dir(new_parent, now, moved_dir_links - lost)
        return None if replaced is None else replaced.attr()

    def _exchange(self, txn: Transaction, parent: int, name: bytes, new_parent: int, new_name: bytes) -> None:
        """One attempt of RENAME_EXCHANGE: each name ends up naming the other's inode."""
        first = self._child(txn, parent, name)
        second = self._child(txn, new_parent, new_name)
        if first.ino == second.ino:
            return None
        if new_parent != parent:
            for inode, into in ((first, new_parent), (second, parent)):
                if inode.is_dir:
                    rules.require_not_within(inode.ino, self._ancestors(txn, into))
        now = time.time_ns()
        txn.replace_entry(new_parent, new_name, second.ino, first.ino)
        txn.replace_entry(parent, name, first.ino, second.ino)
        txn.update_inode(first, first.changed(ctime_ns=now, parent=new_parent if first.is_dir else first.parent))
        txn.update_inode(second, second.changed(ctime_ns=now, parent=parent if second.is_dir else second.parent))
        # A directory's `..` link moves with it: each parent gains what arrives and loses what leaves.
        moved_links = (1 if first.is_dir else 0) - (1 if second.is_dir else 0) if new_parent != parent else 0
        txn.touch_dir(parent, now, -moved_links)
        if new_parent != parent:
            txn.touch_dir(new_parent, now, moved_links)
        return None

    def _ancestors(self, txn: Transaction, ino: int) -> list[int]:
        """`ino` and the directories above it up to the root, each assumed in the commit."""
        chain = [ino]
        while ino != ROOT_INO:
            if len(chain) > MAX_DEPTH:
                raise FsError(errno.EMLINK, f"directory {chain[0]} lies deeper than {MAX_DEPTH} levels")
            parent = txn.inode(ino).parent
            if parent is None:
                raise FsError(errno.EIO, f"directory {ino} records no parent")
            txn.assume_parent(ino, parent)
            ino = parent
            chain.append(ino)
        return chain

    def _replace(self, txn: Transaction, src_is_dir: bool, dst: Inode, now: int) -> Inode:
        """Drop the link of rename's target `dst`; a directory goes at once (nlink 0), a file may become an orphan."""
        rules.require_replaceable(src_is_dir, dst)
        if dst.is_dir:
            rules.require_empty(dst.ino, txn.has_entries(dst.ino))
            txn.delete_inode(dst)
            return dst.changed(nlink=0, ctime_ns=now)
        after = dst.changed(nlink=dst.nlink - 1, ctime_ns=now)
        txn.update_inode(dst, after)
        return after

    # Attributes and data.

    def setattr(self, ino: int, changes: AttrChanges) -> Attr:
        """Apply `changes` and set ctime; a size change truncates or extends with zeros."""
        if changes.size is not None:
            rules.require_size(changes.size, self.capabilities.max_file_size)

        def op(txn: Transaction) -> Attr:
            inode = txn.inode(ino)
            now = time.time_ns()
            fields: dict = {"ctime_ns": now}
            if changes.mode is not None:
                fields["mode"] = stat.S_IFMT(inode.mode) | (changes.mode & 0o7777)
            for name in ("uid", "gid", "atime_ns", "mtime_ns"):
                if getattr(changes, name) is not None:
                    fields[name] = getattr(changes, name)
            if changes.size is not None:
                rules.require_regular(inode)
                if changes.size != inode.size:
                    txn.write_data(inode, changes.size, None)
                    fields.setdefault("mtime_ns", now)
                fields["size"] = changes.size
            after = inode.changed(**fields)
            txn.update_inode(inode, after)
            return after.attr()

        return self.store.run("setattr", op)

    def touch_atime(self, ino: int, atime_ns: int) -> Attr:
        """Set atime alone: an access is no metadata change, so ctime stays."""

        def op(txn: Transaction) -> Attr:
            inode = txn.inode(ino)
            after = inode.changed(atime_ns=atime_ns)
            txn.update_inode(inode, after)
            return after.attr()

        return self.store.run("touch_atime", op)

    def read(self, ino: int, off: int, size: int) -> bytes:
        """Up to `size` bytes at `off`; holes read as zeros; short only at end of file."""
        if off < 0 or size < 0:
            raise FsError(errno.EINVAL, f"negative offset {off} or size {size}")

        def op(txn: Transaction) -> bytes:
            inode = rules.require_regular(txn.inode(ino))
            return txn.read_data(inode, off, size)

        return self.store.read("read", op, fresh=False)

    def write(self, ino: int, data: StagedData, mtime_ns: int) -> Attr:
        """Store staged contents: dirty blocks, the written size (see `rules.written_size`), mtime=ctime=`mtime_ns`."""
        rules.require_size(data.size, self.capabilities.max_file_size)

        def op(txn: Transaction) -> Attr:
            inode = rules.require_regular(txn.inode(ino))
            new_size = rules.written_size(inode.size, data)
            txn.write_data(inode, new_size, data)
            after = inode.changed(size=new_size, mtime_ns=mtime_ns, ctime_ns=mtime_ns)
            txn.update_inode(inode, after)
            return after.attr()

        attr = self.store.run("write", op)
        log.debug("inode %d: wrote %d dirty ranges, size %d", ino, len(data.dirty_ranges()), attr.size)
        return attr

    def purge(self, ino: int) -> None:
        """Delete orphan `ino` with its data and xattrs; a missing or linked inode is left alone."""
        if self.store.purge(ino):
            log.debug("purged orphan inode %d", ino)

    def forget(self, ino: int) -> None:
        """Inode numbers are persistent here, so there is no mapping to drop."""

    # Extended attributes.

    def getxattr(self, ino: int, name: bytes) -> bytes:
        """Value of extended attribute `name`. ENODATA if unset."""
        value = self.store.read("getxattr", lambda txn: txn.xattrs(txn.inode(ino)), fresh=False).get(name)
        if value is None:
            raise FsError(errno.ENODATA, f"inode {ino} has no xattr {name!r}")
        return value

    def listxattr(self, ino: int) -> list[bytes]:
        """Names of all extended attributes of `ino`, sorted."""
        return sorted(self.store.read("listxattr", lambda txn: txn.xattrs(txn.inode(ino)), fresh=False))

    def setxattr(self, ino: int, name: bytes, value: bytes, flags: int) -> None:
        """Set an extended attribute; XATTR_CREATE → EEXIST if set, XATTR_REPLACE → ENODATA if unset."""
        if len(value) > self.capabilities.max_xattr_value:
            raise FsError(errno.E2BIG, f"xattr value of {len(value)} bytes is too large")

        def op(txn: Transaction) -> None:
            inode = txn.inode(ino)
            rules.require_xattr_flags(ino, name, name in txn.xattrs(inode), flags)
            txn.set_xattr(inode, inode.changed(ctime_ns=time.time_ns()), name, value)

        self.store.run("setxattr", op)

    def removexattr(self, ino: int, name: bytes) -> None:
        """Remove an extended attribute. ENODATA if unset."""

        def op(txn: Transaction) -> None:
            inode = txn.inode(ino)
            if name not in txn.xattrs(inode):
                raise FsError(errno.ENODATA, f"inode {ino} has no xattr {name!r}")
            txn.set_xattr(inode, inode.changed(ctime_ns=time.time_ns()), name, None)

        self.store.run("removexattr", op)

    # The store.

    def statfs(self) -> StatFs:
        """Capacity as the store reports it."""
        bs = self.capabilities.block_size
        total, free, used_inodes, free_inodes = self.store.usage()
        return StatFs(
            block_size=bs,
            blocks=total // bs,
            blocks_free=free // bs,
            files=used_inodes + free_inodes,
            files_free=free_inodes,
            name_max=self.capabilities.max_name_len,
        )

    def close(self) -> None:
        """Release the store."""
        self.store.close()
