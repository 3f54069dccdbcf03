"""Filesystem policy: read-only mounts, ownership of new inodes, uid/gid/umask overrides, permission checks."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

import pytest

from cloudfs.core.context import Caller
from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import ROOT_INO, AttrChanges
from cloudfs.drivers.memory import MemoryDriver
from cloudfs.errors import FsError

from .helpers import ALICE, BOB, ROOT, MakeFs, make_file, store_file

Mutation = Callable[[Filesystem, int], object]
MUTATIONS: dict[str, Mutation] = {
    "setattr": lambda fs, ino: fs.setattr(ino, AttrChanges(mode=0o600), ROOT),
    "truncate": lambda fs, ino: fs.setattr(ino, AttrChanges(size=0), ROOT),
    "mknod": lambda fs, ino: fs.mknod(ROOT_INO, b"n", stat.S_IFIFO | 0o644, 0, ROOT),
    "mkdir": lambda fs, ino: fs.mkdir(ROOT_INO, b"d", 0o755, ROOT),
    "symlink": lambda fs, ino: fs.symlink(ROOT_INO, b"l", b"f", ROOT),
    "link": lambda fs, ino: fs.link(ino, ROOT_INO, b"g", ROOT),
    "unlink": lambda fs, ino: fs.unlink(ROOT_INO, b"f", ROOT),
    "rmdir": lambda fs, ino: fs.rmdir(ROOT_INO, b"sub", ROOT),
    "rename": lambda fs, ino: fs.rename(ROOT_INO, b"f", ROOT_INO, b"g", ROOT),
    "open_wronly": lambda fs, ino: fs.open(ino, os.O_WRONLY, ROOT),
    "open_rdwr": lambda fs, ino: fs.open(ino, os.O_RDWR, ROOT),
    "create": lambda fs, ino: fs.create(ROOT_INO, b"c", 0o644, os.O_WRONLY, ROOT),
    "setxattr": lambda fs, ino: fs.setxattr(ino, b"user.a", b"v"),
    "removexattr": lambda fs, ino: fs.removexattr(ino, b"user.a"),
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_read_only_mount_refuses_changes(make_fs: MakeFs, driver: MemoryDriver, mutate: Mutation) -> None:
    """Every mutating call on a read-only mount fails with EROFS and leaves the store untouched."""
    ino = store_file(driver, b"f", b"abc")
    driver.mknod(ROOT_INO, b"sub", stat.S_IFDIR | 0o755, 0, 0, 0)
    driver.setxattr(ino, b"user.a", b"v", 0)
    fs = make_fs(read_only=True)
    driver.calls.clear()
    with pytest.raises(FsError) as exc:
        mutate(fs, ino)
    assert exc.value.errno == errno.EROFS
    assert set(driver.calls) <= {"getattr", "lookup"}


def test_read_only_mount_still_reads(make_fs: MakeFs, driver: MemoryDriver) -> None:
    """A read-only mount opens files for reading and reads them."""
    ino = store_file(driver, b"f", b"abc")
    fs = make_fs(read_only=True)
    fh = fs.open(ino, os.O_RDONLY, ROOT)
    assert fs.read(fh, 0, 10) == b"abc"
    assert fs.lookup(ROOT_INO, b"f", ROOT).size == 3


def _setgid_dir(fs: Filesystem) -> int:
    """A root-made 02777 directory owned by group 50."""
    ino = fs.mkdir(ROOT_INO, b"shared", 0o2777, ROOT).ino
    fs.setattr(ino, AttrChanges(gid=50), ROOT)
    return ino


def test_new_inode_takes_caller_ids(fs: Filesystem) -> None:
    """Without setgid, a new inode belongs to the caller's uid and gid."""
    attr = fs.mkdir(ROOT_INO, b"d", 0o755, ALICE)
    assert (attr.uid, attr.gid, stat.S_IMODE(attr.mode)) == (1000, 1000, 0o755)


def test_setgid_directory_passes_group_and_bit_to_dirs(fs: Filesystem) -> None:
    """A subdirectory of a setgid directory gets the directory's group and the setgid bit."""
    attr = fs.mkdir(_setgid_dir(fs), b"sub", 0o755, ALICE)
    assert (attr.uid, attr.gid) == (1000, 50)
    assert attr.mode & stat.S_ISGID


def test_setgid_directory_passes_group_not_bit_to_files(fs: Filesystem) -> None:
    """A file in a setgid directory gets the group but not the setgid bit."""
    _, attr = fs.create(_setgid_dir(fs), b"f", 0o644, os.O_WRONLY, ALICE)
    assert (attr.uid, attr.gid) == (1000, 50)
    assert not attr.mode & stat.S_ISGID


