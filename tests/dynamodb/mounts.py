"""Mounting the DynamoDB driver with `cloudfs mount aws:REGION/TABLE`, as a user does."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fuse.mounts import Mount

REGION = "us-east-1"


def dynamo_mount(endpoint: str, table: str, path: Path, *options: str) -> Mount:
    """A Mount (not started) of `aws:REGION/table` on `path` through `endpoint`, logging next to `path`."""
    return Mount(f"aws:{REGION}/{table}", path, path.with_suffix(".log"), (f"endpoint={endpoint}", *options))


def wait_unmounted(path: Path, timeout: float = 30) -> None:
    """Wait until the kernel no longer shows `path` as a mount point."""
    deadline = time.monotonic() + timeout
    while os.path.ismount(path):
        assert time.monotonic() < deadline, f"{path} still mounted"
        time.sleep(0.05)


def release(mount: Mount) -> None:
    """Unmount if still mounted; when `cloudfs umount` fails, detach lazily so nothing stays mounted."""
    if not os.path.ismount(mount.path):
        return
    try:
        mount.stop()
    except AssertionError:
        subprocess.run(["fusermount3", "-u", "-z", str(mount.path)], capture_output=True)
        wait_unmounted(mount.path)
        raise


@contextmanager
def two_hosts(endpoint: str, table: str, where: Path, *options: str) -> Iterator[tuple[Mount, Mount]]:
    """Host "a" and host "b": two mounts of `table` under `where`; unmounted on exit, their logs clean."""
    a = dynamo_mount(endpoint, table, where / "a", *options)
    b = dynamo_mount(endpoint, table, where / "b", *options)
    a.start()
    try:
        b.start()
        try:
            yield a, b
        finally:
            release(b)
    finally:
        release(a)
    assert a.problems() == [] and b.problems() == []


@contextmanager
def mounted(endpoint: str, table: str, path: Path, *options: str) -> Iterator[Mount]:
    """`cloudfs mount aws:REGION/table` on `path`, unmounted (and flushed) on exit; its log must stay clean."""
    mount = dynamo_mount(endpoint, table, path, *options)
    mount.start()
    try:
        yield mount
    finally:
        release(mount)
    assert mount.problems() == []
