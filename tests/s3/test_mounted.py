"""The S3 driver mounted through FUSE with `cloudfs mount`, on moto and on SeaweedFS."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.servers import BUCKET, FlakyProxy, S3Server, fresh_prefix

from .mounts import cloudfs_mount


@pytest.fixture
def prefix() -> str:
    """A fresh prefix for each mounted test."""
    return fresh_prefix("mounted")


def _keys(raw, prefix: str) -> set[str]:  # type: ignore[no-untyped-def]
    listed = raw.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/").get("Contents", [])
    return {o["Key"][len(prefix) + 1 :] for o in listed}


def test_files_through_the_kernel(server: S3Server, prefix: str, tmp_path: Path, raw) -> None:
    with cloudfs_mount(server, prefix, tmp_path / "mnt") as m:
        f = m.path / "f"
        f.write_bytes(b"0123456789")
        with open(f, "r+b") as fh:
            fh.seek(4)
            fh.write(b"xy")
        with open(f, "ab") as fh:
            fh.write(b"!")
        assert f.read_bytes() == b"0123xy6789!"
        os.truncate(f, 3)
        assert f.read_bytes() == b"012"
        (m.path / "d/e").mkdir(parents=True)
        (m.path / "d/e/g").write_bytes(b"deep")
        os.rename(m.path / "d", m.path / "moved")
        assert (m.path / "moved/e/g").read_bytes() == b"deep"
        with pytest.raises(OSError) as info:
            os.link(f, m.path / "hard")
        assert info.value.errno == errno.EPERM
        with pytest.raises(OSError) as info:
            os.mkfifo(m.path / "fifo")
        assert info.value.errno == errno.EPERM
    assert raw.get_object(Bucket=BUCKET, Key=f"{prefix}/f")["Body"].read() == b"012"
    assert {"f", "moved/e/g"} <= _keys(raw, prefix)
    assert not any(k.startswith("d/") for k in _keys(raw, prefix))


def test_rmdir_sees_implicit_children(server: S3Server, prefix: str, tmp_path: Path, raw) -> None:
    raw.put_object(Bucket=BUCKET, Key=f"{prefix}/d/sub/file", Body=b"x")
    with cloudfs_mount(server, prefix, tmp_path / "mnt") as m:
        assert (m.path / "d/sub").is_dir()
        with pytest.raises(OSError) as info:
            os.rmdir(m.path / "d")
        assert info.value.errno == errno.ENOTEMPTY
        os.unlink(m.path / "d/sub/file")
        os.rmdir(m.path / "d/sub")
        os.rmdir(m.path / "d")
        assert os.listdir(m.path) == []
    assert _keys(raw, prefix) == set()


def test_an_unlinked_open_file_stays_readable(server: S3Server, prefix: str, tmp_path: Path, raw) -> None:
    with cloudfs_mount(server, prefix, tmp_path / "mnt") as m:
        (m.path / "f").write_bytes(b"keep me")
        with open(m.path / "f", "rb") as fh:
            os.unlink(m.path / "f")
            assert not (m.path / "f").exists()
            assert fh.read() == b"keep me"
    assert _keys(raw, prefix) == set()


@pytest.mark.parametrize(("options", "first_ls"), [((), 52), (("no_metadata",), 2)])
def test_requests_through_the_kernel(
    moto_s3: S3Server, prefix: str, tmp_path: Path, options: tuple[str, ...], first_ls: int
) -> None:
    """Counted at a proxy in front of moto: the first `ls -l` of 50 files, again, and a new small file.

    A listing carries no headers, so the first `ls -l` HEADs each object it has not
    seen (modes, owners, times and symlinks live in headers), except with
    no_metadata, where the listing is all there is. Repeating it costs nothing; a
    new small file is one PUT.
    """
    raw = moto_s3.client()
    for i in range(50):
        raw.put_object(Bucket=BUCKET, Key=f"{prefix}/d/f{i:02d}", Body=b"x" * i)
    with (
        FlakyProxy(moto_s3.url) as proxy,
        cloudfs_mount(S3Server("moto", proxy.url), prefix, tmp_path / "mnt", *options) as m,
    ):
        _count_requests(m.path / "d", proxy, first_ls)
    assert raw.get_object(Bucket=BUCKET, Key=f"{prefix}/d/new")["Body"].read() == b"fresh"


def _count_requests(d: Path, proxy: FlakyProxy, first_ls: int) -> None:
    """`ls -l` twice, then a new small file, with exact request counts."""
    before = proxy.seen
    sizes = {p.name: p.lstat().st_size for p in d.iterdir()}
    # The root, listed at mount, knows "d" is a directory: looking it up HEADs its
    # marker, and its listing (for nlink) serves the names.
    assert (len(sizes), sizes["f07"], proxy.seen - before) == (50, 7, first_ls)
    before = proxy.seen
    assert {p.name: p.lstat().st_size for p in d.iterdir()} == sizes
    assert proxy.seen - before == 0
    before = proxy.seen
    (d / "new").write_bytes(b"fresh")
    assert proxy.seen - before == 1


def test_ls_l_sends_its_heads_in_parallel_and_plain_ls_sends_none(
    moto_s3: S3Server, prefix: str, tmp_path: Path
) -> None:
    """A listing has no headers: `ls -l` HEADs each entry, several at once, each once; `ls` HEADs nothing."""
    raw = moto_s3.client()
    for i in range(40):
        raw.put_object(Bucket=BUCKET, Key=f"{prefix}/d/f{i:02d}", Body=b"x" * i)
    with FlakyProxy(moto_s3.url) as proxy, cloudfs_mount(S3Server("moto", proxy.url), prefix, tmp_path / "mnt") as m:
        d = m.path / "d"
        d.lstat()  # HEADs the marker and lists d (for its link count)
        proxy.delay = 0.05  # long enough that requests sent together are surely seen together
        before, proxy.max_in_flight = proxy.seen, 0
        names = sorted(os.listdir(d))
        assert (len(names), proxy.seen - before) == (40, 0)
        sizes = {name: (d / name).lstat().st_size for name in names}
        assert sizes == {f"f{i:02d}": i for i in range(40)}
        assert proxy.seen - before == 40
        assert 2 <= proxy.max_in_flight <= 9  # 8 threads ahead, and the lookup that sent them
