"""Deletes queued behind unlinks (drivers/s3/deletes.py), against listings that cross them on the way."""

from __future__ import annotations

import stat
import threading
from typing import Any

from cloudfs.driver import ROOT_INO
from cloudfs.drivers.s3.driver import S3Driver
from cloudfs.drivers.s3.layout import Defaults

from .fake_store import FakeStore


class CrossingStore(FakeStore):
    """A fake whose deletes wait until a directory LIST has read its page, then are answered before it is."""

    def __init__(self) -> None:
        super().__init__("t/")
        self.release = threading.Event()
        self.driver: S3Driver | None = None
        self.crossing = False

    def delete(self, path: str) -> None:
        self.release.wait(10)
        super().delete(path)

    def delete_many(self, paths: list[str]) -> None:
        self.release.wait(10)
        super().delete_many(paths)

    def _list_objects(self, **kwargs: Any) -> dict[str, Any]:
        page = super()._list_objects(**kwargs)
        if self.crossing and self.driver is not None and kwargs.get("Delimiter"):
            self.release.set()  # the page still holds the keys being deleted
            self.driver.deletes.flush()
        return page


def test_a_listing_that_crosses_a_delete_does_not_bring_the_name_back() -> None:
    store = CrossingStore()
    for name in ("d/", "d/a", "d/b"):
        store.seed(name)
    driver = S3Driver(store, Defaults(uid=1000, gid=1000, umask=0o022))
    store.driver = driver
    try:
        d = driver.lookup(ROOT_INO, b"d")
        for name in (b"a", b"b"):
            driver.lookup(d.ino, name)
            driver.purge(driver.unlink(d.ino, name).ino)
        driver.cache.clear()  # the next readdir must LIST, while the deletes are held
        store.crossing = True
        assert driver.readdir(d.ino) == []
        store.crossing = False
        assert sorted(store.paths()) == ["d/"]
        driver.rmdir(ROOT_INO, b"d")
        assert sorted(store.paths()) == []
    finally:
        store.release.set()
        driver.close()


def test_a_name_created_again_lists_even_after_its_old_delete() -> None:
    store = FakeStore("t/")
    store.seed("f", b"old")
    driver = S3Driver(store, Defaults(uid=1000, gid=1000, umask=0o022))
    try:
        driver.lookup(ROOT_INO, b"f")
        driver.purge(driver.unlink(ROOT_INO, b"f").ino)
        f = driver.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, 1000, 1000)
        driver._flush_pending(f.ino)
        driver.cache.clear()
        assert [name for name, _ in driver.readdir(ROOT_INO)] == [b"f"]
        assert store.object("f").body == b""
    finally:
        driver.close()
