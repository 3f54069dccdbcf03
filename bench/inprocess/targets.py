"""What the in-process benchmarks measure: a driver of one store kind, alone or under the core."""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

from cloudfs.core.context import ROOT_CALLER, MountSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import ROOT_INO, Attr, Driver, DriverSettings
from cloudfs.drivers.memory import MemoryDriver
from cloudfs.drivers.s3.driver import S3Driver
from cloudfs.drivers.s3.layout import Defaults
from cloudfs.drivers.sqlite import SPEC as SQLITE
from tests.drivers.staging import Staged
from tests.s3.fake_store import FakeStore

KINDS = ["memory", "sqlite", "s3"]


def open_driver(kind: str, tmp_path: Path) -> Driver:
    """A new, empty driver of `kind`: in memory, on an SQLite file in `tmp_path`, or S3 on a FakeStore."""
    if kind == "memory":
        return MemoryDriver()
    if kind == "sqlite":
        driver: Driver = SQLITE.open(SQLITE.parse(str(tmp_path / "fs.db")), DriverSettings())
        return driver
    # An hour's TTL keeps the root's listing fresh for a whole run, so a create needs no lookup request.
    return S3Driver(FakeStore(), Defaults(uid=0, gid=0, umask=0o022), ttl=3600.0)


class Target:
    """One benchmark's subject: a driver of one kind, called directly or through a `Filesystem` (`fs`).

    Each method is one operation as a mount performs it, in the root directory.
    """

    def __init__(self, kind: str, layer: str, tmp_path: Path, **settings: float) -> None:
        """A fresh driver of `kind`; with `layer` "core", a Filesystem over it with MountSettings `settings`."""
        self.driver = open_driver(kind, tmp_path)
        spool = str(tmp_path / "spool")
        self.fs = Filesystem(self.driver, MountSettings(spool_dir=spool, **settings)) if layer == "core" else None
        self._names = (b"n%07d" % i for i in itertools.count())

    def name(self) -> bytes:
        """A name not used before."""
        return next(self._names)

    def lookup(self, name: bytes) -> Attr | None:
        """Look `name` up in the root."""
        if self.fs is None:
            return self.driver.lookup(ROOT_INO, name)
        return self.fs.lookup(ROOT_INO, name, ROOT_CALLER, remember=False)

    def create(self) -> int:
        """Create an empty regular file; through the core that is create(2) and close(2)."""
        if self.fs is None:
            return self.driver.mknod(ROOT_INO, self.name(), stat.S_IFREG | 0o644, 0, 0, 0).ino
        fh, attr = self.fs.create(ROOT_INO, self.name(), 0o644, os.O_WRONLY, ROOT_CALLER)
        self.fs.release(fh)
        return attr.ino

    def write_file(self, data: bytes) -> int:
        """Create a file holding `data` and write it back: create, write, flush and close through the core."""
        if self.fs is None:
            return self.seed(data)
        fh, attr = self.fs.create(ROOT_INO, self.name(), 0o644, os.O_WRONLY, ROOT_CALLER)
        self.fs.write(fh, 0, data)
        self.fs.flush(fh)
        self.fs.release(fh)
        return attr.ino

    def list_root(self) -> int:
        """Read the whole root directory (opendir, readdir from 0, releasedir); returns the entry count."""
        if self.fs is None:
            return len(self.driver.readdir(ROOT_INO))
        fh = self.fs.opendir(ROOT_INO, ROOT_CALLER)
        count = sum(1 for _ in self.fs.readdir(fh, 0))
        self.fs.releasedir(fh)
        return count

    def open(self, ino: int) -> int:
        """A read-only handle on `ino` through the core (the driver needs none: returns `ino`)."""
        return ino if self.fs is None else self.fs.open(ino, os.O_RDONLY, ROOT_CALLER)

    def read(self, handle: int, size: int) -> bytes:
        """Read `size` bytes at offset 0 of `handle` (an inode for a bare driver)."""
        if self.fs is None:
            return self.driver.read(handle, 0, size)
        return self.fs.read(handle, 0, size)

    def seed(self, data: bytes, name: bytes | None = None) -> int:
        """A new file holding `data`, written through the driver alone: mknod and write."""
        attr = self.driver.mknod(ROOT_INO, name or self.name(), stat.S_IFREG | 0o644, 0, 0, 0)
        self.driver.write(attr.ino, Staged().write(0, data), attr.mtime_ns)
        return attr.ino

    def forget_metadata(self) -> None:
        """Drop the S3 driver's metadata cache, so the next lookup or listing sends its request."""
        if isinstance(self.driver, S3Driver):
            self.driver.cache.clear()

    def forget_data(self, ino: int) -> None:
        """Drop the cached bytes of `ino` (the core's read cache, the S3 driver's readahead buffer)."""
        if isinstance(self.driver, S3Driver):
            self.driver.reader.drop(ino)
        if self.fs is not None:
            self.fs.files.read_cache.invalidate(ino)

    def close(self) -> None:
        """Flush and close, as an unmount does."""
        if self.fs is None:
            self.driver.close()
        else:
            self.fs.shutdown()
