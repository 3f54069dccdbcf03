"""`cloudfs gc SOURCE`: what a crashed mount left is collected; what a live mount still holds open is not."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fuse.mounts import Mount, cloudfs
from tests.servers import DynamoServer

from .mounts import REGION, dynamo_mount, mounted, wait_unmounted
from .tables import invariant_problems, load, num, scan


def _gc(server: DynamoServer, table: str) -> str:
    """Run `cloudfs gc` on the table; it must exit 0; returns what it printed."""
    done = cloudfs("gc", f"aws:{REGION}/{table}", "-o", f"endpoint={server.url}")
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def _unlinked_but_open(mount: Mount, payload: bytes) -> tuple[int, int]:
    """Write and fsync file `f`, open it, unlink it: returns (open descriptor, its inode number)."""
    with open(mount.path / "f", "wb") as f:
        f.write(payload)
        os.fsync(f.fileno())
    fd = os.open(mount.path / "f", os.O_RDONLY)
    ino = os.fstat(fd).st_ino
    os.unlink(mount.path / "f")
    return fd, ino


def _age_sessions(raw: Any, table: str) -> None:
    """Make every mount session's heartbeat hours old, as if its host had been gone that long.

    Sessions are the driver's own records (id < 0, with a `heartbeat` time in
    seconds); a crashed mount's would otherwise count as live for a while.
    """
    for item in scan(raw, table):
        if num(item["id"]) < 0 and "heartbeat" in item:
            raw.update_item(
                TableName=table,
                Key={"id": item["id"], "name": item["name"]},
                UpdateExpression="SET heartbeat = :old",
                ExpressionAttributeValues={":old": {"N": str(int(time.time()) - 6 * 3600)}},
            )


def test_gc_collects_the_orphan_of_a_crashed_mount(server: DynamoServer, table: str, raw: Any, tmp_path: Path) -> None:
    """kill -9 with an unlinked file still open leaves an nlink-0 inode and its blocks; gc deletes both."""
    mount = dynamo_mount(server.url, table, tmp_path / "mnt")
    mount.start()
    fd, ino = _unlinked_but_open(mount, os.urandom(300_000))
    os.kill(mount.pid, signal.SIGKILL)
    with pytest.raises(OSError):
        os.close(fd)
    mount.force_unmount()
    wait_unmounted(mount.path)
    left = load(raw, table)
    assert num(left.inodes[ino]["nlink"]) == 0
    assert any(block_ino == ino for block_ino, _, _ in left.blocks)
    _age_sessions(raw, table)
    said = _gc(server, table)
    after = load(raw, table)
    assert ino not in after.inodes
    assert not any(block_ino == ino for block_ino, _, _ in after.blocks)
    assert invariant_problems(raw, table) == []
    assert "collected 1 " in said  # and it says so


def test_gc_leaves_what_a_live_mount_holds_open(server: DynamoServer, table: str, raw: Any, tmp_path: Path) -> None:
    """An unlinked file a running mount still has open survives gc; it goes when its last descriptor closes."""
    payload = os.urandom(300_000)
    with mounted(server.url, table, tmp_path / "mnt") as mount:
        fd, ino = _unlinked_but_open(mount, payload)
        try:
            assert "collected 0 " in _gc(server, table)
            assert os.pread(fd, len(payload) + 1, 0) == payload
        finally:
            os.close(fd)
        deadline = time.monotonic() + 10
        while ino in load(raw, table).inodes:
            assert time.monotonic() < deadline, f"inode {ino} still stored after its last close"
            time.sleep(0.1)
    assert not any(block_ino == ino for block_ino, _, _ in load(raw, table).blocks)
    assert invariant_problems(raw, table) == []


def test_gc_of_a_bad_source_is_exit_2_and_one_line() -> None:
    """gc checks the source as mount does, before any I/O."""
    done = cloudfs("gc", "aws:local/Demo")
    assert (done.returncode, len(done.stderr.strip().splitlines())) == (2, 1)
    assert "region" in done.stderr
