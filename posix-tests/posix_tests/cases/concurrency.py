"""Concurrency between processes: O_APPEND writers, readers during writes, racing creators, and names
that are renamed or unlinked while a file is open. Every wait is bounded by the child timeout.
"""

import errno
import os
from collections import Counter
from functools import partial

from posix_tests.helpers import expect_eq, expect_errno, in_parallel, read_file, write_file
from posix_tests.registry import add, case

RECORD = 64


def _appender(path: str, tag: bytes, count: int) -> None:
    """Append `count` fixed-size records, each written with one write() call."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for i in range(count):
            os.write(fd, (tag + b"%06d" % i).ljust(RECORD - 1, b".") + b"\n")
    finally:
        os.close(fd)


def _append_race(writers: int, d: str) -> None:
    """Writers appending at once never overwrite each other: every record lands whole, once."""
    path = f"{d}/log"
    write_file(path, b"")
    count = 200
    in_parallel(*[partial(_appender, path, b"w%d-" % w, count) for w in range(writers)])
    data = read_file(path)
    expect_eq("size", writers * count * RECORD, len(data))
    records = Counter(data[i : i + RECORD] for i in range(0, len(data), RECORD))
    want = {(b"w%d-" % w + b"%06d" % i).ljust(RECORD - 1, b".") + b"\n" for w in range(writers) for i in range(count)}
    expect_eq("distinct intact records", (len(want), True), (len(records), set(records) == want))


for _writers in (2, 4):
    add(f"concurrency/o-append-{_writers}-writers/records-intact", partial(_append_race, _writers))


def _writer(path: str, blocks: int, size: int) -> None:
    """Append blocks whose bytes encode their block number."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for i in range(blocks):
            os.write(fd, bytes([i % 250 + 1]) * size)
    finally:
        os.close(fd)


