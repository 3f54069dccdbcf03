"""The DynamoDB requests the driver makes, each retried on transient faults (layer: dynamodb driver internals).

Every method is one request (or a paginated or batched series of them)
under the shared retry policy. A failed condition becomes `Conflict`, which
the store answers by re-reading; anything else that outlasts the retries is
`FsError(EIO)` with the reason logged once.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
)

from cloudfs.aws import NETWORK_ERRORS
from cloudfs.errors import FsError
from cloudfs.retry import RetryPolicy

from ..inodestore.txn import Conflict
from .items import Item

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
# Reasons a transaction was cancelled that a plain resend (same token) may cure.
TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "None"})
BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
TRANSACTION_MAX = 100


def error_code(exc: ClientError) -> str:
    """The DynamoDB error code of a failed request."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(exc: ClientError) -> list[str]:
    """The per-item reason codes of a cancelled transaction."""
    return [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])]


def is_transient(exc: BaseException) -> bool:
    """DynamoDB's transient faults: throttling, 5xx, resets, timeouts, transactions colliding in flight."""
    if isinstance(exc, NETWORK_ERRORS):
        return True
    if not isinstance(exc, ClientError):
        return False
    code = error_code(exc)
    if code == "TransactionCanceledException":
        reasons = cancellation_reasons(exc)
        return bool(reasons) and all(r in TRANSIENT_REASONS for r in reasons) and any(r != "None" for r in reasons)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in TRANSIENT_CODES or status >= 500


def make_client(region: str, endpoint: str | None, profile: str | None) -> Any:
    """A DynamoDB client from the standard AWS chain; botocore's own retries off (ours apply)."""
    session = boto3.Session(profile_name=profile or None)
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL") or None
    config = Config(
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=32,
    )
    return session.client("dynamodb", region_name=region, endpoint_url=endpoint, config=config)


