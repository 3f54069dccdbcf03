"""What each FUSE binding serves, mounted on sqlite:: fallocate modes and renameat2 flags through mfusepy, and
the refusals llfuse leaves to the kernel."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuse.mounts import Mount

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
AT_FDCWD = -100

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
libc.renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)


def fallocate(fd: int, mode: int, off: int, length: int) -> int:
    """fallocate(2): 0, or the errno it failed with."""
    return 0 if libc.fallocate(fd, mode, off, length) == 0 else ctypes.get_errno()


def renameat2(old: Path, new: Path, flags: int) -> int:
    """renameat2(2) on two paths: 0, or the errno it failed with."""
    done = libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags)
    return 0 if done == 0 else ctypes.get_errno()


def mounted(tmp_path: Path, binding: str) -> Iterator[Mount]:
    mount = Mount(f"sqlite:{tmp_path}/fs.db", tmp_path / "mnt", tmp_path / "cloudfs.log", (f"binding={binding}",))
    mount.start()
    yield mount
    mount.stop()
    assert mount.problems() == []


@pytest.fixture
def mfusepy_mount(tmp_path: Path) -> Iterator[Mount]:
    yield from mounted(tmp_path, "mfusepy")


@pytest.fixture
def llfuse_mount(tmp_path: Path) -> Iterator[Mount]:
    yield from mounted(tmp_path, "llfuse")


def test_fallocate_grows_keeps_size_and_punches_holes_through_mfusepy(mfusepy_mount: Mount) -> None:
    """Mode 0 grows the file with zeros; KEEP_SIZE changes nothing visible; PUNCH_HOLE zeroes a range in place;
    modes a store cannot do are EOPNOTSUPP. The data survives a remount."""
    path = mfusepy_mount.path / "f"
    path.write_bytes(b"x" * 1000)
    fd = os.open(path, os.O_RDWR)
    try:
        assert fallocate(fd, 0, 0, 5000) == 0
        assert os.fstat(fd).st_size == 5000
        assert fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 90000) == 0
        assert os.fstat(fd).st_size == 5000
        assert fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 200) == 0
        assert fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10) == errno.EOPNOTSUPP
        assert fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096) == errno.EOPNOTSUPP
    finally:
        os.close(fd)
    mfusepy_mount.restart()
    assert path.read_bytes() == b"x" * 100 + bytes(200) + b"x" * 700 + bytes(4000)


def test_renameat2_flags_are_atomic_through_mfusepy(mfusepy_mount: Mount) -> None:
    """NOREPLACE refuses an existing target (EEXIST) and moves onto a free name; EXCHANGE swaps a file and a
    directory, each keeping its contents."""
    root = mfusepy_mount.path
    (root / "a").write_text("A")
    (root / "b").write_text("B")
    (root / "d").mkdir()
    (root / "d" / "inside").write_text("I")
    assert renameat2(root / "a", root / "b", RENAME_NOREPLACE) == errno.EEXIST
    assert renameat2(root / "a", root / "c", RENAME_NOREPLACE) == 0
    assert renameat2(root / "c", root / "d", RENAME_EXCHANGE) == 0
    assert (root / "c" / "inside").read_text() == "I" and (root / "d").read_text() == "A"
    assert renameat2(root / "c", root / "missing", RENAME_EXCHANGE) == errno.ENOENT
    assert sorted(os.listdir(root)) == ["b", "c", "d"]
    assert os.stat(root).st_nlink == 3  # one subdirectory, wherever it moved


def test_llfuse_leaves_fallocate_and_rename_flags_unsupported(llfuse_mount: Mount) -> None:
    """libfuse 2 forwards neither: fallocate is EOPNOTSUPP, renameat2 flags EINVAL (the kernel's answers)."""
    root = llfuse_mount.path
    (root / "a").write_text("A")
    fd = os.open(root / "a", os.O_RDWR)
    try:
        assert fallocate(fd, 0, 0, 4096) == errno.EOPNOTSUPP
    finally:
        os.close(fd)
    assert renameat2(root / "a", root / "b", RENAME_NOREPLACE) == errno.EINVAL
