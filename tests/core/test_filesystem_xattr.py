"""Filesystem extended attributes and capability refusals: namespaces, size limit, narrowed stores."""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from pathlib import Path

import pytest

from cloudfs.core.context import MountSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import ROOT_INO, XATTR_CREATE
from cloudfs.drivers.memory import FULL_CAPABILITIES, MemoryDriver
from cloudfs.errors import FsError

from .helpers import ROOT, make_file

ACL = b"system.posix_acl_access"


def test_user_xattr_round_trip(fs: Filesystem) -> None:
    """A user.* attribute can be set, read, listed and removed."""
    ino = make_file(fs, b"f")
    fs.setxattr(ino, b"user.color", b"blue")
    assert fs.getxattr(ino, b"user.color") == b"blue"
    assert fs.listxattr(ino) == [b"user.color"]
    fs.removexattr(ino, b"user.color")
    with pytest.raises(FsError) as exc:
        fs.getxattr(ino, b"user.color")
    assert exc.value.errno == errno.ENODATA


def test_xattr_create_flag_reaches_the_driver(fs: Filesystem) -> None:
    """XATTR_CREATE on an existing attribute fails with EEXIST."""
    ino = make_file(fs, b"f")
    fs.setxattr(ino, b"user.a", b"1")
    with pytest.raises(FsError) as exc:
        fs.setxattr(ino, b"user.a", b"2", XATTR_CREATE)
    assert exc.value.errno == errno.EEXIST


@pytest.mark.parametrize("op", ["get", "set", "remove"])
def test_posix_acl_namespace_is_eopnotsupp(fs: Filesystem, driver: MemoryDriver, op: str) -> None:
    """system.posix_acl_access is refused with EOPNOTSUPP without asking the store, so tools fall back to chmod."""
    ino = make_file(fs, b"f")
    driver.calls.clear()
    calls = {
        "get": lambda: fs.getxattr(ino, ACL),
        "set": lambda: fs.setxattr(ino, ACL, b"\x02\0\0\0"),
        "remove": lambda: fs.removexattr(ino, ACL),
    }
    with pytest.raises(FsError) as exc:
        calls[op]()
    assert exc.value.errno == errno.EOPNOTSUPP
    assert sum(driver.calls.values()) == 0


def test_xattr_value_over_limit_is_e2big(fs: Filesystem, driver: MemoryDriver) -> None:
    """A value one byte over max_xattr_value is E2BIG before the store; exactly the limit is fine."""
    ino = make_file(fs, b"f")
    limit = fs.caps.max_xattr_value
    with pytest.raises(FsError) as exc:
        fs.setxattr(ino, b"user.big", bytes(limit + 1))
    assert exc.value.errno == errno.E2BIG
    assert driver.calls["setxattr"] == 0
    fs.setxattr(ino, b"user.big", bytes(limit))
    assert len(fs.getxattr(ino, b"user.big")) == limit


@pytest.fixture
def minimal(tmp_path: Path) -> Filesystem:
    """A Filesystem over a memory store narrowed to a plain object store's capabilities."""
    caps = dataclasses.replace(
        FULL_CAPABILITIES, hard_links=False, symlinks=False, special_files=False, xattrs=False, max_name_len=10
    )
    return Filesystem(MemoryDriver(capabilities=caps), MountSettings(spool_dir=str(tmp_path / "spool")))


def test_missing_capabilities_refused_before_the_store(minimal: Filesystem) -> None:
    """Hard links, symlinks and FIFOs are EPERM and xattrs ENOTSUP when the store lacks them."""
    ino = make_file(minimal, b"f")
    minimal.driver.calls.clear()
    refusals = [
        (errno.EPERM, lambda: minimal.link(ino, ROOT_INO, b"g", ROOT)),
        (errno.EPERM, lambda: minimal.symlink(ROOT_INO, b"l", b"f", ROOT)),
        (errno.EPERM, lambda: minimal.mknod(ROOT_INO, b"p", stat.S_IFIFO | 0o644, 0, ROOT)),
        (errno.ENOTSUP, lambda: minimal.setxattr(ino, b"user.a", b"v")),
        (errno.ENOTSUP, lambda: minimal.getxattr(ino, b"user.a")),
    ]
    for expected, call in refusals:
        with pytest.raises(FsError) as exc:
            call()
        assert exc.value.errno == expected
    assert minimal.listxattr(ino) == []
    assert sum(minimal.driver.calls.values()) == 0


def test_store_name_limit_is_enforced(minimal: Filesystem) -> None:
    """A store's smaller max_name_len makes longer names ENAMETOOLONG."""
    with pytest.raises(FsError) as exc:
        minimal.create(ROOT_INO, b"a" * 11, 0o644, os.O_WRONLY, ROOT)
    assert exc.value.errno == errno.ENAMETOOLONG
    make_file(minimal, b"a" * 10)
