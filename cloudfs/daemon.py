"""Going to the background without losing errors, and finding a running mount again.

The parent forks before anything opens a connection or starts a thread; the
child mounts and reports through a pipe, so the parent exits only once the
mount is usable (0) or with the child's one-line error and exit code. Each
running mount leaves its pid in a state file, so `cloudfs umount` can wait
until everything is flushed and the process is gone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

READY = b"ok\n"


class Reporter:
    """The child's end of the start-up pipe (or nothing, in the foreground)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def ready(self) -> None:
        """The mount works: let the parent exit 0, and detach from the terminal."""
        if self._fd is None:
            return
        os.write(self._fd, READY)
        os.close(self._fd)
        self._fd = None
        null = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(null, stream)
        os.close(null)

    def failed(self, code: int, message: str) -> None:
        """Mounting failed: the parent prints `message` and exits `code` (after ready: only logged)."""
        if self._fd is None:
            print(f"cloudfs: {message}", file=sys.stderr)
            return
        os.write(self._fd, f"{code}\n{message}\n".encode())
        os.close(self._fd)
        self._fd = None


def run_in_background(child: Callable[[Reporter], int]) -> int:
    """Fork; the child runs `child(reporter)`; the parent returns the start-up exit code."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.setsid()
        code = 1
        reporter = Reporter(write_end)
        try:
            code = child(reporter)
        except BaseException as exc:
            logging.getLogger(__name__).exception("mount process failed")
            reporter.failed(1, f"unexpected error: {exc!r} (see the log)")
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read()
    if report == READY:
        return 0
    _, status = os.waitpid(pid, 0)
    if report:
        code, _, message = report.decode(errors="replace").partition("\n")
        print(f"cloudfs: {message.strip()}", file=sys.stderr)
        return int(code)
    print(f"cloudfs: the mount process ended before mounting (status {status})", file=sys.stderr)
    return 1


def state_file(mountpoint: str) -> Path:
    """Where the pid of the process serving `mountpoint` is kept."""
    base = Path("/run/cloudfs") if os.geteuid() == 0 else Path(os.environ.get("XDG_RUNTIME_DIR", "/tmp")) / "cloudfs"
    digest = hashlib.sha256(os.path.realpath(mountpoint).encode()).hexdigest()[:16]
    return base / f"{digest}.pid"


def record_pid(mountpoint: str) -> Path:
    """Write this process's pid for `mountpoint`."""
    path = state_file(mountpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n")
    return path


def wait_for_exit(mountpoint: str, timeout: float, notice_after: float = 2.0) -> bool:
    """Wait until the process that served `mountpoint` is gone; False on timeout. Says so when it takes long."""
    path = state_file(mountpoint)
    try:
        pid = int(path.read_text())
    except (OSError, ValueError):
        return True
    started = time.monotonic()
    deadline = started + timeout
    noticed = False
    while time.monotonic() < deadline:
        if not noticed and time.monotonic() - started > notice_after:
            print(f"cloudfs: waiting for process {pid} to finish writing to the store...", file=sys.stderr)
            noticed = True
        if _exited(pid):
            path.unlink(missing_ok=True)
            return True
        time.sleep(0.05)
    return False


def _exited(pid: int) -> bool:
    """True when `pid` is gone, or is a zombie its parent has not reaped (e.g. `cloudfs mount -f` run as a child)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat_line.rpartition(")")[2].split()[0] == "Z"
