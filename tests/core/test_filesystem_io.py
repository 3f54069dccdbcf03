"""Filesystem data path: one driver write per close, staged reads and sizes, flush failures, truncation."""

from __future__ import annotations

import dataclasses
import errno
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cloudfs.core.context import MountSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import ROOT_INO, AttrChanges
from cloudfs.drivers.memory import FULL_CAPABILITIES, MemoryDriver
from cloudfs.errors import FsError

from .helpers import ROOT, MakeFs, make_file, store_file


def _spooled(tmp_path: Path) -> list[Path]:
    """Files in the spool directory the fixtures use."""
    return list((tmp_path / "spool").iterdir())


def test_create_write_release_is_one_write(fs: Filesystem, driver: MemoryDriver) -> None:
    """Creating, writing in pieces and closing a file costs one mknod and one write."""
    fh, attr = fs.create(ROOT_INO, b"f", 0o644, os.O_WRONLY, ROOT)
    for i in range(5):
        fs.write(fh, i * 4, b"abcd")
    fs.release(fh)
    assert driver.calls == Counter({"getattr": 1, "mknod": 1, "write": 1})
    assert driver.read(attr.ino, 0, 100) == b"abcd" * 5


def test_empty_created_file_is_written_once(fs: Filesystem, driver: MemoryDriver) -> None:
    """A created file is written once even with no data, so object stores can create it then."""
    make_file(fs, b"f")
    assert driver.calls["write"] == 1


def test_empty_created_file_costs_no_write_on_an_inode_store(tmp_path: Path) -> None:
    """Where mknod stores the inode (create_needs_write off), a flush before any byte (dup2) writes nothing."""
    driver = MemoryDriver(capabilities=dataclasses.replace(FULL_CAPABILITIES, create_needs_write=False))
    fs = Filesystem(driver, MountSettings(spool_dir=str(tmp_path / "spool")))
    fh, attr = fs.create(ROOT_INO, b"f", 0o644, os.O_RDWR, ROOT)
    fs.flush(fh)
    fs.write(fh, 0, b"x")
    fs.release(fh)
    assert driver.calls["write"] == 1
    assert driver.read(attr.ino, 0, 10) == b"x"


def test_open_and_close_without_writing_costs_no_write(fs: Filesystem, driver: MemoryDriver) -> None:
    """An existing file opened for writing and closed untouched is not written."""
    ino = store_file(driver, b"f", b"abc")
    driver.calls.clear()
    fs.release(fs.open(ino, os.O_RDWR, ROOT))
    assert driver.calls["write"] == 0


def test_flushed_file_reads_back(make_fs: MakeFs, fs: Filesystem) -> None:
    """A written and closed file reads back through a fresh Filesystem over the same store."""
    ino = make_file(fs, b"f", b"hello world")
    other = make_fs()
    fh = other.open(ino, os.O_RDONLY, ROOT)
    assert other.read(fh, 0, 100) == b"hello world"
    assert other.read(fh, 6, 3) == b"wor"
    other.release(fh)


def test_writes_are_visible_before_flush(fs: Filesystem, driver: MemoryDriver) -> None:
    """Unflushed writes show in read and in getattr's size and mtime, with no store write yet."""
    fh, attr = fs.create(ROOT_INO, b"f", 0o644, os.O_RDWR, ROOT)
    before = time.time_ns()
    fs.write(fh, 0, b"hello")
    fs.write(fh, 10, b"!")
    assert fs.read(fh, 0, 100) == b"hello\0\0\0\0\0!"
    shown = fs.getattr(attr.ino)
    assert shown.size == 11
    assert shown.mtime_ns >= before
    assert driver.calls["write"] == 0


