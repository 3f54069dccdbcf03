"""The inode record an inode store reads and writes (layer: inode-store model).

An `Inode` is a snapshot: `version` is the store's change counter as read, so
a store with optimistic locking can make the update conditional on it. A new
inode, not yet stored, has version 0.
"""

from __future__ import annotations

import dataclasses
import stat
from dataclasses import dataclass

from cloudfs.driver import Attr


@dataclass(frozen=True, slots=True)
class Inode:
    """One inode as a store holds it; `parent` is set on directories only (the root's is itself)."""

    ino: int
    mode: int
    uid: int
    gid: int
    nlink: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    size: int = 0
    rdev: int = 0
    parent: int | None = None
    target: bytes | None = None
    version: int = 0

    @property
    def is_dir(self) -> bool:
        """True for a directory."""
        return stat.S_ISDIR(self.mode)

    def attr(self) -> Attr:
        """The protocol's view of this inode."""
        return Attr(
            ino=self.ino,
            mode=self.mode,
            nlink=self.nlink,
            uid=self.uid,
            gid=self.gid,
            size=self.size,
            atime_ns=self.atime_ns,
            mtime_ns=self.mtime_ns,
            ctime_ns=self.ctime_ns,
            rdev=self.rdev,
        )

    def changed(self, **fields: object) -> Inode:
        """This inode with `fields` replaced and the next version: what an update stores."""
        return dataclasses.replace(self, version=self.version + 1, **fields)  # type: ignore[arg-type]
