"""The memory driver's own extras: call counters, failure injection, its spec and constructor options."""

from __future__ import annotations

import stat
from errno import EINVAL, EIO, ENAMETOOLONG, ENOENT, ENOSPC

import pytest

from cloudfs.driver import ROOT_INO, AttrChanges, DriverSettings
from cloudfs.drivers.memory import SPEC, MemoryDriver
from cloudfs.sources import parse_source

from .helpers import fails_with, mkfile, names, put


def test_calls_counts_every_protocol_call_by_name() -> None:
    """`calls` counts each protocol call, failed ones included."""
    driver = MemoryDriver()
    f = mkfile(driver, b"f")
    driver.getattr(f.ino)
    driver.getattr(ROOT_INO)
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"missing")
    assert driver.calls == {"mknod": 1, "getattr": 2, "lookup": 1}


def test_fail_raises_on_the_planned_calls_only() -> None:
    """fail(times=2, after=1) lets one call through, fails two, then stops."""
    driver = MemoryDriver()
    driver.fail("mknod", ENOSPC, times=2, after=1)
    mkfile(driver, b"a")
    with fails_with(ENOSPC):
        mkfile(driver, b"b")
    with fails_with(ENOSPC):
        mkfile(driver, b"c")
    mkfile(driver, b"d")
    assert names(driver) == [b"a", b"d"]
    assert driver.calls["mknod"] == 4


def test_injected_failure_changes_nothing() -> None:
    """An injected failure happens before the call changes anything."""
    driver = MemoryDriver()
    f = mkfile(driver, b"f")
    put(driver, f.ino, b"before")
    driver.fail("setattr", EIO)
    with fails_with(EIO):
        driver.setattr(f.ino, AttrChanges(size=0))
    assert driver.read(f.ino, 0, 10) == b"before"
    assert driver.setattr(f.ino, AttrChanges(size=0)).size == 0


def test_fail_refuses_unknown_methods_and_bad_counts() -> None:
    """A typo in the method name or a zero count cannot silently arm nothing."""
    driver = MemoryDriver()
    with pytest.raises(ValueError, match="protocol"):
        driver.fail("mkdir", EIO)
    with pytest.raises(ValueError, match="times"):
        driver.fail("read", EIO, times=0)


def test_spec_opens_a_new_empty_store_each_time() -> None:
    """memory: parses any label; each open is a separate, empty store."""
    source = parse_source("memory:any label/at all")
    assert source.spec is SPEC
    first = SPEC.open(source.settings, DriverSettings())
    mkfile(first, b"f")
    second = SPEC.open(source.settings, DriverSettings())
    assert isinstance(second, MemoryDriver)
    assert names(second) == []
    assert names(first) == [b"f"]


def test_root_owner_and_mode_are_constructor_options() -> None:
    """The root's mode and owner are options, 0o40755 root:root by default."""
    root = MemoryDriver(root_mode=0o1777, root_uid=1000, root_gid=100).getattr(ROOT_INO)
    assert (root.mode, root.uid, root.gid) == (stat.S_IFDIR | 0o1777, 1000, 100)
    default = MemoryDriver().getattr(ROOT_INO)
    assert (default.mode, default.uid, default.gid) == (0o40755, 0, 0)


def test_clock_is_injectable() -> None:
    """A test clock sets every time the driver stamps."""
    driver = MemoryDriver(clock=lambda: 42)
    f = mkfile(driver, b"f")
    assert (f.atime_ns, f.mtime_ns, f.ctime_ns) == (42, 42, 42)


@pytest.mark.parametrize("name", [b"", b".", b"..", b"a/b", b"a\0b"])
def test_malformed_names_are_einval(name: bytes) -> None:
    """Names the core should have refused are EINVAL, so core bugs surface in its tests."""
    driver = MemoryDriver()
    with fails_with(EINVAL):
        mkfile(driver, name)


def test_overlong_name_is_enametoolong() -> None:
    """A name beyond max_name_len is ENAMETOOLONG."""
    driver = MemoryDriver()
    with fails_with(ENAMETOOLONG):
        mkfile(driver, b"x" * (driver.capabilities.max_name_len + 1))


def test_large_sparse_file_costs_no_memory() -> None:
    """Extending to 1 TiB stores nothing: holes take no memory."""
    driver = MemoryDriver()
    f = mkfile(driver, b"f")
    huge = 2**40
    free = driver.statfs().blocks_free
    assert driver.setattr(f.ino, AttrChanges(size=huge)).size == huge
    assert driver.read(f.ino, huge - 4, 100) == bytes(4)
    assert driver.statfs().blocks_free == free
