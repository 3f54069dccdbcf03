"""The workloads, each as a step through a mounted filesystem and as direct boto3 calls (the limit).

A step's `fs`/`s3` function is what is timed and counted; its `check` runs
afterwards, untimed and uncounted, and raises `WrongResult` when the data is wrong.
The boto3 side is sequential where the filesystem side is (one process, one file
after another) and uses boto3's parallel transfer manager for the large file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.peers.data import MIB, Data, sha256_file


class WrongResult(Exception):
    """A workload finished but the data or listing it left is not what was written."""


@dataclass
class Step:
    """One workload: filesystem action, boto3 action, an optional check of the result, and whether it writes data."""

    name: str
    group: str
    fs: Callable[[Path, Data], None]
    s3: Callable[[Any, str, Data], None]
    check: Callable[[Path, Data], None] | None = None
    writes: bool = False


def _run(*argv: str) -> None:
    """Run a coreutils command; its failure is a wrong result with its first error line (diff: output line)."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["?"])[0]
        raise WrongResult(f"`{' '.join(argv[:2])} …` exit {done.returncode}: {first}")


# large file


def fs_big_write(mnt: Path, data: Data) -> None:
    """Copy the source into the mount a MiB at a time; close uploads it."""
    with data.big.open("rb") as src, (mnt / "big").open("wb") as dst:
        while block := src.read(MIB):
            dst.write(block)


def fs_big_read(mnt: Path, data: Data) -> None:
    """Read the whole file sequentially a MiB at a time and compare its hash."""
    if sha256_file(mnt / "big") != data.big_sha256:
        raise WrongResult("sequential read: contents differ")


def fs_big_random(mnt: Path, data: Data) -> None:
    """pread small ranges at the random offsets and compare each."""
    size = data.sizes.read_size
    with data.big.open("rb") as src, (mnt / "big").open("rb") as f:
        for off in data.offsets:
            if os.pread(f.fileno(), size, off) != os.pread(src.fileno(), size, off):
                raise WrongResult(f"random read at {off}: contents differ")


def s3_big_write(client: Any, bucket: str, data: Data) -> None:
    """upload_file: boto3's parallel multipart upload (8 MiB parts, 10 threads)."""
    client.upload_file(str(data.big), bucket, "big")


def s3_big_read(client: Any, bucket: str, data: Data) -> None:
    """download_fileobj (parallel ranged GETs) into a hash."""
    sink = _HashSink()
    client.download_fileobj(bucket, "big", sink)
    if sink.digest() != data.big_sha256:
        raise WrongResult("download: contents differ")


def s3_big_random(client: Any, bucket: str, data: Data) -> None:
    """One ranged GET per offset."""
    size = data.sizes.read_size
    for off in data.offsets:
        client.get_object(Bucket=bucket, Key="big", Range=f"bytes={off}-{off + size - 1}")["Body"].read()


class _HashSink:
    """A seekable write-only file for download_fileobj: keeps blocks by offset, hashes them in order at the end."""

    def __init__(self) -> None:
        self.chunks: dict[int, bytes] = {}
        self.pos = 0

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos
        return pos

    def write(self, block: bytes) -> int:
        self.chunks[self.pos] = block
        self.pos += len(block)
        return len(block)

    def digest(self) -> str:
        """The hash of everything written, by offset."""
        h = hashlib.sha256()
        for off in sorted(self.chunks):
            h.update(self.chunks[off])
        return h.hexdigest()


# small files


def fs_small_create(mnt: Path, data: Data) -> None:
    """mkdir, then write every small file (open, write, close)."""
    (mnt / "small").mkdir()
    for i, body in enumerate(data.small):
        (mnt / "small" / data.small_name(i)).write_bytes(body)


def fs_small_ls(mnt: Path, data: Data) -> None:
    """`ls -l` of the directory; every name must be listed."""
    done = subprocess.run(["ls", "-l", str(mnt / "small")], capture_output=True, text=True, timeout=900, check=True)
    if len(done.stdout.splitlines()) != len(data.small) + 1:
        raise WrongResult(f"ls -l: {len(done.stdout.splitlines()) - 1} entries, expected {len(data.small)}")


def fs_small_stat(mnt: Path, data: Data) -> None:
    """stat every file by name; sizes must match."""
    for i, body in enumerate(data.small):
        if os.stat(mnt / "small" / data.small_name(i)).st_size != len(body):
            raise WrongResult(f"stat {data.small_name(i)}: wrong size")


def fs_small_read(mnt: Path, data: Data) -> None:
    """Read every file; contents must match."""
    for i, body in enumerate(data.small):
        if (mnt / "small" / data.small_name(i)).read_bytes() != body:
            raise WrongResult(f"read {data.small_name(i)}: contents differ")


def fs_small_delete(mnt: Path, data: Data) -> None:
    """unlink every file, then rmdir."""
    for i in range(len(data.small)):
        (mnt / "small" / data.small_name(i)).unlink()
    (mnt / "small").rmdir()


