"""Contract: lookup, readdir, creation and removal of names, statfs."""

from __future__ import annotations

import stat
from errno import EEXIST, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY

from cloudfs.driver import ROOT_INO, Capabilities, Driver

from .helpers import GID, UID, fails_with, mkdir, mkfile, names

MISSING_INO = 2**40 + 17


def test_driver_implements_the_protocol(driver: Driver) -> None:
    """The driver satisfies the runtime-checkable Driver protocol and declares its capabilities."""
    assert isinstance(driver, Driver)
    assert isinstance(driver.capabilities, Capabilities)


def test_root_is_an_empty_directory(driver: Driver) -> None:
    """A fresh store has only ROOT_INO: a directory with nlink 2 and no entries."""
    root = driver.getattr(ROOT_INO)
    assert root.ino == ROOT_INO
    assert stat.S_ISDIR(root.mode)
    assert root.nlink == 2
    assert list(driver.readdir(ROOT_INO)) == []


def test_getattr_of_missing_inode_is_enoent(driver: Driver) -> None:
    """An inode number never handed out is ENOENT."""
    with fails_with(ENOENT):
        driver.getattr(MISSING_INO)


def test_mknod_regular_file_attributes(driver: Driver) -> None:
    """A new file has the given type, mode and owner, one link, size 0; lookup and getattr agree."""
    attr = mkfile(driver, b"f", mode=0o640)
    assert attr.ino != ROOT_INO
    assert (attr.mode, attr.nlink, attr.uid, attr.gid, attr.size, attr.rdev) == (
        stat.S_IFREG | 0o640,
        1,
        UID,
        GID,
        0,
        0,
    )
    assert driver.lookup(ROOT_INO, b"f") == attr
    assert driver.getattr(attr.ino) == attr


def test_new_inodes_get_distinct_numbers(driver: Driver) -> None:
    """Every created inode gets its own number, never the root's."""
    inos = {mkfile(driver, b"f%d" % i).ino for i in range(5)} | {mkdir(driver, b"d").ino}
    assert len(inos) == 6
    assert ROOT_INO not in inos


def test_mkdir_counts_subdirectories_in_parent_nlink(driver: Driver) -> None:
    """Directory nlink is 2 plus its subdirectories (their `..`); files do not count."""
    sub = mkdir(driver, b"d", mode=0o700)
    assert (sub.mode, sub.nlink) == (stat.S_IFDIR | 0o700, 2)
    assert driver.getattr(ROOT_INO).nlink == 3
    mkdir(driver, b"e", parent=sub.ino)
    mkfile(driver, b"f", parent=sub.ino)
    assert driver.getattr(sub.ino).nlink == 3
    assert driver.getattr(ROOT_INO).nlink == 3


def test_mknod_over_existing_name_is_eexist(driver: Driver) -> None:
    """Creating over any existing name is EEXIST and changes nothing."""
    mkfile(driver, b"f")
    mkdir(driver, b"d")
    for name in (b"f", b"d"):
        with fails_with(EEXIST):
            mkfile(driver, name)
        with fails_with(EEXIST):
            mkdir(driver, name)
    assert driver.getattr(ROOT_INO).nlink == 3


def test_lookup_of_missing_name_is_enoent(driver: Driver) -> None:
    """Looking up an absent name is ENOENT."""
    mkfile(driver, b"f")
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"g")


def test_file_as_parent_is_enotdir(driver: Driver) -> None:
    """lookup, readdir and mknod with a file as the parent are ENOTDIR."""
    f = mkfile(driver, b"f")
    with fails_with(ENOTDIR):
        driver.lookup(f.ino, b"x")
    with fails_with(ENOTDIR):
        list(driver.readdir(f.ino))
    with fails_with(ENOTDIR):
        mkfile(driver, b"x", parent=f.ino)


def test_readdir_lists_every_name_once_with_its_attributes(driver: Driver) -> None:
    """readdir gives each name once (no `.`/`..`) with the attributes lookup gives."""
    expected = {b"f%02d" % i for i in range(20)} | {b"d%d" % i for i in range(5)}
    for name in sorted(expected):
        (mkdir if name.startswith(b"d") else mkfile)(driver, name)
    entries = list(driver.readdir(ROOT_INO))
    assert len(entries) == len(expected)
    assert {name for name, _ in entries} == expected
    for name, attr in entries:
        assert attr == driver.lookup(ROOT_INO, name)


