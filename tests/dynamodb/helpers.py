"""Helpers for DynamoDB driver tests: filling directories, and seeing which items each request writes."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cloudfs.driver import Driver

WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def populate(driver: Driver, parent: int, count: int, prefix: bytes = b"f") -> list[bytes]:
    """Create `count` empty files `prefix0000`… in `parent` through the driver, 8 at a time; returns their names."""
    names = [b"%s%04d" % (prefix, i) for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: driver.mknod(parent, name, stat.S_IFREG | 0o644, 0, 1000, 1000), names))
    return names


def _value(attr: dict[str, Any]) -> int | bytes:
    """A key attribute as a Python value: N → int, B → bytes."""
    return int(attr["N"]) if "N" in attr else bytes(attr["B"])


def _key(attrs: dict[str, Any]) -> tuple[int | bytes, ...]:
    """The primary key of an item or key map of either table: (id, name) or (blockId, blockNum)."""
    names = ("id", "name") if "id" in attrs else ("blockId", "blockNum")
    return tuple(_value(attrs[n]) for n in names)


class ItemWrites:
    """Records each item a client's requests write, as (operation, table, key), from the call's parameters."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, tuple[int | bytes, ...]]] = []
        self._lock = threading.Lock()

    def attach(self, client: Any) -> ItemWrites:
        """Start recording the writes of `client` (from any thread)."""
        client.meta.events.register("provide-client-params.dynamodb", self._called)
        return self

    def _called(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """botocore hook: an API call is about to be made with `params`."""
        op = model.name
        found: list[tuple[str, dict[str, Any]]] = []
        if op == "PutItem":
            found.append((params["TableName"], params["Item"]))
        elif op in ("UpdateItem", "DeleteItem"):
            found.append((params["TableName"], params["Key"]))
        elif op == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
                    found.append((table, body))
        elif op == "TransactWriteItems":
            for entry in params["TransactItems"]:
                for kind, body in entry.items():
                    if kind != "ConditionCheck":
                        found.append((body["TableName"], body.get("Item") or body["Key"]))
        with self._lock:
            self.items.extend((op, table, _key(attrs)) for table, attrs in found)

    def take(self) -> list[tuple[str, str, tuple[int | bytes, ...]]]:
        """What was written since the last take, then reset."""
        with self._lock:
            out, self.items = self.items, []
        return out