def check_gone(name: str) -> Callable[[Path, Data], None]:
    """A check that `name` no longer exists in the mount."""

    def check(mnt: Path, data: Data) -> None:
        if (mnt / name).exists():
            raise WrongResult(f"{name} still exists ({len(os.listdir(mnt / name))} entries)")

    return check


def s3_small_create(client: Any, bucket: str, data: Data) -> None:
    """One PUT per file."""
    for i, body in enumerate(data.small):
        client.put_object(Bucket=bucket, Key=f"small/{data.small_name(i)}", Body=body)


def _keys(client: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every object under `prefix`, with sizes (ListObjectsV2, 1000 a page)."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj for page in pages for obj in page.get("Contents", [])]


def s3_small_ls(client: Any, bucket: str, data: Data) -> None:
    """List the prefix with sizes."""
    if len(_keys(client, bucket, "small/")) != len(data.small):
        raise WrongResult("list: wrong count")


def s3_small_stat(client: Any, bucket: str, data: Data) -> None:
    """One HEAD per file."""
    for i in range(len(data.small)):
        client.head_object(Bucket=bucket, Key=f"small/{data.small_name(i)}")


def s3_small_read(client: Any, bucket: str, data: Data) -> None:
    """One GET per file."""
    for i, body in enumerate(data.small):
        if client.get_object(Bucket=bucket, Key=f"small/{data.small_name(i)}")["Body"].read() != body:
            raise WrongResult(f"get {data.small_name(i)}: contents differ")


def _delete_all(client: Any, bucket: str, keys: list[str]) -> None:
    """DeleteObjects, 1000 keys a request."""
    for start in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[start : start + 1000]]
        client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def s3_small_delete(client: Any, bucket: str, data: Data) -> None:
    """DeleteObjects of the known names (no listing needed)."""
    _delete_all(client, bucket, [f"small/{data.small_name(i)}" for i in range(len(data.small))])


# tree


def fs_tree_cp(mnt: Path, data: Data) -> None:
    """`cp -a` of the generated tree into the mount."""
    _run("cp", "-a", str(data.tree), str(mnt / "tree"))


def check_tree(name: str) -> Callable[[Path, Data], None]:
    """A check that `name` in the mount has the same files and contents as the source tree (`diff -r`)."""

    def check(mnt: Path, data: Data) -> None:
        _run("diff", "-r", str(data.tree), str(mnt / name))

    return check


def check_moved(mnt: Path, data: Data) -> None:
    """After the rename: the new name has the whole tree, the old one is gone."""
    check_tree("tree-moved")(mnt, data)
    check_gone("tree")(mnt, data)


def fs_tree_mv(mnt: Path, data: Data) -> None:
    """`mv` of the tree's top directory."""
    _run("mv", str(mnt / "tree"), str(mnt / "tree-moved"))


def fs_tree_rm(mnt: Path, data: Data) -> None:
    """`rm -r` of the moved tree."""
    _run("rm", "-r", str(mnt / "tree-moved"))


def _tree_files(data: Data) -> list[Path]:
    """The source tree's files, relative to its top."""
    return sorted(p.relative_to(data.tree) for p in data.tree.rglob("*") if p.is_file())


def s3_tree_cp(client: Any, bucket: str, data: Data) -> None:
    """One PUT per file (no directory markers)."""
    for rel in _tree_files(data):
        client.put_object(Bucket=bucket, Key=f"tree/{rel}", Body=(data.tree / rel).read_bytes())


def s3_tree_mv(client: Any, bucket: str, data: Data) -> None:
    """List, one CopyObject per object, then DeleteObjects."""
    keys = [obj["Key"] for obj in _keys(client, bucket, "tree/")]
    for key in keys:
        new = "tree-moved/" + key.removeprefix("tree/")
        client.copy_object(Bucket=bucket, Key=new, CopySource={"Bucket": bucket, "Key": key})
    _delete_all(client, bucket, keys)


def s3_tree_rm(client: Any, bucket: str, data: Data) -> None:
    """List, then DeleteObjects."""
    _delete_all(client, bucket, [obj["Key"] for obj in _keys(client, bucket, "tree-moved/")])


STEPS = [
    Step("write", "large file", fs_big_write, s3_big_write, writes=True),
    Step("sequential read", "large file", fs_big_read, s3_big_read),
    Step("random reads", "large file", fs_big_random, s3_big_random),
    Step("create", "small files", fs_small_create, s3_small_create, writes=True),
    Step("ls -l", "small files", fs_small_ls, s3_small_ls),
    Step("stat each", "small files", fs_small_stat, s3_small_stat),
    Step("read each", "small files", fs_small_read, s3_small_read),
    Step("delete all", "small files", fs_small_delete, s3_small_delete, check_gone("small")),
    Step("cp -a in", "tree", fs_tree_cp, s3_tree_cp, check_tree("tree"), writes=True),
    Step("mv top dir", "tree", fs_tree_mv, s3_tree_mv, check_moved),
    Step("rm -r", "tree", fs_tree_rm, s3_tree_rm, check_gone("tree-moved")),
]