def test_flush_and_fsync_hand_data_to_the_driver(fs: Filesystem, driver: MemoryDriver) -> None:
    """flush and fsync each write staged data; a clean release afterwards writes nothing more."""
    fh, attr = fs.create(ROOT_INO, b"f", 0o644, os.O_RDWR, ROOT)
    fs.write(fh, 0, b"one")
    fs.flush(fh)
    assert driver.read(attr.ino, 0, 100) == b"one"
    fs.write(fh, 3, b"two")
    fs.fsync(fh)
    assert driver.read(attr.ino, 0, 100) == b"onetwo"
    fs.release(fh)
    assert driver.calls["write"] == 2


def test_failed_write_raises_eio_and_keeps_data(fs: Filesystem, driver: MemoryDriver, tmp_path: Path) -> None:
    """A failing store write makes flush raise EIO; the data stays spooled and a later flush stores it."""
    fh, attr = fs.create(ROOT_INO, b"f", 0o644, os.O_RDWR, ROOT)
    fs.write(fh, 0, b"precious")
    driver.fail("write", errno.ENOSPC)
    with pytest.raises(FsError) as exc:
        fs.flush(fh)
    assert exc.value.errno == errno.EIO
    assert _spooled(tmp_path)
    assert fs.read(fh, 0, 100) == b"precious"
    fs.flush(fh)
    assert driver.read(attr.ino, 0, 100) == b"precious"


def test_failed_release_keeps_data_for_the_next_open(fs: Filesystem, driver: MemoryDriver) -> None:
    """A close whose write fails loses nothing: the next open sees the data and its close stores it."""
    fh, attr = fs.create(ROOT_INO, b"f", 0o644, os.O_RDWR, ROOT)
    fs.write(fh, 0, b"precious")
    driver.fail("write", errno.EIO)
    fs.release(fh)
    fh = fs.open(attr.ino, os.O_RDONLY, ROOT)
    assert fs.read(fh, 0, 100) == b"precious"
    fs.release(fh)
    assert driver.read(attr.ino, 0, 100) == b"precious"


def test_write_to_read_only_handle_is_ebadf(fs: Filesystem, driver: MemoryDriver) -> None:
    """A handle opened O_RDONLY refuses writes with EBADF."""
    fh = fs.open(store_file(driver, b"f", b"abc"), os.O_RDONLY, ROOT)
    with pytest.raises(FsError) as exc:
        fs.write(fh, 0, b"x")
    assert exc.value.errno == errno.EBADF


def test_unlinked_open_file_stays_readable_until_release(fs: Filesystem, driver: MemoryDriver) -> None:
    """An open file survives unlink: readable through its handle, purged only at the last release."""
    ino = make_file(fs, b"f", b"still here")
    fh1 = fs.open(ino, os.O_RDONLY, ROOT)
    fh2 = fs.open(ino, os.O_RDONLY, ROOT)
    fs.unlink(ROOT_INO, b"f", ROOT)
    assert fs.lookup(ROOT_INO, b"f", ROOT) is None
    assert fs.read(fh1, 0, 100) == b"still here"
    fs.release(fh1)
    assert driver.calls["purge"] == 0
    fs.release(fh2)
    assert driver.calls["purge"] == 1
    with pytest.raises(FsError):
        driver.getattr(ino)


def test_unlinked_dirty_file_is_purged_not_written(fs: Filesystem, driver: MemoryDriver) -> None:
    """Unflushed data of an unlinked open file is readable, then dropped without a store write."""
    fh, _ = fs.create(ROOT_INO, b"f", 0o644, os.O_RDWR, ROOT)
    fs.write(fh, 0, b"scratch")
    fs.unlink(ROOT_INO, b"f", ROOT)
    assert fs.read(fh, 0, 100) == b"scratch"
    fs.release(fh)
    assert driver.calls["write"] == 0
    assert driver.calls["purge"] == 1


def test_unlink_of_closed_file_purges_at_once(fs: Filesystem, driver: MemoryDriver) -> None:
    """With no handle open, unlink purges the inode in the same call."""
    ino = make_file(fs, b"f", b"x")
    fs.unlink(ROOT_INO, b"f", ROOT)
    assert driver.calls["purge"] == 1
    with pytest.raises(FsError):
        driver.getattr(ino)


