"""Opening a DynamoDB filesystem: tables created or adopted, foreign tables refused untouched, one-line failures."""

from __future__ import annotations

import json
import os
import stat
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloudfs.driver import ROOT_INO, DriverSettings
from cloudfs.drivers.dynamodb import SPEC
from cloudfs.drivers.dynamodb.driver import DynamoDriver
from cloudfs.errors import StoreError
from tests.drivers.staging import Staged
from tests.fuse.mounts import cloudfs
from tests.servers import ACCESS_KEY, SECRET_KEY, DynamoServer, dynamodb_options, free_port, fresh_table, moto_server

from .conftest import DriverFactory
from .mounts import REGION
from .tables import BLOCK_KEYS, BLOCKS, MAIN_KEYS, create_table, key_schema, marker, scan, table_names


def _open(server: DynamoServer, table: str, **options: str) -> DynamoDriver:
    """SPEC.open on `table` through `server`."""
    driver = SPEC.open(SPEC.parse(f"{REGION}/{table}"), dynamodb_options(server, **options))
    assert isinstance(driver, DynamoDriver)
    return driver


def _refusal(server: DynamoServer, table: str, **options: str) -> str:
    """Open `table`, which must fail with a one-line StoreError; returns its line."""
    with pytest.raises(StoreError) as info:
        _open(server, table, **options).close()
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_first_open_creates_both_tables_with_their_keys_and_the_marker(
    make_driver: DriverFactory, raw: Any, table: str
) -> None:
    """Missing tables are created on demand with cloudfs's key schemas; the marker records format and block size."""
    assert table not in table_names(raw)
    driver, _ = make_driver()
    assert key_schema(raw, table) == MAIN_KEYS
    assert key_schema(raw, table + BLOCKS) == BLOCK_KEYS
    for name in (table, table + BLOCKS):
        described = raw.describe_table(TableName=name)["Table"]
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    found = marker(raw, table)
    assert found is not None
    assert found["format"] == {"S": "cloudfs-dynamodb"}
    assert int(found["version"]["N"]) >= 1
    assert 4096 <= int(found["block_size"]["N"]) <= 350 * 1024  # a block item must fit DynamoDB's 400 KB
    root = driver.getattr(ROOT_INO)
    assert stat.S_ISDIR(root.mode) and root.nlink == 2
    assert driver.capabilities.persistent_inodes


def test_reopen_finds_the_same_filesystem(make_driver: DriverFactory, raw: Any, table: str) -> None:
    """A second open adopts the tables as they are: same marker, same inode numbers, same bytes."""
    first, _ = make_driver()
    f = first.mknod(ROOT_INO, b"kept", stat.S_IFREG | 0o640, 0, 1000, 1000)
    first.write(f.ino, Staged().write(0, b"across opens"), f.mtime_ns)
    before = marker(raw, table)
    second, _ = make_driver()
    found = second.lookup(ROOT_INO, b"kept")
    assert (found.ino, found.mode, found.size) == (f.ino, stat.S_IFREG | 0o640, 12)
    assert second.read(found.ino, 0, 100) == b"across opens"
    assert marker(raw, table) == before


def test_an_empty_table_with_the_right_keys_is_adopted(server: DynamoServer, raw: Any, table: str) -> None:
    """Tables made beforehand (say by Terraform) with cloudfs's keys and no items get the marker and a root."""
    create_table(raw, table, MAIN_KEYS)
    create_table(raw, table + BLOCKS, BLOCK_KEYS)
    driver = _open(server, table)
    try:
        assert stat.S_ISDIR(driver.getattr(ROOT_INO).mode)
    finally:
        driver.close()
    found = marker(raw, table)
    assert found is not None and found["format"] == {"S": "cloudfs-dynamodb"}


@pytest.mark.parametrize(
    ("main", "blocks"),
    [
        ({"pk": ("HASH", "S")}, None),
        ({"id": ("HASH", "N")}, None),
        ({"id": ("HASH", "S"), "name": ("RANGE", "S")}, None),
        ({"name": ("HASH", "B"), "id": ("RANGE", "N")}, None),
        (MAIN_KEYS, {"blockId": ("HASH", "S"), "blockNum": ("RANGE", "N")}),
    ],
    ids=["other-key", "hash-only", "string-types", "swapped", "blocks-table-wrong"],
)
def test_another_key_schema_is_refused_and_nothing_is_written(
    server: DynamoServer,
    raw: Any,
    table: str,
    main: dict[str, tuple[str, str]],
    blocks: dict[str, tuple[str, str]] | None,
) -> None:
    """A table with other keys: StoreError saying so; the table stays empty and no table is created."""
    create_table(raw, table, main)
    if blocks is not None:
        create_table(raw, table + BLOCKS, blocks)
    before = table_names(raw)
    message = _refusal(server, table)
    assert "key schema" in message
    assert (table + BLOCKS if blocks else table) in message
    assert scan(raw, table) == []
    assert table_names(raw) == before
    if blocks is not None:
        assert scan(raw, table + BLOCKS) == []


