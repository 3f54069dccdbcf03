"""Runs the steps for one tool, each on a fresh mount, reading every meter before and after.

Meters: the DynamoDB proxy (requests by operation), the S3 proxy (requests
by operation), Redis (`INFO commandstats` deltas), the Redis relay (round
trips), and the CPU time (user + system, from /proc) of the mount's daemon
and of each server process. A step's figures are what the meters saw between the start of the
step and its return; what they see while the mount is then unmounted is kept
apart ("at unmount": deferred uploads would show there, with the tool's own
unmount work). The check runs in between, uncounted. Mounting is not counted.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.metadata.dynamo import BACKGROUND
from bench.metadata.redis import RedisServer, RoundTripRelay
from bench.metadata.steps import Step
from bench.peers.data import Data
from bench.peers.proxy import CountingProxy, Tally
from bench.peers.runner import _time_limit
from bench.peers.tools import VENV_BIN, Tool
from bench.peers.workloads import fs_small_create

log = logging.getLogger(__name__)
TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1]); [] if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text.rpartition(")")[2].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its live descendants so far (a JuiceFS mount may fork), in seconds."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(int(entry))):
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        fields = _stat_fields(current)
        if fields:
            total += int(fields[11]) + int(fields[12])
        todo += children.get(current, [])
    return total / TICK


def child_pid(name: str) -> int:
    """The PID of this process's child whose command starts with `name` (the SeaweedFS server), or 0."""
    for entry in os.listdir("/proc"):
        fields = _stat_fields(int(entry)) if entry.isdigit() else []
        if fields and int(fields[1]) == os.getpid():
            argv0 = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0]
            if Path(argv0.decode(errors="replace")).name.startswith(name):
                return int(entry)
    return 0


@dataclass
class Reading:
    """What every meter saw over one interval."""

    dynamo: Tally = field(default_factory=Tally)
    s3: Tally = field(default_factory=Tally)
    redis: Counter[str] = field(default_factory=Counter)
    round_trips: int = 0
    cpu: dict[str, float] = field(default_factory=dict)

    def dynamo_requests(self, background: bool = False) -> int:
        """DynamoDB requests, the mount's heartbeats left out unless `background`."""
        return sum(n for op, n in self.dynamo.requests.items() if background or op not in BACKGROUND)

    def s3_requests(self) -> int:
        """S3 requests."""
        return sum(self.s3.requests.values())

    def redis_commands(self) -> int:
        """Redis commands (as `INFO commandstats` counts them)."""
        return sum(self.redis.values())


@dataclass
class Meters:
    """Every meter of the run; `take()` reads them all and resets them.

    `servers` names the server processes whose CPU is read (moto, SeaweedFS, Redis); `daemon` is the
    PID of the mounted daemon, set by the runner while a mount is up.
    """

    dynamo: CountingProxy
    s3: CountingProxy
    redis: RedisServer
    relay: RoundTripRelay
    servers: dict[str, int] = field(default_factory=dict)
    daemon: int = 0
    _cpu: dict[tuple[str, int], float] = field(default_factory=dict)

    def take(self) -> Reading:
        """The reading since the last take (CPU of a process first seen now counts from now)."""
        pids = {**self.servers, "daemon": self.daemon}
        now = {(name, pid): cpu_seconds(pid) for name, pid in pids.items() if pid and _stat_fields(pid)}
        cpu = {name: value - self._cpu.get((name, pid), value) for (name, pid), value in now.items()}
        self._cpu = now
        return Reading(self.dynamo.take(), self.s3.take(), self.redis.take(), self.relay.take(), cpu)


@dataclass
class Result:
    """One tool's measurement of one step."""

    tool: str
    step: Step
    seconds: float = 0.0
    reading: Reading = field(default_factory=Reading)
    unmount: Reading = field(default_factory=Reading)
    error: str = ""
    peak_rss_kib: int = 0


def run_tool(
    tool: Tool, target: str, url: str, meters: Meters, data: Data, steps: list[Step], timeout: int
) -> list[Result]:
    """Every step of `tool` on `target` through `url`, each on a fresh mount."""
    tool.work.mkdir(parents=True, exist_ok=True)
    tool.prepare(target, url)
    results = []
    for step in steps:
        result = Result(tool.name, step)
        try:
            with tool.mount(target, url) as mounted:
                meters.daemon = mounted.proc.pid
                meters.take()
                start = time.perf_counter()
                try:
                    with _time_limit(timeout):
                        step.run(mounted.path, data)
                except Exception as exc:  # a failure of the tool is a result to report, not a crash of the bench
                    result.error = f"{type(exc).__name__}: {exc}"
                result.seconds = time.perf_counter() - start
                result.reading = meters.take()
                result.peak_rss_kib = mounted.peak_rss_kib()
                if step.check and not result.error:
                    try:
                        with _time_limit(timeout):
                            step.check(mounted.path, data)
                    except Exception as exc:  # as above
                        result.error = f"check: {type(exc).__name__}: {exc}"
                meters.take()
        except (OSError, RuntimeError) as exc:
            result.error = result.error or f"mount: {exc}"
        result.unmount = meters.take()
        meters.daemon = 0
        r = result.reading
        log.info("%s: %s: %.2fs, DynamoDB %d, S3 %d, Redis %d commands / %d round trips %s", tool.name, step.key,
                 result.seconds, r.dynamo_requests(), r.s3_requests(), r.redis_commands(), r.round_trips,
                 result.error)  # fmt: skip
        results.append(result)
    return results


@dataclass
class Profile:
    """A py-spy recording of the daemon during one extra create step."""

    seconds: float
    raw: Path
    error: str = ""


def profile_create(tool: Tool, target: str, url: str, data: Data, raw: Path, timeout: int) -> Profile:
    """Create the small files once more on a fresh mount (into an empty `small`) with py-spy sampling the daemon.

    `py-spy record --idle --threads --format raw`: every thread, waiting or not, 100 samples a second.
    """
    spy = VENV_BIN / "py-spy"
    if not spy.exists():
        return Profile(0.0, raw, f"py-spy not installed ({VENV_BIN / 'pip'} install py-spy)")
    with tool.mount(target, url) as mounted:
        cmd = [str(spy), "record", "-p", str(mounted.proc.pid), "--idle", "--threads", "--format", "raw",
               "--rate", "100", "--output", str(raw), "--nonblocking"]  # fmt: skip
        recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(2)  # attach before the step starts
        start = time.perf_counter()
        error = ""
        try:
            with _time_limit(timeout):
                fs_small_create(mounted.path, data)
        except Exception as exc:  # reported with the profile
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        recorder.send_signal(signal.SIGINT)
        try:
            _, err = recorder.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            recorder.kill()
            _, err = recorder.communicate()
        if recorder.returncode and not raw.exists():
            error = error or f"py-spy: {err.decode(errors='replace').strip().splitlines()[-1:]}"
    return Profile(seconds, raw, error)
