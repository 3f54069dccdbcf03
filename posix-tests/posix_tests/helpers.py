"""Helpers shared by the cases: errno assertions, file-type factories, running as another user, ticks.

Everything here works through syscalls on paths, so it applies to any filesystem under test.
"""

import ctypes
import errno
import os
import pickle
import select
import signal
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Unprivileged ids with no passwd entries: the kernel does not need them to exist.
U1, G1 = 65531, 65531
U2, G2 = 65532, 65532
G3 = 65533

KINDS = ("reg", "dir", "fifo", "sock", "chr", "blk", "symlink")
NONDIR_KINDS = ("reg", "fifo", "sock", "chr", "blk")
IFMT = {
    "reg": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "fifo": stat.S_IFIFO,
    "sock": stat.S_IFSOCK,
    "chr": stat.S_IFCHR,
    "blk": stat.S_IFBLK,
    "symlink": stat.S_IFLNK,
}
# Device numbers for special files; the suite never opens them (mounts may be nodev).
DEVICES = {"chr": os.makedev(1, 3), "blk": os.makedev(7, 200)}
PAST_NS = 1_000_000_000 * 1_000_000_000  # 2001-09-09, far enough back that "changed" is unambiguous
CHILD_TIMEOUT = 30.0  # generous: slow FUSE targets run a child's syscalls 10-30x slower
_libc = ctypes.CDLL(None, use_errno=True)
CLOCK_REALTIME_COARSE = 5  # Linux clock id; the clock file timestamps are taken from


def errname(code: int) -> str:
    """Symbolic name of an errno value, for readable failure reasons."""
    return errno.errorcode.get(code, str(code))


def make(kind: str, path: str | bytes, mode: int | None = None) -> None:
    """Create one object of the given kind; a symlink is dangling (points at a missing name).

    An explicit mode is applied with chmod afterwards, so the umask cannot change it.
    """
    if mode is not None and kind != "symlink":
        make(kind, path)
        os.chmod(path, mode)
        return
    mode = 0o755 if kind == "dir" else 0o644
    if kind == "reg":
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
    elif kind == "dir":
        os.mkdir(path, mode)
    elif kind == "symlink":
        os.symlink("nonexistent-target", path)
    elif kind in ("chr", "blk"):
        os.mknod(path, IFMT[kind] | mode, DEVICES[kind])
    else:
        os.mknod(path, IFMT[kind] | mode)


def write_file(path: str | bytes, data: bytes, mode: int = 0o644) -> None:
    """Create or replace a regular file with exactly `data`."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def read_file(path: str | bytes) -> bytes:
    """Read a whole regular file."""
    with open(path, "rb") as f:
        return f.read()


def access(path: str, amode: int) -> None:
    """access(2) raising OSError, since os.access hides the errno."""
    if _libc.access(os.fsencode(path), amode) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)


def expect_errno(expected: int, fn: Callable[..., Any], *args: Any) -> None:
    """Assert that `fn(*args)` fails with exactly `expected`; an fd returned by mistake is closed."""
    try:
        result = fn(*args)
    except OSError as e:
        if e.errno != expected:
            raise AssertionError(f"expected {errname(expected)}, got {errname(e.errno or 0)}") from e
        return
    if fn is os.open and isinstance(result, int):
        os.close(result)
    raise AssertionError(f"expected {errname(expected)}, got success")


def expect_eq(what: str, expected: Any, got: Any) -> None:
    """Assert equality with a reason that names the quantity compared."""
    if expected != got:
        raise AssertionError(f"{what}: expected {expected!r}, got {got!r}")


def mode_of(path: str | bytes, follow: bool = True) -> int:
    """Permission bits (including setuid/setgid/sticky) of a path."""
    st = os.stat(path) if follow else os.lstat(path)
    return stat.S_IMODE(st.st_mode)


def tick() -> None:
    """Sleep long enough that a coarse filesystem clock has moved on, so time changes are visible."""
    res = time.clock_getres(CLOCK_REALTIME_COARSE)
    time.sleep(max(0.012, 3 * res))


def set_past(path: str | bytes) -> None:
    """Move atime and mtime far into the past without following symlinks."""
    os.utime(path, ns=(PAST_NS, PAST_NS), follow_symlinks=False)


@dataclass(frozen=True)
class Outcome:
    """What a child run returned: a picklable value, or the errno of the OSError it raised."""

    value: Any = None
    err: int = 0


def start_child(fn: Callable[[], Any], uid: int = 0, gid: int = 0, groups: tuple[int, ...] = ()) -> tuple[int, int]:
    """Fork a child that runs `fn` with the given credentials; return (pid, fd to read its report)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        _child_main(fn, uid, gid, groups, wfd)
    os.close(wfd)
    return pid, rfd


