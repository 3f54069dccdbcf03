"""Names coming and going: unlink, rmdir, link, symlink and readlink, per kind of object."""

import ctypes
import errno
import os
import stat
from functools import partial

from posix_tests.helpers import KINDS, NONDIR_KINDS, expect_eq, expect_errno, make, read_file, write_file
from posix_tests.registry import add, case

_libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400
SYMLINK_TARGETS = {
    "relative": "target",
    "absolute": "/nonexistent/abs/target",
    "dotdot": "../x/../y",
    "one-char": "t",
    "spaces": "a b  c",
    "newline": "a\nb",
    "utf8": "caf\u00e9-\u6f22\u5b57",
    "trailing-slash": "dir/",
    "long-4095": "t" * 4095,
}


def _rmdir_kind(kind: str, d: str) -> None:
    """rmdir on anything but a directory is ENOTDIR; the object stays."""
    make(kind, f"{d}/x")
    expect_errno(errno.ENOTDIR, os.rmdir, f"{d}/x")
    os.lstat(f"{d}/x")


def _rmdir_nonempty(kind: str, d: str) -> None:
    """A directory holding any kind of entry is ENOTEMPTY."""
    os.mkdir(f"{d}/x")
    make(kind, f"{d}/x/e")
    expect_errno(errno.ENOTEMPTY, os.rmdir, f"{d}/x")


def _unlink_kind(kind: str, d: str) -> None:
    """unlink removes every kind but a directory (EISDIR)."""
    make(kind, f"{d}/x")
    if kind == "dir":
        expect_errno(errno.EISDIR, os.unlink, f"{d}/x")
        return
    os.unlink(f"{d}/x")
    expect_errno(errno.ENOENT, os.lstat, f"{d}/x")


def _link_kind(kind: str, d: str) -> None:
    """A hard link to any non-directory shares the inode and raises nlink to 2."""
    make(kind, f"{d}/x")
    os.link(f"{d}/x", f"{d}/y", follow_symlinks=False)
    a, b = os.lstat(f"{d}/x"), os.lstat(f"{d}/y")
    expect_eq("ino, nlink", (a.st_ino, 2, 2), (b.st_ino, a.st_nlink, b.st_nlink))


def _symlink_target(name: str, d: str) -> None:
    """readlink returns the exact target bytes; lstat's size is their length."""
    target = SYMLINK_TARGETS[name]
    os.symlink(target, f"{d}/x")
    got = os.readlink(f"{d}/x")
    size = os.lstat(f"{d}/x").st_size
    expect_eq("target, size", (target, len(target.encode())), (got, size))


def _readlink_kind(kind: str, d: str) -> None:
    """readlink on anything but a symlink is EINVAL."""
    make(kind, f"{d}/x")
    expect_errno(errno.EINVAL, os.readlink, f"{d}/x")


def _register() -> None:
    """Register the per-kind matrices."""
    for kind in (*NONDIR_KINDS, "symlink"):
        add(f"rmdir/kind-{kind}/ENOTDIR", partial(_rmdir_kind, kind))
        add(f"link/kind-{kind}/shares-inode", partial(_link_kind, kind))
    for kind in KINDS:
        add(f"rmdir/nonempty-with-{kind}/ENOTEMPTY", partial(_rmdir_nonempty, kind))
        add(f"unlink/kind-{kind}/{'EISDIR' if kind == 'dir' else 'removed'}", partial(_unlink_kind, kind))
    for kind in ("reg", "dir", "fifo", "sock", "chr"):
        add(f"readlink/kind-{kind}/EINVAL", partial(_readlink_kind, kind))
    for name in SYMLINK_TARGETS:
        add(f"symlink/target-{name}/readlink-exact", partial(_symlink_target, name))


_register()


@case("rmdir/empty/removed")
def rmdir_empty(d: str) -> None:
    """An empty directory is removed."""
    os.mkdir(f"{d}/x")
    os.rmdir(f"{d}/x")
    expect_errno(errno.ENOENT, os.lstat, f"{d}/x")


@case("rmdir/dot/EINVAL")
def rmdir_dot(d: str) -> None:
    """rmdir of a path ending in '.' is EINVAL."""
    os.mkdir(f"{d}/x")
    expect_errno(errno.EINVAL, os.rmdir, f"{d}/x/.")


@case("rmdir/dotdot/ENOTEMPTY")
def rmdir_dotdot(d: str) -> None:
    """rmdir of a path ending in '..' is ENOTEMPTY on Linux."""
    os.mkdir(f"{d}/x")
    expect_errno(errno.ENOTEMPTY, os.rmdir, f"{d}/x/..")


@case("rmdir/symlink-to-dir/ENOTDIR")
def rmdir_symlink_dir(d: str) -> None:
    """rmdir does not follow a final symlink, even to a directory."""
    os.mkdir(f"{d}/t")
    os.symlink("t", f"{d}/x")
    expect_errno(errno.ENOTDIR, os.rmdir, f"{d}/x")


