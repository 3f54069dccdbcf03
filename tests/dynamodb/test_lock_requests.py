"""Locks on DynamoDB, through the core as the lock adapter calls it: requests per lock, and the lock items.

Two drivers on one table are two hosts. Requests are counted with botocore's
event hooks (the lease renewals of the background thread left out).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cloudfs.core.context import ROOT_CALLER, MountSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.core.shared_locks import LockRequest
from cloudfs.driver import ROOT_INO
from cloudfs.drivers.dynamodb import DynamoDriver
from cloudfs.errors import FsError
from tests.drivers.helpers import mkdir, mkfile

from .conftest import DriverFactory
from .tables import load


def never() -> bool:
    return False


def _core(driver: DynamoDriver, tmp_path: Path, name: str) -> Filesystem:
    return Filesystem(driver, MountSettings(cache_ttl=60, spool_dir=str(tmp_path / name)))


def _open(fs: Filesystem, ino: int) -> int:
    return fs.open(ino, os.O_RDWR, ROOT_CALLER)


def exclusive(owner: int, start: int = 0, end: int | None = None) -> LockRequest:
    return LockRequest(owner, "posix", True, start, end, pid=4242)


def test_an_uncontended_lock_and_unlock_cost_one_request_each_and_a_close_without_locks_none(
    make_driver: DriverFactory, tmp_path: Path
) -> None:
    """Lock: one conditional PutItem and the file's inode read anew; unlock: one DeleteItem; a close
    of a file never locked: nothing."""
    driver, counter = make_driver()
    fs = _core(driver, tmp_path, "a")
    warm = _open(fs, mkfile(driver, b"warm").ino)
    fs.lock(warm, exclusive(1), False, never)  # the mount's first lock also makes its lease
    fh = _open(fs, mkfile(driver, b"f").ino)
    counter.take()
    fs.lock(fh, exclusive(1), False, never)
    assert counter.take() == {"PutItem": 1, "GetItem": 1}
    fs.lock(fh, LockRequest(1, "posix", None, 0, None), False, never)
    assert counter.take() == {"DeleteItem": 1}
    other = _open(fs, mkfile(driver, b"g").ino)
    counter.take()
    fs.flush(other)
    fs.release_locks(other, 1, "posix")
    fs.release(other)
    assert counter.take() == {}
    fs.locks.release_all()


def test_a_lock_held_by_another_host_is_refused_and_reported(make_driver: DriverFactory, tmp_path: Path) -> None:
    """B's overlapping lock: EAGAIN in at most 3 requests; F_GETLK shows A's range; a disjoint one is granted."""
    a_driver, _ = make_driver()
    b_driver, b_counter = make_driver()
    a, b = _core(a_driver, tmp_path, "a"), _core(b_driver, tmp_path, "b")
    ino = mkfile(a_driver, b"shared").ino
    a_fh, b_fh = _open(a, ino), _open(b, ino)
    a.lock(a_fh, exclusive(1, 0, 100), False, never)
    b.locks.store.session  # noqa: B018  (B's lease, made once per mount, is not what is counted here)
    b_counter.take()
    with pytest.raises(FsError) as refused:
        b.lock(b_fh, exclusive(2, 50, 60), False, never)
    assert refused.value.errno == errno.EAGAIN
    assert sum(b_counter.take().values()) <= 3
    held = b.lock_test(b_fh, exclusive(2, 0, 10))
    assert held is not None and (held.start, held.end, held.exclusive) == (0, 100, True)
    b.lock(b_fh, exclusive(2, 200, 300), False, never)
    a.locks.release_all()
    b.lock(b_fh, exclusive(2, 0, 100), False, never)
    b.locks.release_all()


def test_lock_items_stay_out_of_listings_and_emptiness_checks(make_driver: DriverFactory, tmp_path: Path) -> None:
    """flock on a directory writes an item beside the directory's own: `ls` does not show it, rmdir still works."""
    driver, _ = make_driver()
    fs = _core(driver, tmp_path, "a")
    directory = mkdir(driver, b"d")
    mkfile(driver, b"inside", parent=directory.ino)
    fh = fs.opendir(directory.ino, ROOT_CALLER)
    fs.lock(fh, LockRequest(7, "flock", True, 0, None), False, never)
    assert [name for name, _ in driver.readdir(directory.ino)] == [b"inside"]
    table = driver.dynamo_store.dynamo.table
    assert load(driver.client, table).locks == [directory.ino]
    fs.releasedir(fh)
    assert load(driver.client, table).locks == []
    driver.unlink(directory.ino, b"inside")
    driver.rmdir(ROOT_INO, b"d")
    fs.locks.release_all()


def test_a_mount_whose_lease_was_taken_away_refuses_its_old_locks_and_takes_new_ones(
    make_driver: DriverFactory, tmp_path: Path, raw: Any, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A's lease item goes (another host judged it dead): A's next renewal fails, A logs it loudly, answers EIO
    on the file it held a lock on, and locks other files under a new lease; B takes the old lock."""
    a_driver, _ = make_driver(lock_lease="1.5")
    b_driver, _ = make_driver()
    a, b = _core(a_driver, tmp_path, "a"), _core(b_driver, tmp_path, "b")
    held, other = mkfile(a_driver, b"held").ino, mkfile(a_driver, b"other").ino
    a_fh, b_fh, other_fh = _open(a, held), _open(b, held), _open(a, other)
    a.lock(a_fh, exclusive(1), False, never)
    old_session = a.locks.store.session
    raw.delete_item(TableName=table, Key={"id": {"N": "-3"}, "name": {"B": old_session.encode()}})
    deadline = time.monotonic() + 5
    while a.locks.store.session == old_session:
        assert time.monotonic() < deadline, "the lost lease was not noticed"
        time.sleep(0.1)
    with pytest.raises(FsError) as refused:
        a.lock(a_fh, exclusive(1, 0, 10), False, never)
    assert refused.value.errno == errno.EIO
    assert any("LOCK LEASE LOST" in r.getMessage() for r in caplog.records)
    a.lock(other_fh, exclusive(1), False, never)
    b.lock(b_fh, exclusive(2), False, never)
    a.release(a_fh)
    a.locks.release_all()
    b.locks.release_all()
