"""Fixtures for core tests: a fresh memory driver and a Filesystem over it, spooling into tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloudfs.core.context import MountSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.drivers.memory import MemoryDriver

from .helpers import MakeFs


@pytest.fixture
def driver() -> MemoryDriver:
    """An empty in-memory store whose root is 0755 root:root."""
    return MemoryDriver()


@pytest.fixture
def make_fs(driver: MemoryDriver, tmp_path: Path) -> MakeFs:
    """Build a Filesystem over `driver` with MountSettings fields given as keywords."""

    def build(**settings: Any) -> Filesystem:
        settings.setdefault("spool_dir", str(tmp_path / "spool"))
        return Filesystem(driver, MountSettings(**settings))

    return build


@pytest.fixture
def fs(make_fs: MakeFs) -> Filesystem:
    """A Filesystem with default settings (1 s cache TTL, no permission checks)."""
    return make_fs()
