"""fcntl and flock locks between hosts: two mounts of one `aws:` table, each lock taken as a process of its own.

POSIX locks belong to a process, so every lock here is taken by a Locker: a
child process that opens files on one host's mount and runs the fcntl/flock
calls it is sent, answering each with its result and the monotonic time the
call returned (comparable with this process's clock, to measure wake-ups).
Both mounts use `-o cache_ttl=0.2`, as in test_two_hosts.

A lock held on another host is reported by F_GETLK with l_pid 0 (no process of
this host holds it), so only its type, start and length are checked.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.fuse.mounts import Mount
from tests.servers import DynamoServer

from .mounts import two_hosts, wait_unmounted

TTL = 0.2
SETTLE = 5 * TTL
WAKE_UP = 1.5  # seconds from a release to the waiter's return: the daemon polls at most every second
LEASE = 3  # seconds, for the kill -9 test
MARGIN = 5  # seconds past the lease within which the other host must get a dead host's lock
FLOCK = "hhqqi4x"  # struct flock on Linux x86-64: l_type, l_whence, l_start, l_len, l_pid
FOREVER = 0  # l_len 0: from l_start to the end of the file, however long it grows

LOCKER = r"""
import ctypes, errno, fcntl, json, os, signal, struct, sys, time

FLOCK = "hhqqi4x"
libc = ctypes.CDLL(None, use_errno=True)


def flock_arg(request):
    return struct.pack(FLOCK, request["type"], os.SEEK_SET, request["start"], request["len"], 0)


def interrupted_setlkw(request):
    # Python retries a call a signal interrupted (PEP 475) when the handler returns, so libc's
    # fcntl is called directly: the handler does nothing, and the syscall is not restarted.
    signal.signal(signal.SIGALRM, lambda *_: None)
    signal.siginterrupt(signal.SIGALRM, True)
    arg = ctypes.create_string_buffer(flock_arg(request), struct.calcsize(FLOCK))
    signal.setitimer(signal.ITIMER_REAL, request["after"])
    result = libc.fcntl(request["fd"], fcntl.F_SETLKW, arg)
    code = ctypes.get_errno()
    signal.setitimer(signal.ITIMER_REAL, 0)
    if result == -1:
        raise OSError(code, os.strerror(code))
    return {}


def handle(request):
    op = request["op"]
    if op == "open":
        return {"fd": os.open(request["path"], os.O_RDWR | os.O_CREAT, 0o644)}
    if op == "close":
        os.close(request["fd"])
        return {}
    if op == "flock":
        fcntl.flock(request["fd"], request["how"])
        return {}
    if op == "interrupted":
        return interrupted_setlkw(request)
    got = fcntl.fcntl(request["fd"], getattr(fcntl, op), flock_arg(request))
    kind, _, start, length, pid = struct.unpack(FLOCK, got)
    return {"lock": [kind, start, length, pid]}


for line in sys.stdin:
    request = json.loads(line)
    try:
        reply = handle(request)
    except OSError as exc:
        reply = {"errno": errno.errorcode[exc.errno]}
    reply["at"] = time.monotonic()
    print(json.dumps(reply), flush=True)
"""

COUNTER = r"""
import fcntl, json, os, sys, time

fd = os.open(sys.argv[1], os.O_RDWR)
wrote = []
started = time.monotonic()
for _ in range(int(sys.argv[2])):
    fcntl.lockf(fd, fcntl.LOCK_EX)  # F_SETLKW, F_WRLCK from 0 to the end of the file
    n = int(os.pread(fd, 64, 0)) + 1
    data = b"%d" % n
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))
    os.fsync(fd)
    fcntl.lockf(fd, fcntl.LOCK_UN)
    wrote.append(n)
