"""The transaction interface an inode store implements for the shared model (layer: inode-store model).

The model runs every protocol call as a function of one `Transaction`, which
the store commits whole or not at all. Reads inside a transaction may come
from what the store already knows (an optimistic attempt); every write is
conditional on what was read, so a commit fails with `Conflict` when another
writer got there first, and `Store.run` runs the function again on fresh
reads. A store with real transactions (SQLite) never conflicts.

Rules for stores:
- `update_inode`/`delete_inode` commit only if the inode still has the
  version it was read with; entry writes only if the entry still names
  what was read (absent for `add_entry`).
- `touch_dir` is commutative (times set, nlink and version added), so two
  hosts adding entries to one directory do not conflict with each other; it
  still fails if the directory was deleted meanwhile.
- Several writes to one inode in a transaction merge into one change.
- File data may be written before the commit: rewriting the same bytes is
  harmless, and a size committed afterwards decides what is visible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from cloudfs.driver import StagedData

from .records import Inode

T = TypeVar("T")


class Conflict(Exception):
    """A commit found the store changed since the transaction read it; the call is run again."""


class Transaction(Protocol):
    """Reads and buffered writes of one call; see the module docstring for the rules."""

    def inode(self, ino: int) -> Inode:
        """The inode `ino`. ENOENT if it does not exist."""

    def entry(self, parent: int, name: bytes) -> int | None:
        """The inode number entry `name` of directory `parent` names, or None."""

    def has_entries(self, ino: int) -> bool:
        """True when directory `ino` has any entry (read fresh: rmdir decides on it)."""

    def new_ino(self) -> int:
        """A number no inode of the store ever had."""

    def insert_inode(self, inode: Inode) -> None:
        """Store a new inode."""

    def update_inode(self, old: Inode, new: Inode) -> None:
        """Replace `old` (as read) with `new` (`old.changed(...)`)."""

    def delete_inode(self, inode: Inode) -> None:
        """Delete an inode with its data and xattrs."""

    def add_entry(self, parent: int, name: bytes, ino: int) -> None:
        """Add entry `name` → `ino` to directory `parent`, which must lack it."""

    def remove_entry(self, parent: int, name: bytes, ino: int) -> None:
        """Remove entry `name` of `parent`, which must still name `ino`."""

    def replace_entry(self, parent: int, name: bytes, old_ino: int, new_ino: int) -> None:
        """Point entry `name` of `parent` from `old_ino` to `new_ino`."""

    def touch_dir(self, ino: int, now_ns: int, nlink_delta: int = 0) -> None:
        """A directory's entries changed: set mtime and ctime, add `nlink_delta` to its nlink."""

    def assume_parent(self, ino: int, parent: int) -> None:
        """Commit only if directory `ino` still lies in `parent` (rename's into-own-subtree check)."""

    def xattrs(self, inode: Inode) -> dict[bytes, bytes]:
        """Extended attributes of `inode`."""

    def set_xattr(self, old: Inode, new: Inode, name: bytes, value: bytes | None) -> None:
        """Set (or, with None, remove) one xattr together with the inode update `old` → `new`."""

    def read_data(self, inode: Inode, off: int, size: int) -> bytes:
        """Up to `size` bytes at `off` of regular file `inode` (as read), holes as zeros."""

    def write_data(self, inode: Inode, new_size: int, data: StagedData | None) -> None:
        """Store `data`'s dirty ranges (None: none) and cut or extend the contents to `new_size`.

        `inode` is the file as read; the caller updates its size in the same
        transaction. `data.read` covers `[0, data.size)`; bytes past it are zeros.
        """


class Store(Protocol):
    """An inode store: runs transactions, answers whole-directory reads, and knows its capacity."""

    def run(self, what: str, fn: Callable[[Transaction], T]) -> T:
        """Run `fn` in a transaction and commit; on `Conflict` run it again on fresh reads, a bounded number of times.

        An FsError from `fn` on an optimistic attempt is checked on fresh
        reads before it is raised.
        """

    def read(self, what: str, fn: Callable[[Transaction], T], fresh: bool = True) -> T:
        """Run `fn` and commit nothing: on fresh reads, or on recent cached ones (an errno is then checked fresh).

        How recent is the store's choice; it is at most what the core's own
        attribute cache allows.
        """

    def listing(self, parent: int) -> Iterable[tuple[bytes, Inode]]:
        """Entries of directory `parent` with their inodes, sorted by name."""

    def purge(self, ino: int) -> bool:
        """Delete inode `ino` if its nlink is 0, with data and xattrs; True if it went."""

    def usage(self) -> tuple[int, int, int, int]:
        """(total bytes, free bytes, inodes used, inodes free) for statfs."""

    def close(self) -> None:
        """Release the store; it is not used again."""
