"""DynamoStore: the inode store on DynamoDB that the shared model runs on (layer: dynamodb driver).

Holds what a mount shares across calls: the item cache that optimistic
attempts read from, this mount's range of inode numbers, its session item
(a heartbeat, so orphans of a crashed mount can be told from those of a
live one), and the file-data path. Every call commits through
`DynamoTransaction`; a conflict drops what the call read from the cache
and runs it again on strongly consistent reads.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from cloudfs.errors import FsError

from ..inodestore.records import Inode
from ..inodestore.txn import Conflict, Transaction
from . import items
from .client import Dynamo
from .data import FileData
from .items import INODE_NAME, Item, Key
from .transaction import DynamoTransaction

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_CONFLICTS = 12
CACHE_ITEMS = 50_000
# Non-transactional reads (data, xattrs, a lookup's directory check) trust items this young.
READ_AGE_SECONDS = 1.0
INODE_RANGE = 256
HEARTBEAT_SECONDS = 20.0
SESSION_STALE_SECONDS = 90.0
# DynamoDB sets no capacity; statfs shows this much, less what the tables hold.
CAPACITY_BYTES = 2**50
CAPACITY_INODES = 2**40
USAGE_TTL = 60.0
# BatchGetItems of one listing in flight at once.
LISTING_FANOUT = 4


class ItemCache:
    """A bounded LRU of items this mount read or wrote, each with the time it was learnt."""

    def __init__(self, capacity: int = CACHE_ITEMS) -> None:
        """Keep at most `capacity` items."""
        self._items: OrderedDict[Key, tuple[float, Item]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: Key, max_age: float | None = None) -> Item | None:
        """The cached item (no older than `max_age` seconds, if given), or None."""
        with self._lock:
            found = self._items.get(key)
            if found is None or (max_age is not None and time.monotonic() - found[0] > max_age):
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: Key, item: Item | None) -> None:
        """Remember `item` (None: forget the key)."""
        with self._lock:
            if item is None:
                self._items.pop(key, None)
                return
            self._items[key] = (time.monotonic(), item)
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def drop(self, key: Key) -> None:
        """Forget `key`."""
        self.put(key, None)

    def touch(self, key: Key, now_ns: int, nlink_delta: int) -> None:
        """Apply a directory touch to the cached item, as the store applied it."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return
            item = dict(found[1])
            item["mtime_ns"] = item["ctime_ns"] = items.num(now_ns)
            item["nlink"] = items.num(int(item["nlink"]["N"]) + nlink_delta)
            item["version"] = items.num(int(item["version"]["N"]) + 1)
            self._items[key] = (found[0], item)


class InodeNumbers:
    """Hands out inode numbers from ranges taken atomically from the table's counter: no hot key, no reuse."""

    def __init__(self, dynamo: Dynamo, size: int = INODE_RANGE) -> None:
        """Take ranges of `size` numbers at a time."""
        self.dynamo = dynamo
        self.size = size
        self._next = self._end = 0
        self._lock = threading.Lock()

    def take(self) -> int:
        """The next unused number, taking a new range when this one is spent."""
        with self._lock:
            if self._next >= self._end:
                answer = self.dynamo.update(
                    {
                        "Key": items.key(items.META_ID, items.COUNTER_NAME),
                        "UpdateExpression": "ADD #next :n",
                        "ExpressionAttributeNames": {"#next": "next"},
                        "ExpressionAttributeValues": {":n": items.num(self.size)},
                    },
                    returns="UPDATED_NEW",
                )
                self._end = int(answer["next"]["N"])
                self._next = self._end - self.size
            self._next += 1
            return self._next - 1


