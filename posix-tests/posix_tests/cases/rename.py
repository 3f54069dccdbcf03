"""rename(2) and renameat2(2): every source kind over every target kind, subtree rules, and flags.

renameat2 flags get their own ids because some FUSE bindings refuse them; plain rename must still work.
"""

import ctypes
import errno
import os
import stat
from functools import partial

from posix_tests.helpers import expect_eq, expect_errno, make, read_file, write_file
from posix_tests.registry import add, case

SOURCES = ("reg", "dir", "fifo", "sock", "chr", "symlink")
TARGETS = ("missing", "reg", "dir-empty", "dir-nonempty", "fifo", "sock", "chr", "symlink")
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
AT_FDCWD = -100
_libc = ctypes.CDLL(None, use_errno=True)


def renameat2(old: str, new: str, flags: int) -> None:
    """renameat2 through libc, raising OSError like the os module does."""
    if _libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), old)


def _expected(src: str, dst: str) -> int:
    """Linux's answer for renaming a `src` over an existing `dst`."""
    if dst == "missing":
        return 0
    if src == "dir":
        return {"dir-empty": 0, "dir-nonempty": errno.ENOTEMPTY}.get(dst, errno.ENOTDIR)
    return errno.EISDIR if dst.startswith("dir") else 0


def _make_target(dst: str, path: str) -> None:
    """Create the rename target described by `dst`."""
    if dst == "missing":
        return
    make("dir" if dst.startswith("dir") else dst, path)
    if dst == "dir-nonempty":
        make("reg", f"{path}/inner")


def _matrix(src: str, dst: str, d: str) -> None:
    """Rename src over dst: on success the target name holds the source inode, else both stay."""
    make(src, f"{d}/a")
    _make_target(dst, f"{d}/b")
    a_ino = os.lstat(f"{d}/a").st_ino
    b_ino = None if dst == "missing" else os.lstat(f"{d}/b").st_ino
    expected = _expected(src, dst)
    if expected:
        expect_errno(expected, os.rename, f"{d}/a", f"{d}/b")
        expect_eq("inodes unchanged", (a_ino, b_ino), (os.lstat(f"{d}/a").st_ino, os.lstat(f"{d}/b").st_ino))
        return
    os.rename(f"{d}/a", f"{d}/b")
    expect_eq("target inode", a_ino, os.lstat(f"{d}/b").st_ino)
    expect_errno(errno.ENOENT, os.lstat, f"{d}/a")


def _register() -> None:
    """Register the source x target matrix."""
    for src in SOURCES:
        for dst in TARGETS:
            res = errno.errorcode.get(_expected(src, dst), "ok")
            add(f"rename/{src}-over-{dst}/{res}", partial(_matrix, src, dst))


_register()


@case("rename/dir-into-own-subtree/EINVAL")
def into_subtree(d: str) -> None:
    """A directory cannot become its own descendant."""
    os.makedirs(f"{d}/a/b")
    expect_errno(errno.EINVAL, os.rename, f"{d}/a", f"{d}/a/b/c")


@case("rename/dir-into-itself/EINVAL")
def into_itself(d: str) -> None:
    """Renaming a directory to a name inside itself is EINVAL."""
    os.mkdir(f"{d}/a")
    expect_errno(errno.EINVAL, os.rename, f"{d}/a", f"{d}/a/b")


@case("rename/dir-over-own-ancestor/ENOTEMPTY")
def over_ancestor(d: str) -> None:
    """Renaming onto an ancestor directory fails: the ancestor is not empty."""
    os.makedirs(f"{d}/a/b")
    expect_errno(errno.ENOTEMPTY, os.rename, f"{d}/a/b", f"{d}/a")


@case("rename/source-dot/EBUSY")
def source_dot(d: str) -> None:
    """'.' cannot be renamed."""
    os.mkdir(f"{d}/a")
    expect_errno(errno.EBUSY, os.rename, f"{d}/a/.", f"{d}/b")


@case("rename/target-dotdot/EBUSY")
def target_dotdot(d: str) -> None:
    """'..' cannot be a rename target."""
    os.makedirs(f"{d}/a/b")
    expect_errno(errno.EBUSY, os.rename, f"{d}/a/b", f"{d}/a/b/..")


@case("rename/same-name/noop")
def same_name(d: str) -> None:
    """Renaming a file to itself succeeds and changes nothing."""
    write_file(f"{d}/a", b"data")
    os.rename(f"{d}/a", f"{d}/a")
    expect_eq("content", b"data", read_file(f"{d}/a"))


@case("rename/hard-links-same-inode/both-kept")
def same_inode(d: str) -> None:
    """Renaming one link over another link of the same inode does nothing: both names stay."""
    make("reg", f"{d}/a")
    os.link(f"{d}/a", f"{d}/b")
    os.rename(f"{d}/a", f"{d}/b")
    expect_eq("nlink", 2, os.lstat(f"{d}/a").st_nlink)


@case("rename/file-across-dirs/moved")
def across_dirs(d: str) -> None:
    """A file moves between directories with its inode and content."""
    os.mkdir(f"{d}/p")
    os.mkdir(f"{d}/q")
    write_file(f"{d}/p/f", b"content")
    ino = os.stat(f"{d}/p/f").st_ino
    os.rename(f"{d}/p/f", f"{d}/q/g")
    expect_eq(
        "ino, content, old dir",
        (ino, b"content", []),
        (os.stat(f"{d}/q/g").st_ino, read_file(f"{d}/q/g"), os.listdir(f"{d}/p")),
    )


