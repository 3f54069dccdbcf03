"""Request economy on DynamoDB: requests per operation, counted with botocore's event hooks on the driver's client.

Where the core's caches decide what reaches the driver (a new file in a
listed directory, a stat), the calls go through `Filesystem` as the kernel
would send them; elsewhere the driver is called directly. A driver opened
for the measurement is a "cold" host: it has seen nothing yet.
"""

from __future__ import annotations

import os
import stat
from errno import ENOENT
from pathlib import Path
from typing import Any

import pytest

from cloudfs.core.context import ROOT_CALLER, MountSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import ROOT_INO, Driver
from tests.drivers.helpers import fails_with, mkdir, mkfile, pattern
from tests.drivers.staging import Staged

from .conftest import DriverFactory
from .helpers import WRITES, ItemWrites, populate
from .tables import BLOCKS, INODE, block_size, invariant_problems, load

MiB = 1024 * 1024


def _core(driver: Driver, tmp_path: Path) -> Filesystem:
    """The core over `driver`, caching long enough that no entry expires during a test."""
    return Filesystem(driver, MountSettings(cache_ttl=60, spool_dir=str(tmp_path / "spool")))


def _list(fs: Filesystem, ino: int) -> list[bytes]:
    """opendir + readdir + releasedir, as `ls` does; returns the names."""
    fh = fs.opendir(ino, ROOT_CALLER)
    names = [name for name, _ in fs.readdir(fh, 0)]
    fs.releasedir(fh)
    return names


@pytest.mark.parametrize("flush_first", [False, True], ids=["create-write-close", "shell-redirect"])
def test_a_new_small_file_in_a_listed_directory_costs_at_most_two_requests(
    make_driver: DriverFactory, tmp_path: Path, flush_first: bool
) -> None:
    """LOOKUP (answered by the listing), CREATE, WRITE, FLUSH, RELEASE: at most 2 requests for the whole file.

    `shell-redirect` is what `echo hi > f` sends: the shell closes a duplicate
    of the new descriptor, so a FLUSH comes before any byte is written. One
    file is made first, so that a host's one-off costs (reserving a range of
    inode numbers) are not counted against the files measured.
    """
    driver, counter = make_driver()
    fs = _core(driver, tmp_path)
    mkfile(driver, b"first")
    _list(fs, ROOT_INO)
    counter.take()
    for i in range(3):
        name = b"new-%d" % i
        assert fs.lookup(ROOT_INO, name, ROOT_CALLER) is None
        fh, _ = fs.create(ROOT_INO, name, 0o644, os.O_WRONLY, ROOT_CALLER)
        if flush_first:
            fs.flush(fh)
        fs.write(fh, 0, b"hello %d\n" % i)
        fs.flush(fh)
        fs.release(fh)
        counts = counter.take()
        assert sum(counts.values()) <= 2, counts
    fresh, _ = make_driver()
    for i in range(3):
        found = fresh.lookup(ROOT_INO, b"new-%d" % i)
        assert fresh.read(found.ino, 0, 100) == b"hello %d\n" % i


def test_stat_of_a_cached_inode_costs_nothing(make_driver: DriverFactory, tmp_path: Path) -> None:
    """Once looked up, repeated stat and lookup of a file are served by the core's cache: 0 requests."""
    driver, counter = make_driver()
    f = mkfile(driver, b"f")
    fs = _core(driver, tmp_path)
    attr = fs.lookup(ROOT_INO, b"f", ROOT_CALLER)
    assert attr is not None and attr.ino == f.ino
    counter.take()
    for _ in range(5):
        assert fs.getattr(f.ino) == attr
        assert fs.lookup(ROOT_INO, b"f", ROOT_CALLER) == attr
    assert counter.take() == {}


def test_a_cold_lookup_costs_at_most_two_requests(make_driver: DriverFactory) -> None:
    """A host that has seen nothing finds an entry and its inode in at most 2 requests; a miss likewise."""
    writer, _ = make_driver()
    d = mkdir(writer, b"d")
    f = mkfile(writer, b"f", parent=d.ino)
    reader, counter = make_driver()
    counter.take()
    assert reader.lookup(ROOT_INO, b"d").ino == d.ino
    first = counter.take()
    assert sum(first.values()) <= 2, first
    assert reader.lookup(d.ino, b"f").ino == f.ino
    second = counter.take()
    assert sum(second.values()) <= 2, second
    with fails_with(ENOENT):
        reader.lookup(d.ino, b"missing")
    miss = counter.take()
    assert sum(miss.values()) <= 2, miss


def test_listing_250_entries_is_one_query_page_and_three_batch_gets(make_driver: DriverFactory) -> None:
    """readdir costs ceil(N/page) Query pages + ceil(N/100) BatchGetItem: for 250 small entries 1 + 3, no GetItem."""
    writer, _ = make_driver()
    d = mkdir(writer, b"d")
    names = populate(writer, d.ino, 250)
    reader, counter = make_driver()
    assert reader.lookup(ROOT_INO, b"d").ino == d.ino
    counter.take()
    entries = reader.readdir(d.ino)
    assert counter.take() == {"Query": 1, "BatchGetItem": 3}
    assert sorted(name for name, _ in entries) == names
    assert all(stat.S_ISREG(attr.mode) and attr.nlink == 1 for _, attr in entries)