def test_overrides_change_what_getattr_shows(make_fs: MakeFs, driver: MemoryDriver) -> None:
    """uid, gid and umask settings replace owner and mask mode bits everywhere, not in the store."""
    ino = store_file(driver, b"f", b"abc")
    fs = make_fs(uid=1234, gid=5678, umask=0o027)
    for attr in (
        fs.getattr(ino),
        fs.lookup(ROOT_INO, b"f", ROOT),
        dict(fs.readdir(fs.opendir(ROOT_INO, ROOT), 0))[b"f"],
    ):
        assert (attr.uid, attr.gid, attr.mode) == (1234, 5678, stat.S_IFREG | 0o640)
    stored = driver.getattr(ino)
    assert (stored.uid, stored.gid, stored.mode) == (0, 0, stat.S_IFREG | 0o644)


@pytest.fixture
def checked(make_fs: MakeFs) -> Filesystem:
    """A Filesystem that checks permissions itself (nodefault_permissions)."""
    return make_fs(check_permissions=True)


def _sticky_tmp(fs: Filesystem) -> int:
    """A root-owned 01777 directory like /tmp."""
    return fs.mkdir(ROOT_INO, b"tmp", 0o1777, ROOT).ino


def test_non_owner_cannot_create_in_0755_dir(checked: Filesystem, driver: MemoryDriver) -> None:
    """Creating in a directory without write permission is EACCES, decided before the store is asked."""
    with pytest.raises(FsError) as exc:
        checked.create(ROOT_INO, b"f", 0o644, os.O_WRONLY, ALICE)
    assert exc.value.errno == errno.EACCES
    assert driver.calls["mknod"] == 0


def test_non_owner_cannot_open_0644_file_for_writing(checked: Filesystem) -> None:
    """Others may open a 0644 file for reading, not for writing (EACCES)."""
    ino = make_file(checked, b"f", b"abc")
    checked.release(checked.open(ino, os.O_RDONLY, ALICE))
    with pytest.raises(FsError) as exc:
        checked.open(ino, os.O_WRONLY, ALICE)
    assert exc.value.errno == errno.EACCES


def test_non_owner_cannot_unlink_from_0755_dir(checked: Filesystem) -> None:
    """Removing an entry needs write permission on its directory (EACCES)."""
    make_file(checked, b"f")
    with pytest.raises(FsError) as exc:
        checked.unlink(ROOT_INO, b"f", ALICE)
    assert exc.value.errno == errno.EACCES


def test_lookup_needs_search_permission(checked: Filesystem) -> None:
    """Looking up a name in a 0700 directory of someone else is EACCES."""
    d = checked.mkdir(ROOT_INO, b"private", 0o700, ROOT).ino
    with pytest.raises(FsError) as exc:
        checked.lookup(d, b"x", ALICE)
    assert exc.value.errno == errno.EACCES


def test_chmod_by_non_owner_is_eperm(checked: Filesystem, driver: MemoryDriver) -> None:
    """Only the owner (or root) may chmod; the store is not asked."""
    ino = make_file(checked, b"f")
    with pytest.raises(FsError) as exc:
        checked.setattr(ino, AttrChanges(mode=0o666), ALICE)
    assert exc.value.errno == errno.EPERM
    assert driver.calls["setattr"] == 0


def test_chown_by_non_root_is_eperm(checked: Filesystem) -> None:
    """Giving a file away is root's privilege, even for its owner."""
    ino = make_file(checked, b"f", parent=_sticky_tmp(checked), caller=ALICE)
    with pytest.raises(FsError) as exc:
        checked.setattr(ino, AttrChanges(uid=BOB.uid), ALICE)
    assert exc.value.errno == errno.EPERM


def test_owner_may_chmod(checked: Filesystem) -> None:
    """The owner's chmod goes through to the store."""
    ino = make_file(checked, b"f", parent=_sticky_tmp(checked), caller=ALICE)
    assert stat.S_IMODE(checked.setattr(ino, AttrChanges(mode=0o600), ALICE).mode) == 0o600


def test_sticky_dir_refuses_deleting_others_files(checked: Filesystem) -> None:
    """In a sticky directory only the file's or directory's owner may unlink or rename it away."""
    tmp = _sticky_tmp(checked)
    make_file(checked, b"a", parent=tmp, caller=ALICE)
    for remove in (
        lambda: checked.unlink(tmp, b"a", BOB),
        lambda: checked.rename(tmp, b"a", tmp, b"mine", BOB),
    ):
        with pytest.raises(FsError) as exc:
            remove()
        assert exc.value.errno == errno.EPERM
    checked.unlink(tmp, b"a", ALICE)
    assert checked.lookup(tmp, b"a", ALICE) is None


