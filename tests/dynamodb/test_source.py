"""Mount sources `aws:REGION/TABLE` and `dynamodb://REGION/TABLE`: what parses, and one clear line for the rest.

Parsing does no I/O: these tests need no server, and a bad source is exit 2
(bad input), never exit 1 (store refused), whatever the network is like.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cloudfs.drivers.dynamodb import DYNAMODB_SPEC, SPEC
from cloudfs.errors import SourceError
from cloudfs.sources import parse_source
from tests.fuse.mounts import cloudfs

LONGEST = "t" * 249  # + "Blocks" is 255, the longest table name DynamoDB allows


@pytest.mark.parametrize(
    ("location", "region", "table"),
    [
        ("us-east-1/Demo", "us-east-1", "Demo"),
        ("eu-west-1/my_table.v2-x", "eu-west-1", "my_table.v2-x"),
        ("ap-southeast-2/abc", "ap-southeast-2", "abc"),
        ("us-gov-west-1/A.B_C-9", "us-gov-west-1", "A.B_C-9"),
        ("eu-central-1/" + LONGEST, "eu-central-1", LONGEST),
    ],
)
def test_good_sources_give_region_and_table(location: str, region: str, table: str) -> None:
    """REGION/TABLE with a real-looking region and a valid table name parses into both."""
    settings = SPEC.parse(location)
    assert (settings.region, settings.table) == (region, table)


def test_both_schemes_name_the_same_tables() -> None:
    """`aws:R/T` and `dynamodb://R/T` are the same source, through the installed entry points."""
    aws = parse_source("aws:us-east-1/Demo")
    dynamodb = parse_source("dynamodb://us-east-1/Demo")
    assert (aws.spec.scheme, dynamodb.spec.scheme) == ("aws", "dynamodb")
    assert aws.spec is SPEC and dynamodb.spec is DYNAMODB_SPEC
    assert (aws.settings.region, aws.settings.table) == ("us-east-1", "Demo")  # type: ignore[attr-defined]
    assert (dynamodb.settings.region, dynamodb.settings.table) == ("us-east-1", "Demo")  # type: ignore[attr-defined]
    assert {"endpoint", "profile"} <= SPEC.options and {"endpoint", "profile"} <= DYNAMODB_SPEC.options


# (location after "aws:", a word the one-line message must contain)
BAD = [
    ("", "region"),
    ("us-east-1", "table"),
    ("us-east-1/", "table"),
    ("/Demo", "region"),
    ("local/Demo", "region"),
    ("US-EAST-1/Demo", "region"),
    ("us-east/Demo", "region"),
    ("useast1/Demo", "region"),
    ("us-east-1a/Demo", "region"),
    ("u-east-1/Demo", "region"),
    ("us-east-1/ab", "table"),
    ("us-east-1/bad name", "table"),
    ("us-east-1/bad/name", "table"),
    ("us-east-1/t\u00e4ble", "table"),
    ("us-east-1/a:b", "table"),
    ("us-east-1/" + "t" * 250, "table"),  # valid alone, but its blocks table's name would be 256 long
    ("us-east-1/" + "t" * 256, "table"),
]


@pytest.mark.parametrize(("location", "word"), BAD)
def test_bad_sources_are_source_errors_naming_the_part(location: str, word: str) -> None:
    """Missing or malformed region or table: SourceError, one line naming which part is wrong."""
    with pytest.raises(SourceError) as info:
        SPEC.parse(location)
    message = str(info.value)
    assert "\n" not in message
    assert word in message.lower()


@pytest.mark.parametrize("location", ["//us-east-1", "///Demo", "//local/Demo", "//us-east-1/ab"])
def test_bad_dynamodb_urls_are_source_errors(location: str) -> None:
    """The `dynamodb://` form applies the same rules."""
    with pytest.raises(SourceError):
        DYNAMODB_SPEC.parse(location)


def _refused(source: str, tmp_path: Path) -> str:
    """Run `cloudfs mount SOURCE` and require exit 2, one line, nothing mounted; returns the line."""
    mnt = tmp_path / "mnt"
    mnt.mkdir(exist_ok=True)
    started = time.monotonic()
    # No credentials and an endpoint nothing listens on: any I/O would turn into exit 1 or a wait.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_EC2_METADATA_DISABLED="true")
    done = cloudfs("mount", source, str(mnt), env=env)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert not os.path.ismount(mnt)
    assert time.monotonic() - started < 20
    return lines[0]


@pytest.mark.parametrize(("location", "word"), BAD)
def test_cli_refuses_bad_aws_sources_with_exit_2_and_one_line(location: str, word: str, tmp_path: Path) -> None:
    """`cloudfs mount aws:BAD DIR`: exit 2, one line naming the problem, nothing mounted."""
    line = _refused(f"aws:{location}", tmp_path)
    assert line.startswith("cloudfs: ")
    assert word in line.lower()


@pytest.mark.parametrize("location", ["//us-east-1", "//local/Demo", "//us-east-1/x y"])
def test_cli_refuses_bad_dynamodb_sources_with_exit_2_and_one_line(location: str, tmp_path: Path) -> None:
    """`cloudfs mount dynamodb://BAD DIR`: the same."""
    assert _refused(f"dynamodb:{location}", tmp_path).startswith("cloudfs: ")


@pytest.mark.parametrize("lease", ["0", "abc", "4000"])
def test_a_bad_lock_lease_is_exit_2_and_one_line_before_any_request(lease: str, tmp_path: Path) -> None:
    """`-o lock_lease=BAD`: refused before a request is sent (the endpoint is unreachable on purpose)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_EC2_METADATA_DISABLED="true")
    done = cloudfs("mount", "aws:us-east-1/Leases", str(mnt), "-o", f"lock_lease={lease}", env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"cloudfs: bad value for mount option lock_lease: {lease!r} (seconds, from 1 to 3600)"
    ]
