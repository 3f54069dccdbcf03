"""SqliteStore: the inode store in one SQLite file that the shared model runs on (layer: sqlite driver).

Each call is one `BEGIN IMMEDIATE` transaction (`Database.write`): SQLite
runs one writer at a time and only one mount holds the file, so a
transaction never conflicts and its writes go straight into SQL. Inode
numbers continue the table's AUTOINCREMENT sequence: persistent and never
reused.
"""

from __future__ import annotations

import errno
import sqlite3
import stat
from collections.abc import Callable
from typing import TypeVar

from cloudfs.driver import ROOT_INO, StagedData
from cloudfs.errors import FsError

from ..inodestore.records import Inode
from ..inodestore.txn import Transaction
from . import blocks
from .database import Database

T = TypeVar("T")

_COLS = "ino, mode, uid, gid, nlink, atime_ns, mtime_ns, ctime_ns, size, rdev, target, version"
# Rough bytes one more inode costs in the file (row, dentry, index entries).
_INODE_COST = 512


def _inode(row: tuple, parent: int | None = None) -> Inode:
    """An Inode from a row of `_COLS`."""
    *numbers, target, version = row
    return Inode(*numbers, parent=parent, target=None if target is None else bytes(target), version=version)


class SqliteTransaction:
    """Implements `inodestore.txn.Transaction` inside one open SQLite transaction (or read)."""

    def __init__(self, db: sqlite3.Connection, block_size: int) -> None:
        """Work on connection `db`, whose file keeps blocks of `block_size` bytes."""
        self.db = db
        self.block_size = block_size

    def inode(self, ino: int) -> Inode:
        """The inode `ino` (a directory with its parent); ENOENT if absent."""
        row = self.db.execute(f"SELECT {_COLS} FROM inodes WHERE ino = ?", (ino,)).fetchone()
        if row is None:
            raise FsError(errno.ENOENT, f"inode {ino} does not exist")
        parent = None
        if stat.S_ISDIR(row[1]):
            found = self.db.execute("SELECT parent FROM dentries WHERE ino = ? LIMIT 1", (ino,)).fetchone()
            parent = ROOT_INO if found is None else found[0]
        return _inode(row, parent)

    def entry(self, parent: int, name: bytes) -> int | None:
        """The inode entry `name` of `parent` names, or None."""
        row = self.db.execute("SELECT ino FROM dentries WHERE parent = ? AND name = ?", (parent, name)).fetchone()
        return None if row is None else row[0]

    def has_entries(self, ino: int) -> bool:
        """True when directory `ino` has an entry."""
        return self.db.execute("SELECT 1 FROM dentries WHERE parent = ? LIMIT 1", (ino,)).fetchone() is not None

    def new_ino(self) -> int:
        """The next number of the AUTOINCREMENT sequence (one new inode per call, as the model makes)."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'inodes'").fetchone()
        return (row[0] if row else ROOT_INO) + 1

    def insert_inode(self, inode: Inode) -> None:
        """Insert a new inode row."""
        self.db.execute(
            f"INSERT INTO inodes ({_COLS}) VALUES ({', '.join('?' * 12)})",
            (inode.ino, inode.mode, inode.uid, inode.gid, inode.nlink, inode.atime_ns, inode.mtime_ns,
             inode.ctime_ns, inode.size, inode.rdev, inode.target, inode.version),
        )  # fmt: skip

    def update_inode(self, old: Inode, new: Inode) -> None:
        """Rewrite the inode's row (the single writer needs no condition)."""
        self.db.execute(
            "UPDATE inodes SET mode = ?, uid = ?, gid = ?, nlink = ?, atime_ns = ?, mtime_ns = ?, ctime_ns = ?,"
            " size = ?, rdev = ?, target = ?, version = ? WHERE ino = ?",
            (new.mode, new.uid, new.gid, new.nlink, new.atime_ns, new.mtime_ns, new.ctime_ns, new.size,
             new.rdev, new.target, new.version, old.ino),
        )  # fmt: skip

    def delete_inode(self, inode: Inode) -> None:
        """Delete the row; blocks and xattrs cascade."""
        self.db.execute("DELETE FROM inodes WHERE ino = ?", (inode.ino,))

    def add_entry(self, parent: int, name: bytes, ino: int) -> None:
        """Insert a dentry."""
        self.db.execute("INSERT INTO dentries (parent, name, ino) VALUES (?, ?, ?)", (parent, name, ino))

    def remove_entry(self, parent: int, name: bytes, ino: int) -> None:
        """Delete a dentry."""
        self.db.execute("DELETE FROM dentries WHERE parent = ? AND name = ?", (parent, name))

    def replace_entry(self, parent: int, name: bytes, old_ino: int, new_ino: int) -> None:
        """Point a dentry at another inode."""
        self.db.execute("UPDATE dentries SET ino = ? WHERE parent = ? AND name = ?", (new_ino, parent, name))

    def touch_dir(self, ino: int, now_ns: int, nlink_delta: int = 0) -> None:
        """Set a directory's mtime and ctime and add to its nlink."""
        self.db.execute(
            "UPDATE inodes SET mtime_ns = ?, ctime_ns = ?, nlink = nlink + ?, version = version + 1 WHERE ino = ?",
            (now_ns, now_ns, nlink_delta, ino),
        )

    def assume_parent(self, ino: int, parent: int) -> None:
        """Nothing to check: no other writer can move a directory meanwhile."""

    def xattrs(self, inode: Inode) -> dict[bytes, bytes]:
        """The inode's extended attributes."""
        rows = self.db.execute("SELECT name, value FROM xattrs WHERE ino = ?", (inode.ino,))
        return {bytes(name): bytes(value) for name, value in rows}

    def set_xattr(self, old: Inode, new: Inode, name: bytes, value: bytes | None) -> None:
        """Set or remove one xattr row, and update the inode."""
        if value is None:
            self.db.execute("DELETE FROM xattrs WHERE ino = ? AND name = ?", (old.ino, name))
        else:
            self.db.execute("INSERT OR REPLACE INTO xattrs (ino, name, value) VALUES (?, ?, ?)", (old.ino, name, value))
        self.update_inode(old, new)

    def read_data(self, inode: Inode, off: int, size: int) -> bytes:
        """Bytes from the blocks table."""
        return blocks.read_range(self.db, inode.ino, inode.size, off, size, self.block_size)

    def write_data(self, inode: Inode, new_size: int, data: StagedData | None) -> None:
        """Rewrite the blocks `data` dirtied and cut the file to `new_size`."""
        if data is not None:
            blocks.store_staged(self.db, inode.ino, data, self.block_size, new_size)
        elif new_size < inode.size:
            blocks.truncate(self.db, inode.ino, new_size, self.block_size, frozenset())