def test_sticky_dir_lets_root_delete(checked: Filesystem) -> None:
    """Root may remove anyone's file from a sticky directory."""
    tmp = _sticky_tmp(checked)
    make_file(checked, b"a", parent=tmp, caller=ALICE)
    checked.unlink(tmp, b"a", ROOT)
    assert checked.lookup(tmp, b"a", ROOT) is None


def test_sticky_dir_refuses_replacing_others_files(checked: Filesystem) -> None:
    """Renaming onto another user's file in a sticky directory deletes it, so it is EPERM too."""
    tmp = _sticky_tmp(checked)
    make_file(checked, b"a", b"alice's", parent=tmp, caller=ALICE)
    make_file(checked, b"b", b"bob's", parent=tmp, caller=BOB)
    with pytest.raises(FsError) as exc:
        checked.rename(tmp, b"b", tmp, b"a", BOB)
    assert exc.value.errno == errno.EPERM


def test_access_follows_mode_bits(checked: Filesystem) -> None:
    """access(2) answers from the mode bits: others read a 0644 file but cannot write it; nobody executes it."""
    ino = make_file(checked, b"f")
    assert checked.access(ino, os.R_OK, ALICE)
    assert not checked.access(ino, os.W_OK, ALICE)
    assert checked.access(ino, os.W_OK, ROOT)
    assert not checked.access(ino, os.X_OK, ROOT)


def test_supplementary_group_grants_group_bits(checked: Filesystem) -> None:
    """A caller whose supplementary groups include the file's group gets the group bits."""
    ino = make_file(checked, b"f")
    checked.setattr(ino, AttrChanges(mode=0o640, gid=50), ROOT)
    member = Caller(uid=3000, gid=3000, groups=lambda: frozenset({50}))
    checked.release(checked.open(ino, os.O_RDONLY, member))
    with pytest.raises(FsError) as exc:
        checked.open(ino, os.O_RDONLY, BOB)
    assert exc.value.errno == errno.EACCES


def test_chgrp_needs_membership_of_the_new_group(checked: Filesystem) -> None:
    """The owner may chgrp to a group of their own, not to another (EPERM)."""
    ino = make_file(checked, b"f", parent=_sticky_tmp(checked), caller=ALICE)
    alice = Caller(uid=ALICE.uid, gid=ALICE.gid, groups=lambda: frozenset({50}))
    assert checked.setattr(ino, AttrChanges(gid=50), alice).gid == 50
    with pytest.raises(FsError) as exc:
        checked.setattr(ino, AttrChanges(gid=60), alice)
    assert exc.value.errno == errno.EPERM


def test_permission_checks_use_the_overridden_owner(make_fs: MakeFs, driver: MemoryDriver) -> None:
    """With uid/gid overrides, checks judge the owner the caller is shown, as access(2) already does."""
    ino = store_file(driver, b"f", b"abc")
    fs = make_fs(uid=ALICE.uid, gid=ALICE.gid, check_permissions=True)
    assert fs.getattr(ino).uid == ALICE.uid
    assert fs.access(ino, os.W_OK, ALICE)
    fs.release(fs.open(ino, os.O_WRONLY, ALICE))
    make_file(fs, b"new", caller=ALICE)


def test_permission_checks_use_the_overridden_umask(make_fs: MakeFs, driver: MemoryDriver) -> None:
    """A umask override that hides write bits from others also stops their writes."""
    ino = store_file(driver, b"f", b"abc")
    driver.setattr(ino, AttrChanges(mode=0o666))
    fs = make_fs(umask=0o022, check_permissions=True)
    assert not fs.access(ino, os.W_OK, ALICE)
    with pytest.raises(FsError) as exc:
        fs.open(ino, os.O_WRONLY, ALICE)
    assert exc.value.errno == errno.EACCES


def test_moving_a_directory_to_another_parent_needs_write_on_it(checked: Filesystem) -> None:
    """Moving someone else's directory elsewhere rewrites its `..`, so it needs write permission on it (EACCES)."""
    pub = checked.mkdir(ROOT_INO, b"pub", 0o777, ROOT).ino
    pub2 = checked.mkdir(ROOT_INO, b"pub2", 0o777, ROOT).ino
    checked.mkdir(pub, b"d", 0o755, ALICE)
    with pytest.raises(FsError) as exc:
        checked.rename(pub, b"d", pub2, b"d", BOB)
    assert exc.value.errno == errno.EACCES
    checked.rename(pub, b"d", pub, b"renamed", BOB)
    assert checked.lookup(pub, b"renamed", BOB) is not None
