"""Two hosts writing one file: a write-back that changed no size keeps the other host's truncate and append."""

from __future__ import annotations

import stat
import time

from cloudfs.driver import ROOT_INO, AttrChanges
from tests.drivers.staging import Staged

from .conftest import DriverFactory

BLOCK = 64 * 1024


def _file(make_driver: DriverFactory, size: int) -> tuple[object, object, int, bytes]:
    """Hosts a and b on one table, and a file of `size` bytes written by a."""
    a, _ = make_driver()
    b, _ = make_driver()
    ino = a.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, 0, 0).ino
    content = bytes(range(256)) * (size // 256)
    a.write(ino, Staged().write(0, content), time.time_ns())
    return a, b, ino, content


def test_a_stale_rewrite_does_not_undo_another_hosts_truncate(make_driver: DriverFactory) -> None:
    """b rewrites bytes of block 0 staged against the old size; a truncated meanwhile: the file stays short."""
    a, b, ino, content = _file(make_driver, 3 * BLOCK)
    staged = Staged(content).write(10, b"from b")
    a.setattr(ino, AttrChanges(size=BLOCK))
    attr = b.write(ino, staged, time.time_ns())
    assert attr.size == BLOCK
    assert a.getattr(ino, fresh=True).size == BLOCK
    assert a.read(ino, 0, 16) == content[:10] + b"from b"


def test_a_stale_rewrite_keeps_another_hosts_append(make_driver: DriverFactory) -> None:
    """b rewrites bytes of block 0; a appended a block meanwhile: the appended block and size stay."""
    a, b, ino, content = _file(make_driver, 2 * BLOCK)
    staged = Staged(content).write(0, b"from b")
    a.write(ino, Staged(content).write(2 * BLOCK, b"\x01" * BLOCK), time.time_ns())
    attr = b.write(ino, staged, time.time_ns())
    assert attr.size == 3 * BLOCK
    assert a.read(ino, 2 * BLOCK, 4) == b"\x01" * 4
    assert a.read(ino, 0, 6) == b"from b"


def test_a_writer_that_truncated_sets_its_size(make_driver: DriverFactory) -> None:
    """A write-back whose own staging changed the size makes that size, whatever the store held."""
    a, b, ino, content = _file(make_driver, 2 * BLOCK)
    attr = b.write(ino, Staged(content).truncate(100), time.time_ns())
    assert attr.size == 100
    assert a.getattr(ino, fresh=True).size == 100
