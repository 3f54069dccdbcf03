"""Attributes as root: truncate/ftruncate, chmod/fchmod, chown/lchown/fchown, utimensat, stat, statvfs."""

import ctypes
import errno
import os
import stat
from functools import partial

from posix_tests.helpers import (
    G1,
    G2,
    IFMT,
    U1,
    expect_eq,
    expect_errno,
    make,
    mode_of,
    read_file,
    tick,
    write_file,
)
from posix_tests.registry import add, case

_libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_NOFOLLOW = -100, 0x100
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


class Timespec(ctypes.Structure):
    """struct timespec, for calling utimensat with UTIME_NOW and UTIME_OMIT."""

    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimensat(path: str, atime: tuple[int, int], mtime: tuple[int, int], nofollow: bool = False) -> None:
    """utimensat(2) with (sec, nsec) pairs whose nsec may be UTIME_NOW or UTIME_OMIT."""
    times = (Timespec * 2)(Timespec(*atime), Timespec(*mtime))
    flags = AT_SYMLINK_NOFOLLOW if nofollow else 0
    if _libc.utimensat(AT_FDCWD, path.encode(), times, flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)


TRUNC_SIZES = (0, 1, 4095, 4096, 4097, 5000, 1_048_579)
CHMOD_MODES = (0o000, 0o644, 0o755, 0o777, 0o1777, 0o2755, 0o4755, 0o7777)
CHOWN_ARGS = {"uid": (U1, -1), "gid": (-1, G1), "both": (U1, G2), "neither": (-1, -1)}
TIME_VALUES = {
    "zero": (0, 0),
    "ns-precise": (1_234_567_890, 123_456_789),
    "ns-max": (1_700_000_000, 999_999_999),
    "year-2038-plus": (2_200_000_000, 1),
    "negative": (-1_000, 500),
}


