"""The POSIX conformance suite (posix-tests/) on tmpfs, then on every local driver, mounted as CI does."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuse.conftest import LOCAL_SOURCES
from tests.fuse.mounts import Mount

SUITE = Path(__file__).resolve().parents[2] / "posix-tests"
SUMMARY = re.compile(r"^posix-tests: (\S+) passed=(\d+) failed=(\d+) excluded=(\d+)$", re.MULTILINE)


SUITE_SECONDS = 600  # a whole run on a slow store (S3 on moto) takes about 300 s on 2 cores
# pytest's own timeout must outlast the suite's, so that a slow run fails with its output, not a stack.
suite_timeout = pytest.mark.timeout(SUITE_SECONDS + 60)


def run_suite(directory: Path, target: str, timeout: float = SUITE_SECONDS) -> tuple[str, str]:
    """Run the suite on `directory` with the target's expectations; returns (summary line, full output)."""
    done = subprocess.run(
        [sys.executable, "-m", "posix_tests", str(directory), "--target", target],
        cwd=SUITE, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    match = SUMMARY.search(done.stdout)
    assert match, done.stdout + done.stderr
    assert done.returncode == 0, done.stdout[-5000:]
    return match.group(0), done.stdout


@pytest.fixture
def tmpfs(public_dir: Path) -> Iterator[Path]:
    """A fresh tmpfs: the reference on which every case must pass."""
    path = public_dir / "tmpfs"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(path)], check=True)
    yield path
    subprocess.run(["umount", str(path)], check=True)


@suite_timeout
def test_suite_passes_on_tmpfs(tmpfs: Path, posix_summaries: list[str]) -> None:
    """Every case passes on tmpfs: the cases are right for Linux."""
    summary, _ = run_suite(tmpfs, "tmpfs")
    assert summary.endswith("failed=0 excluded=0")
    posix_summaries.append(summary)


@suite_timeout
@pytest.mark.parametrize(
    ("target", "driver", "options"),
    [
        ("memory", "memory", ("default_permissions",)),
        ("sqlite", "sqlite", ("default_permissions",)),
        ("sqlite-nodefault", "sqlite", ("nodefault_permissions",)),
        ("sqlite-mfusepy", "sqlite", ("default_permissions", "binding=mfusepy")),
    ],
)
def test_suite_on_driver(
    target: str, driver: str, options: tuple[str, ...], tmp_path: Path, public_dir: Path, posix_summaries: list[str]
) -> None:
    """Mounted as root with allow_other, the kernel or cloudfs checking permissions, through either binding:
    only the listed exclusions fail."""
    mount = Mount(LOCAL_SOURCES[driver](tmp_path), public_dir / "mnt", tmp_path / "cloudfs.log",
                  ("allow_other", *options))  # fmt: skip
    mount.start()
    try:
        summary, _ = run_suite(mount.path, target)
    finally:
        mount.stop()
    posix_summaries.append(summary)
    assert mount.problems() == []