class Dynamo:
    """Requests on the metadata table and the blocks table, retried by `policy`."""

    def __init__(self, client: Any, table: str, blocks_table: str, policy: RetryPolicy | None = None) -> None:
        """Send through `client`; `policy` defaults to the DynamoDB transient predicate."""
        self.client = client
        self.table = table
        self.blocks_table = blocks_table
        self.policy = policy or RetryPolicy(is_transient)

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """One request under the retry policy; a failed condition is Conflict, lasting failures EIO."""
        try:
            return self.policy.call(what, fn)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                raise Conflict(what) from None
            if code == "TransactionCanceledException":
                reasons = cancellation_reasons(exc)
                if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                    raise Conflict(f"{what}: {reasons}") from None
            if code == "ValidationException" and "size" in str(exc).lower():
                raise FsError(errno.ENOSPC, f"{what}: {exc}") from None
            log.error("DynamoDB %s failed: %s", what, exc)
            raise FsError(errno.EIO, f"DynamoDB {what} failed: {code}") from None
        except (FsError, Conflict):
            raise
        except Exception as exc:
            log.error("DynamoDB %s failed: %r", what, exc)
            raise FsError(errno.EIO, f"DynamoDB {what} failed: {exc}") from None

    # Metadata reads.

    def get(self, key: Item) -> Item | None:
        """One item of the metadata table, read strongly consistent; None if absent."""
        r = self.call("GetItem", lambda: self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True))
        return r.get("Item")

    def query(self, id_: int, after: bytes, limit: int | None = None) -> Iterator[Item]:
        """Items of partition `id_` whose name is at least `after`, in name order, strongly consistent."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "id = :id AND #n >= :after",
            "ExpressionAttributeNames": {"#n": "name"},
            "ExpressionAttributeValues": {":id": {"N": str(id_)}, ":after": {"B": after}},
            "ConsistentRead": True,
        }
        if limit is not None:
            request["Limit"] = limit
        while True:
            page = self.call("Query", lambda: self.client.query(**request))
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if last is None or limit is not None:
                return
            request["ExclusiveStartKey"] = last

    def batch_get(self, keys: list[Item], pool: Executor | None = None) -> list[Item]:
        """Items of the metadata table by key, 100 a request (in parallel on `pool`), strongly consistent.

        Absent keys are skipped.
        """
        chunks = [keys[start : start + BATCH_GET_MAX] for start in range(0, len(keys), BATCH_GET_MAX)]
        runs = (
            pool.map(self._batch_get, chunks) if pool is not None and len(chunks) > 1 else map(self._batch_get, chunks)
        )
        return [item for found in runs for item in found]

    def _batch_get(self, keys: list[Item]) -> list[Item]:
        """One BatchGetItem of at most 100 keys, resending what DynamoDB left unprocessed."""
        found: list[Item] = []
        pending = {self.table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(20):
            r = self.call("BatchGetItem", lambda p=pending: self.client.batch_get_item(RequestItems=p))
            found.extend(r.get("Responses", {}).get(self.table, []))
            pending = r.get("UnprocessedKeys") or {}
            if not pending:
                return found
            _backoff(attempt)
        raise FsError(errno.EIO, "BatchGetItem left keys unprocessed")

    # Metadata writes.

    def put(self, item: Item, condition: str, values: dict[str, Any], names: dict[str, str] | None = None) -> None:
        """One conditional PutItem; Conflict when the condition fails."""
        request: dict[str, Any] = {"TableName": self.table, "Item": item, "ConditionExpression": condition}
        if values:
            request["ExpressionAttributeValues"] = values
        if names:
            request["ExpressionAttributeNames"] = names
        self.call("PutItem", lambda: self.client.put_item(**request))

    def update(self, request: dict[str, Any], returns: str = "NONE") -> Item:
        """One UpdateItem on the metadata table; returns the attributes asked for."""
        full = {"TableName": self.table, "ReturnValues": returns, **request}
        return self.call("UpdateItem", lambda: self.client.update_item(**full)).get("Attributes", {})

    def delete(self, key: Item) -> None:
        """Delete one metadata item unconditionally (absent is fine)."""
        self.call("DeleteItem", lambda: self.client.delete_item(TableName=self.table, Key=key))

    def transact(self, items: list[dict[str, Any]]) -> None:
        """One TransactWriteItems; its token makes a resend after an ambiguous failure apply once."""
        if len(items) > TRANSACTION_MAX:
            raise FsError(errno.EMLINK, f"a change of {len(items)} items exceeds one DynamoDB transaction")
        token = uuid.uuid4().hex
        self.call(
            "TransactWriteItems",
            lambda: self.client.transact_write_items(TransactItems=items, ClientRequestToken=token),
        )

    # Blocks.

    def query_blocks(self, ino: int, first: int, last: int) -> Iterator[tuple[int, bytes]]:
        """Stored blocks `first..last` of inode `ino` (holes absent), strongly consistent."""
        request: dict[str, Any] = {
            "TableName": self.blocks_table,
            "KeyConditionExpression": "blockId = :i AND blockNum BETWEEN :a AND :b",
            "ExpressionAttributeValues": {":i": {"N": str(ino)}, ":a": {"N": str(first)}, ":b": {"N": str(last)}},
            "ConsistentRead": True,
        }
        while True:
            page = self.call("Query", lambda: self.client.query(**request))
            for item in page.get("Items", []):
                yield int(item["blockNum"]["N"]), bytes(item["data"]["B"])
            last_key = page.get("LastEvaluatedKey")
            if last_key is None:
                return
            request["ExclusiveStartKey"] = last_key

    def write_blocks(self, requests: list[dict[str, Any]]) -> None:
        """One BatchWriteItem of at most 25 block puts/deletes, resending what DynamoDB left unprocessed."""
        pending = {self.blocks_table: requests}
        for attempt in range(20):
            r = self.call("BatchWriteItem", lambda p=pending: self.client.batch_write_item(RequestItems=p))
            pending = r.get("UnprocessedItems") or {}
            if not pending:
                return
            _backoff(attempt)
        raise FsError(errno.EIO, "BatchWriteItem left blocks unprocessed")


def _backoff(attempt: int) -> None:
    """Sleep before resending a batch's unprocessed part: capped exponential with jitter."""
    time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
