"""Filesystem attribute freshness: cached attributes follow local changes (times, link counts, sizes)."""

from __future__ import annotations

import errno
import itertools
import os
import stat
from pathlib import Path

import pytest

from cloudfs.core.context import MountSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import ROOT_INO, AttrChanges
from cloudfs.drivers.memory import MemoryDriver

from .helpers import ROOT, MakeFs, make_file, store_file


@pytest.fixture
def ticking(tmp_path: Path) -> Filesystem:
    """A Filesystem over a store whose clock advances by one on every reading, so each change has its own time."""
    ticks = itertools.count(1_000)
    driver = MemoryDriver(clock=lambda: next(ticks))
    return Filesystem(driver, MountSettings(spool_dir=str(tmp_path / "spool"), cache_ttl=3600))


def test_create_updates_parent_mtime_and_mkdir_its_nlink(ticking: Filesystem) -> None:
    """After create and mkdir, getattr of the parent shows the new mtime and link count, not cached ones."""
    before = ticking.getattr(ROOT_INO)
    make_file(ticking, b"f")
    after_create = ticking.getattr(ROOT_INO)
    assert after_create.mtime_ns > before.mtime_ns
    ticking.mkdir(ROOT_INO, b"d", 0o755, ROOT)
    after_mkdir = ticking.getattr(ROOT_INO)
    assert after_mkdir.nlink == before.nlink + 1
    assert after_mkdir.mtime_ns > after_create.mtime_ns


def test_unlink_and_rmdir_update_parent(ticking: Filesystem) -> None:
    """Removing entries shows in the parent's mtime and link count."""
    make_file(ticking, b"f")
    ticking.mkdir(ROOT_INO, b"d", 0o755, ROOT)
    before = ticking.getattr(ROOT_INO)
    ticking.unlink(ROOT_INO, b"f", ROOT)
    ticking.rmdir(ROOT_INO, b"d", ROOT)
    after = ticking.getattr(ROOT_INO)
    assert after.nlink == before.nlink - 1
    assert after.mtime_ns > before.mtime_ns


def test_rename_of_directory_moves_a_link_count(ticking: Filesystem) -> None:
    """Moving a directory between parents moves one link from the old parent to the new one."""
    a = ticking.mkdir(ROOT_INO, b"a", 0o755, ROOT).ino
    b = ticking.mkdir(ROOT_INO, b"b", 0o755, ROOT).ino
    ticking.mkdir(a, b"c", 0o755, ROOT)
    assert (ticking.getattr(a).nlink, ticking.getattr(b).nlink) == (3, 2)
    ticking.rename(a, b"c", b, b"c", ROOT)
    assert (ticking.getattr(a).nlink, ticking.getattr(b).nlink) == (2, 3)


def test_link_and_unlink_show_in_nlink(ticking: Filesystem) -> None:
    """A hard link and its removal show in the inode's link count through every name."""
    ino = make_file(ticking, b"f")
    ticking.link(ino, ROOT_INO, b"g", ROOT)
    assert ticking.getattr(ino).nlink == 2
    assert ticking.lookup(ROOT_INO, b"f", ROOT).nlink == 2
    ticking.unlink(ROOT_INO, b"g", ROOT)
    assert ticking.getattr(ino).nlink == 1
    assert ticking.lookup(ROOT_INO, b"f", ROOT).nlink == 1


def test_xattr_change_shows_in_ctime(ticking: Filesystem) -> None:
    """Setting and removing an xattr changes ctime, and getattr shows it."""
    ino = ticking.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, ROOT).ino
    before = ticking.getattr(ino).ctime_ns
    ticking.setxattr(ino, b"user.a", b"1")
    set_at = ticking.getattr(ino).ctime_ns
    ticking.removexattr(ino, b"user.a")
    assert before < set_at < ticking.getattr(ino).ctime_ns


def test_chmod_returns_and_caches_new_attributes(ticking: Filesystem) -> None:
    """setattr returns the new mode and ctime, and getattr then agrees."""
    ino = ticking.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, ROOT).ino
    before = ticking.getattr(ino)
    attr = ticking.setattr(ino, AttrChanges(mode=0o600), ROOT)
    assert attr.mode == stat.S_IFREG | 0o600
    assert attr.ctime_ns > before.ctime_ns
    assert ticking.getattr(ino) == attr


def test_flush_stores_the_write_time(ticking: Filesystem) -> None:
    """After close, the store's mtime is the one getattr showed while the data was staged."""
    fh, attr = ticking.create(ROOT_INO, b"f", 0o644, os.O_WRONLY, ROOT)
    ticking.write(fh, 0, b"data")
    shown = ticking.getattr(attr.ino).mtime_ns
    ticking.release(fh)
    assert ticking.driver.getattr(attr.ino).mtime_ns == shown
    assert ticking.getattr(attr.ino).mtime_ns == shown


def test_symlink_round_trip(ticking: Filesystem) -> None:
    """A symlink reads back its target and has the target's length as size."""
    attr = ticking.symlink(ROOT_INO, b"l", b"some/where", ROOT)
    assert stat.S_ISLNK(attr.mode)
    assert attr.size == len(b"some/where")
    assert ticking.readlink(attr.ino) == b"some/where"


def _read_twice(fs: Filesystem, ino: int) -> None:
    fh = fs.open(ino, os.O_RDONLY, ROOT)
    fs.read(fh, 0, 10)
    fs.read(fh, 0, 10)
    fs.release(fh)


def test_relatime_updates_atime_once_after_a_change(fs: Filesystem, driver: MemoryDriver) -> None:
    """The first read after a write moves atime (one request); later reads leave it."""
    ino = make_file(fs, b"f", b"data")
    _read_twice(fs, ino)
    assert driver.calls["touch_atime"] == 1
    assert fs.getattr(ino).atime_ns > fs.getattr(ino).mtime_ns


@pytest.mark.parametrize("settings", [{"noatime": True}, {"read_only": True}], ids=["noatime", "ro"])
def test_no_atime_updates_when_off(make_fs: MakeFs, driver: MemoryDriver, settings: dict[str, bool]) -> None:
    """noatime and read-only mounts never send atime updates."""
    ino = store_file(driver, b"f", b"data")
    _read_twice(make_fs(**settings), ino)
    assert driver.calls["touch_atime"] == 0


def test_failed_atime_update_does_not_fail_the_read(fs: Filesystem, driver: MemoryDriver) -> None:
    """atime is bookkeeping: a store refusing its update must not turn a good read into an error."""
    ino = make_file(fs, b"f", b"data")
    driver.fail("touch_atime", errno.EIO)
    fh = fs.open(ino, os.O_RDONLY, ROOT)
    assert fs.read(fh, 0, 10) == b"data"
