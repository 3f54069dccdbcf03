"""The conformance cases as pytest tests; see conftest.py for the options."""

from posix_tests.registry import Case
from posix_tests.runner import Runner


def test_case(posix_case: Case, posix_runner: Runner) -> None:
    """Run one case in its own scratch directory; the reason is the assertion message."""
    passed, reason = posix_runner.run(posix_case)
    assert passed, reason
