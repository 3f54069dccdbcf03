"""Requests per operation through the kernel: counted at a proxy in front of moto, checked with a raw client."""

from __future__ import annotations

import http.server
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuse.mounts import Mount
from tests.servers import BUCKET, FlakyProxy, S3Server, fresh_prefix

from .mounts import cloudfs_mount

FILES = 20
LISTING_TTL = 5.0  # the S3 driver's metadata cache: a listing older than this is asked for again


class S3CountingProxy(FlakyProxy):
    """Counts a bucket listing as LIST, apart from the GETs of objects."""

    def operation(self, handler: http.server.BaseHTTPRequestHandler) -> str:
        """LIST for a ListObjectsV2 request, else the HTTP method."""
        return "LIST" if handler.command == "GET" and "list-type=" in handler.path else handler.command


@pytest.fixture
def counted(moto_s3: S3Server, tmp_path: Path) -> Iterator[tuple[Mount, FlakyProxy, str]]:
    """A mount whose every request passes a counting proxy, its prefix, and the proxy."""
    prefix = fresh_prefix("counted")
    with (
        S3CountingProxy(moto_s3.url) as proxy,
        cloudfs_mount(S3Server("moto", proxy.url), prefix, tmp_path / "mnt") as m,
    ):
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
    started = time.monotonic()
    for i in range(FILES):
        path = directory / f"f{i}"
        subprocess.run([arg.format(path=path) for arg in CREATORS[way]], check=True, timeout=30)
        # The command has returned: every descriptor is closed, so the object is there for everyone.
        assert _stored(raw, f"{prefix}/d/f{i}") == expected.get(way, b"")
    elapsed = time.monotonic() - started
    seen = _take(proxy)
    # On a slow machine the loop outlives the directory's cached listing; each refresh is one LIST.
    refreshes = seen.pop("LIST", 0)
    assert seen == {"PUT": FILES}
    assert refreshes <= elapsed // LISTING_TTL
