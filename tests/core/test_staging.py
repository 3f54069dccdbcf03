"""StagedFile: the merged view of staged bytes over the store's, dirty ranges, and flush bookkeeping."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfs.core.staging import Spool, StagedFile
from cloudfs.drivers.memory import MemoryDriver

from .helpers import store_file

BASE = b"abcdefghij"


def _stage(driver: MemoryDriver, spool_dir: Path, base: bytes = BASE) -> tuple[int, StagedFile]:
    """A store file holding `base` and a staged file over it that reads the store."""
    ino = store_file(driver, b"f", base)
    spool = Spool(spool_dir)
    return ino, spool.stage(ino, len(base), lambda off, n: driver.read(ino, off, n))


@pytest.fixture
def staged(driver: MemoryDriver, tmp_path: Path) -> StagedFile:
    """A staged file over a store file holding BASE."""
    return _stage(driver, tmp_path)[1]


def test_fresh_staged_file_reads_the_base(staged: StagedFile) -> None:
    """Nothing staged: the view is the store's bytes and nothing counts as changed."""
    assert staged.read(0, 100) == BASE
    assert not staged.changed
    assert staged.dirty_ranges() == []


def test_staged_bytes_overlay_the_base(staged: StagedFile) -> None:
    """Written bytes replace the base's in the merged view; the rest is the base."""
    staged.write(2, b"XY")
    staged.write(8, b"Z")
    assert staged.read(0, 10) == b"abXYefghZj"
    assert staged.read(3, 3) == b"Yef"
    assert staged.dirty_ranges() == [(2, 4), (8, 9)]


def test_write_past_the_end_leaves_a_zero_hole(staged: StagedFile) -> None:
    """Bytes between the base's end and a write beyond it read as zeros."""
    staged.write(13, b"Z")
    assert staged.size == 14
    assert staged.read(0, 100) == BASE + b"\0\0\0Z"


def test_zero_length_write_does_not_extend(staged: StagedFile) -> None:
    """write(2) of zero bytes past the end changes nothing, as POSIX says."""
    staged.write(100, b"")
    assert staged.size == len(BASE)
    assert not staged.changed


def test_truncate_down_then_extend_reads_zeros(staged: StagedFile) -> None:
    """After a truncate down, extending again shows zeros, not the old base bytes."""
    staged.write(1, b"X")
    staged.truncate(4)
    staged.truncate(8)
    assert staged.read(0, 100) == b"aXcd\0\0\0\0"


def test_truncate_clips_dirty_ranges(staged: StagedFile) -> None:
    """Dirty ranges never reach past the size after a truncate."""
    staged.write(12, b"0123456789")
    staged.truncate(15)
    assert staged.dirty_ranges() == [(12, 15)]
    assert staged.read(10, 100) == b"\x00\x00012"


def test_reads_ask_the_store_only_for_clean_bytes(driver: MemoryDriver, tmp_path: Path) -> None:
    """A fully overwritten range is served from the spool without a store read."""
    _, staged = _stage(driver, tmp_path)
    staged.write(0, b"0123456789")
    reads = driver.calls["read"]
    assert staged.read(0, 10) == b"0123456789"
    assert driver.calls["read"] == reads


def test_mark_flushed_forgets_dirty_ranges(staged: StagedFile) -> None:
    """A flush of the current generation clears the dirty state."""
    staged.write(0, b"X")
    assert staged.mark_flushed(staged.generation)
    assert staged.dirty_ranges() == []
    assert not staged.changed


def test_mark_flushed_with_stale_generation_keeps_data_dirty(staged: StagedFile) -> None:
    """A write after the flush started keeps everything dirty, so the next flush sends it."""
    staged.write(0, b"X")
    generation = staged.generation
    staged.write(5, b"Y")
    assert not staged.mark_flushed(generation)
    assert staged.dirty_ranges() == [(0, 1), (5, 6)]
    assert staged.read(0, 10) == b"XbcdeYghij"


def test_truncate_down_then_extend_reaches_the_store_as_zeros(driver: MemoryDriver, tmp_path: Path) -> None:
    """What the driver stores from a truncated-then-extended file is what the staged view showed."""
    ino, staged = _stage(driver, tmp_path)
    staged.truncate(4)
    staged.truncate(8)
    driver.write(ino, staged, 0)
    assert driver.read(ino, 0, 100) == b"abcd\0\0\0\0"


def test_truncate_down_then_write_beyond_reaches_the_store_as_zeros(driver: MemoryDriver, tmp_path: Path) -> None:
    """A write past a truncated end leaves zeros in the store's hole, not the old bytes."""
    ino, staged = _stage(driver, tmp_path)
    staged.truncate(3)
    staged.write(8, b"Z")
    driver.write(ino, staged, 0)
    assert driver.read(ino, 0, 100) == b"abc\0\0\0\0\0Z"


def test_discard_removes_the_spool_file(staged: StagedFile) -> None:
    """discard() deletes the spool file."""
    staged.write(0, b"X")
    assert staged.path.exists()
    staged.discard()
    assert not staged.path.exists()


offsets = st.integers(0, 300)
ops_st = st.lists(
    st.one_of(
        st.tuples(st.just("write"), offsets, st.binary(min_size=1, max_size=40)),
        st.tuples(st.just("truncate"), offsets),
        st.tuples(st.just("read"), offsets, st.integers(0, 120)),
        st.tuples(st.just("flush")),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), ops_st)
def test_matches_bytearray_model(base: bytes, ops: list[tuple]) -> None:
    """Random writes, truncates, reads and flushes agree with a bytearray, in the view and in the store."""
    driver = MemoryDriver()
    model = bytearray(base)
    with tempfile.TemporaryDirectory() as spool_dir:
        ino, staged = _stage(driver, Path(spool_dir), base)
        for op in ops:
            if op[0] == "write":
                _, off, data = op
                model[len(model) : off] = bytes(max(0, off - len(model)))
                model[off : off + len(data)] = data
                staged.write(off, data)
            elif op[0] == "truncate":
                model[op[1] :] = b""
                model.extend(bytes(op[1] - len(model)))
                staged.truncate(op[1])
            elif op[0] == "read":
                assert staged.read(op[1], op[2]) == bytes(model[op[1] : op[1] + op[2]])
            else:
                driver.write(ino, staged, 0)
                assert staged.mark_flushed(staged.generation)
                assert driver.read(ino, 0, 1000) == bytes(model)
            assert staged.size == len(model)
        assert staged.read(0, 1000) == bytes(model)
        staged.discard()


def test_spool_directory_is_private(tmp_path: Path) -> None:
    """The spool holds users' unflushed data, so only the mounting user may enter it."""
    spool = Spool(tmp_path / "spool")
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o700


def test_spool_is_removed_only_when_empty(driver: MemoryDriver, tmp_path: Path) -> None:
    """remove_if_empty keeps a spool that still holds a staged file and removes it once that is gone."""
    ino = store_file(driver, b"f", BASE)
    spool = Spool(tmp_path / "spool")
    staged = spool.stage(ino, len(BASE), lambda off, n: driver.read(ino, off, n))
    spool.remove_if_empty()
    assert staged.path.exists()
    staged.discard()
    spool.remove_if_empty()
    assert not spool.path.exists()