os.close(fd)
print(json.dumps({"wrote": wrote, "seconds": time.monotonic() - started}))
"""

# The fcntl counter: 2 processes per host, 250 increments each, to exactly 1,000 (about 50 s on moto: 50 ms an
# increment, the lock's, the unlock's and the fsync's writes one after another through one serial server).
COUNTER_PROCESSES = 2  # per host
COUNTER_TIMES = 250  # per process
COUNTER_DEADLINE = 240  # seconds for each process
# The flock(1) counter: a shell loop per process, each round a new flock(1) and sh (and 4 process starts), so
# fewer rounds than the fcntl counter keep it near 20 s.
SHELL_LOOPS = 2  # per host
SHELL_TIMES = 50  # per loop
SHELL_DEADLINE = 120  # seconds for all loops (they take about 20)
SHELL_ROUND = "flock lockfile sh -c 'n=$(cat counter); echo $((n+1)) > counter'"


class Locker:
    """A process of its own (so a POSIX lock owner of its own) on one host's mount, running the calls it is sent.

    Each call answers with "ok" or the errno's name; `send` and `reply` split a
    call that blocks, so the test can check it is still waiting.
    """

    def __init__(self, mount: Mount) -> None:
        self.mount = mount
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LOCKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        """Queue each line the child answers, until it exits."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.replies.put(json.loads(line))

    def send(self, op: str, **args: Any) -> float:
        """Start a call in the child; returns when it was sent (monotonic)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return time.monotonic()

    def reply(self, timeout: float = 30) -> dict[str, Any]:
        """The answer to the call sent last; fails the test if it is still blocked after `timeout` seconds."""
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no answer from the locker on {self.mount.path} in {timeout} s") from None

    def waiting(self, seconds: float) -> bool:
        """True when the call sent last is still blocked after `seconds`."""
        try:
            self.replies.put(self.replies.get(timeout=seconds))
        except queue.Empty:
            return True
        return False

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Run one call and wait for its answer."""
        self.send(op, **args)
        return self.reply()

    def open(self, name: str) -> int:
        """Open (creating) `name` on this host's mount read-write; the child's fd."""
        done = self.call("open", path=str(self.mount.path / name))
        assert "fd" in done, done
        return done["fd"]

    def close(self, fd: int) -> str:
        """close(fd)."""
        return outcome(self.call("close", fd=fd))

    def setlk(self, fd: int, kind: int, start: int, length: int) -> str:
        """fcntl(F_SETLK) of `kind` (F_RDLCK, F_WRLCK, F_UNLCK) on [start, start+length): "ok" or e.g. "EAGAIN"."""
        return outcome(self.call("F_SETLK", fd=fd, type=kind, start=start, len=length))

    def getlk(self, fd: int, kind: int, start: int, length: int) -> tuple[int, int, int]:
        """fcntl(F_GETLK): the first lock in the way of `kind` on the range, as (type, start, len); F_UNLCK if none."""
        done = self.call("F_GETLK", fd=fd, type=kind, start=start, len=length)
        assert "lock" in done, done
        kind, start, length, _pid = done["lock"]
        return kind, start, length

    def flock(self, fd: int, how: int) -> str:
        """flock(fd, how): "ok" or e.g. "EAGAIN" (EWOULDBLOCK)."""
        return outcome(self.call("flock", fd=fd, how=how))

    def stop(self) -> None:
        """Kill the child (by its own pid), wherever it is blocked; its locks go with its files."""
        self.proc.kill()
        self.proc.wait(timeout=30)


def outcome(reply: dict[str, Any]) -> str:
    """A call's result: "ok", or the name of the errno it failed with."""
    return reply.get("errno", "ok")


def test_struct_flock_layout_is_linux_x86_64() -> None:
    """The layout the Lockers pack and unpack is the kernel's: 32 bytes, l_start at 8, l_pid at 24."""
    assert struct.calcsize(FLOCK) == 32
    assert struct.pack(FLOCK, 1, 2, 3, 4, 5)[8:16] == (3).to_bytes(8, sys.byteorder)
    assert struct.pack(FLOCK, 1, 2, 3, 4, 5)[24:28] == (5).to_bytes(4, sys.byteorder)


@pytest.fixture
def host_options() -> tuple[str, ...]:
    """Mount options both hosts add to `cache_ttl` (tests parametrize this)."""
    return ()


@pytest.fixture
def hosts(
    server: DynamoServer, table: str, tmp_path: Path, host_options: tuple[str, ...]
) -> Iterator[tuple[Mount, Mount]]:
    """Host "a" and host "b": two mounts of this test's table; unmounted afterwards, their logs clean."""
    with two_hosts(server.url, table, tmp_path, f"cache_ttl={TTL}", *host_options) as pair:
        yield pair


@pytest.fixture
def locker(hosts: tuple[Mount, Mount]) -> Iterator[Callable[[Mount], Locker]]:
    """Start Lockers on a host's mount; all are killed before the hosts unmount."""
    started: list[Locker] = []

    def start(mount: Mount) -> Locker:
        """A new Locker process on `mount`."""
        started.append(Locker(mount))
        return started[-1]

    yield start
    for one in started:
        one.stop()