def test_a_foreign_table_is_refused_and_left_untouched(server: DynamoServer, raw: Any, table: str) -> None:
    """Items but no cloudfs marker: "not a cloudfs table"; every item is as it was, and no blocks table appears."""
    create_table(raw, table, MAIN_KEYS)
    theirs = [
        {"id": {"N": "1"}, "name": {"B": b"\x00"}, "owner": {"S": "someone else"}},
        {"id": {"N": "7"}, "name": {"B": b"x"}, "payload": {"B": b"\x01\x02"}},
    ]
    for item in theirs:
        raw.put_item(TableName=table, Item=item)
    message = _refusal(server, table)
    assert "not a cloudfs table" in message and table in message
    assert sorted(scan(raw, table), key=lambda i: int(i["id"]["N"])) == theirs
    assert table + BLOCKS not in table_names(raw)


def test_a_foreign_blocks_table_is_refused(server: DynamoServer, raw: Any, table: str) -> None:
    """A right-shaped but non-empty blocks table next to a table without marker is not adopted either."""
    create_table(raw, table + BLOCKS, BLOCK_KEYS)
    raw.put_item(TableName=table + BLOCKS, Item={"blockId": {"N": "5"}, "blockNum": {"N": "0"}, "data": {"B": b"x"}})
    message = _refusal(server, table)
    assert "not a cloudfs table" in message
    assert marker(raw, table) is None
    assert len(scan(raw, table + BLOCKS)) == 1


def test_the_endpoint_may_come_from_the_environment(
    server: DynamoServer, raw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL, stand in for `-o endpoint`."""
    # Should the endpoint be missed, requests must not leave the machine: AWS is reached through a dead proxy.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for variable in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"):
        table = fresh_table("env")
        monkeypatch.setenv(variable, server.url)
        driver = SPEC.open(SPEC.parse(f"{REGION}/{table}"), DriverSettings())
        driver.close()
        monkeypatch.delenv(variable)
        assert marker(raw, table) is not None, variable


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS keys in the environment, no config or credentials file, no instance metadata."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def test_a_named_profile_supplies_the_keys(server: DynamoServer, raw: Any, no_keys: Path, table: str) -> None:
    """`-o profile=NAME` reads that profile's keys from the shared credentials file."""
    credentials = no_keys / "credentials"
    credentials.write_text("[cloudfs-test]\naws_access_key_id = from-profile\naws_secret_access_key = secret\n")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)  # restored by monkeypatch
    _open(server, table, profile="cloudfs-test").close()
    assert marker(raw, table) is not None


def test_a_missing_profile_is_one_line_naming_it(server: DynamoServer, no_keys: Path, table: str) -> None:
    """A profile that no file defines: StoreError naming it."""
    assert "no-such-profile" in _refusal(server, table, profile="no-such-profile")


def _mount_fails(source: str, mnt: Path, *options: str, env: dict[str, str] | None = None) -> tuple[str, float]:
    """`cloudfs mount` that must exit 1 with one line on stderr and mount nothing; returns (line, seconds)."""
    mnt.mkdir(exist_ok=True)
    started = time.monotonic()
    done = cloudfs("mount", source, str(mnt), "-o", ",".join(options), env=env, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert not os.path.ismount(mnt)
    return lines[0], elapsed


def test_cli_without_credentials_is_exit_1_and_one_line(server: DynamoServer, no_keys: Path, raw: Any) -> None:
    """No keys anywhere: `cloudfs mount` says so in one line (exit 1) and creates no table."""
    table = fresh_table("nokeys")
    line, _ = _mount_fails(f"aws:{REGION}/{table}", no_keys / "mnt", f"endpoint={server.url}", env=dict(os.environ))
    assert "credentials" in line.lower()
    assert table not in table_names(raw)


def test_cli_with_an_unreachable_endpoint_is_exit_1_one_line_and_quick(tmp_path: Path) -> None:
    """Nothing listens on the endpoint: exit 1 within a minute, one line naming the endpoint."""
    port = free_port()
    line, elapsed = _mount_fails(
        f"aws:{REGION}/{fresh_table('down')}", tmp_path / "mnt", f"endpoint=http://127.0.0.1:{port}"
    )
    assert f"127.0.0.1:{port}" in line
    assert elapsed < 60


@pytest.fixture(scope="module")
def iam_server() -> Iterator[tuple[DynamoServer, dict[str, str]]]:
    """A moto server of its own that checks IAM, and the keys of a user denied dynamodb:CreateTable.

    moto checks signatures and policies once told to (`/moto-api/reset-auth`); that
    is server-wide, hence a server apart from the session's.
    """
    with moto_server() as started:
        server = DynamoServer(started.url)
        iam = boto3.client(
            "iam",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        iam.create_user(UserName="no-create")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "dynamodb:CreateTable", "Resource": "*"},
            ],
        }
        iam.put_user_policy(UserName="no-create", PolicyName="no-create", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="no-create")["AccessKey"]
        request = urllib.request.Request(
            server.url + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        yield server, {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def test_a_missing_permission_names_the_iam_action(
    iam_server: tuple[DynamoServer, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user who may not create tables opening a new table: one line naming dynamodb:CreateTable."""
    server, keys = iam_server
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    table = fresh_table("denied")
    message = _refusal(server, table)
    assert "dynamodb:CreateTable" in message
    assert keys["AWS_SECRET_ACCESS_KEY"] not in message