def _reader(path: str, blocks: int, size: int) -> str:
    """Read while the writer runs; report the first byte that is not what the writer put there."""
    last_size = 0
    while last_size < blocks * size:
        data = read_file(path)
        if len(data) < last_size:
            return f"size went back from {last_size} to {len(data)}"
        for off in range(0, len(data), size // 4):
            if data[off] != off // size % 250 + 1:
                return f"byte at {off} is {data[off]}"
        last_size = len(data)
    return ""


@case("concurrency/reader-during-writes/never-garbage")
def reader_during_writes(d: str) -> None:
    """A reader racing a writer sees a growing file whose bytes are always ones the writer wrote."""
    write_file(f"{d}/f", b"")
    blocks, size = 200, 16384
    _, outcome = in_parallel(partial(_writer, f"{d}/f", blocks, size), partial(_reader, f"{d}/f", blocks, size))
    expect_eq("reader complaint", "", outcome.value)


def _exclusive_creator(d: str, names: int) -> list[str]:
    """Try O_EXCL creation of every name; return the ones this process won."""
    won = []
    for i in range(names):
        try:
            os.close(os.open(f"{d}/n{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            won.append(f"n{i}")
        except FileExistsError:
            pass
    return won


@case("concurrency/o-excl-race/one-winner-per-name")
def excl_race(d: str) -> None:
    """Two processes racing O_CREAT|O_EXCL: each name is won exactly once."""
    a, b = in_parallel(partial(_exclusive_creator, d, 200), partial(_exclusive_creator, d, 200))
    expect_eq("wins per name", Counter(f"n{i}" for i in range(200)), Counter(a.value + b.value))


def _mkdir_racer(d: str, names: int) -> int:
    """Try mkdir of every name; return how many this process won."""
    won = 0
    for i in range(names):
        try:
            os.mkdir(f"{d}/m{i}")
            won += 1
        except FileExistsError:
            pass
    return won


@case("concurrency/mkdir-race/one-winner-per-name")
def mkdir_race(d: str) -> None:
    """Two processes racing mkdir: exactly one succeeds per name."""
    a, b = in_parallel(partial(_mkdir_racer, d, 200), partial(_mkdir_racer, d, 200))
    expect_eq("total wins", 200, a.value + b.value)


def _disjoint_writer(path: str, index: int, size: int) -> None:
    """pwrite one process's own slice of the file, in small chunks."""
    fd = os.open(path, os.O_WRONLY)
    try:
        for off in range(0, size, 4096):
            os.pwrite(fd, bytes([index + 1]) * 4096, index * size + off)
    finally:
        os.close(fd)


@case("concurrency/pwrite-disjoint-ranges/all-kept")
def disjoint_ranges(d: str) -> None:
    """Processes writing different ranges of one file at once lose nothing."""
    write_file(f"{d}/f", b"")
    size = 256 * 1024
    in_parallel(*[partial(_disjoint_writer, f"{d}/f", i, size) for i in range(3)])
    want = b"".join(bytes([i + 1]) * size for i in range(3))
    expect_eq("content equal", True, read_file(f"{d}/f") == want)


@case("concurrency/rename-while-open/fd-follows")
def rename_while_open(d: str) -> None:
    """An open fd keeps working across a rename to another directory; the new name sees its writes."""
    os.mkdir(f"{d}/q")
    fd = os.open(f"{d}/f", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.write(fd, b"before ")
        ino = os.fstat(fd).st_ino
        os.rename(f"{d}/f", f"{d}/q/g")
        os.write(fd, b"after")
        expect_eq("ino", ino, os.fstat(fd).st_ino)
    finally:
        os.close(fd)
    expect_eq("content", b"before after", read_file(f"{d}/q/g"))


@case("concurrency/rename-parent-while-open/fd-follows")
def rename_parent_while_open(d: str) -> None:
    """Renaming the directory of an open file does not disturb the fd."""
    os.mkdir(f"{d}/p")
    fd = os.open(f"{d}/p/f", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.rename(f"{d}/p", f"{d}/r")
        os.write(fd, b"moved")
    finally:
        os.close(fd)
    expect_eq("content", b"moved", read_file(f"{d}/r/f"))


@case("concurrency/unlink-while-open/data-lives")
def unlink_while_open(d: str) -> None:
    """An unlinked open file keeps its data and takes writes, with nlink 0 and no name."""
    fd = os.open(f"{d}/f", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.write(fd, b"still here")
        os.unlink(f"{d}/f")
        os.pwrite(fd, b"!", 10)
        expect_eq("nlink, data", (0, b"still here!"), (os.fstat(fd).st_nlink, os.pread(fd, 100, 0)))
        expect_errno(errno.ENOENT, os.stat, f"{d}/f")
    finally:
        os.close(fd)


@case("concurrency/unlink-while-open/name-reusable")
def unlink_reuse(d: str) -> None:
    """A new file under the name of an unlinked open file is a different file."""
    fd = os.open(f"{d}/f", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.write(fd, b"old")
        os.unlink(f"{d}/f")
        write_file(f"{d}/f", b"new")
        expect_eq("old fd, new name", (b"old", b"new"), (os.pread(fd, 10, 0), read_file(f"{d}/f")))
    finally:
        os.close(fd)


def _hold_and_read(path: str, ready_fd: int, go_fd: int) -> bytes:
    """Open `path`, signal readiness, wait for the go-ahead, then read it through the old fd."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.write(ready_fd, b"r")
        os.read(go_fd, 1)
        return os.pread(fd, 100, 0)
    finally:
        os.close(fd)


@case("concurrency/unlink-while-open-other-process/data-lives")
def unlink_other_process(d: str) -> None:
    """A file unlinked by one process stays readable by another that has it open."""
    write_file(f"{d}/f", b"shared")
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    try:

        def unlink_after_ready() -> None:
            """Wait for the holder to open the file, unlink it, then let the holder read."""
            os.read(ready_r, 1)
            os.unlink(f"{d}/f")
            os.write(go_w, b"g")

        held, _ = in_parallel(partial(_hold_and_read, f"{d}/f", ready_w, go_r), unlink_after_ready)
    finally:
        for fd in (ready_r, ready_w, go_r, go_w):
            os.close(fd)
    expect_eq("read after unlink", b"shared", held.value)
