"""Self-test of the suite: it passes 100% on a fresh tmpfs, catches stale expectations, and has enough cases.

Needs root (to mount tmpfs and switch users). Run with `cd posix-tests && python -m pytest test_selftest.py`.
"""

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SUMMARY = re.compile(r"^posix-tests: (\S+) passed=(\d+) failed=(\d+) excluded=(\d+)$")
PASSING_CASE = "rename/dir-into-own-subtree/EINVAL"


def run_suite(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m posix_tests` from the package directory and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "posix_tests", *args],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def summary(proc: subprocess.CompletedProcess[str]) -> tuple[str, int, int, int]:
    """Parse the summary line, which must be the last line printed."""
    match = SUMMARY.match(proc.stdout.splitlines()[-1])
    assert match, f"no summary line at the end of: {proc.stdout[-500:]!r}"
    target, passed, failed, excluded = match.groups()
    return target, int(passed), int(failed), int(excluded)


@contextmanager
def mounted_tmpfs(options: str) -> Iterator[Path]:
    """Mount a fresh tmpfs with `options` on a temporary directory; unmount and remove it afterwards."""
    mnt = Path(tempfile.mkdtemp(prefix="posix-selftest-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
        mnt.rmdir()


@pytest.fixture(scope="module")
def tmpfs() -> Iterator[Path]:
    """A plain tmpfs, like the one CI proves the cases on."""
    with mounted_tmpfs("size=256m") as mnt:
        yield mnt


@pytest.fixture(scope="module")
def noatime_tmpfs() -> Iterator[Path]:
    """A tmpfs mounted noatime: a real target whose documented semantics break the atime rules."""
    with mounted_tmpfs("size=64m,noatime") as mnt:
        yield mnt


def test_case_count_at_least_1000() -> None:
    """--list prints one unique id a line, at least 1,000 of them."""
    proc = run_suite("--list")
    ids = proc.stdout.split("\n")[:-1]
    assert proc.returncode == 0
    assert len(ids) >= 1000
    assert len(set(ids)) == len(ids)


def test_full_run_on_tmpfs_passes(tmpfs: Path) -> None:
    """Every case passes on tmpfs, the run exits 0, and the scratch directory is removed."""
    proc = run_suite(str(tmpfs), "--target", "tmpfs")
    target, passed, failed, excluded = summary(proc)
    assert (proc.returncode, target, failed, excluded) == (0, "tmpfs", 0, 0), proc.stdout[-2000:]
    assert passed >= 1000
    assert list(tmpfs.iterdir()) == []


def test_excluded_passing_case_is_unexpected_pass(tmpfs: Path, tmp_path: Path) -> None:
    """Excluding a case that passes fails the run and names the case as an unexpected pass."""
    expect = tmp_path / "selftest.txt"
    expect.write_text(f"{PASSING_CASE}  # pretend the target cannot do this\n")
    proc = run_suite(str(tmpfs), "--target", "selftest", "--expect", str(expect), "-k", "rename/")
    assert proc.returncode == 1
    assert f"UNEXPECTED PASS {PASSING_CASE}" in proc.stdout
    assert summary(proc)[2] == 1


def test_failures_are_reported_with_reasons(noatime_tmpfs: Path) -> None:
    """Without expectations, cases the target gets wrong fail the run, each with expected vs got."""
    proc = run_suite(str(noatime_tmpfs), "--target", "noatime", "-k", "times/read")
    assert proc.returncode == 1
    assert "FAIL times/read/file-atime/changes: file atime changed: expected True, got False" in proc.stdout
    assert summary(proc)[2] == 2


def test_glob_exclusion_of_failing_cases_counts_excluded(noatime_tmpfs: Path, tmp_path: Path) -> None:
    """Failing cases matched by a glob entry count as excluded and keep the run green."""
    expect = tmp_path / "noatime.txt"
    expect.write_text("# comments are ignored\ntimes/read*/*-atime/changes  # mounted noatime\n")
    proc = run_suite(str(noatime_tmpfs), "--target", "noatime", "--expect", str(expect), "-k", "times/read")
    assert proc.returncode == 0, proc.stdout
    target, passed, failed, excluded = summary(proc)
    assert (target, failed, excluded) == ("noatime", 0, 2)
    assert passed > 0


def test_stale_or_reasonless_entries_are_rejected(tmpfs: Path, tmp_path: Path) -> None:
    """An entry matching no case, or without a reason, is a usage error (exit 2)."""
    stale = tmp_path / "stale.txt"
    stale.write_text("no-such-call/anything/*  # stale\n")
    assert run_suite(str(tmpfs), "--expect", str(stale), "-k", "rename/").returncode == 2
    bare = tmp_path / "bare.txt"
    bare.write_text(f"{PASSING_CASE}\n")
    assert run_suite(str(tmpfs), "--expect", str(bare), "-k", "rename/").returncode == 2
