"""Contract: POSIX time rules. Each test waits for the clock to pass the old times first.

Entry changes set the directory's mtime and ctime; metadata changes set the
inode's ctime; write sets mtime = ctime = the given time; reads change nothing.
"""

from __future__ import annotations

import dataclasses

from cloudfs.driver import ROOT_INO, XATTR_CREATE, Attr, AttrChanges, Driver

from .helpers import GID, PAST_NS, UID, links_supported, mkdir, mkfile, put, wait_past, xattrs_supported
from .staging import Staged


def assert_dir_touched(driver: Driver, ino: int, since: int) -> None:
    """The directory's mtime and ctime were set together, at or after `since`."""
    attr = driver.getattr(ino)
    assert attr.mtime_ns == attr.ctime_ns >= since


def assert_ctime_only(driver: Driver, before: Attr, since: int, **changed: int) -> None:
    """Only ctime (set at or after `since`) and the named fields differ from `before`."""
    after = driver.getattr(before.ino)
    assert after.ctime_ns >= since
    assert after == dataclasses.replace(before, ctime_ns=after.ctime_ns, **changed)


def test_create_sets_all_times_and_touches_the_parent(driver: Driver) -> None:
    """Creation sets the new inode's three times to now and the parent's mtime and ctime."""
    since = wait_past(driver.getattr(ROOT_INO))
    for attr in (mkfile(driver, b"f"), mkdir(driver, b"d")):
        assert attr.atime_ns == attr.mtime_ns == attr.ctime_ns >= since
    assert_dir_touched(driver, ROOT_INO, since)


def test_symlink_or_mknod_touches_the_parent(driver: Driver) -> None:
    """Creating a symlink (or a file without them) sets the parent's mtime and ctime."""
    d = mkdir(driver, b"d")
    since = wait_past(d)
    if driver.capabilities.symlinks:
        driver.symlink(d.ino, b"s", b"target", UID, GID)
    else:
        mkfile(driver, b"s", parent=d.ino)
    assert_dir_touched(driver, d.ino, since)


def test_unlink_touches_parent_and_inode_ctime(driver: Driver) -> None:
    """unlink sets the parent's mtime/ctime and the inode's ctime only."""
    d = mkdir(driver, b"d")
    f = mkfile(driver, b"f", parent=d.ino)
    since = wait_past(driver.getattr(d.ino), f)
    driver.unlink(d.ino, b"f")
    assert_dir_touched(driver, d.ino, since)
    assert_ctime_only(driver, f, since, nlink=0)


def test_rmdir_touches_the_parent(driver: Driver) -> None:
    """rmdir sets the parent's mtime and ctime."""
    d = mkdir(driver, b"d")
    mkdir(driver, b"e", parent=d.ino)
    since = wait_past(driver.getattr(d.ino))
    driver.rmdir(d.ino, b"e")
    assert_dir_touched(driver, d.ino, since)


def test_link_touches_new_parent_and_inode_ctime(driver: Driver) -> None:
    """link sets the new parent's mtime/ctime and the inode's ctime only."""
    d = mkdir(driver, b"d")
    f = mkfile(driver, b"f")
    if not links_supported(driver, f.ino):
        return
    since = wait_past(driver.getattr(d.ino), f)
    driver.link(f.ino, d.ino, b"g")
    assert_dir_touched(driver, d.ino, since)
    assert_ctime_only(driver, f, since, nlink=2)


def test_rename_touches_both_parents_and_the_inode_ctime(driver: Driver) -> None:
    """rename sets both parents' mtime/ctime and the moved inode's ctime only."""
    p1 = mkdir(driver, b"p1")
    p2 = mkdir(driver, b"p2")
    f = mkfile(driver, b"f", parent=p1.ino)
    since = wait_past(driver.getattr(p1.ino), driver.getattr(p2.ino), f)
    driver.rename(p1.ino, b"f", p2.ino, b"g")
    assert_dir_touched(driver, p1.ino, since)
    assert_dir_touched(driver, p2.ino, since)
    assert_ctime_only(driver, f, since)


def test_rename_onto_the_same_inode_changes_no_time(driver: Driver) -> None:
    """The same-inode rename no-op changes no time either."""
    f = mkfile(driver, b"f")
    root = driver.getattr(ROOT_INO)
    wait_past(root, f)
    driver.rename(ROOT_INO, b"f", ROOT_INO, b"f")
    assert driver.getattr(ROOT_INO) == root
    assert driver.getattr(f.ino) == f


def test_setattr_sets_ctime(driver: Driver) -> None:
    """setattr sets ctime besides the changed field."""
    f = mkfile(driver, b"f")
    since = wait_past(f)
    driver.setattr(f.ino, AttrChanges(gid=77))
    assert_ctime_only(driver, f, since, gid=77)


def test_truncate_that_changes_the_size_sets_mtime(driver: Driver) -> None:
    """truncate(2) that changes the size sets mtime as well (POSIX; the kernel sends only the size)."""
    f = mkfile(driver, b"f")
    before = put(driver, f.ino, b"0123456789", mtime_ns=PAST_NS)
    since = wait_past(driver.getattr(f.ino))
    after = driver.setattr(f.ino, AttrChanges(size=3))
    assert after.mtime_ns == after.ctime_ns >= since
    assert after.atime_ns == before.atime_ns


def test_setxattr_and_removexattr_set_ctime(driver: Driver) -> None:
    """Changing xattrs is a metadata change: ctime only."""
    f = mkfile(driver, b"f")
    if not xattrs_supported(driver, f.ino):
        return
    since = wait_past(f)
    driver.setxattr(f.ino, b"user.k", b"v", XATTR_CREATE)
    assert_ctime_only(driver, f, since)
    changed = driver.getattr(f.ino)
    since = wait_past(changed)
    driver.removexattr(f.ino, b"user.k")
    assert_ctime_only(driver, changed, since)


def test_write_sets_mtime_and_ctime_to_the_given_time(driver: Driver) -> None:
    """write sets mtime and ctime to the time given, atime untouched."""
    f = mkfile(driver, b"f")
    after = driver.write(f.ino, Staged().write(0, b"abc"), PAST_NS)
    assert (after.mtime_ns, after.ctime_ns, after.atime_ns) == (PAST_NS, PAST_NS, f.atime_ns)
    assert driver.getattr(f.ino) == after


def test_reading_calls_change_nothing(driver: Driver) -> None:
    """read, readdir, lookup, getattr, listxattr and statfs change no attribute (no atime updates)."""
    d = mkdir(driver, b"d")
    f = mkfile(driver, b"f", parent=d.ino)
    put(driver, f.ino, b"data")
    before = {ino: driver.getattr(ino) for ino in (ROOT_INO, d.ino, f.ino)}
    wait_past(*before.values())
    driver.read(f.ino, 0, 10)
    list(driver.readdir(d.ino))
    driver.lookup(d.ino, b"f")
    driver.getattr(f.ino)
    if driver.capabilities.xattrs:
        driver.listxattr(f.ino)
    driver.statfs()
    assert {ino: driver.getattr(ino) for ino in before} == before