def test_unlink_of_one_hard_link_keeps_the_inode(fs: Filesystem, driver: MemoryDriver) -> None:
    """Removing one of two names neither purges nor loses the data."""
    ino = make_file(fs, b"f", b"x")
    fs.link(ino, ROOT_INO, b"g", ROOT)
    fs.unlink(ROOT_INO, b"f", ROOT)
    assert driver.calls["purge"] == 0
    assert fs.getattr(ino).nlink == 1


def test_truncate_of_open_file_is_staged(fs: Filesystem, driver: MemoryDriver) -> None:
    """setattr(size) on an open file goes to staging; the store learns it at the close's one write."""
    ino = make_file(fs, b"f", b"0123456789")
    fh = fs.open(ino, os.O_RDWR, ROOT)
    driver.calls.clear()
    assert fs.setattr(ino, AttrChanges(size=3), ROOT).size == 3
    assert fs.getattr(ino).size == 3
    assert fs.read(fh, 0, 100) == b"012"
    assert driver.calls["setattr"] == 0
    fs.release(fh)
    assert driver.calls["write"] == 1
    assert driver.read(ino, 0, 100) == b"012"


def test_truncate_of_closed_file_goes_to_the_driver(fs: Filesystem, driver: MemoryDriver) -> None:
    """setattr(size) on a closed file is one driver setattr, and later reads see the new size."""
    ino = make_file(fs, b"f", b"0123456789")
    fh = fs.open(ino, os.O_RDONLY, ROOT)
    assert fs.read(fh, 0, 100) == b"0123456789"
    fs.release(fh)
    driver.calls.clear()
    assert fs.setattr(ino, AttrChanges(size=4), ROOT).size == 4
    assert driver.calls == Counter({"setattr": 1})
    fh = fs.open(ino, os.O_RDONLY, ROOT)
    assert fs.read(fh, 0, 100) == b"0123"


def test_truncate_down_and_up_of_open_file_stores_zeros(fs: Filesystem, driver: MemoryDriver) -> None:
    """Shrinking then regrowing an open file stores zeros in the regrown part, as the view showed."""
    ino = make_file(fs, b"f", b"0123456789")
    fh = fs.open(ino, os.O_RDWR, ROOT)
    fs.setattr(ino, AttrChanges(size=2), ROOT)
    fs.setattr(ino, AttrChanges(size=6), ROOT)
    assert fs.read(fh, 0, 100) == b"01\0\0\0\0"
    fs.release(fh)
    assert driver.read(ino, 0, 100) == b"01\0\0\0\0"


def test_partial_write_keeps_unchanged_bytes_in_later_reads(fs: Filesystem, driver: MemoryDriver) -> None:
    """Reading a small piece, then a larger one, of a file with a staged change shows the store's bytes."""
    data = bytes(range(100))
    ino = make_file(fs, b"f", data)
    fh = fs.open(ino, os.O_RDWR, ROOT)
    fs.write(fh, 50, b"Y")
    assert fs.read(fh, 0, 10) == data[:10]
    assert fs.read(fh, 0, 100) == data[:50] + b"Y" + data[51:]


def test_write_beyond_max_file_size_is_efbig(fs: Filesystem) -> None:
    """A write past the store's largest file size fails with EFBIG."""
    fh, _ = fs.create(ROOT_INO, b"f", 0o644, os.O_WRONLY, ROOT)
    with pytest.raises(FsError) as exc:
        fs.write(fh, fs.caps.max_file_size, b"x")
    assert exc.value.errno == errno.EFBIG


