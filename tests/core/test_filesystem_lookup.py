"""Filesystem lookups and listings: request economy of the metadata cache, names, `..`, and forget."""

from __future__ import annotations

import errno
import itertools
import os
import stat
from collections import Counter
from collections.abc import Callable

import pytest

from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import ROOT_INO
from cloudfs.drivers.memory import MemoryDriver
from cloudfs.errors import FsError

from .helpers import ROOT, MakeFs, make_file, store_file


def _ls(fs: Filesystem, ino: int) -> list[bytes]:
    """What `ls -l` does: open the directory, list it, look up every name, close it."""
    fh = fs.opendir(ino, ROOT)
    names = [name for name, _ in fs.readdir(fh, 0)]
    for name in names[2:]:
        assert fs.lookup(ino, name, ROOT) is not None
    fs.releasedir(fh)
    return names


def test_lookup_of_missing_name_is_none(fs: Filesystem) -> None:
    """A name the store does not have looks up as None, not an error."""
    assert fs.lookup(ROOT_INO, b"nope", ROOT) is None


def test_lookup_finds_store_entry(fs: Filesystem, driver: MemoryDriver) -> None:
    """An entry made in the store is found with the store's attributes."""
    ino = store_file(driver, b"f", b"abc")
    attr = fs.lookup(ROOT_INO, b"f", ROOT)
    assert attr is not None
    assert (attr.ino, attr.size, stat.S_ISREG(attr.mode)) == (ino, 3, True)


def test_ls_l_costs_one_readdir_and_no_lookup(fs: Filesystem, driver: MemoryDriver) -> None:
    """Listing a directory and looking up every name costs one listing (plus the relatime update), no lookups."""
    for name in (b"a", b"b", b"c"):
        store_file(driver, name, b"x")
    driver.calls.clear()
    assert _ls(fs, ROOT_INO) == [b".", b"..", b"a", b"b", b"c"]
    assert driver.calls == Counter({"getattr": 1, "readdir": 1, "touch_atime": 1})
    driver.calls.clear()
    _ls(fs, ROOT_INO)
    assert driver.calls == Counter({"readdir": 1})


def test_new_file_in_listed_directory_costs_no_lookup(fs: Filesystem, driver: MemoryDriver) -> None:
    """After a listing, the kernel's lookup before create is answered absent from the cache."""
    store_file(driver, b"a", b"x")
    _ls(fs, ROOT_INO)
    driver.calls.clear()
    assert fs.lookup(ROOT_INO, b"new", ROOT) is None
    make_file(fs, b"new", b"data")
    assert driver.calls == Counter({"mknod": 1, "write": 1})


def test_repeated_lookup_is_cached(fs: Filesystem, driver: MemoryDriver) -> None:
    """A second lookup of the same name within the TTL costs no request."""
    store_file(driver, b"f", b"")
    fs.lookup(ROOT_INO, b"f", ROOT)
    fs.lookup(ROOT_INO, b"f", ROOT)
    assert driver.calls["lookup"] == 1


def test_zero_ttl_asks_the_store_every_time(make_fs: MakeFs, driver: MemoryDriver) -> None:
    """With cache_ttl=0 every lookup goes to the store."""
    fs = make_fs(cache_ttl=0)
    store_file(driver, b"f", b"")
    fs.lookup(ROOT_INO, b"f", ROOT)
    fs.lookup(ROOT_INO, b"f", ROOT)
    assert driver.calls["lookup"] == 2


def test_removed_name_looks_up_absent(fs: Filesystem, driver: MemoryDriver) -> None:
    """After unlink the name is gone, and the listing answers that without a store lookup."""
    make_file(fs, b"f")
    _ls(fs, ROOT_INO)
    fs.unlink(ROOT_INO, b"f", ROOT)
    driver.calls.clear()
    assert fs.lookup(ROOT_INO, b"f", ROOT) is None
    assert driver.calls["lookup"] == 0


def test_rename_of_directory_updates_dotdot(fs: Filesystem) -> None:
    """A directory moved to another parent reports that parent as `..`, in lookup and readdir."""
    a = fs.mkdir(ROOT_INO, b"a", 0o755, ROOT).ino
    b = fs.mkdir(ROOT_INO, b"b", 0o755, ROOT).ino
    c = fs.mkdir(a, b"c", 0o755, ROOT).ino
    assert fs.lookup(c, b"..", ROOT).ino == a
    fs.rename(a, b"c", b, b"c", ROOT)
    assert fs.lookup(c, b"..", ROOT).ino == b
    assert dict(fs.readdir(fs.opendir(c, ROOT), 0))[b".."].ino == b
    assert fs.lookup(b, b"c", ROOT).ino == c
    assert fs.lookup(a, b"c", ROOT) is None


def test_dot_is_the_directory_itself(fs: Filesystem) -> None:
    """`.` looks up as the directory and `..` of the root is the root."""
    d = fs.mkdir(ROOT_INO, b"d", 0o755, ROOT).ino
    assert fs.lookup(d, b".", ROOT).ino == d
    assert fs.lookup(ROOT_INO, b"..", ROOT).ino == ROOT_INO


NameCall = Callable[[Filesystem, bytes, int], object]
NAME_CALLS: dict[str, NameCall] = {
    "lookup": lambda fs, name, ino: fs.lookup(ROOT_INO, name, ROOT),
    "create": lambda fs, name, ino: fs.create(ROOT_INO, name, 0o644, os.O_WRONLY, ROOT),
    "mkdir": lambda fs, name, ino: fs.mkdir(ROOT_INO, name, 0o755, ROOT),
    "symlink": lambda fs, name, ino: fs.symlink(ROOT_INO, name, b"target", ROOT),
    "link": lambda fs, name, ino: fs.link(ino, ROOT_INO, name, ROOT),
    "rename": lambda fs, name, ino: fs.rename(ROOT_INO, b"f", ROOT_INO, name, ROOT),
}


