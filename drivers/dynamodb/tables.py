"""The two tables of a DynamoDB filesystem: created when missing, checked when found (layer: dynamodb driver).

A table is ours when its key schema is ours and it holds our format marker;
an empty table with our key schema is adopted. Anything else is refused
before a single item is written, with one line naming the reason.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from botocore.exceptions import ClientError

from cloudfs.driver import ROOT_INO
from cloudfs.errors import StoreError

from . import items
from .client import error_code
from .source import TableLocation

log = logging.getLogger(__name__)

FORMAT = "cloudfs-dynamodb"
FORMAT_VERSION = 1
FIRST_INO = ROOT_INO + 1
# Chosen by the measurement in docs/dynamodb.md: small edits cost write units per KB of block,
# large files requests per block.
BLOCK_SIZE = 64 * 1024
# Files up to this size keep their bytes in the inode item and cost no block item.
INLINE_MAX = 4096
ACTIVE_TIMEOUT = 300

META_SCHEMA = (("id", "HASH", "N"), ("name", "RANGE", "B"))
BLOCKS_SCHEMA = (("blockId", "HASH", "N"), ("blockNum", "RANGE", "N"))

# The IAM action behind each request made while opening, for "missing permission" messages.
ACTIONS = {
    "describe_table": "dynamodb:DescribeTable",
    "create_table": "dynamodb:CreateTable",
    "get_item": "dynamodb:GetItem",
    "scan": "dynamodb:Scan",
    "transact_write_items": "dynamodb:PutItem",
}


def _say(message: str) -> None:
    """Progress of a long first mount: logged, and shown on a terminal."""
    log.info("%s", message)
    if sys.stderr.isatty():
        print(f"cloudfs: {message}", file=sys.stderr, flush=True)


class Tables:
    """Opens (creating if need be) the metadata and blocks tables of one location."""

    def __init__(self, client: Any, location: TableLocation) -> None:
        """Requests go through `client`; names come from `location`."""
        self.client = client
        self.location = location

    def _request(self, method: str, table: str, **args: Any) -> Any:
        """One request; denial becomes a StoreError naming the missing IAM permission."""
        try:
            return getattr(self.client, method)(**args)
        except ClientError as exc:
            code = error_code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("AccessDeniedException", "UnrecognizedClientException", "AccessDenied") or status == 403:
                action = ACTIONS.get(method, method)
                raise StoreError(
                    f"missing permission {action} on DynamoDB table {table!r}: check credentials and policy"
                ) from None
            raise

    def prepare(self, read_only: bool, uid: int, gid: int) -> dict[str, Any]:
        """Make both tables usable; returns the format marker's attributes (block size among them)."""
        meta, blocks = self.location.table, self.location.blocks_table
        created = self._ensure(meta, META_SCHEMA, read_only)
        marker = self._marker()
        if marker is None and not created and self._has_items(meta):
            # Another host may have formatted the table since we looked: its marker comes in the same transaction.
            marker = self._marker()
            if marker is None:
                raise StoreError(f"DynamoDB table {meta!r} is not a cloudfs table (no format marker, and not empty)")
        self._ensure(blocks, BLOCKS_SCHEMA, read_only)
        if marker is None:
            if read_only:
                raise StoreError(
                    f"DynamoDB table {meta!r} holds no cloudfs filesystem; a read-only mount cannot create one"
                )
            if self._has_items(blocks):
                raise StoreError(
                    f"DynamoDB table {blocks!r} is not a cloudfs table (not empty, and {meta!r} has no marker)"
                )
            self._format(uid, gid)
            marker = self._marker()
            assert marker is not None
        version = int(marker.get("version", {}).get("N", "0"))
        if marker.get("format", {}).get("S") != FORMAT:
            raise StoreError(f"DynamoDB table {meta!r} is not a cloudfs table (foreign format marker)")
        if version > FORMAT_VERSION:
            raise StoreError(
                f"DynamoDB table {meta!r} has cloudfs format version {version}; this cloudfs "
                f"reads up to {FORMAT_VERSION}: upgrade cloudfs"
            )
        return marker

    def _ensure(self, table: str, schema: tuple[tuple[str, str, str], ...], read_only: bool) -> bool:
        """Check `table`'s key schema, creating the table when missing; True if it was created."""
        try:
            found = self._request("describe_table", table, TableName=table)["Table"]
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            if read_only:
                raise StoreError(
                    f"DynamoDB table {table!r} does not exist; a read-only mount cannot create it"
                ) from None
            self._create(table, schema)
            return True
        types = {a["AttributeName"]: a["AttributeType"] for a in found.get("AttributeDefinitions", [])}
        have = tuple((k["AttributeName"], k["KeyType"], types.get(k["AttributeName"], "?")) for k in found["KeySchema"])
        if have != schema:
            want = ", ".join(f"{name} {kind} ({t})" for name, kind, t in schema)
            raise StoreError(f"DynamoDB table {table!r} has another key schema than cloudfs's ({want})")
        if found.get("TableStatus") != "ACTIVE":
            self._wait_active(table)
        return False

    def _create(self, table: str, schema: tuple[tuple[str, str, str], ...]) -> None:
        """Create an on-demand table and wait until it is ACTIVE."""
        _say(f"creating DynamoDB table {table!r} (on-demand billing)")
        try:
            self._request(
                "create_table",
                table,
                TableName=table,
                KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind, _ in schema],
                AttributeDefinitions=[{"AttributeName": name, "AttributeType": t} for name, _, t in schema],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceInUseException":  # another host creates it right now
                raise
        self._wait_active(table)

    def _wait_active(self, table: str) -> None:
        """Poll until `table` is ACTIVE, saying so while it is not."""
        deadline = time.monotonic() + ACTIVE_TIMEOUT
        said = False
        while True:
            status = self._request("describe_table", table, TableName=table)["Table"].get("TableStatus")
            if status == "ACTIVE":
                return
            if not said:
                _say(f"waiting for DynamoDB table {table!r} to become ACTIVE (now {status})")
                said = True
            if time.monotonic() > deadline:
                raise StoreError(f"DynamoDB table {table!r} did not become ACTIVE within {ACTIVE_TIMEOUT} s")
            time.sleep(1)

    def _marker(self) -> dict[str, Any] | None:
        """The format marker item, read strongly consistent."""
        table = self.location.table
        key = items.key(items.META_ID, items.FORMAT_NAME)
        return self._request("get_item", table, TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _has_items(self, table: str) -> bool:
        """True when `table` holds any item."""
        return bool(self._request("scan", table, TableName=table, Limit=1).get("Items"))

    def _format(self, uid: int, gid: int) -> None:
        """Write marker, counter and root directory in one transaction; a host that races us wins harmlessly."""
        table = self.location.table
        now = str(time.time_ns())
        root = {
            **items.key(ROOT_INO, items.INODE_NAME),
            **{f: {"N": now} for f in ("atime_ns", "mtime_ns", "ctime_ns")},
            "mode": items.num(0o040755),
            "uid": items.num(uid),
            "gid": items.num(gid),
            "nlink": items.num(2),
            "size": items.num(0),
            "rdev": items.num(0),
            "version": items.num(1),
            "parent": items.num(ROOT_INO),
        }
        marker = {
            **items.key(items.META_ID, items.FORMAT_NAME),
            "format": {"S": FORMAT},
            "version": items.num(FORMAT_VERSION),
            "block_size": items.num(BLOCK_SIZE),
            "inline_max": items.num(INLINE_MAX),
            "created_ns": {"N": now},
        }
        counter = {**items.key(items.META_ID, items.COUNTER_NAME), "next": items.num(FIRST_INO)}
        puts = [
            {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(id)"}}
            for item in (marker, counter, root)
        ]
        try:
            self._request("transact_write_items", table, TransactItems=puts)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            log.info("another host formatted %r first", table)
            return
        _say(f"created a cloudfs filesystem in DynamoDB table {table!r}")
