"""One protocol call's reads and buffered writes on DynamoDB (layer: dynamodb driver internals).

Reads come from the store's item cache on an optimistic attempt and from
strongly consistent requests otherwise; every write carries the condition
that what it was decided on still holds (`version`, entry target, absence).
Writes to one item merge into one, since a DynamoDB transaction may touch an
item once. `commit` sends nothing, one conditional single-item request, or
one TransactWriteItems (half the write cost of a transaction, whenever one
item is all that changes).
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cloudfs.driver import StagedData
from cloudfs.errors import FsError

from ..inodestore.records import Inode
from . import items
from .items import INODE_NAME, Item, Key

if TYPE_CHECKING:
    from .store import DynamoStore

log = logging.getLogger(__name__)


@dataclass
class Pending:
    """What a transaction does to one item: a put or delete (or nothing), a directory touch, conditions."""

    put: Item | None = None
    delete: bool = False
    touch_ns: int | None = None
    nlink_delta: int = 0
    conditions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def condition(self, expr: str, **values: Any) -> None:
        """Add a condition; `:name` placeholders in `expr` refer to `values`."""
        self.conditions.append((expr, values))


class DynamoTransaction:
    """Implements `inodestore.txn.Transaction` on one DynamoStore."""

    def __init__(self, store: DynamoStore, fresh: bool, max_age: float | None = None) -> None:
        """Read fresh (strongly consistent) or from the store's cache first (items up to `max_age` s old)."""
        self.store = store
        self.fresh = fresh
        self.max_age = max_age
        self.read_items: dict[Key, Item | None] = {}
        self.pending: dict[Key, Pending] = {}
        self._inline: dict[int, bytes | None] = {}

    # Reads.

    def _item(self, key: Key) -> Item | None:
        """The item at `key` as this transaction sees it."""
        if key in self.read_items:
            return self.read_items[key]
        item = None if self.fresh else self.store.cache.get(key, self.max_age)
        if item is None and (self.fresh or key[1] == INODE_NAME):
            item = self.store.dynamo.get(items.key(*key))
            self.store.cache.put(key, item)
        self.read_items[key] = item
        return item

    def inode(self, ino: int) -> Inode:
        """The inode `ino`; ENOENT if it does not exist."""
        item = self._item(items.inode_key(ino))
        if item is None:
            raise FsError(errno.ENOENT, f"inode {ino} does not exist")
        return items.inode_from(item)

    def entry(self, parent: int, name: bytes) -> int | None:
        """The inode an entry names; unknown entries count as absent on an optimistic attempt (the commit checks)."""
        item = self._item((parent, name))
        return None if item is None else int(item["ino"]["N"])

    def has_entries(self, ino: int) -> bool:
        """True when directory `ino` has an entry (one consistent Query, whatever the cache says)."""
        return any(True for _ in self.store.dynamo.query(ino, b"\x01", limit=1))

    def xattrs(self, inode: Inode) -> dict[bytes, bytes]:
        """Extended attributes, kept in the inode item."""
        return items.xattrs_of(self._inode_item(inode))

    def _inode_item(self, inode: Inode) -> Item:
        """The stored item of an inode this transaction read."""
        item = self._item(items.inode_key(inode.ino))
        if item is None:
            raise FsError(errno.ENOENT, f"inode {inode.ino} does not exist")
        return item

    def new_ino(self) -> int:
        """A fresh number from this mount's range of the counter."""
        return self.store.inodes.take()

    # Writes.

    def _pending(self, key: Key) -> Pending:
        """The merged change of item `key`."""
        return self.pending.setdefault(key, Pending())

    def insert_inode(self, inode: Inode) -> None:
        """Put a new inode item, which must not exist."""
        p = self._pending(items.inode_key(inode.ino))
        p.put = items.inode_item(inode)
        p.condition("attribute_not_exists(id)")

    def update_inode(self, old: Inode, new: Inode) -> None:
        """Put `new` in place of `old`, conditional on `old.version`; an inode losing its last link is recorded."""
        key = items.inode_key(old.ino)
        p = self._pending(key)
        base = p.put if p.put is not None else self._inode_item(old)
        item = items.inode_item(new, base)
        if new.ino in self._inline:
            item = items.with_data(item, self._inline[new.ino])
        if items.item_size(item) > items.ITEM_LIMIT - items.ITEM_MARGIN:
            raise FsError(errno.ENOSPC, f"inode {old.ino} would outgrow a DynamoDB item")
        if p.put is None:
            p.condition("version = :v", v=items.num(old.version))
        p.put = item
        if old.nlink > 0 and new.nlink == 0 and not new.is_dir:
            orphan = self._pending(items.orphan_key(old.ino))
            orphan.put = {**items.key(*items.orphan_key(old.ino)), "session": {"S": self.store.session}}

    def delete_inode(self, inode: Inode) -> None:
        """Delete an inode item, conditional on its version (its blocks go after the commit)."""
        p = self._pending(items.inode_key(inode.ino))
        p.put = None
        p.delete = True
        p.condition("version = :v", v=items.num(inode.version))
        if not inode.is_dir:
            self._pending(items.orphan_key(inode.ino)).delete = True

    def add_entry(self, parent: int, name: bytes, ino: int) -> None:
        """Put a new entry, which must not exist."""
        p = self._pending((parent, name))
        p.put = items.entry_item(parent, name, ino)
        p.condition("attribute_not_exists(id)")

    def remove_entry(self, parent: int, name: bytes, ino: int) -> None:
        """Delete an entry that must still name `ino`."""
        p = self._pending((parent, name))
        p.delete = True
        p.condition("ino = :ino", ino=items.num(ino))

    def replace_entry(self, parent: int, name: bytes, old_ino: int, new_ino: int) -> None:
        """Point an entry from `old_ino` to `new_ino`."""
        p = self._pending((parent, name))
        p.put = items.entry_item(parent, name, new_ino)
        p.condition("ino = :ino", ino=items.num(old_ino))

    def touch_dir(self, ino: int, now_ns: int, nlink_delta: int = 0) -> None:
        """Set a directory's times and add to its nlink and version, without conditioning on its version."""
        p = self._pending(items.inode_key(ino))
        p.touch_ns = now_ns
        p.nlink_delta += nlink_delta
        if not p.conditions:
            p.condition("attribute_exists(#parent)")

    def assume_parent(self, ino: int, parent: int) -> None:
        """Commit only while directory `ino` still lies in `parent`."""
        self._pending(items.inode_key(ino)).condition("#parent = :p", p=items.num(parent))

    def set_xattr(self, old: Inode, new: Inode, name: bytes, value: bytes | None) -> None:
        """Update the inode with one xattr set or removed, in the same item."""
        xattrs = items.xattrs_of(self._inode_item(old))
        if value is None:
            xattrs.pop(name, None)
        else:
            xattrs[name] = value
        self.update_inode(old, new)
        p = self.pending[items.inode_key(old.ino)]
        assert p.put is not None
        p.put = items.with_xattrs(p.put, xattrs)
        if items.item_size(p.put) > items.ITEM_LIMIT - items.ITEM_MARGIN:
            raise FsError(errno.ENOSPC, f"no room for xattr {name!r} in inode {old.ino}")

    # Data.

    def read_data(self, inode: Inode, off: int, size: int) -> bytes:
        """Bytes of a file: inline from its item when small, else from the blocks table."""
        return self.store.data.read(inode, self._inode_item(inode), off, size)

    def write_data(self, inode: Inode, new_size: int, data: StagedData | None) -> None:
        """Store blocks now (idempotent), and keep the inline part for this transaction's inode update."""
        inline = self.store.data.write(inode, self._inode_item(inode), new_size, data)
        self._inline[inode.ino] = inline

    # Commit.

    def commit(self) -> None:
        """Send the buffered writes: nothing, one conditional request, or one transaction."""
        writes = [(key, self._request(key, p)) for key, p in self.pending.items()]
        if not writes:
            return
        if len(writes) == 1:
            self._commit_one(writes[0][1])
        else:
            self.store.dynamo.transact([request for _, request in writes])
        self._remember()

    def _request(self, key: Key, p: Pending) -> dict[str, Any]:
        """The TransactWriteItems element for one item's merged change."""
        table = self.store.dynamo.table
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        conditions = []
        for n, (expr, vals) in enumerate(p.conditions):
            for name, value in vals.items():
                placeholder = f":{name}{n}"
                expr = expr.replace(f":{name}", placeholder)
                values[placeholder] = value
            conditions.append(expr)
        condition = " AND ".join(conditions)
        if "#parent" in condition:
            names["#parent"] = "parent"
        extra: dict[str, Any] = {}
        if condition:
            extra["ConditionExpression"] = condition
        if names:
            extra["ExpressionAttributeNames"] = names
        if p.put is not None:
            item = self._touched(p.put, p) if p.touch_ns is not None else p.put
            if values:
                extra["ExpressionAttributeValues"] = values
            return {"Put": {"TableName": table, "Item": item, **extra}}
        if p.delete:
            if values:
                extra["ExpressionAttributeValues"] = values
            return {"Delete": {"TableName": table, "Key": items.key(*key), **extra}}
        if p.touch_ns is not None:
            values.update({":now": items.num(p.touch_ns), ":dn": items.num(p.nlink_delta), ":one": items.num(1)})
            return {
                "Update": {
                    "TableName": table,
                    "Key": items.key(*key),
                    "UpdateExpression": "SET mtime_ns = :now, ctime_ns = :now ADD nlink :dn, version :one",
                    **extra,
                    "ExpressionAttributeValues": values,
                }
            }
        extra["ExpressionAttributeValues"] = values
        return {"ConditionCheck": {"TableName": table, "Key": items.key(*key), **extra}}

    @staticmethod
    def _touched(item: Item, p: Pending) -> Item:
        """A put item with a directory touch folded in."""
        out = dict(item)
        out["mtime_ns"] = out["ctime_ns"] = items.num(p.touch_ns or 0)
        out["nlink"] = items.num(int(item["nlink"]["N"]) + p.nlink_delta)
        return out

    def _commit_one(self, request: dict[str, Any]) -> None:
        """A single-item change as a plain conditional request (a lone condition check changes nothing)."""
        ((kind, body),) = request.items()
        if kind == "ConditionCheck":
            return
        client = self.store.dynamo.client
        send = {"Put": client.put_item, "Delete": client.delete_item, "Update": client.update_item}[kind]
        self.store.dynamo.call(f"{kind}Item", lambda: send(**body))

    def _remember(self) -> None:
        """After a commit: the store's cache learns what this transaction wrote."""
        cache = self.store.cache
        for key, p in self.pending.items():
            if p.put is not None:
                cache.put(key, self._touched(p.put, p) if p.touch_ns is not None else p.put)
            elif p.delete:
                cache.drop(key)
            elif p.touch_ns is not None:
                cache.touch(key, p.touch_ns, p.nlink_delta)

    def forget_reads(self) -> None:
        """After a conflict: drop every item this transaction relied on from the cache."""
        for key in (*self.read_items, *self.pending):
            self.store.cache.drop(key)
