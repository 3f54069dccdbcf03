"""sqlite driver: what survives a reopen or a kill -9, orphan collection, and the block layout."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfs.driver import ROOT_INO, AttrChanges, Driver, DriverSettings
from cloudfs.drivers.sqlite import SPEC, SqliteDriver

from .helpers import GID, UID, mkdir, mkfile, pattern, put
from .staging import ReadThrough, Staged

BS = 128 * 1024


class Reopenable:
    """A sqlite driver on a file in tmp_path that tests can close and open again."""

    def __init__(self, path: Path) -> None:
        """Open the driver on `path`."""
        self.path = path
        self.driver = self._open()

    def _open(self) -> SqliteDriver:
        """Parse and open the file as the CLI would."""
        driver = SPEC.open(SPEC.parse(str(self.path)), DriverSettings())
        assert isinstance(driver, SqliteDriver)
        return driver

    def reopen(self) -> SqliteDriver:
        """Close the driver and open the same file again."""
        self.driver.close()
        self.driver = self._open()
        return self.driver

    def query(self, sql: str, *args: object) -> list[tuple]:
        """Rows from the file through a separate read-only connection, as another reader sees it."""
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[Reopenable]:
    """A fresh sqlite store; closed after the test."""
    store = Reopenable(tmp_path / "fs.db")
    yield store
    store.driver.close()


def block_numbers(fs: Reopenable, ino: int) -> list[int]:
    """Numbers of the blocks stored for `ino`."""
    return [r[0] for r in fs.query("SELECT blockno FROM blocks WHERE ino = ? ORDER BY blockno", ino)]


def test_tree_survives_reopen(fs: Reopenable) -> None:
    """Inode numbers, attributes, data, hard links, xattrs, symlinks and devices survive a reopen."""
    d = fs.driver
    sub = mkdir(d, b"sub")
    f = mkfile(d, b"f", parent=sub.ino)
    put(d, f.ino, pattern(3 * BS + 17))
    d.link(f.ino, ROOT_INO, b"hard")
    d.setxattr(f.ino, b"user.colour", b"blue", 0)
    link = d.symlink(ROOT_INO, b"ln", b"sub/f", UID, GID)
    dev = d.mknod(ROOT_INO, b"dev", stat.S_IFCHR | 0o600, os.makedev(4, 2), UID, GID)
    before = {ino: d.getattr(ino) for ino in (ROOT_INO, sub.ino, f.ino, link.ino, dev.ino)}

    d = fs.reopen()

    assert {ino: d.getattr(ino) for ino in before} == before
    assert d.lookup(sub.ino, b"f").ino == d.lookup(ROOT_INO, b"hard").ino == f.ino
    assert d.getattr(f.ino).nlink == 2
    assert d.read(f.ino, 0, 4 * BS) == pattern(3 * BS + 17)
    assert d.getxattr(f.ino, b"user.colour") == b"blue"
    assert d.readlink(link.ino) == b"sub/f"
    assert d.getattr(dev.ino).rdev == os.makedev(4, 2)
    assert d.getattr(ROOT_INO).nlink == 3


def test_orphans_are_collected_at_reopen(fs: Reopenable) -> None:
    """An unlinked, unpurged inode is deleted with its data at the next open; its number is not reused."""
    d = fs.driver
    f = mkfile(d, b"doomed")
    put(d, f.ino, pattern(2 * BS))
    d.setxattr(f.ino, b"user.x", b"1", 0)
    assert d.unlink(ROOT_INO, b"doomed").nlink == 0
    # Still held, as for a file open when its last name went.
    assert d.read(f.ino, 0, 10) == pattern(10)
    d.close()
    assert fs.query("SELECT nlink FROM inodes WHERE ino = ?", f.ino) == [(0,)]

    d = fs.reopen()

    assert fs.query("SELECT count(*) FROM inodes WHERE ino = ?", f.ino) == [(0,)]
    assert block_numbers(fs, f.ino) == []
    assert fs.query("SELECT count(*) FROM xattrs WHERE ino = ?", f.ino) == [(0,)]
    assert mkfile(d, b"next").ino > f.ino, "inode numbers are never reused"


def test_purge_deletes_only_orphans(fs: Reopenable) -> None:
    """purge leaves a linked inode alone, deletes an orphan, and accepts a missing one."""
    d = fs.driver
    f = mkfile(d, b"a")
    put(d, f.ino, b"data")
    d.purge(f.ino)
    assert d.read(f.ino, 0, 4) == b"data"
    d.unlink(ROOT_INO, b"a")
    d.purge(f.ino)
    assert fs.query("SELECT count(*) FROM inodes WHERE ino = ?", f.ino) == [(0,)]
    assert block_numbers(fs, f.ino) == []
    d.purge(f.ino)


def test_rename_over_empty_directory_deletes_it(fs: Reopenable) -> None:
    """A directory replaced by rename is deleted at once and reported with nlink 0."""
    d = fs.driver
    src, dst = mkdir(d, b"src"), mkdir(d, b"dst")
    replaced = d.rename(ROOT_INO, b"src", ROOT_INO, b"dst")
    assert replaced is not None and replaced.ino == dst.ino and replaced.nlink == 0
    assert fs.query("SELECT count(*) FROM inodes WHERE ino = ?", dst.ino) == [(0,)]
    assert d.lookup(ROOT_INO, b"dst").ino == src.ino
    assert d.getattr(ROOT_INO).nlink == 3


def test_holes_are_not_stored(fs: Reopenable) -> None:
    """Holes and all-zero blocks take no rows, and read back as zeros."""
    d = fs.driver
    f = mkfile(d, b"sparse")
    d.write(f.ino, Staged().write(5 * BS + 3, b"tail"), 1)
    assert block_numbers(fs, f.ino) == [5]
    assert d.read(f.ino, 0, 6 * BS) == bytes(5 * BS + 3) + b"tail"
    # Zeros written over data make the block a hole again.
    d.write(f.ino, Staged(d.read(f.ino, 0, 6 * BS)).write(5 * BS, bytes(BS)), 2)
    assert block_numbers(fs, f.ino) == []
    assert d.getattr(f.ino).size == 6 * BS


def test_reads_cross_block_boundaries(fs: Reopenable) -> None:
    """Reads spanning block edges return exactly the written bytes."""
    d = fs.driver
    f = mkfile(d, b"f")
    data = pattern(3 * BS + 5)
    put(d, f.ino, data)
    assert block_numbers(fs, f.ino) == [0, 1, 2, 3]
    for off, size in [(BS - 1, 2), (BS - 3, BS + 6), (0, 3 * BS + 5), (3 * BS, 100), (2 * BS + 1, BS)]:
        assert d.read(f.ino, off, size) == data[off : off + size], (off, size)
    assert d.read(f.ino, 3 * BS + 5, 10) == b""


def test_write_rewrites_only_touched_blocks(fs: Reopenable) -> None:
    """A one-block change rewrites that block's row only and sets mtime=ctime."""
    d = fs.driver
    f = mkfile(d, b"f")
    data = pattern(4 * BS)
    put(d, f.ino, data)
    rowids = dict(fs.query("SELECT blockno, rowid FROM blocks WHERE ino = ?", f.ino))
    d.write(f.ino, Staged(data).write(2 * BS + 10, b"XY"), 5)
    after = dict(fs.query("SELECT blockno, rowid FROM blocks WHERE ino = ?", f.ino))
    assert [n for n in rowids if rowids[n] != after[n]] == [2]
    expected = data[: 2 * BS + 10] + b"XY" + data[2 * BS + 12 :]
    assert d.read(f.ino, 0, 4 * BS) == expected
    attr = d.getattr(f.ino)
    assert (attr.size, attr.mtime_ns, attr.ctime_ns) == (4 * BS, 5, 5)


