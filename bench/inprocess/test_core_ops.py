"""Per-operation cost of the core and of each driver, in process: memory, sqlite on a tmp file, S3 on a FakeStore.

Every benchmark runs once per store kind, through the core (`core`) and on the
driver alone (`driver`); the difference is the core's own cost. See README.md.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from .targets import Target

MiB = 1024 * 1024
SMALL = bytes(range(256)) * 16  # 4 KiB
LISTED = 1000

MakeTarget = Callable[..., Target]


@pytest.mark.benchmark(group="lookup")
def test_lookup(benchmark: BenchmarkFixture, make_target: MakeTarget) -> None:
    """An existing name: the core runs with cache_ttl=0 so it asks the driver, and the S3 driver sends its HEAD."""
    target = make_target(cache_ttl=0.0)
    ino = target.seed(b"x", b"f")
    attr = benchmark.pedantic(target.lookup, args=(b"f",), setup=target.forget_metadata, rounds=2000, warmup_rounds=50)
    assert attr is not None and attr.ino == ino


@pytest.mark.benchmark(group="create")
def test_create(benchmark: BenchmarkFixture, make_target: MakeTarget) -> None:
    """A new empty file in a listed directory (through the core: create and close, so S3 PUTs it)."""
    target = make_target()
    target.list_root()
    ino = benchmark.pedantic(target.create, rounds=1000, warmup_rounds=20)
    assert target.driver.getattr(ino).size == 0


@pytest.mark.benchmark(group="write-back 4 KiB")
def test_small_write_back(benchmark: BenchmarkFixture, make_target: MakeTarget) -> None:
    """A new 4 KiB file written back: create, write, flush, close (the driver alone: mknod and write)."""
    target = make_target()
    target.list_root()
    ino = benchmark.pedantic(target.write_file, args=(SMALL,), rounds=500, warmup_rounds=10)
    assert target.driver.read(ino, 0, MiB) == SMALL


@pytest.mark.benchmark(group="listing 1000")
def test_listing_of_1000_entries(benchmark: BenchmarkFixture, make_target: MakeTarget) -> None:
    """A whole directory of 1,000 files read from offset 0; the S3 driver lists it anew (one LIST) each time."""
    target = make_target()
    for _ in range(LISTED):
        target.seed(b"")
    count = benchmark.pedantic(target.list_root, setup=target.forget_metadata, rounds=100, warmup_rounds=3)
    assert count == LISTED + (2 if target.fs is not None else 0)  # the core adds . and ..


@pytest.mark.benchmark(group="read 1 MiB, cold")
def test_read_of_1_mib_from_the_store(benchmark: BenchmarkFixture, make_target: MakeTarget) -> None:
    """1 MiB at offset 0 with nothing cached: the core's read cache misses, the S3 driver sends its GET."""
    target = make_target()
    data = bytes(range(256)) * (MiB // 256)
    ino = target.seed(data)
    handle = target.open(ino)
    got = benchmark.pedantic(
        target.read, args=(handle, MiB), setup=lambda: target.forget_data(ino), rounds=200, warmup_rounds=5
    )
    assert got == data


@pytest.mark.benchmark(group="read 1 MiB, read cache")
@pytest.mark.parametrize("layer", ["core"])
def test_read_of_1_mib_through_the_read_cache(benchmark: BenchmarkFixture, make_target: MakeTarget) -> None:
    """1 MiB at offset 0 read again: the core serves it from its read cache (eight 128 KiB blocks)."""
    target = make_target()
    data = bytes(range(256)) * (MiB // 256)
    handle = target.open(target.seed(data))
    target.read(handle, MiB)
    assert benchmark(target.read, handle, MiB) == data