class SqliteStore:
    """Implements `inodestore.txn.Store` on an open `Database`."""

    def __init__(self, database: Database) -> None:
        """Serve the open, locked `database`."""
        self.database = database
        self.block_size = database.block_size

    def run(self, what: str, fn: Callable[[Transaction], T]) -> T:
        """Run `fn` in one BEGIN IMMEDIATE transaction; any exception rolls it back."""
        with self.database.write() as db:
            return fn(SqliteTransaction(db, self.block_size))

    def read(self, what: str, fn: Callable[[Transaction], T], fresh: bool = True) -> T:
        """Run `fn` on the connection; every read here is fresh."""
        with self.database.read() as db:
            return fn(SqliteTransaction(db, self.block_size))

    def listing(self, parent: int) -> list[tuple[bytes, Inode]]:
        """Entries of `parent` joined with their inodes, sorted by name. ENOENT, ENOTDIR."""
        cols = ", ".join(f"i.{c.strip()}" for c in _COLS.split(","))
        with self.database.read() as db:
            directory = SqliteTransaction(db, self.block_size).inode(parent)
            if not directory.is_dir:
                raise FsError(errno.ENOTDIR, f"inode {parent} is not a directory")
            rows = db.execute(
                f"SELECT d.name, {cols} FROM dentries d JOIN inodes i ON i.ino = d.ino"
                " WHERE d.parent = ? ORDER BY d.name",
                (parent,),
            ).fetchall()
        return [(bytes(row[0]), _inode(row[1:])) for row in rows]

    def purge(self, ino: int) -> bool:
        """Delete an nlink-0 inode with its blocks and xattrs."""
        with self.database.write() as db:
            return db.execute("DELETE FROM inodes WHERE ino = ? AND nlink = 0", (ino,)).rowcount > 0

    def usage(self) -> tuple[int, int, int, int]:
        """Space the database can still take (see `Database.space`); free inodes estimated from it."""
        total, free = self.database.space()
        with self.database.read() as db:
            used = db.execute("SELECT count(*) FROM inodes").fetchone()[0]
        return total, free, used, free // _INODE_COST

    def close(self) -> None:
        """Close the database and release the single-mount lock."""
        self.database.close()