def test_truncate_drops_blocks_and_zeroes_the_tail(fs: Reopenable) -> None:
    """Shrinking deletes whole blocks and cuts the last one; growing again reads zeros."""
    d = fs.driver
    f = mkfile(d, b"f")
    put(d, f.ino, pattern(3 * BS))
    d.setattr(f.ino, AttrChanges(size=BS + 100))
    assert block_numbers(fs, f.ino) == [0, 1]
    assert fs.query("SELECT length(data) FROM blocks WHERE ino = ? AND blockno = 1", f.ino) == [(100,)]
    d.setattr(f.ino, AttrChanges(size=3 * BS))
    assert d.read(f.ino, 0, 3 * BS) == pattern(BS + 100) + bytes(2 * BS - 100)
    d.setattr(f.ino, AttrChanges(size=2 * BS))
    assert block_numbers(fs, f.ino) == [0, 1]


def test_truncate_sets_mtime_only_when_the_size_changes(fs: Reopenable) -> None:
    """A same-size truncate keeps mtime; a real one sets it; a given mtime wins."""
    d = fs.driver
    f = mkfile(d, b"f")
    put(d, f.ino, b"12345", mtime_ns=1000)
    same = d.setattr(f.ino, AttrChanges(size=5))
    assert same.mtime_ns == 1000 and same.ctime_ns > 1000
    cut = d.setattr(f.ino, AttrChanges(size=2))
    assert cut.mtime_ns == cut.ctime_ns > 1000
    given = d.setattr(f.ino, AttrChanges(size=9, mtime_ns=77))
    assert (given.size, given.mtime_ns) == (9, 77)


