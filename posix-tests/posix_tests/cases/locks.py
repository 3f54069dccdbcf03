"""Advisory locks within one mount: fcntl record locks (per process), OFD locks and flock (per open).

Conflicts are observed from a forked child, since POSIX record locks never conflict within a process.
"""

import errno
import fcntl
import os
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from posix_tests.helpers import as_user, expect_eq, expect_errno, finish_child, make, start_child
from posix_tests.registry import add, case

FLOCK = "hhqqi4x"  # struct flock on 64-bit Linux: type, whence, start, len, pid, padding


@contextmanager
def opened(path: str, flags: int = os.O_RDWR) -> Iterator[int]:
    """An fd closed at the end, whatever happens."""
    fd = os.open(path, flags)
    try:
        yield fd
    finally:
        os.close(fd)


def setlk(fd: int, kind: int, start: int, length: int, cmd: int = fcntl.F_SETLK) -> None:
    """Take or release a record lock with fcntl (F_SETLK by default), raising OSError on conflict."""
    fcntl.fcntl(fd, cmd, struct.pack(FLOCK, kind, os.SEEK_SET, start, length, 0))


def getlk(fd: int, kind: int, start: int, length: int, cmd: int = fcntl.F_GETLK) -> tuple[int, ...]:
    """F_GETLK: (type, start, len, pid) of the first conflicting lock, type F_UNLCK if none."""
    raw = fcntl.fcntl(fd, cmd, struct.pack(FLOCK, kind, os.SEEK_SET, start, length, 0))
    l_type, _, l_start, l_len, l_pid = struct.unpack(FLOCK, raw)
    return l_type, l_start, l_len, l_pid


def _child_lock(path: str, kind: int, start: int, length: int) -> int:
    """errno (0 if granted) of a lock request made by a separate process."""

    def attempt() -> None:
        """Request the lock on a fresh fd."""
        with opened(path) as fd:
            setlk(fd, kind, start, length)

    return as_user(attempt, uid=0, gid=0).err


# (held type, held range, requested type, requested range, conflict?)
RECORD_RULES = {
    "write-vs-write-same": (fcntl.F_WRLCK, (0, 10), fcntl.F_WRLCK, (0, 10), True),
    "write-vs-read-same": (fcntl.F_WRLCK, (0, 10), fcntl.F_RDLCK, (0, 10), True),
    "read-vs-write-same": (fcntl.F_RDLCK, (0, 10), fcntl.F_WRLCK, (0, 10), True),
    "read-vs-read-same": (fcntl.F_RDLCK, (0, 10), fcntl.F_RDLCK, (0, 10), False),
    "write-vs-write-adjacent": (fcntl.F_WRLCK, (0, 10), fcntl.F_WRLCK, (10, 10), False),
    "write-vs-write-overlap-one-byte": (fcntl.F_WRLCK, (0, 10), fcntl.F_WRLCK, (9, 10), True),
    "write-to-eof-vs-far-write": (fcntl.F_WRLCK, (100, 0), fcntl.F_WRLCK, (1 << 40, 1), True),
    "write-vs-write-before-range": (fcntl.F_WRLCK, (100, 0), fcntl.F_WRLCK, (0, 100), False),
}


def _record(rule: str, d: str) -> None:
    """A lock held by this process against a request from another process."""
    held, (hs, hl), want, (ws, wl), conflict = RECORD_RULES[rule]
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as fd:
        setlk(fd, held, hs, hl)
        expect_eq("child errno", errno.EAGAIN if conflict else 0, _child_lock(f"{d}/f", want, ws, wl))


for _rule, (*_, _conflict) in RECORD_RULES.items():
    add(f"fcntl/setlk-{_rule}/{'EAGAIN' if _conflict else 'granted'}", partial(_record, _rule))


@case("fcntl/unlock/then-granted")
def unlock_then_granted(d: str) -> None:
    """After F_UNLCK another process gets the lock."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as fd:
        setlk(fd, fcntl.F_WRLCK, 0, 0)
        setlk(fd, fcntl.F_UNLCK, 0, 0)
        expect_eq("child errno", 0, _child_lock(f"{d}/f", fcntl.F_WRLCK, 0, 0))


@case("fcntl/close-other-fd/releases")
def close_other_fd(d: str) -> None:
    """Closing any fd of the file drops the process's record locks on it (the POSIX rule)."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as fd:
        setlk(fd, fcntl.F_WRLCK, 0, 0)
        os.close(os.open(f"{d}/f", os.O_RDONLY))
        expect_eq("child errno", 0, _child_lock(f"{d}/f", fcntl.F_WRLCK, 0, 0))


@case("fcntl/getlk/reports-holder")
def getlk_reports(d: str) -> None:
    """F_GETLK from another process describes the conflicting lock and its owner's pid."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as fd:
        setlk(fd, fcntl.F_WRLCK, 5, 10)
        got = as_user(lambda: _getlk_in(f"{d}/f"), uid=0, gid=0).value
    expect_eq("type, start, len, pid", (fcntl.F_WRLCK, 5, 10, os.getpid()), got)


def _getlk_in(path: str) -> tuple[int, ...]:
    """Run F_GETLK on a fresh fd of `path`."""
    with opened(path) as fd:
        return getlk(fd, fcntl.F_WRLCK, 0, 0)


@case("fcntl/getlk-no-conflict/unlck")
def getlk_free(d: str) -> None:
    """F_GETLK on a free range answers F_UNLCK."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as fd:
        expect_eq("type", fcntl.F_UNLCK, getlk(fd, fcntl.F_WRLCK, 0, 0)[0])