def test_shutdown_flushes_dirty_files_and_counts_failures(fs: Filesystem, driver: MemoryDriver) -> None:
    """shutdown writes every open dirty file, returns how many failed, and closes the driver."""
    fh1, a1 = fs.create(ROOT_INO, b"a", 0o644, os.O_WRONLY, ROOT)
    fh2, a2 = fs.create(ROOT_INO, b"b", 0o644, os.O_WRONLY, ROOT)
    fs.write(fh1, 0, b"aaa")
    fs.write(fh2, 0, b"bbb")
    driver.fail("write", errno.EIO)
    assert fs.shutdown() == 1
    assert driver.calls["write"] == 2
    assert driver.calls["close"] == 1
    assert b"bbb" in (driver.read(a1.ino, 0, 10), driver.read(a2.ino, 0, 10))


def test_shutdown_keeps_spool_with_unwritten_data(fs: Filesystem, driver: MemoryDriver, tmp_path: Path) -> None:
    """When a write fails at shutdown the spool file stays for recovery."""
    fh, _ = fs.create(ROOT_INO, b"a", 0o644, os.O_WRONLY, ROOT)
    fs.write(fh, 0, b"aaa")
    driver.fail("write", errno.EIO)
    assert fs.shutdown() == 1
    assert _spooled(tmp_path)


def test_clean_shutdown_removes_the_spool(fs: Filesystem, tmp_path: Path) -> None:
    """With everything written, shutdown reports no failures and removes the spool directory."""
    make_file(fs, b"a", b"aaa")
    assert fs.shutdown() == 0
    assert not (tmp_path / "spool").exists()


def test_shutdown_after_failed_release_removes_the_spool(fs: Filesystem, driver: MemoryDriver, tmp_path: Path) -> None:
    """Data kept by a failed close is written at shutdown, and then nothing is left in the spool."""
    fh, attr = fs.create(ROOT_INO, b"a", 0o644, os.O_WRONLY, ROOT)
    fs.write(fh, 0, b"aaa")
    driver.fail("write", errno.EIO)
    fs.release(fh)
    assert fs.shutdown() == 0
    assert driver.read(attr.ino, 0, 10) == b"aaa"
    assert not (tmp_path / "spool").exists()


def test_shutdown_after_failed_release_and_unlink_reports_no_failure(fs: Filesystem, driver: MemoryDriver) -> None:
    """A file whose close failed and which was then removed has nothing left to save at shutdown."""
    fh, _ = fs.create(ROOT_INO, b"a", 0o644, os.O_WRONLY, ROOT)
    fs.write(fh, 0, b"aaa")
    driver.fail("write", errno.EIO)
    fs.release(fh)
    fs.unlink(ROOT_INO, b"a", ROOT)
    assert fs.shutdown() == 0