def test_staged_shrink_cuts_an_untouched_last_block(fs: Reopenable) -> None:
    """A staged shrink cuts a last block no dirty range touched."""
    d = fs.driver
    f = mkfile(d, b"f")
    put(d, f.ino, pattern(2 * BS))
    d.write(f.ino, Staged(pattern(2 * BS)).truncate(BS + 7).write(0, b"head"), 9)
    assert fs.query("SELECT blockno, length(data) FROM blocks WHERE ino = ?", f.ino) == [(0, BS), (1, 7)]
    d.setattr(f.ino, AttrChanges(size=2 * BS))
    assert d.read(f.ino, BS, BS) == pattern(BS + 7)[BS:] + bytes(BS - 7)


def test_touch_atime_sets_atime_alone_and_persists(fs: Reopenable) -> None:
    """An access moves atime only: ctime and mtime stay, and the new atime survives a reopen."""
    d = fs.driver
    f = mkfile(d, b"f")
    touched = d.touch_atime(f.ino, 123_456)
    assert (touched.atime_ns, touched.mtime_ns, touched.ctime_ns) == (123_456, f.mtime_ns, f.ctime_ns)
    assert fs.reopen().getattr(f.ino) == touched


def test_write_is_idempotent(fs: Reopenable) -> None:
    """Writing the same staged data twice leaves the same file."""
    d = fs.driver
    f = mkfile(d, b"f")
    staged = Staged(b"").write(BS - 2, b"abcd").truncate(BS + 1)
    first = d.write(f.ino, staged, 7)
    assert d.write(f.ino, staged, 7) == first
    assert d.read(f.ino, BS - 2, 10) == b"abc"


def test_random_writes_and_truncates_match_a_model(fs: Reopenable) -> None:
    """Seeded random edits, staged as the core does and flushed in batches, read back like a bytearray."""
    d = fs.driver
    f = mkfile(d, b"f")
    model = bytearray()
    rng = random.Random(20261122)
    for round_no in range(40):
        staged = ReadThrough(d, f.ino)
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.3:
                size = rng.randint(0, 5 * BS)
                staged.truncate(size)
                model[size:] = b""
                model.extend(bytes(size - len(model)))
            else:
                off, length = rng.randint(0, 5 * BS), rng.choice([1, 100, BS - 1, BS, BS + 1, 2 * BS])
                data = pattern(length, seed=round_no)
                staged.write(off, data)
                model.extend(bytes(max(0, off - len(model))))
                model[off : off + length] = data
        d.write(f.ino, staged, round_no)
        assert d.getattr(f.ino).size == len(model)
        assert d.read(f.ino, 0, 8 * BS) == bytes(model), f"round {round_no}"
    stored = fs.query("SELECT blockno, length(data) FROM blocks WHERE ino = ?", f.ino)
    assert all(n * BS + length <= len(model) for n, length in stored), "no bytes stored past the end"


KILLED_WRITER = """
import stat, sys
sys.path.insert(0, sys.argv[2])
from cloudfs.driver import DriverSettings
from cloudfs.drivers.sqlite import SPEC
from tests.drivers.helpers import pattern
from tests.drivers.staging import Staged

driver = SPEC.open(SPEC.parse(sys.argv[1]), DriverSettings())
attr = driver.mknod(1, b"survivor", stat.S_IFREG | 0o644, 0, 0, 0)
driver.write(attr.ino, Staged().write(0, pattern(300_000, seed=3)), 42)
print(attr.ino, flush=True)
sys.stdin.read()
"""


def test_committed_write_survives_sigkill(tmp_path: Path) -> None:
    """A write that returned in a process killed with SIGKILL is there after reopening."""
    path = tmp_path / "fs.db"
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path), str(repo)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip().isdigit(), f"writer did not report a commit: {line!r}"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL

    driver: Driver = SPEC.open(SPEC.parse(str(path)), DriverSettings())
    try:
        attr = driver.lookup(ROOT_INO, b"survivor")
        assert attr.ino == int(line)
        assert (attr.size, attr.mtime_ns) == (300_000, 42)
        assert driver.read(attr.ino, 0, 400_000) == pattern(300_000, seed=3)
    finally:
        driver.close()
