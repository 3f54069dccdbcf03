"""stat/lstat/fstat fields per kind of object, link counts, sizes and blocks, and statvfs."""

import os
import stat
from functools import partial

from posix_tests.helpers import IFMT, KINDS, expect_eq, make, write_file
from posix_tests.registry import add, case


def _lstat_type(kind: str, d: str) -> None:
    """lstat reports each kind's file type, and nlink 1 for non-directories."""
    make(kind, f"{d}/x")
    st = os.lstat(f"{d}/x")
    expect_eq("type", IFMT[kind], stat.S_IFMT(st.st_mode))
    expect_eq("nlink", 2 if kind == "dir" else 1, st.st_nlink)


def _stat_follows(kind: str, d: str) -> None:
    """stat through a symlink reports the target's type and inode."""
    make(kind, f"{d}/t")
    os.symlink("t", f"{d}/x")
    st, target = os.stat(f"{d}/x"), os.lstat(f"{d}/t")
    expect_eq("type, ino", (IFMT[kind], target.st_ino), (stat.S_IFMT(st.st_mode), st.st_ino))


def _fstat_matches(kind: str, d: str) -> None:
    """fstat on an fd agrees with stat on the path in every identifying field."""
    make(kind, f"{d}/x")
    fd = os.open(f"{d}/x", os.O_RDONLY | os.O_NONBLOCK)
    try:
        a, b = os.fstat(fd), os.stat(f"{d}/x")
    finally:
        os.close(fd)
    fields = ("st_ino", "st_dev", "st_mode", "st_nlink", "st_uid", "st_gid", "st_size")
    expect_eq("fields", [getattr(b, f) for f in fields], [getattr(a, f) for f in fields])


def _same_dev(kind: str, d: str) -> None:
    """Every object in the tree is on the same device as its directory."""
    make(kind, f"{d}/x")
    expect_eq("st_dev", os.stat(d).st_dev, os.lstat(f"{d}/x").st_dev)


for _kind in KINDS:
    add(f"lstat/kind-{_kind}/type-and-nlink", partial(_lstat_type, _kind))
    add(f"lstat/kind-{_kind}/same-st-dev", partial(_same_dev, _kind))
for _kind in ("reg", "dir", "fifo", "sock"):
    add(f"stat/through-symlink-to-{_kind}/target", partial(_stat_follows, _kind))
for _kind in ("reg", "dir", "fifo"):
    add(f"fstat/kind-{_kind}/matches-stat", partial(_fstat_matches, _kind))


def _size(n: int, d: str) -> None:
    """st_size is the number of bytes written, and st_blocks covers them."""
    write_file(f"{d}/x", b"s" * n)
    st = os.stat(f"{d}/x")
    expect_eq("size", n, st.st_size)
    expect_eq("blocks cover size", True, st.st_blocks * 512 >= n)


for _n in (0, 1, 511, 512, 4097, 1_000_000):
    add(f"stat/size-{_n}/size-and-blocks", partial(_size, _n))


@case("stat/inodes/unique-in-dir")
def unique_inodes(d: str) -> None:
    """Different objects have different inode numbers."""
    for i, kind in enumerate(KINDS):
        make(kind, f"{d}/x{i}")
    inos = [os.lstat(f"{d}/x{i}").st_ino for i in range(len(KINDS))]
    expect_eq("distinct", len(inos), len(set(inos)))


@case("stat/dir-nlink/subdirs-counted")
def dir_nlink(d: str) -> None:
    """A directory's nlink is 2 plus its subdirectories; files do not count."""
    os.mkdir(f"{d}/x")
    for i in range(3):
        os.mkdir(f"{d}/x/s{i}")
        write_file(f"{d}/x/f{i}", b"")
    expect_eq("nlink", 5, os.stat(f"{d}/x").st_nlink)


@case("stat/dot-and-dotdot/inodes")
def dot_dotdot(d: str) -> None:
    """'.' is the directory itself and '..' its parent."""
    os.mkdir(f"{d}/x")
    expect_eq(
        "., ..",
        (os.stat(f"{d}/x").st_ino, os.stat(d).st_ino),
        (os.stat(f"{d}/x/.").st_ino, os.stat(f"{d}/x/..").st_ino),
    )


@case("stat/blksize/positive")
def blksize(d: str) -> None:
    """st_blksize gives a usable I/O size."""
    make("reg", f"{d}/x")
    expect_eq("blksize > 0", True, os.stat(f"{d}/x").st_blksize > 0)


@case("stat/symlink-size/target-length")
def symlink_size(d: str) -> None:
    """A symlink's st_size is the length of its target in bytes."""
    os.symlink("caf\u00e9/x", f"{d}/x")
    expect_eq("size", len("caf\u00e9/x".encode()), os.lstat(f"{d}/x").st_size)


@case("stat/hard-link/same-fields")
def hard_link_fields(d: str) -> None:
    """Two names of one inode report identical attributes."""
    write_file(f"{d}/x", b"data")
    os.link(f"{d}/x", f"{d}/y")
    a, b = os.stat(f"{d}/x"), os.stat(f"{d}/y")
    expect_eq(
        "ino, size, nlink, mtime",
        (a.st_ino, a.st_size, a.st_nlink, a.st_mtime_ns),
        (b.st_ino, b.st_size, b.st_nlink, b.st_mtime_ns),
    )


@case("statvfs/fields/consistent")
def statvfs_fields(d: str) -> None:
    """Block sizes are positive and free counts never exceed totals."""
    v = os.statvfs(d)
    checks = (v.f_bsize > 0, v.f_frsize > 0, v.f_blocks >= v.f_bfree >= v.f_bavail, v.f_files >= v.f_ffree)
    expect_eq("bsize, frsize, blocks, files", (True, True, True, True), checks)


@case("statvfs/namemax/255")
def statvfs_namemax(d: str) -> None:
    """The longest name is 255 bytes, matching what the name cases check."""
    expect_eq("f_namemax", 255, os.statvfs(d).f_namemax)


@case("statvfs/file-and-dir/same-fs")
def statvfs_same(d: str) -> None:
    """statvfs of a file, its directory and an fd describe one filesystem."""
    make("reg", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_RDONLY)
    try:
        a, b, c = os.statvfs(d), os.statvfs(f"{d}/x"), os.fstatvfs(fd)
    finally:
        os.close(fd)
    expect_eq(
        "fsid, bsize, namemax",
        [(a.f_fsid, a.f_bsize, a.f_namemax)] * 2,
        [(b.f_fsid, b.f_bsize, b.f_namemax), (c.f_fsid, c.f_bsize, c.f_namemax)],
    )


@case("statvfs/after-write/free-space-shrinks")
def statvfs_shrinks(d: str) -> None:
    """Writing 4 MiB takes free blocks away."""
    before = os.statvfs(d)
    write_file(f"{d}/x", b"\x01" * (4 << 20))
    after = os.statvfs(d)
    expect_eq("bfree decreased", True, after.f_bfree * after.f_frsize < before.f_bfree * before.f_frsize)
