"""Large files: multipart uploads that re-send only changed parts, and readahead on sequential reads."""

from __future__ import annotations

import stat

from cloudfs.driver import ROOT_INO, AttrChanges
from cloudfs.drivers.s3.transfer import MAX_PARTS, MiB, part_size_for
from tests.drivers.helpers import pattern
from tests.drivers.staging import Staged

from .conftest import BUCKET, DriverFactory


def test_part_size_keeps_any_object_within_10000_parts() -> None:
    assert part_size_for(12 * MiB, 8 * MiB) == 8 * MiB
    assert part_size_for(1, 1) == 5 * MiB
    five_tib = 5 * 1024 * 1024 * MiB
    part = part_size_for(five_tib, 8 * MiB)
    assert part % MiB == 0
    assert part * MAX_PARTS >= five_tib


def _new_file(driver, name: bytes, content: bytes):  # type: ignore[no-untyped-def]
    f = driver.mknod(ROOT_INO, name, stat.S_IFREG | 0o644, 0, 1000, 1000)
    driver.write(f.ino, Staged().write(0, content), f.mtime_ns)
    return f


def test_large_file_goes_up_in_parts_and_a_small_change_resends_one(make_driver: DriverFactory, raw) -> None:
    driver, counter = make_driver()
    content = pattern(12 * MiB)
    driver.readdir(ROOT_INO)
    counter.take()
    f = _new_file(driver, b"big", content)
    assert counter.take() == {"CreateMultipartUpload": 1, "UploadPart": 3, "CompleteMultipartUpload": 1}
    staged = Staged(content).write(6 * MiB, b"XYZ")
    driver.write(f.ino, staged, f.mtime_ns)
    assert counter.take() == {
        "CreateMultipartUpload": 1,
        "UploadPartCopy": 2,
        "UploadPart": 1,
        "CompleteMultipartUpload": 1,
    }
    body = raw.get_object(Bucket=BUCKET, Key=driver.store.key("big"))["Body"].read()
    assert body == staged.read(0, staged.size)


def test_truncating_a_closed_large_file_copies_what_stays(make_driver: DriverFactory, raw) -> None:
    driver, counter = make_driver()
    content = pattern(12 * MiB)
    f = _new_file(driver, b"big", content)
    counter.take()
    assert driver.setattr(f.ino, AttrChanges(size=11 * MiB)).size == 11 * MiB
    assert counter.take() == {"CreateMultipartUpload": 1, "UploadPartCopy": 3, "CompleteMultipartUpload": 1}
    body = raw.get_object(Bucket=BUCKET, Key=driver.store.key("big"))["Body"].read()
    assert body == content[: 11 * MiB]
    meta = raw.head_object(Bucket=BUCKET, Key=driver.store.key("big"))["Metadata"]
    assert meta["mode"] == str(stat.S_IFREG | 0o644)


def test_small_truncate_and_extend_of_a_closed_file(make_driver: DriverFactory) -> None:
    driver, counter = make_driver()
    f = _new_file(driver, b"f", b"0123456789")
    counter.take()
    driver.setattr(f.ino, AttrChanges(size=4))
    assert counter.take() == {"GetObject": 1, "PutObject": 1}
    driver.setattr(f.ino, AttrChanges(size=6))
    fresh, _ = make_driver()
    assert fresh.read(fresh.lookup(ROOT_INO, b"f").ino, 0, 100) == b"0123\0\0"


def test_a_sequential_read_of_a_whole_object_is_one_streaming_get(make_driver: DriverFactory) -> None:
    driver, counter = make_driver()
    content = pattern(16 * MiB)
    _new_file(driver, b"big", content)
    fresh, counter = make_driver()
    ino = fresh.lookup(ROOT_INO, b"big").ino
    counter.take()
    chunk = 128 * 1024
    got = b"".join(fresh.read(ino, off, chunk) for off in range(0, len(content), chunk))
    assert got == content
    assert counter.take() == {"GetObject": 1}


def test_random_reads_fetch_only_what_is_asked(make_driver: DriverFactory) -> None:
    driver, counter = make_driver()
    content = pattern(3 * MiB)
    f = _new_file(driver, b"f", content)
    counter.take()
    sent: list[str] = []
    driver.store.client.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_: sent.append(request.headers["Range"].decode())
    )
    for off in (2 * MiB + 5, MiB // 2, 3 * MiB // 2):
        assert driver.read(f.ino, off, 4096) == content[off : off + 4096]
    assert counter.take() == {"GetObject": 3}
    assert sent == [f"bytes={off}-{off + 4095}" for off in (2 * MiB + 5, MiB // 2, 3 * MiB // 2)]
