"""The s3fs-fuse object layout: what lands in the bucket, and how foreign objects look."""

from __future__ import annotations

import base64
import json
import stat
import urllib.parse
from errno import ENOTSUP, EPERM

from cloudfs.driver import ROOT_INO, AttrChanges
from tests.drivers.helpers import fails_with
from tests.drivers.staging import Staged

from .conftest import BUCKET, DriverFactory


def test_files_directories_and_symlinks_use_s3fs_headers(make_driver: DriverFactory, raw) -> None:
    driver, _ = make_driver()
    d = driver.mknod(ROOT_INO, b"d", stat.S_IFDIR | 0o750, 0, 1000, 1000)
    f = driver.mknod(d.ino, b"f", stat.S_IFREG | 0o640, 0, 1234, 5678)
    driver.write(f.ino, Staged().write(0, b"content"), 1_700_000_000_250_000_000)
    driver.symlink(ROOT_INO, b"s", b"d/f", 1000, 1000)
    head = raw.head_object(Bucket=BUCKET, Key=driver.store.key("d/f"))
    meta = head["Metadata"]
    assert (meta["mode"], meta["uid"], meta["gid"]) == (str(stat.S_IFREG | 0o640), "1234", "5678")
    assert meta["mtime"] == "1700000000.250000000"
    body = raw.get_object(Bucket=BUCKET, Key=driver.store.key("s"))
    assert body["Body"].read() == b"d/f"
    assert int(body["Metadata"]["mode"]) == stat.S_IFLNK | 0o777
    marker = raw.head_object(Bucket=BUCKET, Key=driver.store.key("d/"))
    assert marker["ContentLength"] == 0


def test_xattrs_are_stored_in_s3fs_encoding(make_driver: DriverFactory, raw) -> None:
    driver, _ = make_driver()
    f = driver.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, 1000, 1000)
    driver.write(f.ino, Staged().write(0, b"x"), f.mtime_ns)
    driver.setxattr(f.ino, b"user.colour", b"\x00blue\xff", 0)
    header = raw.head_object(Bucket=BUCKET, Key=driver.store.key("f"))["Metadata"]["xattr"]
    doc = json.loads(urllib.parse.unquote(header))
    assert {k: base64.b64decode(v) for k, v in doc.items()} == {"user.colour": b"\x00blue\xff"}
    fresh, _ = make_driver()
    assert fresh.getxattr(fresh.lookup(ROOT_INO, b"f").ino, b"user.colour") == b"\x00blue\xff"


def test_foreign_objects_get_the_mount_defaults(make_driver: DriverFactory, raw) -> None:
    raw_put = raw.put_object
    driver, _ = make_driver(uid=4321, gid=8765, umask=0o027)
    raw_put(Bucket=BUCKET, Key=driver.store.key("plain.txt"), Body=b"abc")
    raw_put(Bucket=BUCKET, Key=driver.store.key("implicit/child"), Body=b"")
    stamp = raw.head_object(Bucket=BUCKET, Key=driver.store.key("plain.txt"))["LastModified"]
    f = driver.lookup(ROOT_INO, b"plain.txt")
    assert (f.mode, f.uid, f.gid, f.size) == (stat.S_IFREG | 0o640, 4321, 8765, 3)
    assert f.mtime_ns == int(stamp.timestamp()) * 1_000_000_000
    d = driver.lookup(ROOT_INO, b"implicit")
    assert (d.mode, d.uid) == (stat.S_IFDIR | 0o750, 4321)
    assert [n for n, _ in driver.readdir(d.ino)] == [b"child"]


def test_no_metadata_never_writes_headers(make_driver: DriverFactory, raw) -> None:
    driver, _ = make_driver(no_metadata="")
    assert not driver.capabilities.xattrs and not driver.capabilities.symlinks
    f = driver.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, 1000, 1000)
    driver.write(f.ino, Staged().write(0, b"plain"), f.mtime_ns)
    d = driver.mknod(ROOT_INO, b"d", stat.S_IFDIR | 0o755, 0, 1000, 1000)
    assert raw.head_object(Bucket=BUCKET, Key=driver.store.key("f"))["Metadata"] == {}
    assert raw.head_object(Bucket=BUCKET, Key=driver.store.key("d/"))["Metadata"] == {}
    with fails_with(EPERM):
        driver.setattr(f.ino, AttrChanges(mode=0o600))
    with fails_with(ENOTSUP):
        driver.setxattr(f.ino, b"user.a", b"b", 0)
    assert driver.setattr(d.ino, AttrChanges(mode=0o755)).mode == stat.S_IFDIR | 0o755


def test_directory_headers_persist_on_moto_and_last_the_mount_on_seaweedfs(make_driver: DriverFactory, server) -> None:
    # SeaweedFS keeps keys ending in "/" as directories and drops their headers:
    # a directory's mode is kept by the driver that set it, and reads as the
    # default once another mount looks.
    driver, _ = make_driver()
    d = driver.mknod(ROOT_INO, b"d", stat.S_IFDIR | 0o755, 0, 1000, 1000)
    driver.setattr(d.ino, AttrChanges(mode=0o700))
    assert driver.getattr(d.ino).mode == stat.S_IFDIR | 0o700
    driver.cache.clear()
    assert driver.lookup(ROOT_INO, b"d").mode == stat.S_IFDIR | 0o700
    fresh, _ = make_driver()
    expected = 0o755 if server.kind == "seaweedfs" else 0o700
    assert fresh.lookup(ROOT_INO, b"d").mode == stat.S_IFDIR | expected


def test_directories_without_children_are_kept_and_removed(make_driver: DriverFactory, raw) -> None:
    driver, _ = make_driver()
    driver.mknod(ROOT_INO, b"empty", stat.S_IFDIR | 0o755, 0, 1000, 1000)
    fresh, _ = make_driver()
    assert [n for n, _ in fresh.readdir(ROOT_INO)] == [b"empty"]
    fresh.rmdir(ROOT_INO, b"empty")
    assert raw.list_objects_v2(Bucket=BUCKET, Prefix=driver.store.key("")).get("KeyCount") == 0


def test_an_implicit_directory_stays_implicit(make_driver: DriverFactory, raw) -> None:
    driver, _ = make_driver()
    raw.put_object(Bucket=BUCKET, Key=driver.store.key("implicit/old"), Body=b"")
    d = driver.lookup(ROOT_INO, b"implicit")
    f = driver.mknod(d.ino, b"new", stat.S_IFREG | 0o644, 0, 1000, 1000)
    driver.write(f.ino, Staged().write(0, b"x"), f.mtime_ns)
    driver.close()
    keys = {o["Key"] for o in raw.list_objects_v2(Bucket=BUCKET, Prefix=driver.store.key(""))["Contents"]}
    assert keys == {driver.store.key("implicit/old"), driver.store.key("implicit/new")}