def test_write_lock_conflicts_across_hosts_by_range(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """A's write lock on [0,100) refuses B's overlapping lock (EAGAIN) but not [200,300); B's F_GETLK shows it."""
    a, b = hosts
    a1, b1 = locker(a), locker(b)
    fa = a1.open("f")
    fb = b1.open("f")
    assert a1.setlk(fa, fcntl.F_WRLCK, 0, 100) == "ok"
    assert b1.setlk(fb, fcntl.F_WRLCK, 50, 10) == "EAGAIN"
    assert b1.setlk(fb, fcntl.F_RDLCK, 99, 1) == "EAGAIN"
    assert b1.setlk(fb, fcntl.F_WRLCK, 200, 100) == "ok"
    assert b1.getlk(fb, fcntl.F_WRLCK, 50, 10) == (fcntl.F_WRLCK, 0, 100)
    assert b1.getlk(fb, fcntl.F_WRLCK, 100, 50) == (fcntl.F_UNLCK, 100, 50)
    # And the other way round: B's [200,300) is in A's way.
    assert a1.setlk(fa, fcntl.F_WRLCK, 250, 10) == "EAGAIN"
    assert a1.getlk(fa, fcntl.F_RDLCK, 0, FOREVER) == (fcntl.F_WRLCK, 200, 100)


def test_read_locks_are_shared_across_hosts_and_keep_out_writers(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """Read locks on one range from both hosts coexist; then neither can upgrade to a write lock (EAGAIN)."""
    a, b = hosts
    a1, b1 = locker(a), locker(b)
    fa = a1.open("f")
    fb = b1.open("f")
    assert a1.setlk(fa, fcntl.F_RDLCK, 0, 100) == "ok"
    assert b1.setlk(fb, fcntl.F_RDLCK, 0, 100) == "ok"
    # Each upgrade conflicts only with the other host's read lock.
    assert a1.setlk(fa, fcntl.F_WRLCK, 0, 100) == "EAGAIN"
    assert b1.setlk(fb, fcntl.F_WRLCK, 10, 10) == "EAGAIN"
    assert b1.getlk(fb, fcntl.F_WRLCK, 0, 100) == (fcntl.F_RDLCK, 0, 100)
    assert b1.getlk(fb, fcntl.F_RDLCK, 0, 100) == (fcntl.F_UNLCK, 0, 100)
    assert a1.setlk(fa, fcntl.F_UNLCK, 0, 100) == "ok"
    assert b1.setlk(fb, fcntl.F_WRLCK, 0, 100) == "ok"


def test_unlocking_the_middle_splits_the_lock_for_the_other_host(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """A locks [0,300) and unlocks [100,200): B can lock the hole, not either piece A kept; l_len 0 runs to EOF."""
    a, b = hosts
    a1, b1 = locker(a), locker(b)
    fa = a1.open("f")
    fb = b1.open("f")
    assert a1.setlk(fa, fcntl.F_WRLCK, 0, 300) == "ok"
    assert a1.setlk(fa, fcntl.F_UNLCK, 100, 100) == "ok"
    assert b1.setlk(fb, fcntl.F_WRLCK, 100, 100) == "ok"
    assert b1.setlk(fb, fcntl.F_WRLCK, 0, 10) == "EAGAIN"
    assert b1.setlk(fb, fcntl.F_WRLCK, 250, 10) == "EAGAIN"
    assert b1.getlk(fb, fcntl.F_WRLCK, 250, 10) == (fcntl.F_WRLCK, 200, 100)
    assert a1.setlk(fa, fcntl.F_WRLCK, 150, 10) == "EAGAIN"
    # A lock to the end of the file covers offsets far past the file's size.
    assert a1.setlk(fa, fcntl.F_WRLCK, 1000, FOREVER) == "ok"
    assert b1.setlk(fb, fcntl.F_RDLCK, 1 << 40, 1) == "EAGAIN"
    assert b1.getlk(fb, fcntl.F_WRLCK, 5000, 1) == (fcntl.F_WRLCK, 1000, FOREVER)


def test_closing_any_fd_or_exiting_releases_the_process_locks_for_the_other_host(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """POSIX owner rules across hosts: A's lock through fd1 is gone once A closes fd2, or once A's process exits."""
    a, b = hosts
    a1, b1 = locker(a), locker(b)
    fd1 = a1.open("f")
    fd2 = a1.open("f")
    fb = b1.open("f")
    assert a1.setlk(fd1, fcntl.F_WRLCK, 0, 100) == "ok"
    assert b1.setlk(fb, fcntl.F_WRLCK, 0, 100) == "EAGAIN"
    assert a1.close(fd2) == "ok"
    assert b1.setlk(fb, fcntl.F_WRLCK, 0, 100) == "ok"
    assert b1.setlk(fb, fcntl.F_UNLCK, 0, 100) == "ok"

    a2 = locker(a)
    assert a2.setlk(a2.open("f"), fcntl.F_WRLCK, 0, FOREVER) == "ok"
    assert b1.setlk(fb, fcntl.F_RDLCK, 500, 1) == "EAGAIN"
    a2.stop()
    assert b1.setlk(fb, fcntl.F_WRLCK, 0, FOREVER) == "ok"


def test_flock_conflicts_across_hosts_apart_from_fcntl_locks(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """flock: LOCK_EX keeps B out (EWOULDBLOCK) until LOCK_UN; LOCK_SH is shared; flock and fcntl never conflict."""
    a, b = hosts
    a1, a2, b1, b2 = locker(a), locker(a), locker(b), locker(b)
    fa = a1.open("f")
    fb = b1.open("f")
    assert a1.flock(fa, fcntl.LOCK_EX) == "ok"
    assert errno.EWOULDBLOCK == errno.EAGAIN  # on Linux: the name the Locker reports is EAGAIN
    assert b1.flock(fb, fcntl.LOCK_EX | fcntl.LOCK_NB) == "EAGAIN"
    assert b1.flock(fb, fcntl.LOCK_SH | fcntl.LOCK_NB) == "EAGAIN"
    assert a1.flock(fa, fcntl.LOCK_UN) == "ok"
    assert b1.flock(fb, fcntl.LOCK_EX | fcntl.LOCK_NB) == "ok"
    assert b1.flock(fb, fcntl.LOCK_UN) == "ok"

    assert a1.flock(fa, fcntl.LOCK_SH) == "ok"
    assert b1.flock(fb, fcntl.LOCK_SH | fcntl.LOCK_NB) == "ok"
    assert b1.flock(fb, fcntl.LOCK_EX | fcntl.LOCK_NB) == "EAGAIN"  # converting: A's shared lock is in the way
    assert b1.flock(fb, fcntl.LOCK_UN) == "ok"

    # A holds an exclusive flock and B an fcntl write lock on the whole file, at once: separate families.
    assert a1.flock(fa, fcntl.LOCK_EX) == "ok"
    assert b1.setlk(fb, fcntl.F_WRLCK, 0, FOREVER) == "ok"
    # Each still keeps out its own family from the other host.
    assert b2.flock(b2.open("f"), fcntl.LOCK_EX | fcntl.LOCK_NB) == "EAGAIN"
    assert a2.setlk(a2.open("f"), fcntl.F_WRLCK, 0, 1) == "EAGAIN"


def test_blocking_fcntl_lock_waits_and_wakes_within_a_second_of_the_release(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """B's F_SETLKW stays blocked while A holds the range, and returns (with the lock) soon after A unlocks."""
    a, b = hosts
    a1, b1, b2 = locker(a), locker(b), locker(b)
    fa = a1.open("f")
    fb = b1.open("f")
    assert a1.setlk(fa, fcntl.F_WRLCK, 0, 100) == "ok"
    b1.send("F_SETLKW", fd=fb, type=fcntl.F_WRLCK, start=90, len=20)
    assert b1.waiting(0.5)
    unlocked = a1.call("F_SETLK", fd=fa, type=fcntl.F_UNLCK, start=0, len=100)
    assert outcome(unlocked) == "ok"
    granted = b1.reply()
    assert outcome(granted) == "ok"
    assert granted["at"] - unlocked["at"] <= WAKE_UP
    assert b2.setlk(b2.open("f"), fcntl.F_WRLCK, 100, 1) == "EAGAIN"  # B1 holds it now
    assert a1.setlk(fa, fcntl.F_WRLCK, 100, 1) == "EAGAIN"


def test_blocking_flock_waits_and_wakes_within_a_second_of_the_release(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """B's blocking flock(LOCK_EX) waits while A holds LOCK_EX, and returns soon after A's LOCK_UN."""
    a, b = hosts
    a1, b1 = locker(a), locker(b)
    fa = a1.open("f")
    fb = b1.open("f")
    assert a1.flock(fa, fcntl.LOCK_EX) == "ok"
    b1.send("flock", fd=fb, how=fcntl.LOCK_EX)
    assert b1.waiting(0.5)
    unlocked = a1.call("flock", fd=fa, how=fcntl.LOCK_UN)
    assert outcome(unlocked) == "ok"
    granted = b1.reply()
    assert outcome(granted) == "ok"
    assert granted["at"] - unlocked["at"] <= WAKE_UP
    assert a1.flock(fa, fcntl.LOCK_SH | fcntl.LOCK_NB) == "EAGAIN"


def test_a_signal_interrupts_a_blocked_lock_with_eintr_and_leaves_no_lock(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """SIGALRM ends B's F_SETLKW with EINTR; once A unlocks, nothing is held: the wait took no lock behind.

    The interrupted process stays alive (its fd open) while this is checked, so
    its exit cannot be what releases a lock the wait left behind.
    """
    a, b = hosts
    a1, a2, b1, b2 = locker(a), locker(a), locker(b), locker(b)
    fa = a1.open("f")
    fb = b1.open("f")
    assert a1.setlk(fa, fcntl.F_WRLCK, 0, 100) == "ok"
    sent = b1.send("interrupted", fd=fb, type=fcntl.F_WRLCK, start=0, len=100, after=1.0)
    interrupted = b1.reply(timeout=10)
    assert outcome(interrupted) == "EINTR"
    assert interrupted["at"] - sent >= 0.9  # it did wait for the lock until the signal
    assert a1.setlk(fa, fcntl.F_UNLCK, 0, 100) == "ok"
    # Longer than a waiter's wake-up: a wait still going on in B's daemon would have taken the lock by now.
    time.sleep(WAKE_UP)
    fa2 = a2.open("f")
    assert a2.getlk(fa2, fcntl.F_WRLCK, 0, FOREVER) == (fcntl.F_UNLCK, 0, FOREVER)
    fb2 = b2.open("f")
    assert b2.setlk(fb2, fcntl.F_WRLCK, 0, 100) == "ok"
    assert b2.setlk(fb2, fcntl.F_UNLCK, 0, 100) == "ok"
    assert a1.setlk(fa, fcntl.F_WRLCK, 0, 100) == "ok"
    assert b1.setlk(fb, fcntl.F_WRLCK, 50, 1) == "EAGAIN"  # and B1 itself is an ordinary waiter again


def _fcntl_counter(mount: Mount) -> dict[str, Any]:
    """One COUNTER process on `mount`'s counter file: the values it wrote and how long it took."""
    done = subprocess.run(
        [sys.executable, "-c", COUNTER, str(mount.path / "counter"), str(COUNTER_TIMES)],
        capture_output=True, text=True, timeout=COUNTER_DEADLINE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_fcntl_locked_counter_from_two_hosts_loses_no_increment(hosts: tuple[Mount, Mount]) -> None:
    """4 processes, 2 per host, each 100 times lock, read, +1, write, fsync, unlock: the counter ends at 400.

    Each increment needs the lock to be exclusive across hosts, the release to
    flush the write, and the next lock to revalidate what the fd reads (it stays
    open all along, so close-to-open does not help). Every value 1..400 was
    written exactly once.
    """
    a, b = hosts
    (a.path / "counter").write_text("0")
    time.sleep(SETTLE)
    started = time.monotonic()
    mounts = [a, b] * COUNTER_PROCESSES
    with ThreadPoolExecutor(len(mounts)) as pool:
        runs = list(pool.map(_fcntl_counter, mounts))
    elapsed = time.monotonic() - started
    total = len(mounts) * COUNTER_TIMES
    print(f"fcntl counter: {total} increments in {elapsed:.1f} s ({1000 * elapsed / total:.0f} ms each)")
    writers: dict[int, list[str]] = {}
    for index, (mount, run) in enumerate(zip(mounts, runs, strict=True)):
        for n in run["wrote"]:
            writers.setdefault(n, []).append(f"{mount.path.name}{index // 2}")
    twice = {n: who for n, who in sorted(writers.items()) if len(who) > 1}
    assert twice == {}, (
        f"{len(twice)} values written by more than one process (host, process), first: {dict(list(twice.items())[:10])}"
    )
    assert sorted(writers) == list(range(1, total + 1))
    time.sleep(SETTLE)
    assert (a.path / "counter").read_text() == str(total)
    assert (b.path / "counter").read_text() == str(total)


def test_flock_1_locked_counter_from_two_hosts_loses_no_increment(hosts: tuple[Mount, Mount]) -> None:
    """4 shell loops, 2 per host, each 50 rounds of `flock lockfile sh -c 'read counter, write +1'`: ends at 200.

    The lock is on another file than the counter: what keeps the count is the
    exclusion, plus close-to-open on the counter itself.
    """
    a, b = hosts
    (a.path / "counter").write_text("0\n")
    (a.path / "lockfile").touch()
    time.sleep(SETTLE)
    loop = f"for i in $(seq {SHELL_TIMES}); do {SHELL_ROUND} || exit 1; done"
    started = time.monotonic()
    # Each loop in a session of its own, so a stuck one is killed with its flock(1) and sh (the mounts must unmount).
    shells = [
        subprocess.Popen(["sh", "-c", loop], cwd=mount.path, stderr=subprocess.PIPE, text=True, start_new_session=True)
        for mount in [a, b] * SHELL_LOOPS
    ]
    try:
        for shell in shells:
            _, err = shell.communicate(timeout=max(1.0, started + SHELL_DEADLINE - time.monotonic()))
            assert shell.returncode == 0, err
    except subprocess.TimeoutExpired:
        pytest.fail(f"the loops did not finish in {SHELL_DEADLINE} s; counter at {(a.path / 'counter').read_text()!r}")
    finally:
        for shell in shells:
            if shell.poll() is None:
                os.killpg(shell.pid, signal.SIGKILL)
                shell.wait(timeout=30)
    elapsed = time.monotonic() - started
    total = 2 * SHELL_LOOPS * SHELL_TIMES
    print(f"flock(1) counter: {total} increments in {elapsed:.1f} s")
    time.sleep(SETTLE)
    assert (a.path / "counter").read_text() == f"{total}\n"
    assert (b.path / "counter").read_text() == f"{total}\n"


@pytest.mark.parametrize("host_options", [(f"lock_lease={LEASE}",)], ids=[f"lock_lease={LEASE}"])
def test_a_killed_hosts_lock_passes_to_the_other_host_after_its_lease(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """kill -9 of A's daemon while A holds a lock: B's F_SETLKW gets it within the lease + 5 s.

    A mounted again (a new daemon) does not think it still holds the lock: its
    F_GETLK shows B's, and its own F_SETLK is refused.
    """
    a, b = hosts
    a1, b1 = locker(a), locker(b)
    fa = a1.open("f")
    fb = b1.open("f")
    assert a1.setlk(fa, fcntl.F_WRLCK, 0, 100) == "ok"
    assert b1.setlk(fb, fcntl.F_WRLCK, 0, 100) == "EAGAIN"
    os.kill(a.pid, signal.SIGKILL)
    killed = time.monotonic()
    b1.send("F_SETLKW", fd=fb, type=fcntl.F_WRLCK, start=0, len=100)
    a.force_unmount()
    wait_unmounted(a.path)
    granted = b1.reply(timeout=LEASE + MARGIN + 10)
    assert outcome(granted) == "ok"
    assert granted["at"] - killed <= LEASE + MARGIN
    print(f"lock of the killed host taken over after {granted['at'] - killed:.1f} s (lease {LEASE} s)")

    a.start()
    a2 = locker(a)
    fa2 = a2.open("f")
    assert a2.getlk(fa2, fcntl.F_WRLCK, 0, FOREVER) == (fcntl.F_WRLCK, 0, 100)
    assert a2.setlk(fa2, fcntl.F_RDLCK, 10, 10) == "EAGAIN"
    assert b1.setlk(fb, fcntl.F_UNLCK, 0, 100) == "ok"
    assert a2.setlk(fa2, fcntl.F_WRLCK, 0, 100) == "ok"


@pytest.mark.parametrize("host_options", [("binding=llfuse",)], ids=["binding=llfuse"])
def test_binding_llfuse_keeps_locks_local_to_each_mount(
    hosts: tuple[Mount, Mount], locker: Callable[[Mount], Locker]
) -> None:
    """With `-o binding=llfuse` the kernel keeps locks per mount: A's write lock keeps out A's processes only."""
    a, b = hosts
    a1, a2, b1 = locker(a), locker(a), locker(b)
    assert a1.setlk(a1.open("f"), fcntl.F_WRLCK, 0, FOREVER) == "ok"
    assert a2.setlk(a2.open("f"), fcntl.F_WRLCK, 0, 1) == "EAGAIN"
    assert b1.setlk(b1.open("f"), fcntl.F_WRLCK, 0, 1) == "ok"  # not seen on the other host