def test_readdir_order_is_stable(driver: Driver) -> None:
    """Two listings of an unchanged directory come in the same order (the core pages by offset)."""
    for i in range(12):
        mkfile(driver, b"n%d" % ((i * 5) % 12))
    first = [name for name, _ in driver.readdir(ROOT_INO)]
    assert [name for name, _ in driver.readdir(ROOT_INO)] == first


def test_names_are_arbitrary_bytes(driver: Driver) -> None:
    """Names are bytes, not text: non-UTF-8, control characters and max_name_len all round-trip."""
    longest = driver.capabilities.max_name_len
    every_byte = bytes(b for b in range(1, 256) if b != ord("/"))[:longest]
    odd = [b"\xff\xfe\xfd", b"\x80", b"caf\xe9", b"line\nbreak", b" ", b"...", b"a" * longest, every_byte]
    inos = {name: mkfile(driver, name).ino for name in odd}
    assert names(driver) == sorted(odd)
    for name, ino in inos.items():
        assert driver.lookup(ROOT_INO, name).ino == ino


def test_rmdir_removes_an_empty_directory_at_once(driver: Driver) -> None:
    """rmdir drops the name and the parent's link, and the directory inode with it."""
    # The core purges only files, so a directory must not linger as an orphan.
    d = mkdir(driver, b"d")
    assert driver.rmdir(ROOT_INO, b"d") is None
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"d")
    assert driver.getattr(ROOT_INO).nlink == 2
    assert names(driver) == []
    with fails_with(ENOENT):
        driver.getattr(d.ino)
    driver.purge(d.ino)


def test_rmdir_of_non_empty_directory_is_enotempty(driver: Driver) -> None:
    """rmdir of a directory with entries is ENOTEMPTY and changes nothing."""
    d = mkdir(driver, b"d")
    mkfile(driver, b"f", parent=d.ino)
    with fails_with(ENOTEMPTY):
        driver.rmdir(ROOT_INO, b"d")
    assert driver.lookup(ROOT_INO, b"d") == driver.getattr(d.ino)
    assert names(driver, d.ino) == [b"f"]


def test_rmdir_of_file_is_enotdir_and_of_missing_is_enoent(driver: Driver) -> None:
    """rmdir refuses a file with ENOTDIR and a missing name with ENOENT."""
    mkfile(driver, b"f")
    with fails_with(ENOTDIR):
        driver.rmdir(ROOT_INO, b"f")
    with fails_with(ENOENT):
        driver.rmdir(ROOT_INO, b"nothing")
    assert names(driver) == [b"f"]


def test_unlink_of_directory_is_eisdir_and_of_missing_is_enoent(driver: Driver) -> None:
    """unlink refuses a directory with EISDIR and a missing name with ENOENT."""
    mkdir(driver, b"d")
    with fails_with(EISDIR):
        driver.unlink(ROOT_INO, b"d")
    with fails_with(ENOENT):
        driver.unlink(ROOT_INO, b"nothing")
    assert names(driver) == [b"d"]


def test_removed_directory_takes_no_new_entries(driver: Driver) -> None:
    """Creating inside a removed directory is ENOENT, as for a deleted cwd."""
    d = mkdir(driver, b"d")
    driver.rmdir(ROOT_INO, b"d")
    with fails_with(ENOENT):
        mkfile(driver, b"f", parent=d.ino)


def test_forget_leaves_the_entry_reachable(driver: Driver) -> None:
    """forget only drops a mapping: the name still resolves to the same attributes."""
    f = mkfile(driver, b"f")
    driver.forget(f.ino)
    assert driver.lookup(ROOT_INO, b"f") == f


def test_statfs_is_sane(driver: Driver) -> None:
    """statfs figures are consistent and name_max matches the capabilities."""
    fs = driver.statfs()
    assert fs.block_size > 0
    assert 0 <= fs.blocks_free <= fs.blocks
    assert 0 <= fs.files_free <= fs.files
    assert fs.name_max == driver.capabilities.max_name_len


def test_names_are_case_sensitive(driver: Driver) -> None:
    """Names differing only in case are distinct entries."""
    mkfile(driver, b"Name")
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"name")
    mkfile(driver, b"name")
    assert names(driver) == [b"Name", b"name"]


def test_readdir_of_a_directory_larger_than_one_listing_page(driver: Driver) -> None:
    """More entries than one store listing page (S3 gives 1000) all come back."""
    d = mkdir(driver, b"big")
    expected = [b"entry-%04d" % i for i in range(1005)]
    for name in expected:
        mkfile(driver, name, parent=d.ino)
    assert names(driver, d.ino) == expected