class DynamoStore:
    """Implements `inodestore.txn.Store` on a metadata and a blocks table."""

    def __init__(self, dynamo: Dynamo, block_size: int, inline_max: int, read_only: bool) -> None:
        """Use the tables behind `dynamo`, laid out with `block_size` blocks and `inline_max` inline bytes."""
        self.dynamo = dynamo
        self.read_only = read_only
        self.cache = ItemCache()
        self.inodes = InodeNumbers(dynamo)
        self.data = FileData(dynamo, block_size, inline_max)
        self.session = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._usage: tuple[float, tuple[int, int, int, int]] | None = None
        self.collected = 0  # orphans this store purged for crashed mounts (at open and by gc)
        self._pool = ThreadPoolExecutor(max_workers=LISTING_FANOUT, thread_name_prefix="cloudfs-listing")
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # Transactions.

    def run(self, what: str, fn: Callable[[Transaction], T]) -> T:
        """Run `fn` and commit; conflicts and errnos found on cached reads are retried on fresh ones."""
        if self.read_only:
            raise FsError(errno.EROFS, "the DynamoDB filesystem is mounted read-only")
        for attempt in range(MAX_CONFLICTS):
            txn = DynamoTransaction(self, fresh=attempt > 0)
            try:
                result = fn(txn)
                txn.commit()
                return result
            except Conflict as exc:
                txn.forget_reads()
                log.debug("%s: conflict (%s), attempt %d", what, exc, attempt + 1)
                if attempt:
                    time.sleep(random.uniform(0, min(1.0, 0.01 * 2**attempt)))
            except FsError as exc:
                if txn.fresh or exc.errno == errno.EIO:
                    raise
                txn.forget_reads()
        log.error("%s: gave up after %d conflicting attempts", what, MAX_CONFLICTS)
        raise FsError(errno.EIO, f"{what} kept conflicting with other writers")

    def read(self, what: str, fn: Callable[[Transaction], T], fresh: bool = True) -> T:
        """Run `fn` without committing; cached reads that end in an errno are checked fresh."""
        try:
            return fn(DynamoTransaction(self, fresh=fresh, max_age=READ_AGE_SECONDS))
        except FsError as exc:
            if fresh or exc.errno == errno.EIO:
                raise
            return fn(DynamoTransaction(self, fresh=True))

    def listing(self, parent: int) -> list[tuple[bytes, Inode]]:
        """A directory's entries from one Query per page, their inodes from one BatchGetItem per 100."""
        entries: list[tuple[bytes, int]] = []
        directory: Item | None = None
        for item in self.dynamo.query(parent, INODE_NAME):
            key = items.key_of(item)
            if key[1] == INODE_NAME:
                directory = item
            elif not key[1].startswith(b"\0"):  # the directory's own lock item
                entries.append((key[1], int(item["ino"]["N"])))
                self.cache.put(key, item)
        if directory is None:
            raise FsError(errno.ENOENT, f"inode {parent} does not exist")
        self.cache.put((parent, INODE_NAME), directory)
        if not items.inode_from(directory).is_dir:
            raise FsError(errno.ENOTDIR, f"inode {parent} is not a directory")
        wanted = sorted({ino for _, ino in entries})
        found: dict[int, Inode] = {}
        for item in self.dynamo.batch_get([items.key(ino, INODE_NAME) for ino in wanted], self._pool):
            inode = items.inode_from(item)
            found[inode.ino] = inode
            self.cache.put((inode.ino, INODE_NAME), item)
        return [(name, found[ino]) for name, ino in entries if ino in found]

    def purge(self, ino: int) -> bool:
        """Delete orphan `ino` (inode item, orphan record, blocks); a linked or missing inode stays."""

        def op(txn: Transaction) -> Inode | None:
            inode = txn.inode(ino)
            if inode.nlink != 0 or inode.is_dir:
                return None
            txn.delete_inode(inode)
            return inode

        try:
            gone = self.run("purge", op)
        except FsError as exc:
            if exc.errno != errno.ENOENT:
                raise
            self.dynamo.delete(items.key(*items.orphan_key(ino)))
            return False
        if gone is None:
            return False
        self.data.delete_all(ino, gone.size)
        return True

    # Sessions and orphans.

    def start_session(self) -> None:
        """Record this mount as live and keep its heartbeat going."""
        self._beat()
        self._heartbeat = threading.Thread(target=self._heartbeats, name="cloudfs-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        """Write this session's item with the current time."""
        item = {
            **items.key(items.SESSIONS_ID, self.session.encode()),
            "heartbeat": items.num(int(time.time())),
            "host": {"S": socket.gethostname()},
        }
        self.dynamo.call("PutItem", lambda: self.dynamo.client.put_item(TableName=self.dynamo.table, Item=item))

    def _heartbeats(self) -> None:
        """Beat every HEARTBEAT_SECONDS until closed."""
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._beat()
            except FsError as exc:
                log.warning("session heartbeat failed: %s", exc)

    def sessions(self) -> tuple[set[str], set[str]]:
        """(live, stale) session names: live ones beat within SESSION_STALE_SECONDS."""
        now = time.time()
        live: set[str] = set()
        stale: set[str] = set()
        for item in self.dynamo.query(items.SESSIONS_ID, b"\x01"):
            name = bytes(item["name"]["B"]).decode()
            (live if now - int(item["heartbeat"]["N"]) < SESSION_STALE_SECONDS else stale).add(name)
        return live, stale

    def collect_orphans(self, include_own: bool = False) -> int:
        """Purge orphans recorded by sessions that are gone (and this one's, at unmount); returns how many.

        The items of stale sessions go too, once their orphans have.
        """
        live, stale = self.sessions()
        if include_own:
            live.discard(self.session)
        count = 0
        for item in self.dynamo.query(items.ORPHANS_ID, b"\x01"):
            if item.get("session", {}).get("S") in live:
                continue
            count += self.purge(int(bytes(item["name"]["B"])))
        for name in stale:
            self.dynamo.delete(items.key(items.SESSIONS_ID, name.encode()))
        if count:
            log.info("collected %d orphaned inodes", count)
        self.collected += count
        return count

    # The store.

    def usage(self) -> tuple[int, int, int, int]:
        """Capacity figures from DescribeTable (which DynamoDB refreshes about every six hours)."""
        now = time.monotonic()
        if self._usage is None or now - self._usage[0] > USAGE_TTL:
            sizes = [self._table_size(t) for t in (self.dynamo.table, self.dynamo.blocks_table)]
            used_bytes = sizes[0][0] + sizes[1][0]
            used_items = sizes[0][1]
            figures = (CAPACITY_BYTES, CAPACITY_BYTES - used_bytes, used_items, CAPACITY_INODES - used_items)
            self._usage = (now, figures)
        return self._usage[1]

    def _table_size(self, table: str) -> tuple[int, int]:
        """(bytes, items) DescribeTable reports for `table`."""
        found: Any = self.dynamo.call("DescribeTable", lambda: self.dynamo.client.describe_table(TableName=table))
        return int(found["Table"].get("TableSizeBytes", 0)), int(found["Table"].get("ItemCount", 0))

    def close(self) -> None:
        """Collect this mount's leftover orphans, end the session, stop the block writers."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
            try:
                self.collect_orphans(include_own=True)
                self.dynamo.delete(items.key(items.SESSIONS_ID, self.session.encode()))
            except FsError as exc:
                log.warning("could not end session %s cleanly: %s", self.session, exc)
        self.data.close()
        self._pool.shutdown(wait=True)
