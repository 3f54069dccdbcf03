"""Session-wide fixtures: the POSIX suite's summary lines, printed once at the end of the run."""

from __future__ import annotations

import pytest

_SUMMARIES: list[str] = []


@pytest.fixture
def posix_summaries() -> list[str]:
    """Where POSIX-suite tests put their `posix-tests: TARGET passed=N failed=N excluded=N` lines."""
    return _SUMMARIES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print one summary line per POSIX-suite target, as CI logs must show them."""
    for line in _SUMMARIES:
        terminalreporter.write_line(line)