def _truncate(initial: int, size: int, via_fd: bool, d: str) -> None:
    """Truncation keeps the prefix and reads zeros beyond the old end."""
    data = bytes(i % 251 + 1 for i in range(initial))
    write_file(f"{d}/x", data)
    if via_fd:
        fd = os.open(f"{d}/x", os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
    else:
        os.truncate(f"{d}/x", size)
    want = data[:size] + bytes(max(0, size - initial))
    got = read_file(f"{d}/x")
    expect_eq("size", size, os.stat(f"{d}/x").st_size)
    expect_eq("content equal", True, got == want)


def _chmod(kind: str, mode: int, via_fd: bool, d: str) -> None:
    """chmod sets exactly the given permission bits and never the file type."""
    make(kind, f"{d}/x")
    if via_fd:
        fd = os.open(f"{d}/x", os.O_RDONLY)
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
    else:
        os.chmod(f"{d}/x", mode)
    st = os.lstat(f"{d}/x")
    expect_eq("type, mode", (IFMT[kind], oct(mode)), (stat.S_IFMT(st.st_mode), oct(stat.S_IMODE(st.st_mode))))


def _chown(kind: str, which: str, call: str, d: str) -> None:
    """Root's chown sets exactly the given ids; -1 leaves one alone."""
    make(kind, f"{d}/x")
    uid, gid = CHOWN_ARGS[which]
    if call == "fchown":
        fd = os.open(f"{d}/x", os.O_RDONLY)
        try:
            os.fchown(fd, uid, gid)
        finally:
            os.close(fd)
    elif call == "lchown":
        os.lchown(f"{d}/x", uid, gid)
    else:
        os.chown(f"{d}/x", uid, gid)
    st = os.lstat(f"{d}/x")
    want = (0 if uid == -1 else uid, 0 if gid == -1 else gid)
    expect_eq("uid, gid", want, (st.st_uid, st.st_gid))


def _utime(kind: str, name: str, d: str) -> None:
    """utimensat stores atime and mtime to the nanosecond (symlinks with AT_SYMLINK_NOFOLLOW)."""
    make(kind, f"{d}/x")
    atime = TIME_VALUES[name]
    mtime = (atime[0] + 7, (atime[1] + 3) % 1_000_000_000)
    utimensat(f"{d}/x", atime, mtime, nofollow=kind == "symlink")
    st = os.lstat(f"{d}/x")
    want = (atime[0] * 10**9 + atime[1], mtime[0] * 10**9 + mtime[1])
    expect_eq("atime_ns, mtime_ns", want, (st.st_atime_ns, st.st_mtime_ns))


def _register() -> None:
    """Register the size, mode, owner and time matrices."""
    for initial in (0, 5000):
        for size in TRUNC_SIZES:
            for call, via_fd in (("truncate", False), ("ftruncate", True)):
                add(f"{call}/from-{initial}-to-{size}/content", partial(_truncate, initial, size, via_fd))
    for mode in CHMOD_MODES:
        for kind in ("reg", "dir", "fifo", "sock"):
            add(f"chmod/{kind}-{mode:04o}/mode", partial(_chmod, kind, mode, False))
        for kind in ("reg", "dir"):
            add(f"fchmod/{kind}-{mode:04o}/mode", partial(_chmod, kind, mode, True))
    for which in CHOWN_ARGS:
        for kind in ("reg", "dir", "fifo", "sock"):
            add(f"chown/{kind}-{which}/ids", partial(_chown, kind, which, "chown"))
        for kind in ("reg", "dir", "symlink"):
            add(f"lchown/{kind}-{which}/ids", partial(_chown, kind, which, "lchown"))
        for kind in ("reg", "dir"):
            add(f"fchown/{kind}-{which}/ids", partial(_chown, kind, which, "fchown"))
    for name in TIME_VALUES:
        for kind in ("reg", "dir", "fifo", "symlink"):
            add(f"utimensat/{kind}-{name}/exact", partial(_utime, kind, name))


_register()


@case("truncate/dir/EISDIR")
def truncate_dir(d: str) -> None:
    """A directory cannot be truncated."""
    os.mkdir(f"{d}/x")
    expect_errno(errno.EISDIR, os.truncate, f"{d}/x", 0)


@case("truncate/fifo/EINVAL")
def truncate_fifo(d: str) -> None:
    """Only regular files can be truncated; a FIFO is EINVAL."""
    os.mkfifo(f"{d}/x")
    expect_errno(errno.EINVAL, os.truncate, f"{d}/x", 0)


@case("truncate/negative/EINVAL")
def truncate_negative(d: str) -> None:
    """A negative length is EINVAL."""
    make("reg", f"{d}/x")
    expect_errno(errno.EINVAL, os.truncate, f"{d}/x", -1)


@case("truncate/through-symlink/target-truncated")
def truncate_symlink(d: str) -> None:
    """truncate follows a final symlink."""
    write_file(f"{d}/t", b"12345")
    os.symlink("t", f"{d}/x")
    os.truncate(f"{d}/x", 2)
    expect_eq("target", b"12", read_file(f"{d}/t"))


@case("ftruncate/rdonly-fd/EINVAL")
def ftruncate_rdonly(d: str) -> None:
    """ftruncate needs an fd open for writing; Linux says EINVAL."""
    make("reg", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_RDONLY)
    try:
        expect_errno(errno.EINVAL, os.ftruncate, fd, 0)
    finally:
        os.close(fd)


@case("ftruncate/negative/EINVAL")
def ftruncate_negative(d: str) -> None:
    """A negative length is EINVAL."""
    make("reg", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_WRONLY)
    try:
        expect_errno(errno.EINVAL, os.ftruncate, fd, -1)
    finally:
        os.close(fd)


@case("ftruncate/offset/unchanged")
def ftruncate_offset(d: str) -> None:
    """Truncation does not move the file offset."""
    write_file(f"{d}/x", b"abcdef")
    fd = os.open(f"{d}/x", os.O_RDWR)
    try:
        os.lseek(fd, 4, os.SEEK_SET)
        os.ftruncate(fd, 2)
        expect_eq("offset", 4, os.lseek(fd, 0, os.SEEK_CUR))
    finally:
        os.close(fd)


@case("chmod/through-symlink/target-changed")
def chmod_symlink(d: str) -> None:
    """chmod follows a symlink: the target changes, the link keeps 0777."""
    make("reg", f"{d}/t")
    os.symlink("t", f"{d}/x")
    os.chmod(f"{d}/x", 0o600)
    expect_eq("target, link", (0o600, 0o777), (mode_of(f"{d}/t"), mode_of(f"{d}/x", follow=False)))


@case("chown/through-symlink/target-changed")
def chown_symlink(d: str) -> None:
    """chown follows a symlink; lchown would change the link."""
    make("reg", f"{d}/t")
    os.symlink("t", f"{d}/x")
    os.chown(f"{d}/x", U1, G1)
    expect_eq("target uid, link uid", (U1, 0), (os.stat(f"{d}/t").st_uid, os.lstat(f"{d}/x").st_uid))


@case("chown/root-reg-setuid-setgid/cleared")
def chown_clears_ids(d: str) -> None:
    """Changing a regular file's owner clears setuid and (group-executable) setgid, even for root."""
    make("reg", f"{d}/x")
    os.chmod(f"{d}/x", 0o6755)
    os.chown(f"{d}/x", U1, G1)
    expect_eq("mode", oct(0o755), oct(mode_of(f"{d}/x")))


@case("chown/root-dir-setgid/kept")
def chown_dir_keeps_setgid(d: str) -> None:
    """A directory's setgid bit survives chown: it is about inheritance, not privilege."""
    os.mkdir(f"{d}/x")
    os.chmod(f"{d}/x", 0o2755)
    os.chown(f"{d}/x", U1, G1)
    expect_eq("mode", oct(0o2755), oct(mode_of(f"{d}/x")))


@case("utimensat/utime-now-both/recent")
def utime_now(d: str) -> None:
    """UTIME_NOW sets both times to the current time (later than a past value)."""
    make("reg", f"{d}/x")
    os.utime(f"{d}/x", ns=(10**9, 10**9))
    utimensat(f"{d}/x", (0, UTIME_NOW), (0, UTIME_NOW))
    st = os.stat(f"{d}/x")
    expect_eq("both moved forward", (True, True), (st.st_atime_ns > 10**9, st.st_mtime_ns > 10**9))


@case("utimensat/omit-atime/atime-kept")
def utime_omit_atime(d: str) -> None:
    """UTIME_OMIT on atime leaves it while mtime is set."""
    make("reg", f"{d}/x")
    os.utime(f"{d}/x", ns=(5 * 10**9, 5 * 10**9))
    utimensat(f"{d}/x", (0, UTIME_OMIT), (7, 8))
    st = os.stat(f"{d}/x")
    expect_eq("atime, mtime", (5 * 10**9, 7 * 10**9 + 8), (st.st_atime_ns, st.st_mtime_ns))


@case("utimensat/omit-mtime/mtime-kept")
def utime_omit_mtime(d: str) -> None:
    """UTIME_OMIT on mtime leaves it while atime is set."""
    make("reg", f"{d}/x")
    os.utime(f"{d}/x", ns=(5 * 10**9, 5 * 10**9))
    utimensat(f"{d}/x", (7, 8), (0, UTIME_OMIT))
    st = os.stat(f"{d}/x")
    expect_eq("atime, mtime", (7 * 10**9 + 8, 5 * 10**9), (st.st_atime_ns, st.st_mtime_ns))


@case("utimensat/now-atime-omit-mtime/mixed")
def utime_now_omit(d: str) -> None:
    """UTIME_NOW and UTIME_OMIT combine per field."""
    make("reg", f"{d}/x")
    os.utime(f"{d}/x", ns=(5 * 10**9, 5 * 10**9))
    utimensat(f"{d}/x", (0, UTIME_NOW), (0, UTIME_OMIT))
    st = os.stat(f"{d}/x")
    expect_eq("atime moved, mtime kept", (True, 5 * 10**9), (st.st_atime_ns > 5 * 10**9, st.st_mtime_ns))


@case("utimensat/omit-both/ctime-kept")
def utime_omit_both(d: str) -> None:
    """Omitting both times changes nothing, not even ctime."""
    make("reg", f"{d}/x")
    before = os.stat(f"{d}/x").st_ctime_ns
    tick()
    utimensat(f"{d}/x", (0, UTIME_OMIT), (0, UTIME_OMIT))
    expect_eq("ctime", before, os.stat(f"{d}/x").st_ctime_ns)


@case("utimensat/invalid-nsec/EINVAL")
def utime_bad_nsec(d: str) -> None:
    """A tv_nsec of a billion that is not UTIME_NOW/UTIME_OMIT is EINVAL."""
    make("reg", f"{d}/x")
    expect_errno(errno.EINVAL, utimensat, f"{d}/x", (0, 1_000_000_000), (0, 0))


@case("utimensat/symlink-nofollow/target-kept")
def utime_nofollow(d: str) -> None:
    """AT_SYMLINK_NOFOLLOW sets the link's times and leaves the target's."""
    make("reg", f"{d}/t")
    os.utime(f"{d}/t", ns=(5 * 10**9, 5 * 10**9))
    os.symlink("t", f"{d}/x")
    utimensat(f"{d}/x", (1, 0), (2, 0), nofollow=True)
    expect_eq(
        "target mtime, link mtime",
        (5 * 10**9, 2 * 10**9),
        (os.stat(f"{d}/t").st_mtime_ns, os.lstat(f"{d}/x").st_mtime_ns),
    )


@case("utimensat/follow/target-changed")
def utime_follow(d: str) -> None:
    """Without AT_SYMLINK_NOFOLLOW the target's times are set."""
    make("reg", f"{d}/t")
    os.symlink("t", f"{d}/x")
    utimensat(f"{d}/x", (1, 0), (2, 0))
    expect_eq("target mtime", 2 * 10**9, os.stat(f"{d}/t").st_mtime_ns)


@case("futimens/fd/exact")
def futimens(d: str) -> None:
    """Times set through an fd are stored to the nanosecond."""
    make("reg", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_RDONLY)
    try:
        os.utime(fd, ns=(11, 22))
    finally:
        os.close(fd)
    st = os.stat(f"{d}/x")
    expect_eq("atime_ns, mtime_ns", (11, 22), (st.st_atime_ns, st.st_mtime_ns))
