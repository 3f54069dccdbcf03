"""Contract: file contents through write (staged dirty ranges) and read, holes, truncation."""

from __future__ import annotations

import pytest

from cloudfs.driver import ROOT_INO, AttrChanges, Driver

from .helpers import PAST_NS, mkfile, pattern, put
from .staging import ReadThrough, Staged


def blocks(driver: Driver, count: float) -> int:
    """`count` blocks of the driver's block size, in bytes."""
    return int(driver.capabilities.block_size * count)


def test_new_file_reads_empty(driver: Driver) -> None:
    """A new file reads as empty."""
    f = mkfile(driver, b"f")
    assert driver.read(f.ino, 0, 100) == b""


def test_write_then_read_back(driver: Driver) -> None:
    """Written bytes read back at any offset; the returned size is the staged size."""
    f = mkfile(driver, b"f")
    after = put(driver, f.ino, b"hello world")
    assert (after.ino, after.size) == (f.ino, 11)
    assert driver.read(f.ino, 0, 11) == b"hello world"
    assert driver.read(f.ino, 6, 3) == b"wor"


def test_read_is_short_only_at_end_of_file(driver: Driver) -> None:
    """Reads are short only at end of file, empty past it."""
    f = mkfile(driver, b"f")
    put(driver, f.ino, b"0123456789")
    assert driver.read(f.ino, 4, 100) == b"456789"
    assert driver.read(f.ino, 10, 5) == b""
    assert driver.read(f.ino, 50, 5) == b""
    assert driver.read(f.ino, 3, 0) == b""


def test_multi_block_file_reads_across_block_boundaries(driver: Driver) -> None:
    """A 3.5-block file reads back whole and across each block boundary."""
    f = mkfile(driver, b"f")
    size = blocks(driver, 3.5)
    data = pattern(size)
    assert put(driver, f.ino, data).size == size
    assert driver.read(f.ino, 0, size) == data
    for boundary in (blocks(driver, 1), blocks(driver, 2), blocks(driver, 3)):
        assert driver.read(f.ino, boundary - 10, 20) == data[boundary - 10 : boundary + 10]
    assert driver.read(f.ino, size - 5, 100) == data[-5:]
    assert driver.getattr(f.ino).size == size


def test_holes_read_as_zeros(driver: Driver) -> None:
    """Bytes never written, before the first dirty range, read as zeros."""
    f = mkfile(driver, b"f")
    start = blocks(driver, 2.5)
    after = driver.write(f.ino, Staged().write(start, b"tail"), PAST_NS)
    assert after.size == start + 4
    assert driver.read(f.ino, 0, start) == bytes(start)
    assert driver.read(f.ino, start - 2, 10) == b"\0\0tail"


def test_unaligned_dirty_ranges_replace_only_those_bytes(driver: Driver) -> None:
    """Dirty ranges that straddle or sit inside blocks change those bytes and no others."""
    f = mkfile(driver, b"f")
    size = blocks(driver, 3.5)
    old = pattern(size, seed=1)
    put(driver, f.ino, old)
    staged = Staged(old)
    edits = [(blocks(driver, 1) - 7, 20), (blocks(driver, 2) + 1, 1), (size - 5, 5), (3, 2)]
    for off, count in edits:
        staged.write(off, pattern(count, seed=99))
    assert len(staged.dirty_ranges()) == len(edits)
    assert driver.write(f.ino, staged, PAST_NS).size == size
    assert driver.read(f.ino, 0, size) == staged.read(0, size)


def test_write_can_grow_and_shrink_a_file(driver: Driver) -> None:
    """write sets the size: growing leaves a zero gap, shrinking drops the tail."""
    f = mkfile(driver, b"f")
    base = pattern(blocks(driver, 1.5))
    put(driver, f.ino, base)
    grown = Staged(base).write(len(base) + 100, b"end")
    assert driver.write(f.ino, grown, PAST_NS).size == len(base) + 103
    assert driver.read(f.ino, len(base) - 1, 200) == base[-1:] + bytes(100) + b"end"
    shrunk = Staged(grown.read(0, grown.size)).truncate(10)
    assert driver.write(f.ino, shrunk, PAST_NS).size == 10
    assert driver.read(f.ino, 0, 100) == base[:10]


