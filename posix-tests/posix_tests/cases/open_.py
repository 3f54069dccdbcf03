"""open(2) flags and access modes, per kind of object, plus the fd-level errors that follow from them."""

import errno
import os
import stat
from functools import partial

from posix_tests.helpers import expect_eq, expect_errno, make, read_file, write_file
from posix_tests.registry import add, case

ACCESS = {"rdonly": os.O_RDONLY, "wronly": os.O_WRONLY, "rdwr": os.O_RDWR}
# Expected errno per (kind, access); FIFOs are opened non-blocking so nothing waits for a peer.
OPEN_RESULT = {
    ("reg", "rdonly"): 0,
    ("reg", "wronly"): 0,
    ("reg", "rdwr"): 0,
    ("dir", "rdonly"): 0,
    ("dir", "wronly"): errno.EISDIR,
    ("dir", "rdwr"): errno.EISDIR,
    ("fifo", "rdonly"): 0,
    ("fifo", "wronly"): errno.ENXIO,
    ("fifo", "rdwr"): 0,
    ("sock", "rdonly"): errno.ENXIO,
    ("sock", "wronly"): errno.ENXIO,
    ("sock", "rdwr"): errno.ENXIO,
    ("symlink", "rdonly"): errno.ENOENT,
    ("symlink", "wronly"): errno.ENOENT,
    ("symlink", "rdwr"): errno.ENOENT,
}


def _expect_open(expected: int, path: str, flags: int) -> None:
    """Open with the given flags and assert the errno, or success (fd closed again)."""
    if expected:
        expect_errno(expected, os.open, path, flags, 0o644)
    else:
        os.close(os.open(path, flags, 0o644))


def _access(kind: str, acc: str, d: str) -> None:
    """Each access mode on each kind of object."""
    make(kind, f"{d}/x")
    _expect_open(OPEN_RESULT[(kind, acc)], f"{d}/x", ACCESS[acc] | os.O_NONBLOCK)


def _odirectory(kind: str, d: str) -> None:
    """O_DIRECTORY succeeds only on a directory; anything else is ENOTDIR (a dangling link: ENOENT)."""
    make(kind, f"{d}/x")
    expected = {"dir": 0, "symlink": errno.ENOENT}.get(kind, errno.ENOTDIR)
    _expect_open(expected, f"{d}/x", os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK)


def _excl(kind: str, d: str) -> None:
    """O_CREAT|O_EXCL fails with EEXIST on every existing kind, dangling symlinks included."""
    make(kind, f"{d}/x")
    _expect_open(errno.EEXIST, f"{d}/x", os.O_CREAT | os.O_EXCL | os.O_WRONLY)


def _nofollow(target_kind: str, d: str) -> None:
    """O_NOFOLLOW on a final symlink is ELOOP whatever it points at."""
    if target_kind != "missing":
        make(target_kind, f"{d}/t")
    os.symlink("t", f"{d}/x")
    _expect_open(errno.ELOOP, f"{d}/x", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)


def _creat_existing(kind: str, d: str) -> None:
    """O_CREAT without O_EXCL on an existing object opens it (a directory: EISDIR), never replacing it."""
    make(kind, f"{d}/x")
    ino = os.lstat(f"{d}/x").st_ino
    expected = {"dir": errno.EISDIR, "sock": errno.ENXIO}.get(kind, 0)
    _expect_open(expected, f"{d}/x", os.O_CREAT | os.O_RDONLY | os.O_NONBLOCK)
    expect_eq("ino", ino, os.lstat(f"{d}/x").st_ino)


def _trunc(acc: str, size: int, d: str) -> None:
    """O_TRUNC with write access empties a regular file of any size."""
    write_file(f"{d}/x", b"z" * size)
    os.close(os.open(f"{d}/x", ACCESS[acc] | os.O_TRUNC))
    expect_eq("size", 0, os.stat(f"{d}/x").st_size)


def _register() -> None:
    """Register the kind x flag matrices."""
    for (kind, acc), expected in OPEN_RESULT.items():
        add(f"open/{kind}-{acc}/{errno.errorcode.get(expected, 'ok')}", partial(_access, kind, acc))
    for kind in ("reg", "dir", "fifo", "sock", "symlink"):
        res = {"dir": "ok", "symlink": "ENOENT"}.get(kind, "ENOTDIR")
        add(f"open/o-directory-{kind}/{res}", partial(_odirectory, kind))
        res = {"dir": "EISDIR", "sock": "ENXIO"}.get(kind, "ok")
        add(f"open/o-creat-existing-{kind}/{res}", partial(_creat_existing, kind))
    for kind in ("reg", "dir", "fifo", "sock", "chr", "blk", "symlink"):
        add(f"open/o-excl-existing-{kind}/EEXIST", partial(_excl, kind))
    for target in ("reg", "dir", "fifo", "missing"):
        add(f"open/o-nofollow-symlink-to-{target}/ELOOP", partial(_nofollow, target))
    for acc in ("wronly", "rdwr"):
        for size in (0, 1, 4096, 200_000):
            add(f"open/o-trunc-{acc}-size-{size}/truncated", partial(_trunc, acc, size))


_register()


@case("open/o-creat-dir-path/EISDIR")
def creat_on_dir(d: str) -> None:
    """O_CREAT on an existing directory with write access is EISDIR."""
    os.mkdir(f"{d}/x")
    expect_errno(errno.EISDIR, os.open, f"{d}/x", os.O_CREAT | os.O_WRONLY, 0o644)


@case("open/o-creat-trailing-slash/EISDIR")
def creat_trailing_slash(d: str) -> None:
    """O_CREAT on a missing name with a trailing slash is EISDIR: only directories end in '/'."""
    expect_errno(errno.EISDIR, os.open, f"{d}/x/", os.O_CREAT | os.O_WRONLY, 0o644)


