"""pytest entry to the suite: `pytest posix-tests --posix-dir DIR [--posix-target NAME] [--posix-expect F]`.

Each case becomes one test; cases excluded by the expectations file are strict xfails, so an
unexpected pass fails the run exactly as it does under `python -m posix_tests`.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from posix_tests.cli import EXPECTATIONS_DIR
from posix_tests.registry import all_cases
from posix_tests.runner import Runner, match_expectation, parse_expectations


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options naming the directory under test, its target name and its expectations file."""
    group = parser.getgroup("posix-tests")
    group.addoption("--posix-dir", type=Path, help="directory on the filesystem under test")
    group.addoption("--posix-target", default="local", help="target name (selects expectations/NAME.txt)")
    group.addoption("--posix-expect", type=Path, help="expectations file overriding the target's default")


def _expect_file(config: pytest.Config) -> Path | None:
    """The explicit expectations file, else the target's default when it exists."""
    explicit = config.getoption("--posix-expect")
    default = EXPECTATIONS_DIR / f"{config.getoption('--posix-target')}.txt"
    return explicit or (default if default.exists() else None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `posix_case` with every case, marking excluded ones as strict xfails."""
    if "posix_case" not in metafunc.fixturenames:
        return
    path = _expect_file(metafunc.config)
    entries = parse_expectations(path) if path else []
    cases = all_cases()
    stale = [e for e in entries if not any(match_expectation(c.id, [e]) for c in cases)]
    if stale:
        raise pytest.UsageError(f"{path}: entries matching no case: {[e.pattern for e in stale]}")
    params = []
    for case in cases:
        entry = match_expectation(case.id, entries)
        marks = [pytest.mark.xfail(strict=True, reason=entry.reason)] if entry else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("posix_case", params)


@pytest.fixture(scope="session")
def posix_runner(request: pytest.FixtureRequest) -> Iterator[Runner]:
    """One runner (scratch root, per-case alarm) for the session; skipped, with the reason, without a dir."""
    target_dir = request.config.getoption("--posix-dir")
    if target_dir is None:
        pytest.skip("pass --posix-dir DIR to run the conformance cases through pytest")
    with Runner(target_dir.resolve(), timeout=60.0) as runner:
        yield runner
