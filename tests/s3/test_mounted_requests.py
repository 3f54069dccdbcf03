"""Requests per operation through the kernel: counted at a proxy in front of moto, checked with a raw client."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuse.mounts import Mount
from tests.servers import BUCKET, FlakyProxy, S3Server, fresh_prefix

from .mounts import cloudfs_mount

FILES = 20


@pytest.fixture
def counted(moto_s3: S3Server, tmp_path: Path) -> Iterator[tuple[Mount, FlakyProxy, str]]:
    """A mount whose every request passes a counting proxy, its prefix, and the proxy."""
    prefix = fresh_prefix("counted")
    with FlakyProxy(moto_s3.url) as proxy, cloudfs_mount(S3Server("moto", proxy.url), prefix, tmp_path / "mnt") as m:
        yield m, proxy, prefix


def _take(proxy: FlakyProxy) -> dict[str, int]:
    """Requests by HTTP method since the last take."""
    seen = dict(proxy.operations)
    proxy.operations.clear()
    return seen


def _stored(raw: Any, key: str) -> bytes:
    """The object's body as another client sees it now."""
    return raw.get_object(Bucket=BUCKET, Key=key)["Body"].read()


CREATORS = {
    "shell echo": ["sh", "-c", "echo hello > {path}"],
    "shell truncate": ["sh", "-c", ": > {path}"],
    "touch": ["touch", "{path}"],
    "python": ["python3", "-c", "open('{path}', 'w').write('hello\\n')"],
    "python empty": ["python3", "-c", "open('{path}', 'w').close()"],
    "cp": ["cp", "/etc/hostname", "{path}"],
    "cp -a": ["cp", "-a", "/etc/hostname", "{path}"],
}


@pytest.mark.parametrize("way", sorted(CREATORS))
def test_a_new_file_costs_one_put_however_it_is_created_and_is_stored_at_close(
    counted: tuple[Mount, FlakyProxy, str], moto_s3: S3Server, way: str
) -> None:
    m, proxy, prefix = counted
    raw = moto_s3.client()
    directory = m.path / "d"
    directory.mkdir()
    os.listdir(directory)
    _take(proxy)
    hostname = Path("/etc/hostname").read_bytes()
    expected = {"shell echo": b"hello\n", "python": b"hello\n", "cp": hostname, "cp -a": hostname}
    for i in range(FILES):
        path = directory / f"f{i}"
        subprocess.run([arg.format(path=path) for arg in CREATORS[way]], check=True, timeout=30)
        # The command has returned: every descriptor is closed, so the object is there for everyone.
        assert _stored(raw, f"{prefix}/d/f{i}") == expected.get(way, b"")
    assert _take(proxy) == {"PUT": FILES}
