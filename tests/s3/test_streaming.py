"""Sequential reads as one streaming GET, random reads as ranged GETs: on FakeStore, and once mounted."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from errno import EIO
from pathlib import Path
from typing import Any

import pytest

from cloudfs.core.readcache import ReadCache
from cloudfs.driver import ROOT_INO
from cloudfs.drivers.s3 import streaming
from cloudfs.drivers.s3.driver import S3Driver
from cloudfs.drivers.s3.layout import Defaults
from cloudfs.drivers.s3.store import BodyReader
from cloudfs.drivers.s3.streaming import CHUNK, INITIAL_AHEAD, StreamingReader
from tests.drivers.helpers import fails_with, pattern
from tests.drivers.staging import Staged
from tests.servers import BUCKET, FlakyProxy, S3Server, fresh_prefix

from .fake_store import FakeStore
from .mounts import cloudfs_mount

MiB = 1024 * 1024
READ = 128 * 1024  # what the kernel asks for at a time


class RecordingStore(FakeStore):
    """A FakeStore that also records the range of every ranged GET and every streaming GET."""

    def __init__(self) -> None:
        """An empty bucket prefix in memory."""
        super().__init__("t/")
        self.ranged: list[tuple[int, int | None]] = []
        self.streamed: list[tuple[int, int | None]] = []

    def get(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """Record, then answer as FakeStore does."""
        self.ranged.append((start, end))
        return super().get(path, start, end)

    def open_read(self, path: str, start: int, end: int | None) -> BodyReader:
        """Record, then answer as FakeStore does."""
        self.streamed.append((start, end))
        return super().open_read(path, start, end)


@pytest.fixture
def fake() -> RecordingStore:
    """An empty bucket prefix in memory, recording ranges."""
    return RecordingStore()


@pytest.fixture
def reader(fake: RecordingStore) -> Any:
    """A reader on `fake`, closed after the test."""
    r = StreamingReader(fake)
    yield r
    r.close()


def read_all(
    reader: StreamingReader, ino: int, path: str, size: int, upto: int | None = None, chunk: int = READ
) -> bytes:
    """The `size`-byte object read front to back (to `upto`) in `chunk`-byte reads, as `cat` through the kernel does."""
    stop = size if upto is None else upto
    return b"".join(reader.read(ino, path, off, min(chunk, stop - off), size) for off in range(0, stop, chunk))


def test_a_sequential_read_is_one_streaming_get(fake: RecordingStore, reader: StreamingReader) -> None:
    content = pattern(12 * MiB + 5)
    fake.seed("big", content)
    assert read_all(reader, 2, "big", len(content)) == content
    assert fake.take() == {"GET": 1}
    assert fake.streamed == [(0, len(content))]
    assert fake.ranged == []


def test_random_reads_are_one_small_ranged_get_each(fake: RecordingStore, reader: StreamingReader) -> None:
    content = pattern(8 * MiB)
    fake.seed("f", content)
    offsets = [5 * MiB + 3, MiB // 2, 7 * MiB, 3 * MiB + 4096]
    for off in offsets:
        assert reader.read(2, "f", off, 4096, len(content)) == content[off : off + 4096]
    assert fake.take() == {"GET": len(offsets)}
    assert fake.ranged == [(off, off + 4096) for off in offsets]
    assert fake.streamed == []


def test_a_seek_elsewhere_closes_the_stream_and_reads_just_what_is_asked(
    fake: RecordingStore, reader: StreamingReader
) -> None:
    content = pattern(8 * MiB)
    fake.seed("f", content)
    assert read_all(reader, 2, "f", len(content), 2 * MiB) == content[: 2 * MiB]  # a reader that stops early
    assert reader.read(2, "f", 6 * MiB, 4096, len(content)) == content[6 * MiB : 6 * MiB + 4096]
    assert fake.take() == {"GET": 2}
    assert fake.streamed == [(0, len(content))]
    assert fake.ranged == [(6 * MiB, 6 * MiB + 4096)]
    assert reader._streams == {}


def test_reads_a_little_out_of_order_are_served_by_the_stream(fake: RecordingStore, reader: StreamingReader) -> None:
    content = pattern(6 * MiB)
    fake.seed("f", content)
    order = [0, 1, 3, 2, 4, 6, 5, *range(7, 48)]  # in READ units, swapped as concurrent kernel reads arrive
    for block in order:
        off = block * READ
        assert reader.read(2, "f", off, READ, len(content)) == content[off : off + READ]
    assert fake.take() == {"GET": 1}


def test_a_read_arriving_late_is_answered_alone_and_the_stream_goes_on(
    fake: RecordingStore, reader: StreamingReader
) -> None:
    content = pattern(16 * MiB)
    fake.seed("f", content)
    read_all(reader, 2, "f", len(content), 8 * MiB)
    stream = reader._streams[2]
    late = 8 * MiB - streaming.BEHIND - 2 * CHUNK  # before what the stream keeps, within its window
    assert reader.read(2, "f", late, READ, len(content)) == content[late : late + READ]
    assert fake.ranged == [(late, late + READ)]
    rest = b"".join(reader.read(2, "f", off, READ, len(content)) for off in range(8 * MiB, len(content), READ))
    assert rest == content[8 * MiB :]
    assert reader._streams[2] is stream
    assert fake.take() == {"GET": 2}


def test_a_reader_that_stops_early_is_read_ahead_only_a_little(fake: RecordingStore, reader: StreamingReader) -> None:
    fake.seed("f", pattern(64 * MiB))
    reader.read(2, "f", 0, READ, 64 * MiB)
    stream = reader._streams[2]
    time.sleep(0.2)
    assert stream.filled <= READ + INITIAL_AHEAD + CHUNK


def test_read_ahead_is_bounded_by_the_window(fake: RecordingStore) -> None:
    fake.seed("f", pattern(64 * MiB))
    reader = StreamingReader(fake, window=4 * MiB)
    try:
        read_all(reader, 2, "f", 64 * MiB, 20 * MiB)
        stream = reader._streams[2]
        deadline = time.monotonic() + 5
        while stream.filled < 24 * MiB and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert 24 * MiB <= stream.filled <= 24 * MiB + CHUNK
        kept = sum(len(c) for c in stream.chunks)
        assert kept <= 4 * MiB + streaming.BEHIND + 2 * CHUNK
    finally:
        reader.close()


def test_a_body_cut_mid_way_is_opened_again_where_it_broke(fake: RecordingStore, reader: StreamingReader) -> None:
    content = pattern(6 * MiB)
    fake.seed("f", content)
    fake.truncate(keep=3 * MiB + 7)
    assert read_all(reader, 2, "f", len(content)) == content
    assert fake.take() == {"GET": 2}
    assert fake.streamed == [(0, len(content)), (3 * MiB + 7, len(content))]


def test_a_body_that_keeps_breaking_is_eio_and_the_next_read_starts_afresh(
    fake: RecordingStore, reader: StreamingReader
) -> None:
    content = pattern(4 * MiB)
    fake.seed("f", content)
    attempts = reader.policy.max_attempts
    fake.truncate(keep=0, times=attempts)
    with fails_with(EIO):
        reader.read(2, "f", 0, READ, len(content))
    assert fake.take() == {"GET": attempts}
    assert reader._streams == {}
    assert read_all(reader, 2, "f", len(content)) == content
    assert fake.take() == {"GET": 1}


def test_a_refused_get_is_eio(fake: RecordingStore, reader: StreamingReader) -> None:
    fake.seed("f", pattern(4 * MiB))
    fake.fail("GET", code="AccessDenied")
    with fails_with(EIO):
        reader.read(2, "f", 0, READ, 4 * MiB)
    assert fake.take() == {"GET": 1}


def test_drop_closes_the_stream(fake: RecordingStore, reader: StreamingReader) -> None:
    content = pattern(8 * MiB)
    fake.seed("f", content)
    read_all(reader, 2, "f", len(content), MiB)
    stream = reader._streams[2]
    reader.drop(2)
    stream.thread.join(timeout=5)
    assert not stream.thread.is_alive()
    assert stream.closed and not stream.chunks
    assert reader._streams == {}
    # What was read is forgotten: a read where the last one stopped is no longer sequential.
    assert reader.read(2, "f", MiB, 4096, len(content)) == content[MiB : MiB + 4096]
    assert fake.ranged == [(MiB, MiB + 4096)]


def test_a_rewritten_file_is_read_anew(fake: RecordingStore) -> None:
    driver = S3Driver(fake, Defaults(uid=1000, gid=1000, umask=0o022), part_size=5 * MiB)
    try:
        f = driver.mknod(ROOT_INO, b"f", 0o100644, 0, 1000, 1000)
        driver.write(f.ino, Staged().write(0, pattern(3 * MiB)), f.mtime_ns)
        assert driver.read(f.ino, 0, READ) == pattern(3 * MiB)[:READ]
        stream = driver.reader._streams[f.ino]
        new = bytes(reversed(pattern(3 * MiB)))
        driver.write(f.ino, Staged().write(0, new), f.mtime_ns)
        assert stream.closed
        assert b"".join(driver.read(f.ino, off, READ) for off in range(0, len(new), READ)) == new
    finally:
        driver.reader.close()
        driver.close()


def test_an_idle_stream_lets_go_and_a_later_read_opens_another(
    fake: RecordingStore, reader: StreamingReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streaming, "IDLE", 0.05)
    content = pattern(4 * MiB)
    fake.seed("f", content)
    read_all(reader, 2, "f", len(content), MiB)
    stream = reader._streams[2]
    stream.thread.join(timeout=5)
    assert stream.closed and not stream.chunks
    assert (
        b"".join(reader.read(2, "f", off, READ, len(content)) for off in range(MiB, len(content), READ))
        == content[MiB:]
    )
    assert fake.streamed == [(0, len(content)), (MiB, len(content))]


def test_at_most_max_streams_are_open(fake: RecordingStore) -> None:
    reader = StreamingReader(fake, max_streams=2)
    try:
        for ino in (2, 3, 4):
            fake.seed(f"f{ino}", pattern(4 * MiB))
            reader.read(ino, f"f{ino}", 0, READ, 4 * MiB)
        assert list(reader._streams) == [3, 4]
    finally:
        reader.close()


def test_close_closes_every_stream(fake: RecordingStore) -> None:
    reader = StreamingReader(fake)
    fake.seed("f", pattern(4 * MiB))
    reader.read(2, "f", 0, READ, 4 * MiB)
    stream = reader._streams[2]
    reader.close()
    stream.thread.join(timeout=5)
    assert stream.closed and not stream.thread.is_alive()


def test_concurrent_readers_of_two_files_each_get_their_own_bytes(
    fake: RecordingStore, reader: StreamingReader
) -> None:
    contents = {2: pattern(9 * MiB), 3: bytes(reversed(pattern(7 * MiB)))}
    for ino, content in contents.items():
        fake.seed(f"f{ino}", content)
    got: dict[int, bytes] = {}

    def cat(ino: int) -> None:
        got[ino] = read_all(reader, ino, f"f{ino}", len(contents[ino]), chunk=READ + 1)

    threads = [threading.Thread(target=cat, args=(ino,)) for ino in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert got == contents
    assert fake.take() == {"GET": 2}


# -- mounted ---------------------------------------------------------------------------------


def test_cat_of_a_large_object_through_the_mount_is_one_get(server: S3Server, tmp_path: Path) -> None:
    prefix = fresh_prefix("stream")
    content = os.urandom(40 * MiB)
    server.client().put_object(Bucket=BUCKET, Key=f"{prefix}/big", Body=content)
    with FlakyProxy(server.url) as proxy, cloudfs_mount(proxy_server(server, proxy), prefix, tmp_path / "mnt") as m:
        assert (m.path / "big").stat().st_size == len(content)
        before = dict(proxy.operations)
        digest = hashlib.sha256()
        with open(m.path / "big", "rb") as f:
            while data := f.read(MiB):
                digest.update(data)
        after = dict(proxy.operations)
    assert digest.hexdigest() == hashlib.sha256(content).hexdigest()
    sent = {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}
    assert sent == {"GET": 1}


def proxy_server(server: S3Server, proxy: FlakyProxy) -> S3Server:
    """`server` as seen through `proxy`."""
    return S3Server(server.kind, proxy.url)


# -- the core's read cache under a sequential reader -------------------------------------------


def test_a_sequential_pass_stores_only_its_first_blocks_in_the_read_cache() -> None:
    block = 128 * 1024
    content = pattern(32 * MiB)
    cache = ReadCache(block, 64 * MiB, sequential_limit=4 * MiB)
    fetched: list[int] = []

    def fetch(off: int, size: int) -> bytes:
        fetched.append(off)
        return content[off : off + size]

    order = [0, 2, 1, *range(3, len(content) // block)]  # a read arriving late continues the pass
    for index in order:
        assert cache.read(2, index * block, block, len(content), fetch) == content[index * block : (index + 1) * block]
    assert cache._used == 4 * MiB
    fetched.clear()
    cache.read(2, 0, 4 * MiB, len(content), fetch)
    cache.read(2, 20 * MiB, block, len(content), fetch)
    assert fetched == [20 * MiB]


def test_random_reads_keep_filling_the_read_cache() -> None:
    block = 128 * 1024
    content = pattern(256 * MiB)
    cache = ReadCache(block, 64 * MiB, sequential_limit=MiB)
    offsets = [(i * 37 % 64) * 4 * MiB for i in range(64)]  # 64 distinct blocks, each read far from the last
    for off in offsets:
        cache.read(2, off, 4096, len(content), lambda o, n: content[o : o + n])
    assert cache._used == 64 * block
