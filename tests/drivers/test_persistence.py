"""Contract: what survives closing a driver and opening its store again.

Stores that live only in the driver's memory cannot be reopened; the suite
checks they do not claim persistent inode numbers.
"""

from __future__ import annotations

import dataclasses
import stat
from errno import ENOENT

from cloudfs.driver import ROOT_INO, AttrChanges, Driver

from .conftest import Store
from .helpers import GID, UID, fails_with, mkdir, mkfile, pattern, put


def build_tree(driver: Driver) -> dict[bytes, int]:
    """A small tree with data, a link, a symlink and an xattr where supported; inode numbers by path."""
    d = mkdir(driver, b"d")
    f = mkfile(driver, b"f", parent=d.ino)
    put(driver, f.ino, pattern(driver.capabilities.block_size + 10))
    driver.setattr(f.ino, AttrChanges(mode=0o600, uid=5, gid=6))
    inos = {b"d": d.ino, b"d/f": f.ino}
    if driver.capabilities.hard_links:
        driver.link(f.ino, ROOT_INO, b"f-link")
        inos[b"f-link"] = f.ino
    if driver.capabilities.symlinks:
        inos[b"s"] = driver.symlink(ROOT_INO, b"s", b"d/f", UID, GID).ino
    if driver.capabilities.xattrs:
        driver.setxattr(f.ino, b"user.k", b"v", 0)
    return inos


def resolve(driver: Driver, path: bytes) -> int:
    """Inode number of `path` below the root, by lookups."""
    ino = ROOT_INO
    for part in path.split(b"/"):
        ino = driver.lookup(ino, part).ino
    return ino


def test_only_reopenable_stores_claim_persistent_inodes(store: Store) -> None:
    """A store that cannot be reopened must not claim persistent inodes; one that can still has its root."""
    if not store.persistent:
        assert not store.driver.capabilities.persistent_inodes
        return
    build_tree(store.driver)
    driver = store.reopen()
    assert stat.S_ISDIR(driver.getattr(ROOT_INO).mode)
    assert driver.getattr(ROOT_INO).nlink == 3


def test_reopened_store_keeps_names_attributes_and_data(store: Store) -> None:
    """After reopen every path has its attributes and data (and inode number where persistent)."""
    inos = build_tree(store.driver)
    before = {path: store.driver.getattr(ino) for path, ino in inos.items()}
    if not store.persistent:
        assert store.driver.getattr(inos[b"d/f"]) == before[b"d/f"]
        return
    driver = store.reopen()
    for path, old in before.items():
        new = driver.getattr(resolve(driver, path))
        expected_ino = old.ino if driver.capabilities.persistent_inodes else new.ino
        assert new == dataclasses.replace(old, ino=expected_ino)
    f = resolve(driver, b"d/f")
    assert driver.read(f, 0, 2**20) == pattern(driver.capabilities.block_size + 10)
    if driver.capabilities.xattrs:
        assert driver.getxattr(f, b"user.k") == b"v"
    if driver.capabilities.symlinks:
        assert driver.readlink(resolve(driver, b"s")) == b"d/f"


def test_orphans_are_gone_after_reopen_and_purge(store: Store) -> None:
    """Orphans left at close do not reappear as names and are gone after purge."""
    f = mkfile(store.driver, b"f")
    put(store.driver, f.ino, b"orphan data")
    store.driver.unlink(ROOT_INO, b"f")
    if not store.persistent:
        assert store.driver.read(f.ino, 0, 20) == b"orphan data"
        return
    driver = store.reopen()
    # Nobody holds the orphan after a reopen: the driver may collect it then, or at purge.
    driver.purge(f.ino)
    if driver.capabilities.persistent_inodes:
        with fails_with(ENOENT):
            driver.getattr(f.ino)
    assert list(driver.readdir(ROOT_INO)) == []