@pytest.mark.parametrize("call", NAME_CALLS.values(), ids=NAME_CALLS.keys())
def test_name_of_256_bytes_is_too_long(fs: Filesystem, driver: MemoryDriver, call: NameCall) -> None:
    """Every call taking a new name refuses 256 bytes with ENAMETOOLONG before asking the store."""
    ino = make_file(fs, b"f")
    driver.calls.clear()
    with pytest.raises(FsError) as exc:
        call(fs, b"n" * 256, ino)
    assert exc.value.errno == errno.ENAMETOOLONG
    assert sum(driver.calls.values()) == 0


def test_name_of_255_bytes_is_fine(fs: Filesystem) -> None:
    """255 bytes is the longest name the default capabilities allow."""
    make_file(fs, b"n" * 255)
    assert fs.lookup(ROOT_INO, b"n" * 255, ROOT) is not None


def test_forget_reaches_driver_at_zero(fs: Filesystem, driver: MemoryDriver) -> None:
    """The driver hears `forget` only when the kernel's lookup count drops to zero."""
    ino = make_file(fs, b"f")  # create counts one lookup
    fs.lookup(ROOT_INO, b"f", ROOT)
    fs.forget([(ino, 1)])
    assert driver.calls["forget"] == 0
    fs.forget([(ino, 1)])
    assert driver.calls["forget"] == 1


def test_forget_many_at_once(fs: Filesystem, driver: MemoryDriver) -> None:
    """A batch forget of the whole count lets the driver forget in one go."""
    ino = make_file(fs, b"f")
    for _ in range(3):
        fs.lookup(ROOT_INO, b"f", ROOT)
    fs.forget([(ino, 4)])
    assert driver.calls["forget"] == 1


def test_readdir_offsets_walk_one_snapshot(fs: Filesystem) -> None:
    """Continuing a listing at an offset uses the first snapshot, so a concurrent create shifts nothing."""
    for name in (b"a", b"b", b"c"):
        make_file(fs, name)
    fh = fs.opendir(ROOT_INO, ROOT)
    first = [name for name, _ in itertools.islice(fs.readdir(fh, 0), 3)]
    make_file(fs, b"0")
    rest = [name for name, _ in fs.readdir(fh, 3)]
    assert first + rest == [b".", b"..", b"a", b"b", b"c"]


def test_readdir_shows_staged_size(fs: Filesystem) -> None:
    """A listing shows an open file's unflushed size, as getattr does."""
    fh, _ = fs.create(ROOT_INO, b"f", 0o644, os.O_WRONLY, ROOT)
    fs.write(fh, 0, b"12345")
    listed = dict(fs.readdir(fs.opendir(ROOT_INO, ROOT), 0))
    assert listed[b"f"].size == 5


def test_rename_onto_another_link_of_same_inode_keeps_both(fs: Filesystem) -> None:
    """Renaming a name onto another link of the same inode does nothing (POSIX): both names stay."""
    x = fs.mkdir(ROOT_INO, b"x", 0o755, ROOT).ino
    y = fs.mkdir(ROOT_INO, b"y", 0o755, ROOT).ino
    ino = make_file(fs, b"a", b"data", parent=x)
    fs.link(ino, y, b"b", ROOT)
    _ls(fs, x)
    fs.rename(x, b"a", y, b"b", ROOT)
    assert fs.lookup(x, b"a", ROOT).ino == ino
    assert fs.lookup(y, b"b", ROOT).ino == ino


def test_rename_replaces_target_and_finds_moved_inode(fs: Filesystem, driver: MemoryDriver) -> None:
    """After rename onto an existing closed file, the name leads to the moved inode and the old one is purged."""
    a = make_file(fs, b"a", b"new")
    make_file(fs, b"b", b"old")
    _ls(fs, ROOT_INO)
    fs.rename(ROOT_INO, b"a", ROOT_INO, b"b", ROOT)
    assert fs.lookup(ROOT_INO, b"b", ROOT).ino == a
    assert fs.lookup(ROOT_INO, b"a", ROOT) is None
    assert driver.calls["purge"] == 1


def test_rename_onto_open_file_defers_purge(fs: Filesystem, driver: MemoryDriver) -> None:
    """A file replaced by rename while open stays readable through its handle until released."""
    make_file(fs, b"a", b"new")
    b = make_file(fs, b"b", b"old")
    fh = fs.open(b, os.O_RDONLY, ROOT)
    fs.rename(ROOT_INO, b"a", ROOT_INO, b"b", ROOT)
    assert fs.read(fh, 0, 10) == b"old"
    assert driver.calls["purge"] == 0
    fs.release(fh)
    assert driver.calls["purge"] == 1


def test_dotdot_lookup_does_not_make_child_a_parent(fs: Filesystem) -> None:
    """Looking up `..` of c (NFS export does) must not record c as the parent of the directory it found."""
    a = fs.mkdir(ROOT_INO, b"a", 0o755, ROOT).ino
    c = fs.mkdir(a, b"c", 0o755, ROOT).ino
    fs.forget([(a, 1)])
    assert fs.lookup(c, b"..", ROOT).ino == a
    assert fs.lookup(a, b"..", ROOT).ino == ROOT_INO
