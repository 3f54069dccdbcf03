"""Data calls: read/write/pread/pwrite at block-edge offsets, lseek (holes, SEEK_DATA/SEEK_HOLE), fsync.

SEEK_DATA/SEEK_HOLE cases have ids starting `lseek/seek-data` and `lseek/seek-hole`, since FUSE may
answer them generically (data everywhere) and a target can exclude exactly those.
"""

import errno
import mmap
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from posix_tests.helpers import expect_eq, expect_errno, make, read_file, write_file
from posix_tests.registry import add, case

SIZES = (1, 4095, 4096, 4097, 65536, 131073, 1_048_577)
OFFSETS = (0, 1, 4095, 131071)
MIB = 1 << 20


@contextmanager
def opened(path: str, flags: int = os.O_RDWR) -> Iterator[int]:
    """An fd that is closed whatever the case does."""
    fd = os.open(path, flags | os.O_CREAT, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


def pattern(n: int, seed: int = 0) -> bytes:
    """Reproducible pseudo-random bytes, so a misplaced block never matches by accident."""
    return random.Random(seed).randbytes(n)


def _pwrite_at(size: int, off: int, d: str) -> None:
    """pwrite into an empty file at an offset: zeros before it, the data after, exact size."""
    data = pattern(size, off)
    with opened(f"{d}/x") as fd:
        expect_eq("written", size, os.pwrite(fd, data, off))
    got = read_file(f"{d}/x")
    expect_eq("size", off + size, len(got))
    expect_eq("zeros before, data after", (True, True), (got[:off] == bytes(off), got[off:] == data))


for _size in SIZES:
    for _off in OFFSETS:
        add(f"pwrite/size-{_size}-at-{_off}/readback", partial(_pwrite_at, _size, _off))


def _overwrite(size: int, d: str) -> None:
    """Overwriting the middle of a file changes only that range."""
    base = pattern(3 * size, 1)
    write_file(f"{d}/x", base)
    with opened(f"{d}/x") as fd:
        os.pwrite(fd, b"\xff" * size, size)
    want = base[:size] + b"\xff" * size + base[2 * size :]
    expect_eq("content equal", True, read_file(f"{d}/x") == want)


for _size in (1, 4096, 65537):
    add(f"pwrite/overwrite-middle-{_size}/only-range-changed", partial(_overwrite, _size))


@case("read/at-eof/empty")
def read_eof(d: str) -> None:
    """read at end of file returns no bytes."""
    write_file(f"{d}/x", b"abc")
    with opened(f"{d}/x") as fd:
        os.lseek(fd, 3, os.SEEK_SET)
        expect_eq("read", b"", os.read(fd, 10))


@case("read/short-at-eof/partial")
def read_short(d: str) -> None:
    """A read crossing end of file returns what is there."""
    write_file(f"{d}/x", b"abcdef")
    with opened(f"{d}/x") as fd:
        expect_eq("pread", b"ef", os.pread(fd, 10, 4))


@case("pread/beyond-eof/empty")
def pread_beyond(d: str) -> None:
    """pread past end of file returns no bytes."""
    write_file(f"{d}/x", b"abc")
    with opened(f"{d}/x") as fd:
        expect_eq("pread", b"", os.pread(fd, 10, 1000))


@case("pread/negative-offset/EINVAL")
def pread_negative(d: str) -> None:
    """A negative offset is EINVAL."""
    make("reg", f"{d}/x")
    with opened(f"{d}/x") as fd:
        expect_errno(errno.EINVAL, os.pread, fd, 1, -1)


@case("pwrite/offset/unchanged")
def pwrite_offset(d: str) -> None:
    """pread and pwrite leave the file offset where it was."""
    write_file(f"{d}/x", b"abcdef")
    with opened(f"{d}/x") as fd:
        os.lseek(fd, 2, os.SEEK_SET)
        os.pwrite(fd, b"Z", 5)
        os.pread(fd, 3, 0)
        expect_eq("offset", 2, os.lseek(fd, 0, os.SEEK_CUR))


@case("write/advances-offset/sequential")
def write_advances(d: str) -> None:
    """Consecutive writes land one after the other."""
    with opened(f"{d}/x") as fd:
        os.write(fd, b"ab")
        os.write(fd, b"cd")
        expect_eq("offset", 4, os.lseek(fd, 0, os.SEEK_CUR))
    expect_eq("content", b"abcd", read_file(f"{d}/x"))


@case("write/dup-shares-offset/sequential")
def dup_offset(d: str) -> None:
    """A duplicated fd shares the offset with the original."""
    with opened(f"{d}/x") as fd:
        fd2 = os.dup(fd)
        try:
            os.write(fd, b"ab")
            os.write(fd2, b"cd")
        finally:
            os.close(fd2)
    expect_eq("content", b"abcd", read_file(f"{d}/x"))


@case("write/two-opens-own-offsets/overlap")
def separate_offsets(d: str) -> None:
    """Two opens of one file have independent offsets."""
    with opened(f"{d}/x") as a, opened(f"{d}/x") as b:
        os.write(a, b"abcd")
        os.write(b, b"XY")
    expect_eq("content", b"XYcd", read_file(f"{d}/x"))


@case("writev/readv/scatter-gather")
def vectors(d: str) -> None:
    """writev writes buffers in order; readv fills them in order."""
    with opened(f"{d}/x") as fd:
        expect_eq("written", 6, os.writev(fd, [b"ab", b"", b"cdef"]))
        bufs = [bytearray(3), bytearray(3)]
        expect_eq("read", 6, os.preadv(fd, bufs, 0))
        expect_eq("buffers", [b"abc", b"def"], [bytes(b) for b in bufs])


LSEEK_CASES = {
    "set": (os.SEEK_SET, 3, 3),
    "cur": (os.SEEK_CUR, 2, 7),
    "end": (os.SEEK_END, -2, 8),
    "end-beyond": (os.SEEK_END, 100, 110),
    "set-beyond": (os.SEEK_SET, 1 << 40, 1 << 40),
}


def _lseek(name: str, d: str) -> None:
    """lseek computes offsets from start, current position (5) and end (10)."""
    whence, off, want = LSEEK_CASES[name]
    write_file(f"{d}/x", b"0123456789")
    with opened(f"{d}/x") as fd:
        os.lseek(fd, 5, os.SEEK_SET)
        expect_eq("offset", want, os.lseek(fd, off, whence))


for _name in LSEEK_CASES:
    add(f"lseek/seek-{_name}/offset", partial(_lseek, _name))


@case("lseek/negative-result/EINVAL")
def lseek_negative(d: str) -> None:
    """Seeking before the start is EINVAL."""
    write_file(f"{d}/x", b"abc")
    with opened(f"{d}/x") as fd:
        expect_errno(errno.EINVAL, os.lseek, fd, -1, os.SEEK_SET)


@case("lseek/bad-whence/EINVAL")
def lseek_whence(d: str) -> None:
    """An unknown whence is EINVAL."""
    make("reg", f"{d}/x")
    with opened(f"{d}/x") as fd:
        expect_errno(errno.EINVAL, os.lseek, fd, 0, 99)


@case("lseek/fifo/ESPIPE")
def lseek_fifo(d: str) -> None:
    """FIFOs cannot seek."""
    os.mkfifo(f"{d}/x")
    fd = os.open(f"{d}/x", os.O_RDWR)
    try:
        expect_errno(errno.ESPIPE, os.lseek, fd, 0, os.SEEK_SET)
    finally:
        os.close(fd)


@case("write/after-seek-beyond-eof/hole-reads-zeros")
def write_beyond(d: str) -> None:
    """Writing past end of file leaves a gap that reads as zeros."""
    with opened(f"{d}/x") as fd:
        os.write(fd, b"ab")
        os.lseek(fd, 10000, os.SEEK_SET)
        os.write(fd, b"cd")
    expect_eq("content", b"ab" + bytes(9998) + b"cd", read_file(f"{d}/x"))


def _sparse(d: str) -> None:
    """A file with 4 KiB of data at 0 and at 1 MiB, and a hole between."""
    with opened(f"{d}/x") as fd:
        os.pwrite(fd, b"a" * 4096, 0)
        os.pwrite(fd, b"b" * 4096, MIB)


@case("sparse/hole/reads-zeros")
def sparse_zeros(d: str) -> None:
    """The hole of a sparse file reads as zeros and the size counts it."""
    _sparse(d)
    with opened(f"{d}/x") as fd:
        expect_eq("size", MIB + 4096, os.fstat(fd).st_size)
        expect_eq("hole zeros", True, os.pread(fd, MIB - 4096, 4096) == bytes(MIB - 4096))


@case("sparse/hole/fewer-blocks-allocated")
def sparse_blocks(d: str) -> None:
    """Holes take no space: st_blocks covers less than the size."""
    with opened(f"{d}/x") as fd:
        os.pwrite(fd, b"z", 8 * MIB)
        expect_eq("blocks below size", True, os.fstat(fd).st_blocks * 512 < 8 * MIB)


@case("sparse/truncate-grow/reads-zeros")
def sparse_truncate(d: str) -> None:
    """Growing with truncate makes a hole."""
    write_file(f"{d}/x", b"abc")
    os.truncate(f"{d}/x", 3 * MIB)
    expect_eq("tail zeros", True, read_file(f"{d}/x")[3:] == bytes(3 * MIB - 3))


SEEK_CASES = {
    "seek-data-in-data": (os.SEEK_DATA, 100, 100),
    "seek-data-in-hole": (os.SEEK_DATA, 8192, MIB),
    "seek-hole-in-data": (os.SEEK_HOLE, 0, 4096),
    "seek-hole-in-hole": (os.SEEK_HOLE, 8192, 8192),
    "seek-hole-last-data": (os.SEEK_HOLE, MIB, MIB + 4096),
}


def _seek_data(name: str, d: str) -> None:
    """SEEK_DATA/SEEK_HOLE find data and holes at page granularity."""
    whence, off, want = SEEK_CASES[name]
    _sparse(d)
    with opened(f"{d}/x") as fd:
        expect_eq("offset", want, os.lseek(fd, off, whence))


for _name in SEEK_CASES:
    add(f"lseek/{_name}/offset", partial(_seek_data, _name))


@case("lseek/seek-data-past-eof/ENXIO")
def seek_data_eof(d: str) -> None:
    """SEEK_DATA at or past end of file is ENXIO."""
    write_file(f"{d}/x", b"abc")
    with opened(f"{d}/x") as fd:
        expect_errno(errno.ENXIO, os.lseek, fd, 3, os.SEEK_DATA)


@case("lseek/seek-hole-dense/at-eof")
def seek_hole_dense(d: str) -> None:
    """A file without holes has its only hole at end of file."""
    write_file(f"{d}/x", b"x" * 10000)
    with opened(f"{d}/x") as fd:
        expect_eq("offset", 10000, os.lseek(fd, 0, os.SEEK_HOLE))


@case("fsync/reg/ok")
def fsync_reg(d: str) -> None:
    """fsync and fdatasync succeed on a written file and keep its data."""
    with opened(f"{d}/x") as fd:
        os.write(fd, b"durable")
        os.fsync(fd)
        os.fdatasync(fd)
    expect_eq("content", b"durable", read_file(f"{d}/x"))


@case("fsync/dir/ok")
def fsync_dir(d: str) -> None:
    """fsync works on a directory fd (how programs make a rename durable)."""
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@case("fsync/rdonly-fd/ok")
def fsync_rdonly(d: str) -> None:
    """fsync does not need write access on Linux."""
    make("reg", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@case("fallocate/grow/size-and-zeros")
def fallocate(d: str) -> None:
    """posix_fallocate extends the file with zeros."""
    write_file(f"{d}/x", b"ab")
    with opened(f"{d}/x") as fd:
        os.posix_fallocate(fd, 0, 100_000)
    got = read_file(f"{d}/x")
    expect_eq("size, zeros", (100_000, True), (len(got), got[2:] == bytes(99_998)))


@case("mmap/shared-write/visible-to-read")
def mmap_shared(d: str) -> None:
    """A store through a shared mapping is seen by read()."""
    write_file(f"{d}/x", b"." * 8192)
    with opened(f"{d}/x") as fd:
        m = mmap.mmap(fd, 8192)
        try:
            m[4096:4100] = b"MMAP"
            m.flush()
        finally:
            m.close()
    expect_eq("bytes", b"MMAP", read_file(f"{d}/x")[4096:4100])


@case("copy-file-range/whole/identical")
def copy_range(d: str) -> None:
    """copy_file_range copies bytes exactly between two files on the filesystem."""
    data = pattern(300_000)
    write_file(f"{d}/a", data)
    with opened(f"{d}/a", os.O_RDONLY) as src, opened(f"{d}/b", os.O_WRONLY) as dst:
        done = 0
        while done < len(data):
            n = os.copy_file_range(src, dst, len(data) - done)
            if n == 0:
                break
            done += n
    expect_eq("copy equal", True, read_file(f"{d}/b") == data)