@case("open/missing-no-creat/ENOENT")
def open_missing(d: str) -> None:
    """Without O_CREAT a missing file is ENOENT."""
    expect_errno(errno.ENOENT, os.open, f"{d}/x", os.O_RDWR)


@case("open/o-creat-dangling-symlink/creates-target")
def creat_through_dangling(d: str) -> None:
    """O_CREAT through a dangling symlink creates the file it points at."""
    os.symlink("t", f"{d}/x")
    os.close(os.open(f"{d}/x", os.O_CREAT | os.O_WRONLY, 0o644))
    expect_eq("target is regular", True, stat.S_ISREG(os.lstat(f"{d}/t").st_mode))


@case("open/o-creat-excl-dangling-symlink/not-created")
def excl_through_dangling(d: str) -> None:
    """O_CREAT|O_EXCL on a dangling symlink fails and does not create the target."""
    os.symlink("t", f"{d}/x")
    expect_errno(errno.EEXIST, os.open, f"{d}/x", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    expect_errno(errno.ENOENT, os.lstat, f"{d}/t")


@case("open/o-creat-mode-ignored-existing/mode-kept")
def creat_mode_ignored(d: str) -> None:
    """The mode argument only applies when the file is created."""
    make("reg", f"{d}/x", 0o600)
    os.close(os.open(f"{d}/x", os.O_CREAT | os.O_WRONLY, 0o777))
    expect_eq("mode", 0o600, stat.S_IMODE(os.stat(f"{d}/x").st_mode))


@case("open/o-nofollow-component-symlink/follows")
def nofollow_component(d: str) -> None:
    """O_NOFOLLOW only concerns the last component; symlinks earlier in the path are followed."""
    os.mkdir(f"{d}/real")
    make("reg", f"{d}/real/f")
    os.symlink("real", f"{d}/l")
    os.close(os.open(f"{d}/l/f", os.O_RDONLY | os.O_NOFOLLOW))


@case("open/o-path-nofollow-symlink/fd-is-link")
def opath_symlink(d: str) -> None:
    """O_PATH|O_NOFOLLOW opens the symlink itself; fstat reports a symlink."""
    os.symlink("t", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_PATH | os.O_NOFOLLOW)
    try:
        expect_eq("type", True, stat.S_ISLNK(os.fstat(fd).st_mode))
    finally:
        os.close(fd)


@case("open/symlink-to-reg/opens-target")
def open_through_symlink(d: str) -> None:
    """Opening a symlink opens what it points at."""
    write_file(f"{d}/t", b"target")
    os.symlink("t", f"{d}/x")
    expect_eq("content", b"target", read_file(f"{d}/x"))


@case("open/o-append/writes-at-end")
def append_writes_at_end(d: str) -> None:
    """With O_APPEND every write goes to the end, whatever the file offset was."""
    write_file(f"{d}/x", b"abc")
    fd = os.open(f"{d}/x", os.O_WRONLY | os.O_APPEND)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"d")
        os.lseek(fd, 1, os.SEEK_SET)
        os.write(fd, b"e")
    finally:
        os.close(fd)
    expect_eq("content", b"abcde", read_file(f"{d}/x"))


@case("open/o-append/offset-after-write")
def append_offset(d: str) -> None:
    """After an O_APPEND write the offset is the new end of file."""
    write_file(f"{d}/x", b"abc")
    fd = os.open(f"{d}/x", os.O_RDWR | os.O_APPEND)
    try:
        os.write(fd, b"de")
        expect_eq("offset", 5, os.lseek(fd, 0, os.SEEK_CUR))
    finally:
        os.close(fd)


@case("pwrite/o-append/appends-linux")
def pwrite_append(d: str) -> None:
    """On Linux pwrite on an O_APPEND fd appends, ignoring the offset (documented in pwrite(2) BUGS)."""
    write_file(f"{d}/x", b"abc")
    fd = os.open(f"{d}/x", os.O_WRONLY | os.O_APPEND)
    try:
        os.pwrite(fd, b"Z", 0)
    finally:
        os.close(fd)
    expect_eq("content", b"abcZ", read_file(f"{d}/x"))


@case("read/wronly-fd/EBADF")
def read_wronly(d: str) -> None:
    """Reading a write-only fd is EBADF."""
    make("reg", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_WRONLY)
    try:
        expect_errno(errno.EBADF, os.read, fd, 1)
    finally:
        os.close(fd)


@case("write/rdonly-fd/EBADF")
def write_rdonly(d: str) -> None:
    """Writing a read-only fd is EBADF."""
    make("reg", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_RDONLY)
    try:
        expect_errno(errno.EBADF, os.write, fd, b"x")
    finally:
        os.close(fd)


@case("read/dir-fd/EISDIR")
def read_dir(d: str) -> None:
    """read() on a directory fd is EISDIR."""
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        expect_errno(errno.EISDIR, os.read, fd, 1)
    finally:
        os.close(fd)


@case("open/o-tmpfile/unnamed-file")
def o_tmpfile(d: str) -> None:
    """O_TMPFILE makes a writable regular file with no name and no links."""
    fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o600)
    try:
        os.write(fd, b"tmp")
        st = os.fstat(fd)
        expect_eq("entries, nlink, size", ([], 0, 3), (os.listdir(d), st.st_nlink, st.st_size))
        expect_eq("content", b"tmp", os.pread(fd, 10, 0))
    finally:
        os.close(fd)


@case("close/after-close/EBADF")
def double_close(d: str) -> None:
    """A closed fd is gone: using it again is EBADF."""
    make("reg", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_RDONLY)
    os.close(fd)
    expect_errno(errno.EBADF, os.fstat, fd)
