"""Runs cases one by one, each in a fresh scratch directory under a per-case alarm, and classifies them.

A case passes when its function returns. Expectations name the cases a target's documented semantics
exclude: an excluded case that fails is `excluded`, one that passes is an unexpected pass.
"""

import fnmatch
import os
import shutil
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from posix_tests.registry import Case


class CaseTimeout(Exception):
    """Raised by the alarm handler when a case runs past its time limit."""


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
    """Counts for the summary line, plus the unexpected results to report."""

    passed: int = 0
    failed: int = 0
    excluded: int = 0
    unexpected: list[Result] = field(default_factory=list)


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


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGALRM into an exception inside the running case."""
    raise CaseTimeout("case timed out (per-case limit, see --timeout)")


def _describe(exc: BaseException) -> str:
    """A one-line reason for a failure: assertion text, or the exception type and where it came from."""
    if isinstance(exc, AssertionError | CaseTimeout) and str(exc):
        return str(exc).splitlines()[0]
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}".splitlines()[0]


class Runner:
    """Owns the scratch root under the target directory and runs cases inside it.

    Attributes: root is `DIR/.posix-tests-<pid>`, mode 0o777 so forked non-root children can work in it.
    """

    def __init__(self, target_dir: Path, timeout: float) -> None:
        """Remember where scratch directories go and how long a case may run."""
        self.root = target_dir / f".posix-tests-{os.getpid()}"
        self.timeout = timeout
        self._serial = 0

    def __enter__(self) -> "Runner":
        """Create the scratch root and install the alarm handler."""
        self.root.mkdir()
        self.root.chmod(0o777)
        signal.signal(signal.SIGALRM, _on_alarm)
        return self

    def __exit__(self, *exc: object) -> None:
        """Cancel any alarm and remove the scratch root."""
        signal.setitimer(signal.ITIMER_REAL, 0)
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():
            # Leftovers mean the target could not remove what it created: worth a loud note.
            print(f"posix-tests: warning: could not remove {self.root}", file=sys.stderr)

    def run(self, case: Case) -> tuple[bool, str]:
        """Run one case in a fresh 0o777 directory; return (passed, reason)."""
        self._serial += 1
        scratch = self.root / str(self._serial)
        saved_umask = os.umask(0o022)
        cwd = os.getcwd()
        try:
            scratch.mkdir()
            scratch.chmod(0o777)
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
            try:
                case.fn(str(scratch))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Exception as exc:
            return False, _describe(exc)
        finally:
            os.umask(saved_umask)
            os.chdir(cwd)
            shutil.rmtree(scratch, ignore_errors=True)
        return True, ""


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
            summary.unexpected.append(result)
        elif result.passed:
            summary.passed += 1
        else:
            summary.excluded += 1
        on_result(result)
    return summary
