"""The sqlite driver: the inode/dentry/block model of the DynamoDB driver in one SQLite file.

Layer: implements `cloudfs.driver.Driver` for the core. Every change is one
transaction (`Database.write`), so each call commits whole or not at all, and
`synchronous=FULL` makes a committed call durable. Inode numbers are the
table's AUTOINCREMENT keys: persistent and never reused. Unlinked inodes stay
with nlink 0 until `purge` (or the next open, after a crash).
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import sqlite3
import stat
import time
from collections.abc import Mapping

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

from . import blocks
from .database import Database
from .source import SqliteSettings

log = logging.getLogger(__name__)

_ATTR_COLS = "ino, mode, nlink, uid, gid, size, atime_ns, mtime_ns, ctime_ns, rdev"
_NODE_TYPES = frozenset({stat.S_IFREG, stat.S_IFDIR, stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFCHR, stat.S_IFBLK})
# Rough bytes one more inode costs in the file (row, dentry, index entries).
_INODE_COST = 512


class SqliteDriver:
    """A fully POSIX driver on one SQLite database file held by one mount at a time.

    Attributes: `capabilities`, `path`, `database` (the open file). Caveat: all calls share one connection,
    so they run one at a time (see `database` for why).
    """

    def __init__(self, db: Database) -> None:
        """Wrap an open database; capabilities follow its block size."""
        self.database = db
        self.path = db.path
        self.capabilities = Capabilities(
            hard_links=True,
            symlinks=True,
            special_files=True,
            xattrs=True,
            atomic_dir_rename=True,
            persistent_inodes=True,
            consistency="strong",
            block_size=db.block_size,
        )

    # Helpers; each runs inside a caller's read() or write() block.

    @staticmethod
    def _attr(db: sqlite3.Connection, ino: int) -> Attr:
        """Attributes of `ino`, ENOENT if it does not exist."""
        row = db.execute(f"SELECT {_ATTR_COLS} FROM inodes WHERE ino = ?", (ino,)).fetchone()
        if row is None:
            raise FsError(errno.ENOENT, f"inode {ino} does not exist")
        return Attr(*row)

    def _dir(self, db: sqlite3.Connection, ino: int) -> Attr:
        """Attributes of directory `ino`; ENOENT or ENOTDIR otherwise."""
        attr = self._attr(db, ino)
        if not stat.S_ISDIR(attr.mode):
            raise FsError(errno.ENOTDIR, f"inode {ino} is not a directory")
        return attr

    @staticmethod
    def _child(db: sqlite3.Connection, parent: int, name: bytes) -> int | None:
        """Inode number under `name` in `parent`, or None."""
        row = db.execute("SELECT ino FROM dentries WHERE parent = ? AND name = ?", (parent, name)).fetchone()
        return None if row is None else row[0]

    def _existing_child(self, db: sqlite3.Connection, parent: int, name: bytes) -> Attr:
        """Attributes of entry `name` in directory `parent`; ENOENT if absent."""
        self._dir(db, parent)
        ino = self._child(db, parent, name)
        if ino is None:
            raise FsError(errno.ENOENT, f"no entry {name!r} in directory {parent}")
        return self._attr(db, ino)

    @staticmethod
    def _update(db: sqlite3.Connection, ino: int, nlink_delta: int = 0, **cols: int) -> None:
        """Set columns of `ino`, add to its nlink and bump its version."""
        sets = "".join(f", {col} = :{col}" for col in cols)
        db.execute(
            f"UPDATE inodes SET nlink = nlink + :delta, version = version + 1{sets} WHERE ino = :ino",
            {"ino": ino, "delta": nlink_delta, **cols},
        )

    def _entries_changed(self, db: sqlite3.Connection, parent: int, now: int, nlink_delta: int = 0) -> None:
        """A directory's entries changed: POSIX sets its mtime and ctime."""
        self._update(db, parent, nlink_delta, mtime_ns=now, ctime_ns=now)

    def _create(
        self,
        parent: int,
        name: bytes,
        mode: int,
        uid: int,
        gid: int,
        rdev: int = 0,
        target: bytes | None = None,
    ) -> Attr:
        """Insert a new inode under `parent`/`name` in one transaction; EEXIST if taken."""
        is_dir = stat.S_ISDIR(mode)
        with self.database.write() as db:
            self._dir(db, parent)
            if self._child(db, parent, name) is not None:
                raise FsError(errno.EEXIST, f"{name!r} exists in directory {parent}")
            now = time.time_ns()
            cur = db.execute(
                "INSERT INTO inodes (mode, uid, gid, size, nlink, rdev, atime_ns, mtime_ns, ctime_ns, target)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (mode, uid, gid, len(target or b""), 2 if is_dir else 1, rdev, now, now, now, target),
            )
            ino = cur.lastrowid
            db.execute("INSERT INTO dentries (parent, name, ino) VALUES (?, ?, ?)", (parent, name, ino))
            self._entries_changed(db, parent, now, 1 if is_dir else 0)
            return self._attr(db, ino)

    # Lookups.

    def getattr(self, ino: int) -> Attr:
        """Attributes of `ino`. ENOENT if it no longer exists."""
        with self.database.read() as db:
            return self._attr(db, ino)

    def lookup(self, parent: int, name: bytes) -> Attr:
        """Attributes of entry `name` in directory `parent`. ENOENT, ENOTDIR."""
        with self.database.read() as db:
            return self._existing_child(db, parent, name)

    def readdir(self, parent: int) -> list[tuple[bytes, Attr]]:
        """Entries of directory `parent` sorted by name (a stable order). ENOTDIR."""
        cols = ", ".join(f"i.{c.strip()}" for c in _ATTR_COLS.split(","))
        with self.database.read() as db:
            self._dir(db, parent)
            rows = db.execute(
                f"SELECT d.name, {cols} FROM dentries d JOIN inodes i ON i.ino = d.ino"
                " WHERE d.parent = ? ORDER BY d.name",
                (parent,),
            ).fetchall()
        return [(row[0], Attr(*row[1:])) for row in rows]

    def readlink(self, ino: int) -> bytes:
        """Target of symlink `ino`. EINVAL if it is no symlink."""
        with self.database.read() as db:
            attr = self._attr(db, ino)
            if not stat.S_ISLNK(attr.mode):
                raise FsError(errno.EINVAL, f"inode {ino} is not a symlink")
            return bytes(db.execute("SELECT target FROM inodes WHERE ino = ?", (ino,)).fetchone()[0])

    # Namespace changes.

    def mknod(self, parent: int, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Attr:
        """Create a file, directory, FIFO, socket or device node; type 0 is a regular file, as on Linux."""
        kind = stat.S_IFMT(mode) or stat.S_IFREG
        if kind not in _NODE_TYPES:
            raise FsError(errno.EINVAL, f"mknod cannot create file type {kind:o}")
        if kind not in (stat.S_IFCHR, stat.S_IFBLK):
            rdev = 0
        return self._create(parent, name, kind | stat.S_IMODE(mode), uid, gid, rdev=rdev)

    def symlink(self, parent: int, name: bytes, target: bytes, uid: int, gid: int) -> Attr:
        """Create a symlink to `target` (mode 0o120777). EEXIST if name exists."""
        return self._create(parent, name, stat.S_IFLNK | 0o777, uid, gid, target=target)

    def link(self, ino: int, new_parent: int, new_name: bytes) -> Attr:
        """Add a hard link. EEXIST, EPERM for directories, ENOENT for an orphan."""
        with self.database.write() as db:
            attr = self._attr(db, ino)
            if stat.S_ISDIR(attr.mode):
                raise FsError(errno.EPERM, f"inode {ino} is a directory")
            if attr.nlink == 0:
                raise FsError(errno.ENOENT, f"inode {ino} has no links left")
            self._dir(db, new_parent)
            if self._child(db, new_parent, new_name) is not None:
                raise FsError(errno.EEXIST, f"{new_name!r} exists in directory {new_parent}")
            now = time.time_ns()
            db.execute("INSERT INTO dentries (parent, name, ino) VALUES (?, ?, ?)", (new_parent, new_name, ino))
            self._update(db, ino, 1, ctime_ns=now)
            self._entries_changed(db, new_parent, now)
            return self._attr(db, ino)

    def unlink(self, parent: int, name: bytes) -> Attr:
        """Remove a non-directory entry; returns the inode after (nlink 0 = orphan). EISDIR."""
        with self.database.write() as db:
            attr = self._existing_child(db, parent, name)
            if stat.S_ISDIR(attr.mode):
                raise FsError(errno.EISDIR, f"{name!r} in directory {parent} is a directory")
            now = time.time_ns()
            db.execute("DELETE FROM dentries WHERE parent = ? AND name = ?", (parent, name))
            self._update(db, attr.ino, -1, ctime_ns=now)
            self._entries_changed(db, parent, now)
            return self._attr(db, attr.ino)

    def rmdir(self, parent: int, name: bytes) -> None:
        """Remove an empty directory and its inode. ENOTEMPTY, ENOTDIR, ENOENT."""
        with self.database.write() as db:
            attr = self._existing_child(db, parent, name)
            if not stat.S_ISDIR(attr.mode):
                raise FsError(errno.ENOTDIR, f"{name!r} in directory {parent} is not a directory")
            if db.execute("SELECT 1 FROM dentries WHERE parent = ? LIMIT 1", (attr.ino,)).fetchone():
                raise FsError(errno.ENOTEMPTY, f"directory {attr.ino} is not empty")
            db.execute("DELETE FROM dentries WHERE parent = ? AND name = ?", (parent, name))
            db.execute("DELETE FROM inodes WHERE ino = ?", (attr.ino,))
            self._entries_changed(db, parent, time.time_ns(), -1)

    def rename(self, parent: int, name: bytes, new_parent: int, new_name: bytes) -> Attr | None:
        """Move an entry, replacing what `new_name` held; returns the replaced inode after.

        EINVAL when moving a directory into itself, EISDIR/ENOTDIR when types
        clash, ENOTEMPTY for a non-empty target directory; another name of the
        same inode is left alone and None returned.
        """
        with self.database.write() as db:
            src = self._existing_child(db, parent, name)
            self._dir(db, new_parent)
            src_is_dir = stat.S_ISDIR(src.mode)
            if src_is_dir:
                self._check_not_into_itself(db, src.ino, new_parent)
            dst_ino = self._child(db, new_parent, new_name)
            if dst_ino == src.ino:
                return None
            now = time.time_ns()
            replaced = None
            if dst_ino is not None:
                replaced = self._replace_target(db, src_is_dir, dst_ino, now)
                db.execute("DELETE FROM dentries WHERE parent = ? AND name = ?", (new_parent, new_name))
            db.execute(
                "UPDATE dentries SET parent = ?, name = ? WHERE parent = ? AND name = ?",
                (new_parent, new_name, parent, name),
            )
            self._update(db, src.ino, ctime_ns=now)
            moved_dir_links = 1 if src_is_dir and parent != new_parent else 0
            # A replaced directory's `..` link to new_parent goes with it.
            dst_lost = 1 if replaced is not None and stat.S_ISDIR(replaced.mode) else 0
            self._entries_changed(db, parent, now, -moved_dir_links)
            self._entries_changed(db, new_parent, now, moved_dir_links - dst_lost)
            if replaced is None or dst_lost:
                return replaced
            return self._attr(db, replaced.ino)

    def _check_not_into_itself(self, db: sqlite3.Connection, src_ino: int, new_parent: int) -> None:
        """EINVAL if `new_parent` is directory `src_ino` or lies below it (walks parents up)."""
        ino: int | None = new_parent
        while ino is not None and ino != ROOT_INO:
            if ino == src_ino:
                raise FsError(errno.EINVAL, f"cannot move directory {src_ino} into its own subtree")
            row = db.execute("SELECT parent FROM dentries WHERE ino = ? LIMIT 1", (ino,)).fetchone()
            ino = None if row is None else row[0]

    def _replace_target(self, db: sqlite3.Connection, src_is_dir: bool, dst_ino: int, now: int) -> Attr:
        """Check that `dst_ino` may be replaced, then drop its link.

        Returns the old attributes of a file, and the final ones (nlink 0) of a
        directory: a directory holds no data, so it goes at once as with rmdir
        instead of waiting for a `purge` the core never sends for directories.
        """
        dst = self._attr(db, dst_ino)
        dst_is_dir = stat.S_ISDIR(dst.mode)
        if src_is_dir and not dst_is_dir:
            raise FsError(errno.ENOTDIR, f"cannot replace non-directory {dst_ino} with a directory")
        if dst_is_dir and not src_is_dir:
            raise FsError(errno.EISDIR, f"cannot replace directory {dst_ino} with a non-directory")
        if dst_is_dir:
            if db.execute("SELECT 1 FROM dentries WHERE parent = ? LIMIT 1", (dst_ino,)).fetchone():
                raise FsError(errno.ENOTEMPTY, f"directory {dst_ino} is not empty")
            db.execute("DELETE FROM dentries WHERE ino = ?", (dst_ino,))
            db.execute("DELETE FROM inodes WHERE ino = ?", (dst_ino,))
            return dataclasses.replace(dst, nlink=0, ctime_ns=now)
        else:
            self._update(db, dst_ino, -1, ctime_ns=now)
        return dst

    # Attributes and data.

    def setattr(self, ino: int, changes: AttrChanges) -> Attr:
        """Apply `changes` and set ctime; a size change truncates or extends with zeros."""
        with self.database.write() as db:
            attr = self._attr(db, ino)
            now = time.time_ns()
            cols: dict[str, int] = {"ctime_ns": now}
            if changes.mode is not None:
                cols["mode"] = stat.S_IFMT(attr.mode) | (changes.mode & 0o7777)
            if changes.uid is not None:
                cols["uid"] = changes.uid
            if changes.gid is not None:
                cols["gid"] = changes.gid
            if changes.atime_ns is not None:
                cols["atime_ns"] = changes.atime_ns
            if changes.mtime_ns is not None:
                cols["mtime_ns"] = changes.mtime_ns
            if changes.size is not None:
                self._check_regular(attr)
                self._check_size(changes.size)
                if changes.size < attr.size:
                    blocks.truncate(db, ino, changes.size, self.capabilities.block_size, frozenset())
                cols["size"] = changes.size
                if changes.size != attr.size:
                    cols.setdefault("mtime_ns", now)
            self._update(db, ino, **cols)
            return self._attr(db, ino)

    def touch_atime(self, ino: int, atime_ns: int) -> Attr:
        """Set atime alone: an access is no metadata change, so ctime stays."""
        with self.database.write() as db:
            self._attr(db, ino)
            self._update(db, ino, atime_ns=atime_ns)
            return self._attr(db, ino)

    @staticmethod
    def _check_regular(attr: Attr) -> None:
        """EISDIR for a directory, EINVAL for other non-regular files: only files hold data."""
        if stat.S_ISDIR(attr.mode):
            raise FsError(errno.EISDIR, f"inode {attr.ino} is a directory")
        if not stat.S_ISREG(attr.mode):
            raise FsError(errno.EINVAL, f"inode {attr.ino} is not a regular file")

    def _check_size(self, size: int) -> None:
        """EFBIG past the largest file this store keeps, EINVAL for a negative size."""
        if size < 0:
            raise FsError(errno.EINVAL, f"negative file size {size}")
        if size > self.capabilities.max_file_size:
            raise FsError(errno.EFBIG, f"size {size} beyond the maximum")

    def read(self, ino: int, off: int, size: int) -> bytes:
        """Up to `size` bytes at `off`; holes read as zeros; short only at end of file."""
        if off < 0 or size < 0:
            raise FsError(errno.EINVAL, f"negative offset {off} or size {size}")
        with self.database.read() as db:
            attr = self._attr(db, ino)
            self._check_regular(attr)
            return blocks.read_range(db, ino, attr.size, off, size, self.capabilities.block_size)

    def write(self, ino: int, data: StagedData, mtime_ns: int) -> Attr:
        """Store staged contents in one transaction: dirty blocks, new size, mtime=ctime=`mtime_ns`."""
        self._check_size(data.size)
        with self.database.write() as db:
            self._check_regular(self._attr(db, ino))
            count = blocks.store_staged(db, ino, data, self.capabilities.block_size)
            self._update(db, ino, size=data.size, mtime_ns=mtime_ns, ctime_ns=mtime_ns)
            log.debug("inode %d: wrote %d blocks, size %d", ino, count, data.size)
            return self._attr(db, ino)

    def purge(self, ino: int) -> None:
        """Delete orphan `ino` with its blocks and xattrs; a missing or linked inode is left alone."""
        with self.database.write() as db:
            cur = db.execute("DELETE FROM inodes WHERE ino = ? AND nlink = 0", (ino,))
        if cur.rowcount:
            log.debug("purged orphan inode %d", ino)

    def forget(self, ino: int) -> None:
        """Inode numbers are persistent here, so there is no mapping to drop."""

    # Extended attributes.

    def getxattr(self, ino: int, name: bytes) -> bytes:
        """Value of extended attribute `name`. ENODATA if unset."""
        with self.database.read() as db:
            self._attr(db, ino)
            row = db.execute("SELECT value FROM xattrs WHERE ino = ? AND name = ?", (ino, name)).fetchone()
        if row is None:
            raise FsError(errno.ENODATA, f"inode {ino} has no xattr {name!r}")
        return bytes(row[0])

    def listxattr(self, ino: int) -> list[bytes]:
        """Names of all extended attributes of `ino`, sorted."""
        with self.database.read() as db:
            self._attr(db, ino)
            rows = db.execute("SELECT name FROM xattrs WHERE ino = ? ORDER BY name", (ino,)).fetchall()
        return [bytes(row[0]) for row in rows]

    def setxattr(self, ino: int, name: bytes, value: bytes, flags: int) -> None:
        """Set an extended attribute; XATTR_CREATE → EEXIST if set, XATTR_REPLACE → ENODATA if unset."""
        if len(value) > self.capabilities.max_xattr_value:
            raise FsError(errno.E2BIG, f"xattr value of {len(value)} bytes is too large")
        with self.database.write() as db:
            self._attr(db, ino)
            exists = db.execute("SELECT 1 FROM xattrs WHERE ino = ? AND name = ?", (ino, name)).fetchone()
            if exists and flags & XATTR_CREATE:
                raise FsError(errno.EEXIST, f"inode {ino} already has xattr {name!r}")
            if not exists and flags & XATTR_REPLACE:
                raise FsError(errno.ENODATA, f"inode {ino} has no xattr {name!r}")
            db.execute("INSERT OR REPLACE INTO xattrs (ino, name, value) VALUES (?, ?, ?)", (ino, name, value))
            self._update(db, ino, ctime_ns=time.time_ns())

    def removexattr(self, ino: int, name: bytes) -> None:
        """Remove an extended attribute. ENODATA if unset."""
        with self.database.write() as db:
            self._attr(db, ino)
            cur = db.execute("DELETE FROM xattrs WHERE ino = ? AND name = ?", (ino, name))
            if not cur.rowcount:
                raise FsError(errno.ENODATA, f"inode {ino} has no xattr {name!r}")
            self._update(db, ino, ctime_ns=time.time_ns())

    # The store.

    def statfs(self) -> StatFs:
        """Space the database can still take (see `Database.space`); free inodes estimated from it."""
        bs = self.capabilities.block_size
        total_bytes, free_bytes = self.database.space()
        with self.database.read() as db:
            used_inodes = db.execute("SELECT count(*) FROM inodes").fetchone()[0]
        files_free = free_bytes // _INODE_COST
        return StatFs(
            block_size=bs,
            blocks=total_bytes // bs,
            blocks_free=free_bytes // bs,
            files=used_inodes + files_free,
            files_free=files_free,
            name_max=self.capabilities.max_name_len,
        )

    def close(self) -> None:
        """Close the database and release the single-mount lock."""
        self.database.close()


def open_driver(settings: object, options: Mapping[str, str]) -> SqliteDriver:
    """Open (creating on first use) the database named by `settings`; see `Database` for errors."""
    if not isinstance(settings, SqliteSettings):
        raise TypeError(f"sqlite driver needs SqliteSettings, got {type(settings).__name__}")
    return SqliteDriver(Database(settings.path, options))