def _one_transaction(counts: dict[str, int]) -> None:
    """A rename's cost: at most 3 requests, exactly one of them TransactWriteItems."""
    assert counts.get("TransactWriteItems") == 1, counts
    assert sum(counts.values()) <= 3, counts


@pytest.mark.parametrize("case", ["same-directory", "other-directory", "replacing-a-file"])
def test_renaming_a_file_is_one_transaction(make_driver: DriverFactory, raw: Any, table: str, case: str) -> None:
    """mv of a file, within or across directories or onto another file: at most 3 requests, 1 TransactWriteItems."""
    driver, counter = make_driver()
    a, b = mkdir(driver, b"a"), mkdir(driver, b"b")
    f = mkfile(driver, b"f", parent=a.ino)
    victim = mkfile(driver, b"g", parent=b.ino)
    for ino in (ROOT_INO, a.ino, b.ino):
        driver.readdir(ino)
    target = {"same-directory": (a.ino, b"f2"), "other-directory": (b.ino, b"f"), "replacing-a-file": (b.ino, b"g")}
    new_parent, new_name = target[case]
    counter.take()
    replaced = driver.rename(a.ino, b"f", new_parent, new_name)
    _one_transaction(counter.take())
    if case == "replacing-a-file":
        assert replaced is not None and (replaced.ino, replaced.nlink) == (victim.ino, 0)
    fresh, _ = make_driver()
    assert fresh.lookup(new_parent, new_name).ino == f.ino
    with fails_with(ENOENT):
        fresh.lookup(a.ino, b"f")
    assert invariant_problems(raw, table) == []


def test_renaming_a_directory_of_1000_files_is_one_transaction(
    make_driver: DriverFactory, raw: Any, table: str
) -> None:
    """mv of a directory holding 1,000 files into another directory: the children are not touched at all."""
    driver, counter = make_driver()
    src, dst = mkdir(driver, b"src"), mkdir(driver, b"dst")
    big = mkdir(driver, b"big", parent=src.ino)
    names = populate(driver, big.ino, 1000)
    for ino in (ROOT_INO, src.ino, dst.ino):
        driver.readdir(ino)
    counter.take()
    assert driver.rename(src.ino, b"big", dst.ino, b"moved") is None
    _one_transaction(counter.take())
    fresh, _ = make_driver()
    moved = fresh.lookup(dst.ino, b"moved")
    assert moved.ino == big.ino
    assert sorted(name for name, _ in fresh.readdir(moved.ino)) == names
    assert (fresh.getattr(src.ino).nlink, fresh.getattr(dst.ino).nlink) == (2, 3)
    assert invariant_problems(raw, table) == []


def test_a_4k_change_in_the_middle_of_a_large_file_rewrites_one_block(
    make_driver: DriverFactory, raw: Any, table: str
) -> None:
    """4 KiB rewritten mid-file: exactly one block item and one inode update are written, nothing else.

    The file is 64 MiB rather than 1 GiB to keep the test fast; what is proved
    is that the cost does not grow with the file's size.
    """
    driver, counter = make_driver()
    bs = block_size(raw, table)
    size = 64 * MiB
    content = pattern(size)
    f = mkfile(driver, b"big")
    assert driver.write(f.ino, Staged().write(0, content), f.mtime_ns).size == size
    off = size // 2 + bs // 4  # inside one block: 4096 bytes from a quarter into it
    assert off // bs == (off + 4095) // bs
    patch = os.urandom(4096)
    writes = ItemWrites().attach(driver.client)
    counter.take()
    attr = driver.write(f.ino, Staged(content).write(off, patch), f.mtime_ns + 1)
    counts = counter.take()
    written = writes.take()
    assert attr.size == size
    blocks = [(op, key) for op, name, key in written if name == table + BLOCKS]
    inodes = [(op, key) for op, name, key in written if name == table]
    assert [key for _, key in blocks] == [(f.ino, off // bs)], written
    assert blocks[0][0] in ("PutItem", "BatchWriteItem"), written
    assert [key for _, key in inodes] == [(f.ino, INODE)], written
    assert sum(n for op, n in counts.items() if op in WRITES) == 2, counts
    expected = content[:off] + patch + content[off + 4096 :]
    number = off // bs
    item = raw.get_item(TableName=table + BLOCKS, Key={"blockId": {"N": str(f.ino)}, "blockNum": {"N": str(number)}})[
        "Item"
    ]
    assert bytes(item["data"]["B"]) == expected[number * bs : (number + 1) * bs]
    assert sum(1 for ino, _, _ in load(raw, table).blocks if ino == f.ino) == size // bs
    fresh, _ = make_driver()
    assert fresh.read(f.ino, off - bs, 3 * bs) == expected[off - bs : off + 2 * bs]


def test_a_path_walk_through_a_directory_just_written_costs_nothing(make_driver: DriverFactory, tmp_path: Path) -> None:
    """A create in `d` drops d's cached attributes, not the name `d`: the next walk through it sends no request."""
    driver, counter = make_driver()
    fs = _core(driver, tmp_path)
    directory = fs.mkdir(ROOT_INO, b"d", 0o755, ROOT_CALLER)
    fh, _ = fs.create(directory.ino, b"new", 0o644, os.O_WRONLY, ROOT_CALLER)
    fs.release(fh)
    counter.take()
    assert fs.resolve(ROOT_INO, b"d", ROOT_CALLER) == directory.ino
    assert counter.take() == {}
