"""Contract: hard links, orphans and purge, symlinks, special files."""

from __future__ import annotations

import os
import stat
from errno import EEXIST, EINVAL, ENOENT, EPERM

import pytest

from cloudfs.driver import ROOT_INO, AttrChanges, Driver

from .helpers import GID, UID, fails_with, links_supported, mkdir, mkfile, names, put

MISSING_INO = 2**40 + 17


def test_link_shares_one_inode(driver: Driver) -> None:
    """A hard link is the same inode under another name, with nlink 2 seen through both."""
    f = mkfile(driver, b"a")
    if not links_supported(driver, f.ino):
        return
    d = mkdir(driver, b"d")
    linked = driver.link(f.ino, d.ino, b"b")
    assert (linked.ino, linked.nlink) == (f.ino, 2)
    assert driver.lookup(d.ino, b"b") == driver.lookup(ROOT_INO, b"a") == driver.getattr(f.ino)


def test_changes_show_through_every_name(driver: Driver) -> None:
    """Attribute and data changes made through one name show through the other."""
    f = mkfile(driver, b"a")
    if not links_supported(driver, f.ino):
        return
    driver.link(f.ino, ROOT_INO, b"b")
    driver.setattr(f.ino, AttrChanges(mode=0o600, uid=7))
    put(driver, f.ino, b"shared")
    for name in (b"a", b"b"):
        attr = driver.lookup(ROOT_INO, name)
        assert (attr.mode, attr.uid, attr.size) == (stat.S_IFREG | 0o600, 7, 6)
    assert driver.read(f.ino, 0, 100) == b"shared"


def test_link_to_directory_is_eperm(driver: Driver) -> None:
    """Hard links to directories are EPERM, whatever the capabilities."""
    d = mkdir(driver, b"d")
    with fails_with(EPERM):
        driver.link(d.ino, ROOT_INO, b"e")
    assert driver.getattr(d.ino).nlink == 2
    assert names(driver) == [b"d"]


def test_link_over_existing_name_is_eexist(driver: Driver) -> None:
    """link onto a taken name is EEXIST and leaves nlink alone."""
    f = mkfile(driver, b"a")
    mkfile(driver, b"b")
    if not links_supported(driver, f.ino):
        return
    with fails_with(EEXIST):
        driver.link(f.ino, ROOT_INO, b"b")
    assert driver.getattr(f.ino).nlink == 1


def test_unlink_of_one_link_keeps_the_other(driver: Driver) -> None:
    """Removing one of two names leaves the inode and its data under the other."""
    f = mkfile(driver, b"a")
    if not links_supported(driver, f.ino):
        return
    put(driver, f.ino, b"data")
    driver.link(f.ino, ROOT_INO, b"b")
    after = driver.unlink(ROOT_INO, b"a")
    assert (after.ino, after.nlink) == (f.ino, 1)
    assert driver.lookup(ROOT_INO, b"b").nlink == 1
    assert driver.read(f.ino, 0, 10) == b"data"


def test_unlinked_file_is_an_orphan_until_purge(driver: Driver) -> None:
    """The last unlink leaves an nlink-0 orphan that still reads; purge deletes it, twice is fine."""
    f = mkfile(driver, b"f")
    put(driver, f.ino, b"still here")
    after = driver.unlink(ROOT_INO, b"f")
    assert (after.ino, after.nlink, after.size) == (f.ino, 0, 10)
    assert driver.getattr(f.ino).nlink == 0
    assert driver.read(f.ino, 0, 100) == b"still here"
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"f")
    assert names(driver) == []
    driver.purge(f.ino)
    with fails_with(ENOENT):
        driver.getattr(f.ino)
    driver.purge(f.ino)


def test_purge_of_missing_inode_is_fine(driver: Driver) -> None:
    """purge of an inode that does not exist is a no-op, not an error."""
    driver.purge(MISSING_INO)
    assert driver.getattr(ROOT_INO).nlink == 2


def test_purge_leaves_a_linked_inode_alone(driver: Driver) -> None:
    """purge never deletes an inode that still has a name."""
    f = mkfile(driver, b"f")
    put(driver, f.ino, b"keep")
    driver.purge(f.ino)
    assert driver.lookup(ROOT_INO, b"f").ino == f.ino
    assert driver.read(f.ino, 0, 10) == b"keep"


def test_symlink_stores_its_target(driver: Driver) -> None:
    """A symlink has mode 0o120777, size = target length, and readlink gives the target bytes."""
    target = b"../some/where/\xff\xfe"
    if not driver.capabilities.symlinks:
        with fails_with(EPERM):
            driver.symlink(ROOT_INO, b"s", target, UID, GID)
        assert names(driver) == []
        return
    s = driver.symlink(ROOT_INO, b"s", target, UID, GID)
    assert (s.mode, s.nlink, s.size, s.uid, s.gid) == (stat.S_IFLNK | 0o777, 1, len(target), UID, GID)
    assert driver.readlink(s.ino) == target
    assert driver.lookup(ROOT_INO, b"s") == s


def test_symlink_over_existing_name_is_eexist(driver: Driver) -> None:
    """symlink onto a taken name is EEXIST (EPERM where symlinks are unsupported)."""
    mkfile(driver, b"f")
    refusal = EEXIST if driver.capabilities.symlinks else EPERM
    with fails_with(refusal):
        driver.symlink(ROOT_INO, b"f", b"target", UID, GID)
    assert stat.S_ISREG(driver.lookup(ROOT_INO, b"f").mode)


def test_readlink_of_non_symlink_is_einval(driver: Driver) -> None:
    """readlink of a file or directory is EINVAL, as readlink(2) gives."""
    f = mkfile(driver, b"f")
    d = mkdir(driver, b"d")
    for ino in (f.ino, d.ino):
        with fails_with(EINVAL):
            driver.readlink(ino)


def test_unlink_of_symlink_removes_only_the_link(driver: Driver) -> None:
    """Unlinking a symlink leaves its target alone."""
    f = mkfile(driver, b"f")
    if not driver.capabilities.symlinks:
        with fails_with(EPERM):
            driver.symlink(ROOT_INO, b"s", b"f", UID, GID)
        return
    driver.symlink(ROOT_INO, b"s", b"f", UID, GID)
    assert driver.unlink(ROOT_INO, b"s").nlink == 0
    assert names(driver) == [b"f"]
    assert driver.getattr(f.ino).nlink == 1


@pytest.mark.parametrize(
    ("kind", "rdev"),
    [
        (stat.S_IFIFO, 0),
        (stat.S_IFSOCK, 0),
        (stat.S_IFCHR, os.makedev(1, 3)),
        (stat.S_IFBLK, os.makedev(8, 1)),
    ],
    ids=["fifo", "socket", "char", "block"],
)
def test_mknod_special_file(driver: Driver, kind: int, rdev: int) -> None:
    """FIFOs, sockets and devices keep their type and rdev; EPERM where special files are unsupported."""
    if not driver.capabilities.special_files:
        with fails_with(EPERM):
            driver.mknod(ROOT_INO, b"node", kind | 0o600, rdev, UID, GID)
        assert names(driver) == []
        return
    node = driver.mknod(ROOT_INO, b"node", kind | 0o600, rdev, UID, GID)
    assert (node.mode, node.rdev, node.nlink, node.size) == (kind | 0o600, rdev, 1, 0)
    assert driver.lookup(ROOT_INO, b"node") == node
    assert driver.unlink(ROOT_INO, b"node").nlink == 0
