"""Data integrity: random write/truncate/read sequences checked against an in-memory model, files larger
than any block (128 KiB) or upload part (8 MiB), and sparse files.

Hypothesis drives the model checks when it is installed (derandomized and bounded, so runs repeat);
seeded stdlib sequences run regardless. Without Hypothesis its cases fail and say so.
"""

import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from posix_tests.helpers import expect_eq, read_file, write_file
from posix_tests.registry import add, case

MIB = 1 << 20
SPAN = 3 * 128 * 1024  # offsets cross several 128 KiB blocks
Op = tuple[str, int, int, int]  # (kind, offset or size, length, seed)


@contextmanager
def opened(path: str) -> Iterator[int]:
    """A read-write fd on `path`, created if needed, closed at the end."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


def _apply(fd: int, model: bytearray, op: Op) -> None:
    """Apply one op to the file and the model; reads are compared on the spot."""
    kind, off, length, seed = op
    if kind == "write":
        data = random.Random(seed).randbytes(length)
        os.pwrite(fd, data, off)
        if off > len(model):
            model.extend(bytes(off - len(model)))
        model[off : off + length] = data
    elif kind == "truncate":
        os.ftruncate(fd, off)
        del model[off:]
        model.extend(bytes(off - len(model)))
    else:
        got = os.pread(fd, length, off)
        if got != bytes(model[off : off + length]):
            raise AssertionError(f"read({off}, {length}) differs from the model")


def run_ops(path: str, ops: list[Op], reopen: bool) -> None:
    """Run ops on one fd (or a fresh fd per op) and compare the whole file with the model at the end."""
    model = bytearray()
    write_file(path, b"")
    if reopen:
        for op in ops:
            with opened(path) as fd:
                _apply(fd, model, op)
    else:
        with opened(path) as fd:
            for op in ops:
                _apply(fd, model, op)
    expect_eq("size", len(model), os.stat(path).st_size)
    expect_eq("content equals model", True, read_file(path) == bytes(model))


def seeded_ops(seed: int, count: int) -> list[Op]:
    """A reproducible random op sequence."""
    rng = random.Random(seed)
    kinds = ("write", "write", "write", "truncate", "read", "read")
    return [
        (rng.choice(kinds), rng.randrange(SPAN), rng.randrange(1, 70_000), rng.randrange(1 << 30)) for _ in range(count)
    ]


def _seeded(seed: int, reopen: bool, d: str) -> None:
    """One seeded sequence of 40 ops."""
    run_ops(f"{d}/f", seeded_ops(seed, 40), reopen)


for _seed in range(12):
    add(f"data/seeded-ops-{_seed}/matches-model", partial(_seeded, _seed, False))
    add(f"data/seeded-ops-{_seed}-reopen/matches-model", partial(_seeded, _seed, True))


def _hypothesis_case(reopen: bool) -> Callable[[str], None]:
    """Build a case that lets Hypothesis search for an op sequence the filesystem gets wrong."""

    def run(d: str) -> None:
        """Run the Hypothesis search in the case directory."""
        try:
            from hypothesis import HealthCheck, given, settings
            from hypothesis import strategies as st
        except ImportError as e:
            raise AssertionError("hypothesis is not installed") from e
        op = st.tuples(
            st.sampled_from(("write", "truncate", "read")),
            st.integers(0, SPAN),
            st.integers(1, 70_000),
            st.integers(0, 1 << 30),
        )

        @settings(
            max_examples=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(st.lists(op, max_size=25))
        def check(ops: list[Op]) -> None:
            """One generated op sequence against the model."""
            run_ops(f"{d}/f", ops, reopen)

        check()

    return run


add("data/hypothesis-ops/matches-model", _hypothesis_case(False))
add("data/hypothesis-ops-reopen/matches-model", _hypothesis_case(True))


def _large(size: int) -> bytes:
    """Reproducible content for a large file."""
    return random.Random(size).randbytes(size)


@case("data/large-12mib-sequential/readback")
def large_sequential(d: str) -> None:
    """A 12 MiB file written in 1 MiB writes reads back exactly in odd-sized reads."""
    data = _large(12 * MIB)
    with opened(f"{d}/f") as fd:
        for off in range(0, len(data), MIB):
            os.write(fd, data[off : off + MIB])
    chunks = []
    with opened(f"{d}/f") as fd:
        while chunk := os.read(fd, 1_000_003):
            chunks.append(chunk)
    expect_eq("content equal", True, b"".join(chunks) == data)


@case("data/large-overwrite-across-8mib/readback")
def large_overwrite(d: str) -> None:
    """Overwriting a range that straddles 8 MiB changes exactly that range."""
    data = bytearray(_large(10 * MIB))
    write_file(f"{d}/f", bytes(data))
    patch = random.Random(1).randbytes(300_001)
    off = 8 * MIB - 150_000
    with opened(f"{d}/f") as fd:
        os.pwrite(fd, patch, off)
    data[off : off + len(patch)] = patch
    expect_eq("content equal", True, read_file(f"{d}/f") == bytes(data))


@case("data/large-truncate-then-extend/zeros")
def large_truncate(d: str) -> None:
    """Shrinking a large file then growing it again reads zeros where the old data was."""
    data = _large(9 * MIB)
    write_file(f"{d}/f", data)
    os.truncate(f"{d}/f", 5 * MIB + 7)
    os.truncate(f"{d}/f", 9 * MIB)
    got = read_file(f"{d}/f")
    expect_eq(
        "prefix kept, tail zero",
        (True, True),
        (got[: 5 * MIB + 7] == data[: 5 * MIB + 7], got[5 * MIB + 7 :] == bytes(4 * MIB - 7)),
    )


@case("data/large-random-preads/readback")
def large_random_reads(d: str) -> None:
    """Random reads anywhere in a 9 MiB file return the right bytes."""
    data = _large(9 * MIB)
    write_file(f"{d}/f", data)
    rng = random.Random(7)
    with opened(f"{d}/f") as fd:
        for _ in range(100):
            off, n = rng.randrange(len(data)), rng.randrange(1, 300_000)
            if os.pread(fd, n, off) != data[off : off + n]:
                raise AssertionError(f"pread({off}, {n}) differs")


@case("data/sparse-islands/readback")
def sparse_islands(d: str) -> None:
    """Small writes far apart in a big sparse file read back with zeros between them."""
    offsets = (0, 3 * MIB + 5, 8 * MIB - 1, 11 * MIB)
    with opened(f"{d}/f") as fd:
        for off in offsets:
            os.pwrite(fd, b"island", off)
        for off in offsets:
            expect_eq(f"at {off}", b"island", os.pread(fd, 6, off))
        expect_eq("between", bytes(1000), os.pread(fd, 1000, 5 * MIB))
        expect_eq("size", 11 * MIB + 6, os.fstat(fd).st_size)


@case("data/close-reopen/persisted")
def close_reopen(d: str) -> None:
    """Data written and closed is there when the file is opened again."""
    data = _large(MIB + 12345)
    write_file(f"{d}/f", data)
    expect_eq("content equal", True, read_file(f"{d}/f") == data)