def test_small_sequential_reads_cost_one_store_read_per_block(fs: Filesystem, driver: MemoryDriver) -> None:
    """Reading a closed file 4 KiB at a time asks the store once per cache block."""
    data = bytes(range(256)) * 800
    ino = store_file(driver, b"f", data)
    fh = fs.open(ino, os.O_RDONLY, ROOT)
    got = b"".join(fs.read(fh, off, 4096) for off in range(0, len(data), 4096))
    assert got == data
    assert driver.calls["read"] == -(-len(data) // fs.caps.block_size)


def test_small_change_to_large_file_downloads_nothing(fs: Filesystem, driver: MemoryDriver) -> None:
    """Changing one byte of a stored file writes it back without reading it from the store."""
    data = bytes(300_000)
    ino = store_file(driver, b"f", data)
    driver.calls.clear()
    fh = fs.open(ino, os.O_RDWR, ROOT)
    fs.write(fh, 150_000, b"X")
    fs.release(fh)
    assert driver.calls["read"] == 0
    assert driver.calls["write"] == 1
    assert driver.read(ino, 149_999, 3) == b"\0X\0"


def test_read_after_rewrite_is_not_stale(fs: Filesystem) -> None:
    """Blocks cached before a write are not served after it is flushed."""
    ino = make_file(fs, b"f", b"old data")
    fh = fs.open(ino, os.O_RDWR, ROOT)
    assert fs.read(fh, 0, 100) == b"old data"
    fs.write(fh, 0, b"NEW")
    fs.flush(fh)
    assert fs.read(fh, 0, 100) == b"NEW data"


def test_explicit_mtime_on_dirty_file_survives_close(fs: Filesystem, driver: MemoryDriver) -> None:
    """cp -p sets times after writing and before closing; the close's write must keep them."""
    fh, attr = fs.create(ROOT_INO, b"f", 0o644, os.O_WRONLY, ROOT)
    fs.write(fh, 0, b"copy")
    fs.setattr(attr.ino, AttrChanges(atime_ns=10**18, mtime_ns=10**18), ROOT)
    assert fs.getattr(attr.ino).mtime_ns == 10**18
    fs.release(fh)
    assert driver.getattr(attr.ino).mtime_ns == 10**18


def test_driver_errors_pass_through(fs: Filesystem, driver: MemoryDriver) -> None:
    """A store failure other than ENOENT on lookup or create reaches the caller with its errno."""
    driver.fail("lookup", errno.EIO)
    with pytest.raises(FsError) as exc:
        fs.lookup(ROOT_INO, b"f", ROOT)
    assert exc.value.errno == errno.EIO
    driver.fail("mknod", errno.ENOSPC)
    with pytest.raises(FsError) as exc:
        fs.create(ROOT_INO, b"f", 0o644, os.O_WRONLY, ROOT)
    assert exc.value.errno == errno.ENOSPC
    make_file(fs, b"f", b"ok")
    assert fs.lookup(ROOT_INO, b"f", ROOT).size == 2


def test_directories_refuse_file_operations(fs: Filesystem) -> None:
    """open and truncate of a directory are EISDIR; opendir of a file is ENOTDIR."""
    d = fs.mkdir(ROOT_INO, b"d", 0o755, ROOT).ino
    f = make_file(fs, b"f")
    for expected, call in (
        (errno.EISDIR, lambda: fs.open(d, os.O_RDONLY, ROOT)),
        (errno.EISDIR, lambda: fs.setattr(d, AttrChanges(size=0), ROOT)),
        (errno.ENOTDIR, lambda: fs.opendir(f, ROOT)),
    ):
        with pytest.raises(FsError) as exc:
            call()
        assert exc.value.errno == expected


def test_unlink_succeeds_when_purge_fails(fs: Filesystem, driver: MemoryDriver) -> None:
    """Once the store removed the name, unlink has happened: a failing purge must not turn it into an error."""
    make_file(fs, b"f", b"x")
    driver.fail("purge", errno.EIO)
    fs.unlink(ROOT_INO, b"f", ROOT)
    assert fs.lookup(ROOT_INO, b"f", ROOT) is None


def test_reopen_sees_another_hosts_rewrite(make_fs: MakeFs) -> None:
    """Close-to-open: after another host rewrote a file, opening it again reads the new bytes, not cached ones."""
    here, there = make_fs(cache_ttl=0), make_fs(cache_ttl=0)
    ino = make_file(here, b"f", b"aaaa")
    fh = here.open(ino, os.O_RDONLY, ROOT)
    assert here.read(fh, 0, 10) == b"aaaa"
    here.release(fh)
    fh = there.open(ino, os.O_WRONLY, ROOT)
    there.write(fh, 0, b"bbbb")
    there.release(fh)
    fh = here.open(ino, os.O_RDONLY, ROOT)
    assert here.read(fh, 0, 10) == b"bbbb"


def test_concurrent_files_are_each_written_once(fs: Filesystem, driver: MemoryDriver) -> None:
    """Threads creating, writing and closing their own files leave every file whole, one write each."""

    def worker(n: int) -> None:
        for i in range(20):
            name = f"t{n}-{i}".encode()
            make_file(fs, name, name * 100)
            assert fs.lookup(ROOT_INO, name, ROOT).size == len(name) * 100

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(worker, range(4)))
    assert driver.calls["write"] == 80
    for name, attr in driver.readdir(ROOT_INO):
        assert driver.read(attr.ino, 0, 10_000) == name * 100