@case("rmdir/after-emptied/removed")
def rmdir_after_emptied(d: str) -> None:
    """A directory becomes removable once its last entry is gone."""
    os.mkdir(f"{d}/x")
    make("reg", f"{d}/x/f")
    os.unlink(f"{d}/x/f")
    os.rmdir(f"{d}/x")


@case("unlink/symlink/target-kept")
def unlink_symlink(d: str) -> None:
    """Unlinking a symlink removes the link, not its target."""
    write_file(f"{d}/t", b"keep")
    os.symlink("t", f"{d}/x")
    os.unlink(f"{d}/x")
    expect_eq("target", b"keep", read_file(f"{d}/t"))


@case("unlink/hard-link/nlink-decrements")
def unlink_nlink(d: str) -> None:
    """Removing one of two links leaves the other with nlink 1 and the data."""
    write_file(f"{d}/x", b"data")
    os.link(f"{d}/x", f"{d}/y")
    os.unlink(f"{d}/x")
    expect_eq("nlink, data", (1, b"data"), (os.stat(f"{d}/y").st_nlink, read_file(f"{d}/y")))


@case("link/dir/EPERM")
def link_dir(d: str) -> None:
    """Hard links to directories are refused with EPERM."""
    os.mkdir(f"{d}/x")
    expect_errno(errno.EPERM, os.link, f"{d}/x", f"{d}/y")


@case("link/shared-data/write-visible")
def link_shared(d: str) -> None:
    """Data written through one link is read through the other."""
    write_file(f"{d}/x", b"one")
    os.link(f"{d}/x", f"{d}/y")
    with open(f"{d}/y", "r+b") as f:
        f.write(b"two")
    expect_eq("content", b"two", read_file(f"{d}/x"))


@case("link/symlink-source/links-symlink-itself")
def link_symlink(d: str) -> None:
    """link() does not follow a symlink source on Linux: the new name is a symlink too."""
    make("reg", f"{d}/t")
    os.symlink("t", f"{d}/x")
    os.link(f"{d}/x", f"{d}/y", follow_symlinks=False)
    expect_eq("kind", True, stat.S_ISLNK(os.lstat(f"{d}/y").st_mode))


@case("link/follow-symlink-source/links-target")
def link_follow(d: str) -> None:
    """linkat with AT_SYMLINK_FOLLOW links the file the symlink points at."""
    make("reg", f"{d}/t")
    os.symlink("t", f"{d}/x")
    # CPython's os.link calls plain link(), which never follows; ask linkat directly.
    if _libc.linkat(AT_FDCWD, f"{d}/x".encode(), AT_FDCWD, f"{d}/y".encode(), AT_SYMLINK_FOLLOW) != 0:
        raise OSError(ctypes.get_errno(), "linkat failed")
    expect_eq("ino", os.lstat(f"{d}/t").st_ino, os.lstat(f"{d}/y").st_ino)


@case("symlink/empty-target/ENOENT")
def symlink_empty(d: str) -> None:
    """An empty symlink target is refused."""
    expect_errno(errno.ENOENT, os.symlink, "", f"{d}/x")


@case("symlink/target-4096/ENAMETOOLONG")
def symlink_too_long(d: str) -> None:
    """A target of PATH_MAX bytes (no room for the NUL) is too long."""
    expect_errno(errno.ENAMETOOLONG, os.symlink, "t" * 4096, f"{d}/x")


@case("symlink/mode/0777")
def symlink_mode(d: str) -> None:
    """Symlinks always have mode 0777 on Linux."""
    os.umask(0o077)
    os.symlink("t", f"{d}/x")
    expect_eq("mode", 0o777, stat.S_IMODE(os.lstat(f"{d}/x").st_mode))


@case("symlink/relative/resolved-from-link-dir")
def symlink_relative(d: str) -> None:
    """A relative target is resolved from the directory holding the link."""
    os.mkdir(f"{d}/sub")
    write_file(f"{d}/sub/t", b"sub")
    os.symlink("t", f"{d}/sub/x")
    expect_eq("content", b"sub", read_file(f"{d}/sub/x"))


@case("symlink/chain-40/resolves")
def symlink_chain_40(d: str) -> None:
    """Linux follows up to 40 symlinks in one lookup."""
    write_file(f"{d}/real", b"end")
    os.symlink("real", f"{d}/l39")
    for i in range(39):
        os.symlink(f"l{i + 1}", f"{d}/l{i}")
    expect_eq("content", b"end", read_file(f"{d}/l0"))


@case("readlink/small-buffer/truncated")
def readlink_small(d: str) -> None:
    """readlink with a short buffer returns the first bytes, without a NUL or an error."""
    os.symlink("abcdef", f"{d}/x")
    buf = ctypes.create_string_buffer(16)
    n = _libc.readlink(f"{d}/x".encode(), buf, 3)
    expect_eq("bytes", b"abc", buf.raw[:n])