@case("rename/dir-across-dirs/dotdot-updated")
def dir_dotdot(d: str) -> None:
    """A moved directory's '..' is its new parent."""
    os.makedirs(f"{d}/p/x")
    os.mkdir(f"{d}/q")
    os.rename(f"{d}/p/x", f"{d}/q/x")
    expect_eq("..", os.stat(f"{d}/q").st_ino, os.stat(f"{d}/q/x/..").st_ino)


@case("rename/dir-across-dirs/parent-nlink")
def dir_nlink(d: str) -> None:
    """Moving a directory moves one link from the old parent to the new one."""
    os.makedirs(f"{d}/p/x")
    os.mkdir(f"{d}/q")
    p0, q0 = os.stat(f"{d}/p").st_nlink, os.stat(f"{d}/q").st_nlink
    os.rename(f"{d}/p/x", f"{d}/q/x")
    expect_eq("nlinks", (p0 - 1, q0 + 1), (os.stat(f"{d}/p").st_nlink, os.stat(f"{d}/q").st_nlink))


@case("rename/nonempty-dir/contents-follow")
def dir_contents(d: str) -> None:
    """A renamed directory keeps its whole subtree."""
    os.makedirs(f"{d}/a/b/c")
    write_file(f"{d}/a/b/c/f", b"deep")
    os.rename(f"{d}/a", f"{d}/z")
    expect_eq("deep file", b"deep", read_file(f"{d}/z/b/c/f"))


@case("rename/symlink/renames-link-not-target")
def symlink_itself(d: str) -> None:
    """rename acts on a symlink itself, never on what it points at."""
    make("reg", f"{d}/t")
    os.symlink("t", f"{d}/l")
    os.rename(f"{d}/l", f"{d}/m")
    expect_eq("link, target", ("t", True), (os.readlink(f"{d}/m"), os.path.exists(f"{d}/t")))


@case("rename/dir-trailing-slashes/ok")
def dir_slashes(d: str) -> None:
    """Trailing slashes are fine on directory names."""
    os.mkdir(f"{d}/a")
    os.rename(f"{d}/a/", f"{d}/b/")
    expect_eq("is dir", True, stat.S_ISDIR(os.lstat(f"{d}/b").st_mode))


@case("rename/reg-to-trailing-slash/ENOTDIR")
def reg_slash(d: str) -> None:
    """A file cannot be renamed to a name ending in '/'."""
    make("reg", f"{d}/a")
    expect_errno(errno.ENOTDIR, os.rename, f"{d}/a", f"{d}/b/")


@case("rename/over-open-target/old-data-readable")
def over_open(d: str) -> None:
    """A replaced target stays readable through an fd opened before the rename."""
    write_file(f"{d}/a", b"new")
    write_file(f"{d}/b", b"old")
    fd = os.open(f"{d}/b", os.O_RDONLY)
    try:
        os.rename(f"{d}/a", f"{d}/b")
        expect_eq("old fd, new name", (b"old", b"new"), (os.pread(fd, 10, 0), read_file(f"{d}/b")))
    finally:
        os.close(fd)


@case("rename/over-hard-linked-target/other-link-kept")
def over_linked(d: str) -> None:
    """Replacing one name of a hard-linked file leaves its other name and content."""
    write_file(f"{d}/b", b"old")
    os.link(f"{d}/b", f"{d}/c")
    write_file(f"{d}/a", b"new")
    os.rename(f"{d}/a", f"{d}/b")
    expect_eq("other link", (b"old", 1), (read_file(f"{d}/c"), os.stat(f"{d}/c").st_nlink))


@case("renameat2/noreplace-existing/EEXIST")
def noreplace_existing(d: str) -> None:
    """RENAME_NOREPLACE refuses an existing target."""
    make("reg", f"{d}/a")
    make("reg", f"{d}/b")
    expect_errno(errno.EEXIST, renameat2, f"{d}/a", f"{d}/b", RENAME_NOREPLACE)


@case("renameat2/noreplace-missing/ok")
def noreplace_missing(d: str) -> None:
    """RENAME_NOREPLACE renames onto a missing name."""
    make("reg", f"{d}/a")
    renameat2(f"{d}/a", f"{d}/b", RENAME_NOREPLACE)
    expect_eq("moved", (False, True), (os.path.lexists(f"{d}/a"), os.path.lexists(f"{d}/b")))


@case("renameat2/exchange/swapped")
def exchange(d: str) -> None:
    """RENAME_EXCHANGE swaps two names atomically, even a file and a directory."""
    write_file(f"{d}/a", b"file")
    os.mkdir(f"{d}/b")
    renameat2(f"{d}/a", f"{d}/b", RENAME_EXCHANGE)
    expect_eq("kinds", (True, b"file"), (stat.S_ISDIR(os.lstat(f"{d}/a").st_mode), read_file(f"{d}/b")))


@case("renameat2/exchange-missing/ENOENT")
def exchange_missing(d: str) -> None:
    """RENAME_EXCHANGE needs both names to exist."""
    make("reg", f"{d}/a")
    expect_errno(errno.ENOENT, renameat2, f"{d}/a", f"{d}/b", RENAME_EXCHANGE)


@case("renameat2/both-flags/EINVAL")
def both_flags(d: str) -> None:
    """RENAME_NOREPLACE and RENAME_EXCHANGE together are EINVAL."""
    make("reg", f"{d}/a")
    make("reg", f"{d}/b")
    expect_errno(errno.EINVAL, renameat2, f"{d}/a", f"{d}/b", RENAME_NOREPLACE | RENAME_EXCHANGE)
