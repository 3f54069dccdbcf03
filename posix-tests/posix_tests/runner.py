"""Runs cases one by one, each in its own process and fresh scratch directory, and classifies them.

A case passes when its function returns. Expectations name the cases a target's documented semantics
exclude: an excluded case that fails is `excluded`, one that passes is an unexpected pass.
"""

import contextlib
import fnmatch
import os
import pickle
import shutil
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from posix_tests.helpers import read_until_eof
from posix_tests.registry import Case


@dataclass(frozen=True)
class Expectation:
    """One expectations-file entry: an id or fnmatch glob and the reason the target differs."""

    pattern: str
    reason: str
    line: int


@dataclass
class Result:
    """The classification of one case run; `reason` explains a failure in one line."""

    case_id: str
    passed: bool
    reason: str = ""
    excluded_by: Expectation | None = None

    @property
    def unexpected(self) -> bool:
        """A failure nobody expected, or a pass the expectations said could not happen."""
        return self.passed == (self.excluded_by is not None)


@dataclass
class Summary:
    """Counts for the summary line; `failed` counts unexpected failures and unexpected passes."""

    passed: int = 0
    failed: int = 0
    excluded: int = 0


def parse_expectations(path: Path) -> list[Expectation]:
    """Read `<id or glob>  # reason` lines; blank and comment-only lines are ignored.

    An entry without a reason is rejected, because every exclusion must say why.
    """
    entries = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, sep, reason = line.partition("#")
        if not sep or not reason.strip() or not pattern.strip():
            raise ValueError(f"{path}:{n}: expected '<case-id or glob>  # reason', got {raw!r}")
        entries.append(Expectation(pattern.strip(), reason.strip(), n))
    return entries


def match_expectation(case_id: str, entries: list[Expectation]) -> Expectation | None:
    """The first entry whose glob matches the id exactly (case-sensitive), if any."""
    for entry in entries:
        if fnmatch.fnmatchcase(case_id, entry.pattern):
            return entry
    return None


def _describe(exc: BaseException) -> str:
    """A one-line reason for a failure: assertion text, or the exception type and where it came from."""
    if isinstance(exc, AssertionError) and str(exc):
        return str(exc).splitlines()[0]
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}".splitlines()[0]


def _case_child(case: Case, scratch: Path, wfd: int) -> NoReturn:
    """In the forked case process: make the scratch dir, run the case, report (passed, reason)."""
    try:
        os.umask(0o022)
        try:
            scratch.mkdir()
            scratch.chmod(0o777)
            case.fn(str(scratch))
            msg = (True, "")
        except BaseException as exc:
            msg = (False, _describe(exc))
        data = pickle.dumps(msg)
        while data:
            data = data[os.write(wfd, data) :]
    finally:
        os._exit(0)


def _status_reason(status: int) -> str:
    """Say how a case process that sent no report ended."""
    if os.WIFSIGNALED(status):
        return f"case process killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"case process exited with status {os.waitstatus_to_exitcode(status)} without reporting"


class Runner:
    """Owns the scratch root under the target directory and runs each case in its own process.

    A forked process per case means a crash, a leaked fd, a chdir or a umask change stays inside the
    case, and a case stuck in a syscall (say, on a FUSE server that never answers) is killed with its
    whole process group once `timeout` passes. Attributes: root is `DIR/.posix-tests-<pid>`, mode 0o777
    so non-root children can work in it.
    """

    def __init__(self, target_dir: Path, timeout: float) -> None:
        """Remember where scratch directories go and how long a case may run."""
        self.root = target_dir / f".posix-tests-{os.getpid()}"
        self.timeout = timeout
        self._serial = 0

    def __enter__(self) -> "Runner":
        """Create the scratch root."""
        self.root.mkdir()
        self.root.chmod(0o777)
        return self

    def __exit__(self, *exc: object) -> None:
        """Remove the scratch root."""
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():
            # Leftovers mean the target could not remove what it created: worth a loud note.
            print(f"posix-tests: warning: could not remove {self.root}", file=sys.stderr)

    def run(self, case: Case) -> tuple[bool, str]:
        """Run one case in a fresh 0o777 directory in its own process group; return (passed, reason)."""
        self._serial += 1
        scratch = self.root / str(self._serial)
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            os.setpgid(0, 0)
            _case_child(case, scratch, wfd)
        os.close(wfd)
        os.setpgid(pid, pid)
        try:
            return self._collect(pid, rfd)
        finally:
            os.close(rfd)
            shutil.rmtree(scratch, ignore_errors=True)

    def _collect(self, pid: int, rfd: int) -> tuple[bool, str]:
        """Wait for the case's report within the timeout; kill its process group otherwise."""
        try:
            data = read_until_eof(rfd, self.timeout)
        except BaseException:
            _kill_group(pid)
            raise
        if data is None:
            _kill_group(pid)
            return False, f"case timed out after {self.timeout:g}s (killed)"
        # Wait for the leader to exit without reaping it, so its pid (the group id) cannot be reused
        # while any children the case left behind are killed with the group.
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if not data:
            return False, _status_reason(status)
        passed, reason = pickle.loads(data)
        return passed, reason


def _kill_group(pgid: int) -> None:
    """SIGKILL a running case's process group, then reap its leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    os.waitpid(pgid, 0)


def run_all(
    cases: list[Case], runner: Runner, entries: list[Expectation], on_result: Callable[[Result], None]
) -> Summary:
    """Run every case, classify it against the expectations, and count the outcome."""
    summary = Summary()
    for case in cases:
        passed, reason = runner.run(case)
        result = Result(case.id, passed, reason, match_expectation(case.id, entries))
        if result.unexpected:
            summary.failed += 1
        elif result.passed:
            summary.passed += 1
        else:
            summary.excluded += 1
        on_result(result)
    return summary