def test_write_after_cut_and_regrow_reads_zeros(driver: Driver) -> None:
    """Bytes cut and regrown in one staging read as zeros, not as the old data."""
    f = mkfile(driver, b"f")
    base = pattern(blocks(driver, 2))
    put(driver, f.ino, base)
    middle = blocks(driver, 0.75)
    staged = Staged(base).truncate(middle).truncate(len(base))
    driver.write(f.ino, staged, PAST_NS)
    assert driver.read(f.ino, 0, len(base)) == base[:middle] + bytes(len(base) - middle)


def test_write_is_idempotent(driver: Driver) -> None:
    """Repeating a write (a retried flush) leaves the same file and attributes."""
    f = mkfile(driver, b"f")
    base = pattern(blocks(driver, 1.25))
    put(driver, f.ino, base)
    staged = Staged(base).write(blocks(driver, 1) - 3, b"XYZXYZ").truncate(blocks(driver, 1) + 2)
    first = driver.write(f.ino, staged, PAST_NS)
    content = driver.read(f.ino, 0, first.size)
    assert driver.write(f.ino, staged, PAST_NS) == first
    assert driver.read(f.ino, 0, first.size + 10) == content


def test_truncate_down_mid_block_then_extend_reads_zeros(driver: Driver) -> None:
    """Truncating mid-block then extending reads zeros where the cut data was."""
    f = mkfile(driver, b"f")
    data = pattern(blocks(driver, 3))
    put(driver, f.ino, data)
    cut = blocks(driver, 1) + 100
    assert driver.setattr(f.ino, AttrChanges(size=cut)).size == cut
    assert driver.read(f.ino, 0, len(data)) == data[:cut]
    assert driver.setattr(f.ino, AttrChanges(size=len(data))).size == len(data)
    assert driver.read(f.ino, 0, len(data)) == data[:cut] + bytes(len(data) - cut)


def test_truncate_to_zero_and_extend_past_the_end(driver: Driver) -> None:
    """setattr size 0 empties a file; extending past a block boundary reads zeros."""
    f = mkfile(driver, b"f")
    put(driver, f.ino, b"abc")
    assert driver.setattr(f.ino, AttrChanges(size=0)).size == 0
    assert driver.read(f.ino, 0, 10) == b""
    far = blocks(driver, 2) + 1
    assert driver.setattr(f.ino, AttrChanges(size=far)).size == far
    assert driver.read(f.ino, far - 3, 10) == bytes(3)
    assert driver.lookup(ROOT_INO, b"f").size == far


def test_an_orphan_can_still_be_written_and_read(driver: Driver) -> None:
    """An open file unlinked meanwhile still takes its final flush."""
    f = mkfile(driver, b"f")
    put(driver, f.ino, b"first")
    driver.unlink(ROOT_INO, b"f")
    after = driver.write(f.ino, Staged(b"first").write(5, b" and last"), PAST_NS)
    assert (after.nlink, after.size) == (0, 14)
    assert driver.read(f.ino, 0, 100) == b"first and last"


# A driver that holds a lock while reading the staged data back would hang here.
@pytest.mark.timeout(60)
def test_write_may_read_unchanged_bytes_back_through_the_driver(driver: Driver) -> None:
    """write must not hold a lock or change the file while reading staged data that reads through the driver."""
    f = mkfile(driver, b"f")
    size = blocks(driver, 3.5)
    put(driver, f.ino, pattern(size))
    staged = ReadThrough(driver, f.ino).write(blocks(driver, 1.5), b"middle").truncate(blocks(driver, 3) + 1)
    expected = staged.read(0, staged.size)
    assert expected == Staged.read(staged, 0, staged.size)
    assert driver.write(f.ino, staged, PAST_NS).size == len(expected)
    assert driver.read(f.ino, 0, size) == expected
