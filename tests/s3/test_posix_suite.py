"""The POSIX conformance suite on the S3 driver, mounted on each server: only the documented exclusions fail."""

from __future__ import annotations

from pathlib import Path

from tests.fuse.mounts import Mount
from tests.fuse.test_posix_suite import run_suite, suite_timeout
from tests.servers import BUCKET, S3Server, fresh_prefix


@suite_timeout
def test_suite_on_s3(server: S3Server, tmp_path: Path, public_dir: Path, posix_summaries: list[str]) -> None:
    """Lists posix-tests/expectations/s3-<server>.txt name every case that may fail, with its reason."""
    options = ("allow_other", "default_permissions", f"endpoint={server.url}")
    mount = Mount(f"s3:{BUCKET}/{fresh_prefix('posix')}", public_dir / "mnt", tmp_path / "cloudfs.log", options)
    mount.start()
    try:
        summary, _ = run_suite(mount.path, f"s3-{server.kind}")
    finally:
        mount.stop()
    posix_summaries.append(summary)
    assert mount.problems() == []
