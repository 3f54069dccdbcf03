"""Contract: extended attributes, their flags and errnos."""

from __future__ import annotations

from errno import EEXIST, ENODATA

from cloudfs.driver import ROOT_INO, XATTR_CREATE, XATTR_REPLACE, Driver

from .helpers import fails_with, mkdir, mkfile, xattrs_supported


def test_set_get_and_list(driver: Driver) -> None:
    """Values are bytes (NULs included); listxattr names every attribute."""
    f = mkfile(driver, b"f")
    if not xattrs_supported(driver, f.ino):
        return
    assert driver.listxattr(f.ino) == []
    driver.setxattr(f.ino, b"user.a", b"1", 0)
    driver.setxattr(f.ino, b"user.b", b"\0\xff binary\0", 0)
    assert driver.getxattr(f.ino, b"user.a") == b"1"
    assert driver.getxattr(f.ino, b"user.b") == b"\0\xff binary\0"
    assert sorted(driver.listxattr(f.ino)) == [b"user.a", b"user.b"]


def test_set_without_flags_creates_or_replaces(driver: Driver) -> None:
    """flags 0 creates or replaces."""
    f = mkfile(driver, b"f")
    if not xattrs_supported(driver, f.ino):
        return
    driver.setxattr(f.ino, b"user.k", b"one", 0)
    driver.setxattr(f.ino, b"user.k", b"two", 0)
    assert driver.getxattr(f.ino, b"user.k") == b"two"
    assert driver.listxattr(f.ino) == [b"user.k"]


def test_create_flag_refuses_an_existing_name(driver: Driver) -> None:
    """XATTR_CREATE on an existing name is EEXIST and keeps the value."""
    f = mkfile(driver, b"f")
    if not xattrs_supported(driver, f.ino):
        return
    driver.setxattr(f.ino, b"user.k", b"one", XATTR_CREATE)
    with fails_with(EEXIST):
        driver.setxattr(f.ino, b"user.k", b"two", XATTR_CREATE)
    assert driver.getxattr(f.ino, b"user.k") == b"one"


def test_replace_flag_refuses_a_missing_name(driver: Driver) -> None:
    """XATTR_REPLACE on a missing name is ENODATA; on an existing one it replaces."""
    f = mkfile(driver, b"f")
    if not xattrs_supported(driver, f.ino):
        return
    with fails_with(ENODATA):
        driver.setxattr(f.ino, b"user.k", b"one", XATTR_REPLACE)
    assert driver.listxattr(f.ino) == []
    driver.setxattr(f.ino, b"user.k", b"one", 0)
    driver.setxattr(f.ino, b"user.k", b"two", XATTR_REPLACE)
    assert driver.getxattr(f.ino, b"user.k") == b"two"


def test_missing_name_is_enodata(driver: Driver) -> None:
    """getxattr and removexattr of a missing name are ENODATA."""
    f = mkfile(driver, b"f")
    if not xattrs_supported(driver, f.ino):
        return
    driver.setxattr(f.ino, b"user.other", b"x", 0)
    with fails_with(ENODATA):
        driver.getxattr(f.ino, b"user.k")
    with fails_with(ENODATA):
        driver.removexattr(f.ino, b"user.k")


def test_remove(driver: Driver) -> None:
    """removexattr drops exactly the named attribute."""
    f = mkfile(driver, b"f")
    if not xattrs_supported(driver, f.ino):
        return
    driver.setxattr(f.ino, b"user.a", b"1", 0)
    driver.setxattr(f.ino, b"user.b", b"2", 0)
    driver.removexattr(f.ino, b"user.a")
    assert driver.listxattr(f.ino) == [b"user.b"]
    with fails_with(ENODATA):
        driver.getxattr(f.ino, b"user.a")


def test_values_up_to_the_maximum_and_empty(driver: Driver) -> None:
    """A value of max_xattr_value bytes and an empty value both round-trip."""
    f = mkfile(driver, b"f")
    if not xattrs_supported(driver, f.ino):
        return
    biggest = bytes(range(256)) * (driver.capabilities.max_xattr_value // 256 + 1)
    biggest = biggest[: driver.capabilities.max_xattr_value]
    driver.setxattr(f.ino, b"user.big", biggest, 0)
    driver.setxattr(f.ino, b"user.empty", b"", 0)
    assert driver.getxattr(f.ino, b"user.big") == biggest
    assert driver.getxattr(f.ino, b"user.empty") == b""


def test_xattrs_belong_to_the_inode(driver: Driver) -> None:
    """Xattrs are per inode (files, directories, root) and move with a rename."""
    f = mkfile(driver, b"f")
    d = mkdir(driver, b"d")
    if not xattrs_supported(driver, f.ino):
        return
    driver.setxattr(f.ino, b"user.k", b"file", 0)
    driver.setxattr(d.ino, b"user.k", b"dir", 0)
    driver.setxattr(ROOT_INO, b"user.k", b"root", 0)
    assert [driver.getxattr(i, b"user.k") for i in (f.ino, d.ino, ROOT_INO)] == [b"file", b"dir", b"root"]
    driver.rename(ROOT_INO, b"f", d.ino, b"g")
    assert driver.getxattr(f.ino, b"user.k") == b"file"
