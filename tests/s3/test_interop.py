"""Interoperability with s3fs-fuse, both ways, mounted on the same bucket prefix of each server."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.servers import S3Server, fresh_prefix

from .mounts import cloudfs_mount, s3fs_mount

MTIME = 1_600_000_000


def _write_tree(root: Path, dir_modes: bool = True) -> None:
    """Files, modes, owners, times, a symlink, an xattr and an empty directory (with its mode)."""
    (root / "dir").mkdir()
    (root / "dir/file.txt").write_bytes(b"hello from one side\n")
    os.chmod(root / "dir/file.txt", 0o640)
    os.chown(root / "dir/file.txt", 1234, 5678)
    os.utime(root / "dir/file.txt", (MTIME, MTIME))
    (root / "empty").mkdir()
    if dir_modes:
        os.chmod(root / "empty", 0o750)
    os.symlink("dir/file.txt", root / "link")
    os.setxattr(root / "dir/file.txt", "user.colour", b"blue")


def _check_tree(root: Path, dir_mode: int | None = 0o750) -> None:
    """What `_write_tree` wrote, seen from the other side."""
    f = root / "dir/file.txt"
    st = f.stat()
    assert f.read_bytes() == b"hello from one side\n"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)) == (0o640, 1234, 5678, MTIME)
    assert os.readlink(root / "link") == "dir/file.txt"
    assert stat.S_ISLNK((root / "link").lstat().st_mode)
    assert os.getxattr(f, "user.colour") == b"blue"
    assert (root / "empty").is_dir() and list((root / "empty").iterdir()) == []
    if dir_mode is not None:
        assert stat.S_IMODE((root / "empty").stat().st_mode) == dir_mode
    assert sorted(p.name for p in root.iterdir()) == ["dir", "empty", "link"]


@pytest.fixture
def prefix() -> str:
    """A fresh prefix for each interop test."""
    return fresh_prefix("interop")


def test_what_cloudfs_writes_s3fs_reads(server: S3Server, prefix: str, tmp_path: Path) -> None:
    with cloudfs_mount(server, prefix, tmp_path / "cloudfs") as m:
        _write_tree(m.path)
    with s3fs_mount(server, prefix, tmp_path / "s3fs") as mnt:
        # SeaweedFS drops the headers of "dir/" markers: directory modes do not travel there.
        _check_tree(mnt, dir_mode=0o750 if server.kind != "seaweedfs" else None)


def test_what_s3fs_writes_cloudfs_reads(server: S3Server, prefix: str, tmp_path: Path) -> None:
    with s3fs_mount(server, prefix, tmp_path / "s3fs") as mnt:
        # s3fs itself loses a directory it made on SeaweedFS as soon as it chmods it
        # (its metadata-only copy of "dir/" gets NoSuchKey there), so it cannot set them.
        _write_tree(mnt, dir_modes=server.kind != "seaweedfs")
    with cloudfs_mount(server, prefix, tmp_path / "cloudfs") as m:
        _check_tree(m.path, dir_mode=0o750 if server.kind != "seaweedfs" else None)
