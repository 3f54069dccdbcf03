"""Mounting the S3 driver and s3fs-fuse on the same bucket prefix, for mounted and interop tests."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fuse.mounts import Mount
from tests.servers import ACCESS_KEY, BUCKET, SECRET_KEY, S3Server


@contextmanager
def cloudfs_mount(server: S3Server, prefix: str, path: Path, *options: str) -> Iterator[Mount]:
    """`cloudfs mount s3:BUCKET/prefix` on `path`, unmounted (and flushed) on exit; its log must stay clean."""
    mount = Mount(f"s3:{BUCKET}/{prefix}", path, path.with_suffix(".log"), (f"endpoint={server.url}", *options))
    mount.start()
    try:
        yield mount
    finally:
        mount.stop()
    assert mount.problems() == []


@contextmanager
def s3fs_mount(server: S3Server, prefix: str, path: Path) -> Iterator[Path]:
    """s3fs-fuse (Debian's `s3fs`) on the same prefix, with the dummy keys; unmounted on exit."""
    path.mkdir(parents=True, exist_ok=True)
    passwd = path.with_suffix(".passwd")
    passwd.write_text(f"{ACCESS_KEY}:{SECRET_KEY}\n")
    passwd.chmod(0o600)
    opts = f"url={server.url},use_path_request_style,passwd_file={passwd},stat_cache_expire=1,use_xattr"
    subprocess.run(["s3fs", f"{BUCKET}:/{prefix}", str(path), "-o", opts], check=True, timeout=60)
    deadline = time.monotonic() + 30
    while not os.path.ismount(path):
        assert time.monotonic() < deadline, "s3fs did not mount"
        time.sleep(0.1)
    try:
        yield path
    finally:
        subprocess.run(["fusermount", "-u", str(path)], check=True, timeout=60)
        while os.path.ismount(path):
            time.sleep(0.1)