def finish_child(pid: int, rfd: int) -> Outcome:
    """Wait (bounded) for a child's report and reap it; a crash or timeout raises AssertionError."""
    try:
        data = read_until_eof(rfd, CHILD_TIMEOUT)
    finally:
        os.close(rfd)
        _reap(pid)
    if data is None:
        raise AssertionError(f"child did not finish within {CHILD_TIMEOUT:g}s")
    if not data:
        raise AssertionError("child died without reporting")
    tag, payload = pickle.loads(data)
    if tag == "crash":
        raise AssertionError(f"child crashed: {payload}")
    return Outcome(err=payload) if tag == "errno" else Outcome(value=payload)


def as_user(fn: Callable[[], Any], uid: int = U1, gid: int = G1, groups: tuple[int, ...] = ()) -> Outcome:
    """Run `fn` in a forked child with the given credentials and return what happened."""
    return finish_child(*start_child(fn, uid, gid, groups))


def in_parallel(*fns: Callable[[], Any]) -> list[Outcome]:
    """Run each function in its own root child at the same time; return their outcomes in order."""
    children = [start_child(fn) for fn in fns]
    results: list[Outcome] = []
    try:
        for pid, rfd in children:
            results.append(finish_child(pid, rfd))
    finally:
        # After a failure, the children not yet collected are killed, never left behind.
        for pid, rfd in children[len(results) + 1 :]:
            os.close(rfd)
            _reap(pid)
    return results


def _child_main(fn: Callable[[], Any], uid: int, gid: int, groups: tuple[int, ...], wfd: int) -> None:
    """Drop privileges, run `fn`, report through the pipe, and never return into the suite."""
    try:
        os.setgroups(list(groups))
        os.setgid(gid)
        os.setuid(uid)
        try:
            msg: tuple[str, Any] = ("ok", fn())
        except OSError as e:
            msg = ("errno", e.errno)
        except BaseException as e:
            msg = ("crash", f"{type(e).__name__}: {e}")
        data = pickle.dumps(msg)
        while data:
            data = data[os.write(wfd, data) :]
    finally:
        os._exit(0)


def read_until_eof(fd: int, timeout: float) -> bytes | None:
    """Read until EOF; None when `timeout` seconds pass first, so a stuck child cannot hang the suite."""
    deadline = time.monotonic() + timeout
    chunks = []
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        if not poller.poll(left * 1000):
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _reap(pid: int) -> None:
    """Collect a child, killing it first if it is still running."""
    done, _ = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def user_expect(expected: int, fn: Callable[[], Any], **creds: Any) -> None:
    """Assert that `fn`, run as another user, fails with exactly `expected` (0 means it succeeds)."""
    got = as_user(fn, **creds)
    if got.err != expected:
        want = "success" if expected == 0 else errname(expected)
        have = "success" if got.err == 0 else errname(got.err)
        raise AssertionError(f"as uid {creds.get('uid', U1)}: expected {want}, got {have}")


def user_value(fn: Callable[[], Any], **creds: Any) -> Any:
    """Run `fn` as another user and return its value, failing if it raised."""
    got = as_user(fn, **creds)
    if got.err:
        raise AssertionError(f"as uid {creds.get('uid', U1)}: unexpected {errname(got.err)}")
    return got.value


def closing_open(path: str | bytes, flags: int, mode: int = 0o644) -> None:
    """Open then close at once: the shape of open() used where only the errno matters."""
    os.close(os.open(path, flags, mode))
