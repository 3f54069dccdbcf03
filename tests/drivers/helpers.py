"""Small helpers shared by the contract tests: creating nodes, expecting errnos, waiting for the clock."""

from __future__ import annotations

import errno
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from errno import ENOENT, ENOTSUP, EPERM

import pytest

from cloudfs.driver import ROOT_INO, Attr, Driver
from cloudfs.errors import FsError

from .staging import Staged

UID = 1000
GID = 1000
# A fixed past instant, well before any test runs, for times set explicitly.
PAST_NS = 1_000_000_000_123_456_789


@contextmanager
def fails_with(code: int) -> Iterator[None]:
    """Expect the block to raise FsError with exactly errno `code`."""
    with pytest.raises(FsError) as info:
        yield
    got = errno.errorcode.get(info.value.errno, info.value.errno)
    assert info.value.errno == code, f"expected {errno.errorcode[code]}, got {got}: {info.value}"


def mkfile(driver: Driver, name: bytes, parent: int = ROOT_INO, mode: int = 0o644) -> Attr:
    """Create an empty regular file."""
    return driver.mknod(parent, name, stat.S_IFREG | mode, 0, UID, GID)


def mkdir(driver: Driver, name: bytes, parent: int = ROOT_INO, mode: int = 0o755) -> Attr:
    """Create a directory."""
    return driver.mknod(parent, name, stat.S_IFDIR | mode, 0, UID, GID)


def put(driver: Driver, ino: int, data: bytes, mtime_ns: int = PAST_NS) -> Attr:
    """Replace a file's whole contents."""
    return driver.write(ino, Staged().write(0, data) if data else Staged(), mtime_ns)


def names(driver: Driver, parent: int = ROOT_INO) -> list[bytes]:
    """Sorted entry names of `parent`."""
    return sorted(name for name, _ in driver.readdir(parent))


def wait_past(*attrs: Attr) -> int:
    """Wait until the clock passes every time in `attrs`, and return that instant.

    A time set after this returns is then distinguishable from the old ones,
    without asserting anything about how long an operation takes.
    """
    latest = max(max(a.atime_ns, a.mtime_ns, a.ctime_ns) for a in attrs)
    while (now := time.time_ns()) <= latest:
        time.sleep(0.0001)
    return now


def pattern(size: int, seed: int = 1) -> bytes:
    """`size` bytes that differ at every offset within a 251-byte period, so misplaced bytes show."""
    period = bytes((i * 7 + seed) % 251 for i in range(251))
    return (period * (size // 251 + 1))[:size]


def links_supported(driver: Driver, ino: int) -> bool:
    """True if the driver has hard links; otherwise check it refuses one with EPERM."""
    if driver.capabilities.hard_links:
        return True
    with fails_with(EPERM):
        driver.link(ino, ROOT_INO, b"refused-link")
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"refused-link")
    assert driver.getattr(ino).nlink == 1
    return False


def xattrs_supported(driver: Driver, ino: int) -> bool:
    """True if the driver has xattrs; otherwise check it refuses them with ENOTSUP."""
    if driver.capabilities.xattrs:
        return True
    for call, args in (
        (driver.setxattr, (ino, b"user.k", b"v", 0)),
        (driver.getxattr, (ino, b"user.k")),
        (driver.listxattr, (ino,)),
        (driver.removexattr, (ino, b"user.k")),
    ):
        with fails_with(ENOTSUP):
            call(*args)
    return False
