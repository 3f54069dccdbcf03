"""Shared helpers for core tests: callers and one-call file creation."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

from cloudfs.core.context import ROOT_CALLER, Caller
from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import ROOT_INO
from cloudfs.drivers.memory import MemoryDriver

MakeFs = Callable[..., Filesystem]

ROOT = ROOT_CALLER
ALICE = Caller(uid=1000, gid=1000)
BOB = Caller(uid=2000, gid=2000)


def make_file(fs: Filesystem, name: bytes, data: bytes = b"", parent: int = ROOT_INO, caller: Caller = ROOT) -> int:
    """Create `name` holding `data`, close it (one driver write) and return its inode."""
    fh, attr = fs.create(parent, name, 0o644, os.O_WRONLY, caller)
    if data:
        fs.write(fh, 0, data)
    fs.release(fh)
    return attr.ino


@dataclass(frozen=True)
class WholeContents:
    """StagedData that replaces a whole file with `data`, to seed a store directly."""

    data: bytes

    @property
    def size(self) -> int:
        """Length of `data`."""
        return len(self.data)

    def dirty_ranges(self) -> list[tuple[int, int]]:
        """All of it."""
        return [(0, len(self.data))] if self.data else []

    def read(self, off: int, size: int) -> bytes:
        """A slice of `data`."""
        return self.data[off : off + size]


def store_file(driver: MemoryDriver, name: bytes, data: bytes) -> int:
    """Create regular file `name` in the store's root holding `data`, bypassing the core."""
    ino = driver.mknod(ROOT_INO, name, stat.S_IFREG | 0o644, 0, 0, 0).ino
    driver.write(ino, WholeContents(data), 0)
    return ino
