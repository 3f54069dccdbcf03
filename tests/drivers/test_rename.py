"""Contract: rename within and across directories, replacement rules and errnos."""

from __future__ import annotations

from errno import EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY

from cloudfs.driver import ROOT_INO, Driver

from .helpers import fails_with, links_supported, mkdir, mkfile, names, put


def test_rename_within_a_directory(driver: Driver) -> None:
    """A rename moves the name to the same inode and leaves link counts alone."""
    f = mkfile(driver, b"a")
    assert driver.rename(ROOT_INO, b"a", ROOT_INO, b"b") is None
    assert names(driver) == [b"b"]
    assert driver.lookup(ROOT_INO, b"b").ino == f.ino
    assert driver.getattr(f.ino).nlink == 1


def test_rename_of_missing_entry_is_enoent(driver: Driver) -> None:
    """Renaming an absent name is ENOENT."""
    with fails_with(ENOENT):
        driver.rename(ROOT_INO, b"a", ROOT_INO, b"b")


def test_rename_over_a_file_returns_the_orphan(driver: Driver) -> None:
    """Replacing a file returns it with nlink 0; it reads until purge."""
    src = mkfile(driver, b"a")
    dst = mkfile(driver, b"b")
    put(driver, dst.ino, b"old")
    replaced = driver.rename(ROOT_INO, b"a", ROOT_INO, b"b")
    assert replaced is not None
    assert (replaced.ino, replaced.nlink) == (dst.ino, 0)
    assert names(driver) == [b"b"]
    assert driver.lookup(ROOT_INO, b"b").ino == src.ino
    assert driver.read(dst.ino, 0, 10) == b"old"
    driver.purge(dst.ino)
    with fails_with(ENOENT):
        driver.getattr(dst.ino)


def test_rename_over_a_hard_linked_file_keeps_its_other_name(driver: Driver) -> None:
    """Replacing one name of a linked file returns it with nlink 1, still reachable."""
    mkfile(driver, b"a")
    dst = mkfile(driver, b"b")
    if not links_supported(driver, dst.ino):
        return
    driver.link(dst.ino, ROOT_INO, b"c")
    replaced = driver.rename(ROOT_INO, b"a", ROOT_INO, b"b")
    assert replaced is not None
    assert (replaced.ino, replaced.nlink) == (dst.ino, 1)
    assert driver.lookup(ROOT_INO, b"c").ino == dst.ino


def test_rename_onto_another_name_of_the_same_inode_does_nothing(driver: Driver) -> None:
    """Renaming onto a name of the same inode returns None and keeps both names (POSIX)."""
    f = mkfile(driver, b"a")
    assert driver.rename(ROOT_INO, b"a", ROOT_INO, b"a") is None
    assert names(driver) == [b"a"]
    if not links_supported(driver, f.ino):
        return
    driver.link(f.ino, ROOT_INO, b"b")
    assert driver.rename(ROOT_INO, b"a", ROOT_INO, b"b") is None
    assert names(driver) == [b"a", b"b"]
    assert driver.getattr(f.ino).nlink == 2


def test_rename_over_an_empty_directory_deletes_it(driver: Driver) -> None:
    """A directory replaces an empty one, returned with nlink 0 and deleted at once."""
    src = mkdir(driver, b"a")
    dst = mkdir(driver, b"b")
    replaced = driver.rename(ROOT_INO, b"a", ROOT_INO, b"b")
    assert replaced is not None
    assert (replaced.ino, replaced.nlink) == (dst.ino, 0)
    assert driver.lookup(ROOT_INO, b"b").ino == src.ino
    assert driver.getattr(ROOT_INO).nlink == 3
    with fails_with(ENOENT):
        driver.getattr(dst.ino)


def test_rename_over_a_non_empty_directory_is_enotempty(driver: Driver) -> None:
    """Replacing a non-empty directory is ENOTEMPTY and changes nothing."""
    mkdir(driver, b"a")
    dst = mkdir(driver, b"b")
    mkfile(driver, b"inside", parent=dst.ino)
    with fails_with(ENOTEMPTY):
        driver.rename(ROOT_INO, b"a", ROOT_INO, b"b")
    assert names(driver) == [b"a", b"b"]
    assert names(driver, dst.ino) == [b"inside"]


def test_rename_of_a_file_over_a_directory_is_eisdir(driver: Driver) -> None:
    """A file cannot replace a directory: EISDIR."""
    mkfile(driver, b"f")
    mkdir(driver, b"d")
    with fails_with(EISDIR):
        driver.rename(ROOT_INO, b"f", ROOT_INO, b"d")
    assert names(driver) == [b"d", b"f"]


