"""Fixtures shared by every test directory: S3 servers, a public scratch directory, POSIX summaries."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# The S3 servers are session fixtures: registered once here, every test directory shares one of each.
pytest_plugins = ["tests.servers"]

_SUMMARIES: list[str] = []


@pytest.fixture
def posix_summaries() -> list[str]:
    """Where POSIX-suite tests put their `posix-tests: TARGET passed=N failed=N excluded=N` lines."""
    return _SUMMARIES


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory other users can search: the POSIX suite's non-root cases must reach the target."""
    path = Path(tempfile.mkdtemp(prefix="cloudfs-posix-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print one summary line per POSIX-suite target, as CI logs must show them."""
    for line in _SUMMARIES:
        terminalreporter.write_line(line)
