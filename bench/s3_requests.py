"""Requests and wall time per operation: cloudfs (S3 driver) vs s3fs-fuse vs raw boto3, on a local moto.

Every client talks to moto through a counting proxy on 127.0.0.1, so requests
are counted the same way for all of them (s3fs cannot be hooked). Run as root:

    python -m bench.s3_requests [--files N]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.fuse.mounts import Mount
from tests.s3.mounts import s3fs_mount
from tests.servers import BUCKET, FlakyProxy, S3Server, _serving

log = logging.getLogger(__name__)

Workload = list[tuple[str, Callable[[], object]]]


def _fs_workload(root: Path, files: int) -> Workload:
    """The phases run on a mounted tree: create small files, ls -l, read them, remove them."""
    names = [root / f"f{i:05d}" for i in range(files)]
    return [
        ("create small files", lambda: [p.write_bytes(b"x" * 100) for p in names]),
        ("ls -l", lambda: [p.lstat() for p in root.iterdir()]),
        ("read all", lambda: [p.read_bytes() for p in names]),
        ("rm all", lambda: [p.unlink() for p in names]),
    ]


def _raw_workload(client: Any, prefix: str, files: int) -> Workload:
    """The same phases with boto3 directly: the floor any filesystem can reach."""
    keys = [f"{prefix}/f{i:05d}" for i in range(files)]
    return [
        ("create small files", lambda: [client.put_object(Bucket=BUCKET, Key=k, Body=b"x" * 100) for k in keys]),
        ("ls -l", lambda: client.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/")),
        ("read all", lambda: [client.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys]),
        ("rm all", lambda: client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})),
    ]


def _measure(proxy: FlakyProxy, workload: Workload) -> dict[str, tuple[int, float]]:
    """Requests and seconds per phase."""
    out = {}
    for phase, run in workload:
        before, start = proxy.seen, time.perf_counter()
        run()
        out[phase] = (proxy.seen - before, time.perf_counter() - start)
    return out


@contextmanager
def _cloudfs(server: S3Server, tmp: Path) -> Iterator[Path]:
    """cloudfs mounted on the prefix `cloudfs`."""
    mount = Mount(f"s3:{BUCKET}/cloudfs", tmp / "cloudfs", tmp / "cloudfs.log", (f"endpoint={server.url}",))
    mount.start()
    try:
        yield mount.path
    finally:
        mount.stop()


def main() -> int:
    """Run the workload on each client and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True, check=True).stdout.strip())
    results: dict[str, dict[str, tuple[int, float]]] = {}
    with _serving("moto") as moto, FlakyProxy(moto.url) as proxy:
        via = S3Server("moto", proxy.url)
        results["boto3 (floor)"] = _measure(proxy, _raw_workload(via.client(), "raw", args.files))
        with _cloudfs(via, tmp) as root:
            results["cloudfs"] = _measure(proxy, _fs_workload(root, args.files))
        with s3fs_mount(via, "s3fs", tmp / "s3fs") as root:
            results["s3fs-fuse"] = _measure(proxy, _fs_workload(root, args.files))
    phases = list(next(iter(results.values())))
    print(f"{args.files} files of 100 bytes; requests (seconds)")
    print(f"{'phase':<20}" + "".join(f"{name:>22}" for name in results))
    for phase in phases:
        cells = "".join(f"{results[n][phase][0]:>12} ({results[n][phase][1]:6.2f}s)" for n in results)
        print(f"{phase:<20}{cells}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    sys.exit(main())
