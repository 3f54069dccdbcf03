"""The S3 driver on the in-memory FakeStore: request counts, retries and round trips, in milliseconds.

Counts are what the driver sends today, as regression guards; the same
economy is measured on real servers in test_requests.py and test_transfer.py.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from errno import EIO, ENAMETOOLONG, ENOENT

import pytest
from botocore.exceptions import ResponseStreamingError

from cloudfs.driver import ROOT_INO, AttrChanges
from cloudfs.drivers.s3.driver import S3Driver
from cloudfs.drivers.s3.layout import Defaults
from cloudfs.drivers.s3.transfer import MiB
from tests.drivers.helpers import fails_with, pattern
from tests.drivers.staging import Staged

from .fake_store import FakeStore

NewDriver = Callable[[], S3Driver]


@pytest.fixture
def fake() -> FakeStore:
    """An empty bucket prefix in memory."""
    return FakeStore("t/")


@pytest.fixture
def new_driver(fake: FakeStore) -> Iterator[NewDriver]:
    """Open drivers on `fake` as `open_driver` does, with 5 MiB parts (the S3 minimum) to keep multipart small."""
    opened: list[S3Driver] = []

    def make() -> S3Driver:
        """A driver with an empty cache, like a new mount."""
        driver = S3Driver(fake, Defaults(uid=1000, gid=1000, umask=0o022), part_size=5 * MiB)
        opened.append(driver)
        return driver

    yield make
    for driver in opened:
        driver.close()


@pytest.fixture
def driver(new_driver: NewDriver) -> S3Driver:
    """A driver on `fake`."""
    return new_driver()


def new_file(driver: S3Driver, name: bytes, content: bytes, parent: int = ROOT_INO) -> int:
    """Create `name` and write `content` as the core does at close; returns its inode."""
    f = driver.mknod(parent, name, stat.S_IFREG | 0o644, 0, 1000, 1000)
    driver.write(f.ino, Staged().write(0, content), f.mtime_ns)
    return f.ino


def test_a_new_small_file_in_a_listed_directory_costs_one_put(driver: S3Driver, fake: FakeStore) -> None:
    assert driver.readdir(ROOT_INO) == []
    assert fake.take() == {"LIST": 1}
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"new")
    ino = new_file(driver, b"new", b"hello")
    assert driver.getattr(ino).size == 5
    assert fake.take() == {"PUT": 1}
    obj = fake.object("new")
    assert obj is not None
    assert (obj.body, obj.meta["mode"], obj.meta["uid"]) == (b"hello", str(stat.S_IFREG | 0o644), "1000")


def test_a_listed_name_needs_a_head_once_and_a_miss_none(driver: S3Driver, fake: FakeStore) -> None:
    fake.seed("f", b"abc")
    driver.readdir(ROOT_INO)
    fake.take()
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"nope")
    assert fake.take() == {}
    # A listing has no headers: the first lookup fetches them, later ones use the cache.
    assert driver.lookup(ROOT_INO, b"f").size == 3
    assert fake.take() == {"HEAD": 1}
    assert driver.lookup(ROOT_INO, b"f").size == 3
    assert fake.take() == {}


def test_a_lookup_in_an_unlisted_directory_heads_then_probes(driver: S3Driver, fake: FakeStore) -> None:
    fake.seed("f", b"x")
    assert driver.lookup(ROOT_INO, b"f").size == 1
    assert fake.take() == {"HEAD": 1}
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"nope")
    assert fake.take() == {"HEAD": 1, "LIST": 1}


def test_ls_l_costs_one_list_and_one_head_per_entry(driver: S3Driver, fake: FakeStore) -> None:
    for i in range(20):
        fake.seed(f"f{i:02d}", b"x" * i)
    fake.seed("implicit/inner", b"")
    fake.seed("marked/", b"", {"mode": str(stat.S_IFDIR | 0o700)}, is_dir=True)
    entries = driver.readdir(ROOT_INO)
    assert [n for n, _ in entries] == [b"f%02d" % i for i in range(20)] + [b"implicit", b"marked"]
    assert fake.take() == {"LIST": 1}
    attrs = {name: driver.lookup(ROOT_INO, name) for name, _ in entries}
    # The lookahead fetches in parallel but never twice: one HEAD per entry (a marker's for
    # a directory), and one LIST per directory for its nlink.
    assert fake.take() == {"HEAD": 22, "LIST": 2}
    assert attrs[b"f07"].size == 7
    assert attrs[b"marked"].mode == stat.S_IFDIR | 0o700


def test_a_directory_of_more_than_1000_entries_is_listed_in_pages(driver: S3Driver, fake: FakeStore) -> None:
    for i in range(1200):
        fake.seed(f"d/f{i:04d}", b"")
    d = driver.lookup(ROOT_INO, b"d")
    # One page is all a lookup lists for nlink: not enough here, so nlink is "unknown".
    assert d.nlink == 1
    assert fake.take() == {"HEAD": 1, "LIST": 2}
    assert len(driver.readdir(d.ino)) == 1200
    assert fake.take() == {"LIST": 2}


def test_rename_of_a_file_in_a_listed_directory_is_one_copy_and_one_delete(driver: S3Driver, fake: FakeStore) -> None:
    driver.readdir(ROOT_INO)
    ino = new_file(driver, b"a", b"moved bytes")
    fake.take()
    driver.rename(ROOT_INO, b"a", ROOT_INO, b"b")
    assert fake.take() == {"COPY": 1, "DELETE": 1}
    assert fake.paths() == ["b"]
    assert driver.read(ino, 0, 100) == b"moved bytes"


def test_chmod_is_one_metadata_copy(driver: S3Driver, fake: FakeStore) -> None:
    ino = new_file(driver, b"f", b"data")
    fake.take()
    assert driver.setattr(ino, AttrChanges(mode=0o600)).mode == stat.S_IFREG | 0o600
    assert fake.take() == {"COPY": 1}
    obj = fake.object("f")
    assert obj is not None
    assert (obj.meta["mode"], obj.body) == (str(stat.S_IFREG | 0o600), b"data")


def test_a_large_file_goes_up_in_parts_and_a_change_resends_one(driver: S3Driver, fake: FakeStore) -> None:
    content = pattern(12 * MiB)
    driver.readdir(ROOT_INO)
    fake.take()
    ino = new_file(driver, b"big", content)
    assert fake.take() == {"MPU create": 1, "part": 3, "MPU complete": 1}
    obj = fake.object("big")
    assert obj is not None
    assert obj.body == content
    assert obj.etag.endswith('-3"')
    staged = Staged(content).write(6 * MiB, b"XYZ")
    driver.write(ino, staged, driver.getattr(ino).mtime_ns)
    assert fake.take() == {"MPU create": 1, "part copy": 2, "part": 1, "MPU complete": 1}
    assert fake.object("big").body == staged.read(0, staged.size)  # type: ignore[union-attr]
    assert not fake.uploads


def test_a_transient_put_failure_is_retried_and_lands_once(driver: S3Driver, fake: FakeStore) -> None:
    driver.readdir(ROOT_INO)
    fake.take()
    fake.fail("PUT", times=2)
    new_file(driver, b"f", b"made it")
    assert fake.take() == {"PUT": 3}
    assert fake.paths() == ["f"]
    assert fake.object("f").body == b"made it"  # type: ignore[union-attr]


def test_a_permanent_failure_is_eio_and_the_file_stays_local(driver: S3Driver, fake: FakeStore) -> None:
    driver.readdir(ROOT_INO)
    f = driver.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, 1000, 1000)
    fake.take()
    fake.fail("PUT", code="AccessDenied")
    with fails_with(EIO):
        driver.write(f.ino, Staged().write(0, b"lost?"), f.mtime_ns)
    assert fake.take() == {"PUT": 1}
    assert fake.paths() == []
    assert driver.write(f.ino, Staged().write(0, b"kept"), f.mtime_ns).size == 4
    assert fake.object("f").body == b"kept"  # type: ignore[union-attr]


def test_transient_failures_past_the_retry_limit_are_eio(driver: S3Driver, fake: FakeStore) -> None:
    fake.seed("f", b"x")
    fake.fail("HEAD", times=fake.policy.max_attempts)
    with fails_with(EIO):
        driver.lookup(ROOT_INO, b"f")
    assert fake.take() == {"HEAD": fake.policy.max_attempts}


def test_a_failed_part_aborts_the_upload(driver: S3Driver, fake: FakeStore) -> None:
    driver.readdir(ROOT_INO)
    fake.take()
    fake.fail("part", code="AccessDenied")
    with fails_with(EIO):
        new_file(driver, b"big", bytes(11 * MiB))
    assert fake.take() == {"MPU create": 1, "part": 3, "MPU abort": 1}
    assert not fake.uploads
    assert fake.paths() == []


def test_a_body_cut_short_is_fetched_again(new_driver: NewDriver, fake: FakeStore) -> None:
    fake.seed("f", pattern(1000))
    driver = new_driver()
    ino = driver.lookup(ROOT_INO, b"f").ino
    fake.take()
    fake.truncate(keep=10)
    assert driver.read(ino, 0, 1000) == pattern(1000)
    assert fake.take() == {"GET": 2}


def test_symlink_round_trip(new_driver: NewDriver, fake: FakeStore) -> None:
    writer = new_driver()
    writer.readdir(ROOT_INO)
    fake.take()
    writer.symlink(ROOT_INO, b"ln", b"../some/target", 1000, 1000)
    assert fake.take() == {"PUT": 1}
    reader = new_driver()
    attr = reader.lookup(ROOT_INO, b"ln")
    assert stat.S_ISLNK(attr.mode)
    assert reader.readlink(attr.ino) == b"../some/target"
    assert fake.take() == {"HEAD": 1, "GET": 1}


def test_xattr_round_trip(new_driver: NewDriver, fake: FakeStore) -> None:
    writer = new_driver()
    ino = new_file(writer, b"f", b"data")
    fake.take()
    writer.setxattr(ino, b"user.tag", b"\x00blue\xff", 0)
    assert fake.take() == {"COPY": 1}
    reader = new_driver()
    ino = reader.lookup(ROOT_INO, b"f").ino
    assert reader.listxattr(ino) == [b"user.tag"]
    assert reader.getxattr(ino, b"user.tag") == b"\x00blue\xff"
    assert reader.read(ino, 0, 10) == b"data"
    reader.removexattr(ino, b"user.tag")
    again = new_driver()
    assert again.listxattr(again.lookup(ROOT_INO, b"f").ino) == []


def test_a_key_over_1024_bytes_is_enametoolong(fake: FakeStore) -> None:
    with fails_with(ENAMETOOLONG):
        fake.put("d/" * 600, b"", None)
    assert fake.take() == {"PUT": 1}


def test_open_read_streams_a_range_and_a_cut_body_breaks(fake: FakeStore) -> None:
    fake.seed("f", b"0123456789")
    body = fake.open_read("f", 2, 8)
    assert (body.read(4), body.read(4), body.read(4)) == (b"2345", b"67", b"")
    assert fake.open_read("f", 7, None).read(100) == b"789"
    assert fake.open_read("f", 10, None).read(100) == b""
    assert fake.take() == {"GET": 3}
    fake.truncate(keep=3)
    cut = fake.open_read("f", 0, None)
    assert cut.read(100) == b"012"
    with pytest.raises(ResponseStreamingError):
        cut.read(100)