def test_rename_of_a_directory_over_a_file_is_enotdir(driver: Driver) -> None:
    """A directory cannot replace a file: ENOTDIR."""
    mkfile(driver, b"f")
    mkdir(driver, b"d")
    with fails_with(ENOTDIR):
        driver.rename(ROOT_INO, b"d", ROOT_INO, b"f")
    assert names(driver) == [b"d", b"f"]


def test_rename_of_a_directory_into_its_own_subtree_is_einval(driver: Driver) -> None:
    """Moving a directory below itself is EINVAL: it would detach the subtree."""
    a = mkdir(driver, b"a")
    b = mkdir(driver, b"b", parent=a.ino)
    with fails_with(EINVAL):
        driver.rename(ROOT_INO, b"a", a.ino, b"x")
    with fails_with(EINVAL):
        driver.rename(ROOT_INO, b"a", b.ino, b"x")
    assert names(driver) == [b"a"]
    assert names(driver, a.ino) == [b"b"]


def test_rename_of_a_directory_onto_its_ancestor_is_enotempty(driver: Driver) -> None:
    """Replacing one's own ancestor fails, as that ancestor is never empty."""
    a = mkdir(driver, b"a")
    mkdir(driver, b"b", parent=a.ino)
    with fails_with(ENOTEMPTY):
        driver.rename(a.ino, b"b", ROOT_INO, b"a")


def test_moving_a_directory_moves_its_parent_link(driver: Driver) -> None:
    """Moving a directory shifts its `..` link from the old parent's nlink to the new one's."""
    p1 = mkdir(driver, b"p1")
    p2 = mkdir(driver, b"p2")
    d = mkdir(driver, b"d", parent=p1.ino)
    mkfile(driver, b"f", parent=d.ino)
    assert driver.rename(p1.ino, b"d", p2.ino, b"moved") is None
    assert driver.getattr(p1.ino).nlink == 2
    assert driver.getattr(p2.ino).nlink == 3
    assert driver.getattr(d.ino).nlink == 2
    assert driver.getattr(ROOT_INO).nlink == 4
    assert names(driver, p1.ino) == []
    assert names(driver, d.ino) == [b"f"]
    assert driver.lookup(p2.ino, b"moved").ino == d.ino


def test_moving_a_directory_over_an_empty_one_elsewhere(driver: Driver) -> None:
    """Across parents, replacing an empty directory nets the new parent's nlink to +0."""
    p1 = mkdir(driver, b"p1")
    p2 = mkdir(driver, b"p2")
    d = mkdir(driver, b"d", parent=p1.ino)
    old = mkdir(driver, b"old", parent=p2.ino)
    replaced = driver.rename(p1.ino, b"d", p2.ino, b"old")
    assert replaced is not None
    assert (replaced.ino, replaced.nlink) == (old.ino, 0)
    assert driver.getattr(p1.ino).nlink == 2
    assert driver.getattr(p2.ino).nlink == 3
    assert driver.lookup(p2.ino, b"old").ino == d.ino


def test_moving_a_file_between_directories_keeps_its_data(driver: Driver) -> None:
    """A file moved across directories keeps inode, data and the parents' nlink."""
    p1 = mkdir(driver, b"p1")
    p2 = mkdir(driver, b"p2")
    f = mkfile(driver, b"f", parent=p1.ino)
    put(driver, f.ino, b"payload")
    driver.rename(p1.ino, b"f", p2.ino, b"g")
    assert (driver.getattr(p1.ino).nlink, driver.getattr(p2.ino).nlink) == (2, 2)
    moved = driver.lookup(p2.ino, b"g")
    assert (moved.ino, moved.nlink, moved.size) == (f.ino, 1, 7)
    assert driver.read(f.ino, 0, 100) == b"payload"


def test_a_moved_directory_knows_its_new_ancestors(driver: Driver) -> None:
    """After a move, the subtree check and nlink follow the directory's new place."""
    p1 = mkdir(driver, b"p1")
    p2 = mkdir(driver, b"p2")
    d = mkdir(driver, b"d", parent=p1.ino)
    driver.rename(p1.ino, b"d", p2.ino, b"d")
    with fails_with(EINVAL):
        driver.rename(ROOT_INO, b"p2", d.ino, b"p2")
    assert driver.rename(ROOT_INO, b"p1", d.ino, b"p1") is None
    assert names(driver, d.ino) == [b"p1"]
    assert driver.getattr(d.ino).nlink == 3


def test_renaming_a_directory_in_place_keeps_link_counts(driver: Driver) -> None:
    """Renaming a directory within its parent changes no link count."""
    d = mkdir(driver, b"d")
    mkdir(driver, b"sub", parent=d.ino)
    driver.rename(ROOT_INO, b"d", ROOT_INO, b"e")
    assert driver.getattr(ROOT_INO).nlink == 3
    assert driver.lookup(ROOT_INO, b"e") == driver.getattr(d.ino)
    assert driver.getattr(d.ino).nlink == 3
