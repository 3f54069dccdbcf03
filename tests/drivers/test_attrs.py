"""Contract: setattr of each field, and what it leaves alone."""

from __future__ import annotations

import dataclasses
import stat
from errno import ENOENT

import pytest

from cloudfs.driver import ROOT_INO, AttrChanges, Driver

from .helpers import PAST_NS, fails_with, mkdir, mkfile, put

FIELD_CHANGES = [
    AttrChanges(uid=4242),
    AttrChanges(gid=4343),
    AttrChanges(atime_ns=PAST_NS),
    AttrChanges(mtime_ns=PAST_NS + 1),
    AttrChanges(uid=0, gid=0, atime_ns=5, mtime_ns=6),
]


@pytest.mark.parametrize("changes", FIELD_CHANGES, ids=["uid", "gid", "atime", "mtime", "several"])
def test_setattr_changes_exactly_the_given_fields(driver: Driver, changes: AttrChanges) -> None:
    """setattr changes the given fields and ctime, nothing else."""
    f = mkfile(driver, b"f")
    put(driver, f.ino, b"content")
    before = driver.getattr(f.ino)
    after = driver.setattr(f.ino, changes)
    given = {k: v for k, v in dataclasses.asdict(changes).items() if v is not None}
    assert after == dataclasses.replace(before, ctime_ns=after.ctime_ns, **given)
    assert driver.getattr(f.ino) == after


def test_setattr_mode_keeps_the_file_type(driver: Driver) -> None:
    """mode changes only the permission bits (setuid, sticky included); the type stays."""
    f = mkfile(driver, b"f", mode=0o644)
    d = mkdir(driver, b"d", mode=0o755)
    assert driver.setattr(f.ino, AttrChanges(mode=0o4711)).mode == stat.S_IFREG | 0o4711
    assert driver.setattr(d.ino, AttrChanges(mode=0o1777)).mode == stat.S_IFDIR | 0o1777
    assert driver.lookup(ROOT_INO, b"f").mode == stat.S_IFREG | 0o4711
    assert driver.lookup(ROOT_INO, b"d").mode == stat.S_IFDIR | 0o1777


def test_setattr_size_changes_size_and_nothing_else_but_times(driver: Driver) -> None:
    """A size change truncates the data and touches only size and times."""
    f = mkfile(driver, b"f")
    before = put(driver, f.ino, b"0123456789")
    after = driver.setattr(f.ino, AttrChanges(size=4))
    assert after == dataclasses.replace(before, size=4, mtime_ns=after.mtime_ns, ctime_ns=after.ctime_ns)
    assert driver.read(f.ino, 0, 10) == b"0123"


def test_setattr_with_no_changes_touches_only_ctime(driver: Driver) -> None:
    """An empty change still sets ctime, as the AttrChanges docstring says."""
    f = mkfile(driver, b"f")
    before = driver.getattr(f.ino)
    after = driver.setattr(f.ino, AttrChanges())
    assert after == dataclasses.replace(before, ctime_ns=after.ctime_ns)


def test_setattr_of_missing_inode_is_enoent(driver: Driver) -> None:
    """setattr of an inode that does not exist is ENOENT."""
    with fails_with(ENOENT):
        driver.setattr(2**40 + 17, AttrChanges(uid=1))


def test_setattr_works_on_an_orphan(driver: Driver) -> None:
    """fchmod on an open, unlinked file works: orphans take setattr."""
    f = mkfile(driver, b"f")
    driver.unlink(ROOT_INO, b"f")
    after = driver.setattr(f.ino, AttrChanges(mode=0o600))
    assert (after.mode, after.nlink) == (stat.S_IFREG | 0o600, 0)
