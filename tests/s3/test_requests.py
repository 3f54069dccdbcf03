"""Request economy: exact request counts per operation, counted with botocore's event hooks."""

from __future__ import annotations

import stat
from errno import ENOENT

from cloudfs.driver import ROOT_INO, AttrChanges
from tests.drivers.helpers import fails_with
from tests.drivers.staging import Staged

from .conftest import BUCKET, DriverFactory


def test_new_small_file_in_a_listed_directory_costs_one_put(make_driver: DriverFactory) -> None:
    driver, counter = make_driver()
    driver.readdir(ROOT_INO)
    assert counter.take() == {"ListObjectsV2": 1}
    for i in range(3):
        name = b"new-%d" % i
        with fails_with(ENOENT):
            driver.lookup(ROOT_INO, name)
        f = driver.mknod(ROOT_INO, name, stat.S_IFREG | 0o644, 0, 1000, 1000)
        driver.write(f.ino, Staged().write(0, b"hello"), f.mtime_ns)
        assert driver.getattr(f.ino).size == 5
        assert counter.take() == {"PutObject": 1}


def test_lookup_costs_one_head_for_a_file_and_two_requests_for_a_miss(make_driver: DriverFactory, raw) -> None:
    driver, counter = make_driver()
    raw.put_object(Bucket=BUCKET, Key=driver.store.key("f"), Body=b"x")
    assert driver.lookup(ROOT_INO, b"f").size == 1
    assert counter.take() == {"HeadObject": 1}
    assert driver.lookup(ROOT_INO, b"f").size == 1
    assert counter.take() == {}
    with fails_with(ENOENT):
        driver.lookup(ROOT_INO, b"nope")
    assert counter.take() == {"HeadObject": 1, "ListObjectsV2": 1}


def test_listing_fills_attributes_so_ls_l_costs_one_list(make_driver: DriverFactory, raw) -> None:
    driver, counter = make_driver()
    for i in range(30):
        raw.put_object(Bucket=BUCKET, Key=driver.store.key(f"f{i:02d}"), Body=b"x" * i)
    raw.put_object(Bucket=BUCKET, Key=driver.store.key("sub/inner"), Body=b"")
    entries = dict(driver.readdir(ROOT_INO))
    assert len(entries) == 31
    for name, attr in entries.items():
        if name != b"sub":
            assert driver.getattr(attr.ino) == attr
    assert counter.take() == {"ListObjectsV2": 1}
    assert entries[b"f07"].size == 7
    # A directory's own getattr lists it once, for its subdirectory count (nlink).
    assert stat.S_ISDIR(driver.getattr(entries[b"sub"].ino).mode)
    assert counter.take() == {"ListObjectsV2": 1}


def test_chmod_is_one_metadata_copy_and_a_directory_one_marker_put(make_driver: DriverFactory) -> None:
    driver, counter = make_driver()
    f = driver.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, 1000, 1000)
    driver.write(f.ino, Staged().write(0, b"data"), f.mtime_ns)
    d = driver.mknod(ROOT_INO, b"d", stat.S_IFDIR | 0o755, 0, 1000, 1000)
    counter.take()
    assert driver.setattr(f.ino, AttrChanges(mode=0o600)).mode == stat.S_IFREG | 0o600
    assert counter.take() == {"CopyObject": 1}
    assert driver.setattr(d.ino, AttrChanges(mode=0o700)).mode == stat.S_IFDIR | 0o700
    assert counter.take() == {"PutObject": 1}


def test_mkdir_in_a_listed_directory_costs_one_put(make_driver: DriverFactory) -> None:
    driver, counter = make_driver()
    driver.readdir(ROOT_INO)
    counter.take()
    d = driver.mknod(ROOT_INO, b"d", stat.S_IFDIR | 0o755, 0, 1000, 1000)
    assert counter.take() == {"PutObject": 1}
    # The new directory is known empty: a file in it costs its one PUT only.
    f = driver.mknod(d.ino, b"f", stat.S_IFREG | 0o644, 0, 1000, 1000)
    driver.write(f.ino, Staged().write(0, b"x"), f.mtime_ns)
    assert driver.readdir(d.ino)[0][0] == b"f"
    assert counter.take() == {"PutObject": 1}


