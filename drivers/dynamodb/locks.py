"""fcntl/flock lock tables and the leases that keep them alive, as DynamoDB items (layer: dynamodb driver).

A file's locks are one item, `(ino, "\\0locks")`, holding every record and a
`version`; each change is a conditional PutItem (or DeleteItem once the last
lock goes) on that version, so racing hosts cannot both win. The item sits
beside the inode's own and no entry name can hold NUL, so listings skip it.

A mount's lease is an item `(-3, session)` with `expires` (epoch ms). It is
made at the first lock and renewed every third of the lease, each renewal
conditional on the lease not having run out: a mount cut off for longer than
its lease learns that it lost it, and goes on under a new session name, so
nothing it held before counts again. Another host judges a lease by that
item alone; the hosts' clocks must agree to well within the lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from cloudfs.driver import LockRecord, LockTable
from cloudfs.errors import FsError

from ..inodestore.txn import Conflict
from . import items
from .client import Dynamo
from .items import Item

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 30.0


def _record_item(record: LockRecord) -> Item:
    value: Item = {
        "owner": {"S": record.owner},
        "family": {"S": record.family},
        "exclusive": {"BOOL": record.exclusive},
        "start": items.num(record.start),
        "pid": items.num(record.pid),
        "session": {"S": record.session},
    }
    if record.end is not None:
        value["end"] = items.num(record.end)
    return {"M": value}


def _record_from(value: Item) -> LockRecord:
    m = value["M"]
    return LockRecord(
        owner=m["owner"]["S"],
        family=m["family"]["S"],
        exclusive=m["exclusive"]["BOOL"],
        start=int(m["start"]["N"]),
        end=int(m["end"]["N"]) if "end" in m else None,
        pid=int(m["pid"]["N"]),
        session=m["session"]["S"],
    )


class DynamoLocks:
    """Implements `cloudfs.driver.LockStore` in the metadata table."""

    def __init__(self, dynamo: Dynamo, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.dynamo = dynamo
        self.lease_seconds = lease_seconds
        self._lock = threading.Lock()
        self._session: str | None = None
        self._good_until = 0.0  # monotonic: the lease holds at least until then
        self._revoked = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # -- the lease -------------------------------------------------------------

    @property
    def session(self) -> str:
        """This mount's lease name, made at first use and anew once the old lease is lost."""
        with self._lock:
            if self._session is not None and (self._revoked or time.monotonic() >= self._good_until):
                log.error("the lock lease %s was lost (not renewed within %.0f s)", self._session, self.lease_seconds)
                self._session = None
            if self._session is None:
                self._begin()
            assert self._session is not None
            return self._session

    def _begin(self) -> None:
        """Make a new lease item and keep it renewed."""
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        sent = time.monotonic()
        self.dynamo.put(self._lease_item(name), "attribute_not_exists(id)", {})
        self._session, self._good_until, self._revoked = name, sent + self.lease_seconds, False
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renewals, name="cloudfs-lock-lease", daemon=True)
            self._renewer.start()

    def _lease_item(self, name: str) -> Item:
        return {
            **items.key(items.LEASES_ID, name.encode()),
            "expires": items.num(int((time.time() + self.lease_seconds) * 1000)),
            "host": {"S": socket.gethostname()},
        }

    def _renewals(self) -> None:
        """Renew every third of the lease; a renewal refused because the lease ran out revokes it."""
        while not self._stop.wait(self.lease_seconds / 3):
            with self._lock:
                name = self._session
            if name is None:
                continue
            sent = time.monotonic()
            try:
                self.dynamo.update(
                    {
                        "Key": items.key(items.LEASES_ID, name.encode()),
                        "UpdateExpression": "SET expires = :new",
                        "ConditionExpression": "attribute_exists(id) AND expires > :now",
                        "ExpressionAttributeValues": {
                            ":new": items.num(int((time.time() + self.lease_seconds) * 1000)),
                            ":now": items.num(int(time.time() * 1000)),
                        },
                    }
                )
            except Conflict:
                with self._lock:
                    if self._session == name:
                        self._revoked = True
                continue
            except FsError as exc:
                log.warning("lock lease %s not renewed (%s); it holds for now", name, exc)
                continue
            with self._lock:
                if self._session == name:
                    self._good_until = sent + self.lease_seconds

    def sessions_alive(self, sessions: set[str]) -> set[str]:
        """The sessions among `sessions` whose lease item says it has not run out."""
        now_ms = int(time.time() * 1000)
        found = self.dynamo.batch_get([items.key(items.LEASES_ID, s.encode()) for s in sorted(sessions)])
        return {bytes(i["name"]["B"]).decode() for i in found if int(i["expires"]["N"]) > now_ms}

    def end_session(self) -> None:
        """Stop renewing and delete the lease item: every lock left under it is void at once."""
        self._stop.set()
        with self._lock:
            name, self._session = self._session, None
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if name is not None:
            try:
                self.dynamo.delete(items.key(items.LEASES_ID, name.encode()))
            except FsError as exc:
                log.warning("lock lease %s not ended (%s); it runs out by itself", name, exc)

    # -- lock tables -----------------------------------------------------------

    def read_locks(self, ino: int) -> LockTable:
        """The lock item of `ino`, read strongly consistent."""
        item = self.dynamo.get(items.key(ino, items.LOCKS_NAME))
        if item is None:
            return LockTable()
        return LockTable(tuple(_record_from(v) for v in item["locks"]["L"]), int(item["version"]["N"]))

    def write_locks(self, ino: int, expected: int | None, records: tuple[LockRecord, ...]) -> LockTable | None:
        """Replace the lock item of `ino` if it is still at `expected` (None: absent); None when another won."""
        condition, values = self._condition(expected)
        key = items.key(ino, items.LOCKS_NAME)
        try:
            if not records:
                self._delete(key, condition, values)
                return LockTable()
            version = (expected or 0) + 1
            item = {**key, "locks": {"L": [_record_item(r) for r in records]}, "version": items.num(version)}
            self.dynamo.put(item, condition, values)
        except Conflict:
            return None
        return LockTable(records, version)

    @staticmethod
    def _condition(expected: int | None) -> tuple[str, dict[str, Any]]:
        if expected is None:
            return "attribute_not_exists(id)", {}
        return "version = :v", {":v": items.num(expected)}

    def _delete(self, key: Item, condition: str, values: dict[str, Any]) -> None:
        request: dict[str, Any] = {"TableName": self.dynamo.table, "Key": key, "ConditionExpression": condition}
        if values:
            request["ExpressionAttributeValues"] = values
        self.dynamo.call("DeleteItem", lambda: self.dynamo.client.delete_item(**request))
