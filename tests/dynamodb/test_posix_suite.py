"""The POSIX conformance suite on the DynamoDB driver, mounted as CI does: only the documented exclusions fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuse.mounts import Mount
from tests.fuse.test_posix_suite import run_suite
from tests.servers import DynamoServer, fresh_table

from .mounts import REGION

# Every request goes to moto one at a time: a whole run took 8 to 13 min on 2 cores (S3 on moto: about 5).
SUITE_SECONDS = 1800


@pytest.mark.timeout(SUITE_SECONDS + 60)
def test_suite_on_dynamodb(
    moto_dynamodb: DynamoServer, tmp_path: Path, public_dir: Path, posix_summaries: list[str]
) -> None:
    """posix-tests/expectations/aws.txt names every case that may fail, each with its reason."""
    options = ("allow_other", "default_permissions", f"endpoint={moto_dynamodb.url}")
    mount = Mount(f"aws:{REGION}/{fresh_table('posix')}", public_dir / "mnt", tmp_path / "cloudfs.log", options)
    mount.start()
    try:
        summary, _ = run_suite(mount.path, "aws", timeout=SUITE_SECONDS)
    finally:
        mount.stop()
    posix_summaries.append(summary)
    assert mount.problems() == []
