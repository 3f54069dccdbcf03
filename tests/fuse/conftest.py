"""Fixtures for mounted tests: a cloudfs mount per test, on every driver that keeps data locally."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuse.mounts import Mount

# Mounted tests run on each of these; server-backed drivers add their own fixtures.
LOCAL_SOURCES = {
    "memory": lambda tmp: "memory:test",
    "sqlite": lambda tmp: f"sqlite:{tmp}/fs.db",
}


@pytest.fixture(params=sorted(LOCAL_SOURCES))
def mount(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Mount]:
    """A fresh mount on each local driver, unmounted afterwards; its log must stay clean."""
    m = Mount(LOCAL_SOURCES[request.param](tmp_path), tmp_path / "mnt", tmp_path / "cloudfs.log")
    m.start()
    yield m
    m.stop()
    assert m.problems() == []


@pytest.fixture
def sqlite_mount(tmp_path: Path) -> Iterator[Mount]:
    """A mount on the sqlite driver, whose data survives unmount, remount and crashes."""
    m = Mount(f"sqlite:{tmp_path}/fs.db", tmp_path / "mnt", tmp_path / "cloudfs.log")
    m.start()
    yield m
    if Path(m.path).is_mount():
        m.stop()