def test_renaming_a_tree_copies_each_object_and_deletes_in_batches(make_driver: DriverFactory, raw) -> None:
    driver, counter = make_driver()
    for i in range(5):
        raw.put_object(Bucket=BUCKET, Key=driver.store.key(f"a/f{i}"), Body=b"%d" % i)
    raw.put_object(Bucket=BUCKET, Key=driver.store.key("a/deep/g"), Body=b"g")
    assert driver.lookup(ROOT_INO, b"a")
    driver.readdir(ROOT_INO)
    counter.take()
    driver.rename(ROOT_INO, b"a", ROOT_INO, b"b")
    # One tree listing, a marker for the new top, six copies, one batched delete.
    assert counter.take() == {"ListObjectsV2": 1, "PutObject": 1, "CopyObject": 6, "DeleteObjects": 1}
    keys = {o["Key"] for o in raw.list_objects_v2(Bucket=BUCKET, Prefix=driver.store.key(""))["Contents"]}
    base = driver.store.key("")
    assert {k[len(base) :] for k in keys if not k.endswith("/")} == {f"b/f{i}" for i in range(5)} | {"b/deep/g"}
    fresh, _ = make_driver()
    assert [name for name, _ in fresh.readdir(ROOT_INO)] == [b"b"]


def test_unlink_deletes_at_purge_with_one_request(make_driver: DriverFactory, raw) -> None:
    driver, counter = make_driver()
    raw.put_object(Bucket=BUCKET, Key=driver.store.key("f"), Body=b"still readable")
    f = driver.lookup(ROOT_INO, b"f")
    counter.take()
    assert driver.unlink(ROOT_INO, b"f").nlink == 0
    assert counter.take() == {}
    # Hidden here, still in the bucket, and readable through the open handle.
    assert [n for n, _ in driver.readdir(ROOT_INO)] == []
    assert driver.read(f.ino, 0, 100) == b"still readable"
    counter.take()
    driver.purge(f.ino)
    driver.deletes.flush()
    assert counter.take() == {"DeleteObject": 1}
    assert raw.list_objects_v2(Bucket=BUCKET, Prefix=driver.store.key("")).get("KeyCount") == 0


def test_deletes_queued_behind_unlinks_go_in_batches_and_a_new_file_waits_for_its_old_one(
    make_driver: DriverFactory, raw
) -> None:
    driver, counter = make_driver()
    for i in range(40):
        raw.put_object(Bucket=BUCKET, Key=driver.store.key(f"f{i:02d}"), Body=b"x")
    driver.readdir(ROOT_INO)
    counter.take()
    with driver._lock:  # hold the sender back, as a DELETE on its way would, while all 40 are unlinked
        for i in range(40):
            name = b"f%02d" % i
            driver.lookup(ROOT_INO, name)
            driver.purge(driver.unlink(ROOT_INO, name).ino)
        assert [n for n, _ in driver.readdir(ROOT_INO)] == []
    # Created again at once: the old object is deleted first, so the new one is what stays.
    f = driver.mknod(ROOT_INO, b"f00", stat.S_IFREG | 0o644, 0, 1000, 1000)
    driver.write(f.ino, Staged().write(0, b"new"), f.mtime_ns)
    driver.deletes.flush()
    assert counter.take() == {"HeadObject": 40, "DeleteObjects": 1, "PutObject": 1}
    keys = [o["Key"] for o in raw.list_objects_v2(Bucket=BUCKET, Prefix=driver.store.key("")).get("Contents", [])]
    assert keys == [driver.store.key("f00")]
    assert raw.get_object(Bucket=BUCKET, Key=driver.store.key("f00"))["Body"].read() == b"new"