@case("fcntl/child-exit/releases")
def child_exit(d: str) -> None:
    """Locks of a process that exits are released."""
    make("reg", f"{d}/f")

    def hold() -> None:
        """Take a lock and exit without releasing it."""
        fd = os.open(f"{d}/f", os.O_RDWR)
        setlk(fd, fcntl.F_WRLCK, 0, 0)

    as_user(hold, uid=0, gid=0)
    with opened(f"{d}/f") as fd:
        setlk(fd, fcntl.F_WRLCK, 0, 0)


@case("fcntl/write-lock-rdonly-fd/EBADF")
def wrlck_rdonly(d: str) -> None:
    """A write lock needs an fd open for writing."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f", os.O_RDONLY) as fd:
        expect_errno(errno.EBADF, setlk, fd, fcntl.F_WRLCK, 0, 0)


@case("fcntl/read-lock-wronly-fd/EBADF")
def rdlck_wronly(d: str) -> None:
    """A read lock needs an fd open for reading."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f", os.O_WRONLY) as fd:
        expect_errno(errno.EBADF, setlk, fd, fcntl.F_RDLCK, 0, 0)


@case("fcntl/same-process/no-conflict")
def same_process(d: str) -> None:
    """Record locks of one process never conflict with each other, even through two fds."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as a, opened(f"{d}/f") as b:
        setlk(a, fcntl.F_WRLCK, 0, 0)
        setlk(b, fcntl.F_WRLCK, 0, 0)


@case("fcntl/setlkw/granted-after-release")
def setlkw(d: str) -> None:
    """F_SETLKW waits for the holder and then gets the lock."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as fd:
        setlk(fd, fcntl.F_WRLCK, 0, 0)

        def wait_for_lock() -> None:
            """Block in F_SETLKW until the parent lets go."""
            with opened(f"{d}/f") as cfd:
                setlk(cfd, fcntl.F_WRLCK, 0, 0, fcntl.F_SETLKW)

        pid, rfd = start_child(wait_for_lock)
        time.sleep(0.05)  # let the child block; correctness does not depend on it
        setlk(fd, fcntl.F_UNLCK, 0, 0)
        expect_eq("child errno", 0, finish_child(pid, rfd).err)


@case("fcntl/ofd-two-opens/EAGAIN")
def ofd_conflict(d: str) -> None:
    """OFD locks belong to the open file description, so two opens in one process conflict."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as a, opened(f"{d}/f") as b:
        setlk(a, fcntl.F_WRLCK, 0, 0, fcntl.F_OFD_SETLK)
        expect_errno(errno.EAGAIN, setlk, b, fcntl.F_WRLCK, 0, 0, fcntl.F_OFD_SETLK)


@case("fcntl/ofd-close-other-fd/kept")
def ofd_close_other(d: str) -> None:
    """Closing another fd does not drop an OFD lock."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as a, opened(f"{d}/f") as b:
        setlk(a, fcntl.F_WRLCK, 0, 0, fcntl.F_OFD_SETLK)
        os.close(os.open(f"{d}/f", os.O_RDONLY))
        expect_errno(errno.EAGAIN, setlk, b, fcntl.F_WRLCK, 0, 0, fcntl.F_OFD_SETLK)


FLOCK_RULES: dict[str, tuple[int, int, bool]] = {
    "ex-vs-ex": (fcntl.LOCK_EX, fcntl.LOCK_EX, True),
    "ex-vs-sh": (fcntl.LOCK_EX, fcntl.LOCK_SH, True),
    "sh-vs-ex": (fcntl.LOCK_SH, fcntl.LOCK_EX, True),
    "sh-vs-sh": (fcntl.LOCK_SH, fcntl.LOCK_SH, False),
}


def _flock(rule: str, across: str, d: str) -> None:
    """flock conflicts between open file descriptions, in one process or across processes."""
    held, want, conflict = FLOCK_RULES[rule]
    make("reg", f"{d}/f")
    expected = errno.EWOULDBLOCK if conflict else 0

    def request() -> None:
        """Ask for the lock without blocking on a new open file description."""
        with opened(f"{d}/f") as fd:
            fcntl.flock(fd, want | fcntl.LOCK_NB)

    with opened(f"{d}/f") as fd:
        fcntl.flock(fd, held)
        if across == "process":
            expect_eq("child errno", expected, as_user(request, uid=0, gid=0).err)
        elif conflict:
            expect_errno(expected, request)
        else:
            request()


for _rule, (_, _, _conflict) in FLOCK_RULES.items():
    for _across in ("process", "open"):
        add(
            f"flock/{_rule}-other-{_across}/{'EWOULDBLOCK' if _conflict else 'granted'}",
            partial(_flock, _rule, _across),
        )


def _flock_release(how: str, d: str) -> None:
    """An exclusive flock is released by LOCK_UN or by closing the fd."""
    make("reg", f"{d}/f")
    fd = os.open(f"{d}/f", os.O_RDWR)
    closed = False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if how == "unlock":
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            os.close(fd)
            closed = True
        with opened(f"{d}/f") as other:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        if not closed:
            os.close(fd)


for _how in ("unlock", "close"):
    add(f"flock/release-by-{_how}/granted", partial(_flock_release, _how))


@case("flock/dup-fd/same-lock")
def flock_dup(d: str) -> None:
    """A duplicated fd shares its description's flock: no conflict with itself."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        dup = os.dup(fd)
        try:
            fcntl.flock(dup, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(dup)


@case("flock/independent-of-fcntl/granted")
def flock_vs_fcntl(d: str) -> None:
    """On Linux flock and fcntl locks do not see each other."""
    make("reg", f"{d}/f")
    with opened(f"{d}/f") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        expect_eq("child fcntl errno", 0, _child_lock(f"{d}/f", fcntl.F_WRLCK, 0, 0))
