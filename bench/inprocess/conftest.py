"""Fixtures for the in-process benchmarks: one store kind per target, as a bare driver or under the core.

Saved runs go to bench/results/inprocess/ unless `--benchmark-storage` names another place.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The FakeStore and the test helpers live in the `tests` package at the repository root, which
# the pytest script does not put on sys.path for a directory outside `testpaths`.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from .targets import KINDS, Target  # noqa: E402

STORAGE = f"file://{ROOT / 'bench' / 'results' / 'inprocess'}"
DEFAULT_STORAGE = "file://./.benchmarks"  # pytest-benchmark's own default


def pytest_configure(config: pytest.Config) -> None:
    """Save and compare under bench/results/inprocess/ (this runs before pytest-benchmark reads the option)."""
    if config.getoption("benchmark_storage", None) == DEFAULT_STORAGE:
        config.option.benchmark_storage = STORAGE


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Each store kind in turn."""
    return str(request.param)


@pytest.fixture(params=["core", "driver"])
def layer(request: pytest.FixtureRequest) -> str:
    """Through the core, or the driver alone."""
    return str(request.param)


@pytest.fixture
def make_target(kind: str, layer: str, tmp_path: Path) -> Iterator[Callable[..., Target]]:
    """Build this test's Target (MountSettings as keywords), closed at the end."""
    made: list[Target] = []

    def make(**settings: float) -> Target:
        """The Target of this kind and layer."""
        target = Target(kind, layer, tmp_path, **settings)
        made.append(target)
        return target

    yield make
    for target in made:
        target.close()
