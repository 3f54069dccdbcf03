"""Reading the driver's two tables with a plain boto3 client: key schemas, the format marker, and invariants.

The data model (what the driver stores, see the driver's docs):
- TABLE, key `id` (N, HASH) + `name` (B, RANGE): the inode item `id=INO, name=b"\\0"`
  (`mode uid gid size nlink ...`, directories also `parent`), one entry item
  `id=PARENT, name=NAME` with `ino` per directory entry, and the format marker
  `id=0, name=b"format"`. Items with `id <= 0` are the driver's own records.
- TABLE + "Blocks", key `blockId` (N, HASH) + `blockNum` (N, RANGE): block
  `blockNum` of file `blockId`, in `data` (B).
"""

from __future__ import annotations

import stat
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cloudfs.driver import ROOT_INO

BLOCKS = "Blocks"
INODE = b"\x00"
MARKER_KEY = {"id": {"N": "0"}, "name": {"B": b"format"}}
MAIN_KEYS = {"id": ("HASH", "N"), "name": ("RANGE", "B")}
BLOCK_KEYS = {"blockId": ("HASH", "N"), "blockNum": ("RANGE", "N")}


def scan(raw: Any, table: str) -> list[dict[str, Any]]:
    """Every item of `table` (all pages, strongly consistent)."""
    items: list[dict[str, Any]] = []
    for page in raw.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend(page["Items"])
    return items


def key_schema(raw: Any, table: str) -> dict[str, tuple[str, str]]:
    """`{attribute: (key type, attribute type)}` of `table`'s primary key."""
    described = raw.describe_table(TableName=table)["Table"]
    types = {d["AttributeName"]: d["AttributeType"] for d in described["AttributeDefinitions"]}
    return {k["AttributeName"]: (k["KeyType"], types[k["AttributeName"]]) for k in described["KeySchema"]}


def create_table(raw: Any, table: str, keys: dict[str, tuple[str, str]]) -> None:
    """Create `table` (on demand) with `keys` as `{attribute: (key type, attribute type)}`, as another tool would."""
    raw.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": name, "KeyType": kind} for name, (kind, _) in keys.items()],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": t} for name, (_, t) in keys.items()],
        BillingMode="PAY_PER_REQUEST",
    )


def table_names(raw: Any) -> set[str]:
    """Names of every table on the server."""
    names: set[str] = set()
    for page in raw.get_paginator("list_tables").paginate():
        names.update(page["TableNames"])
    return names


def marker(raw: Any, table: str) -> dict[str, Any] | None:
    """The format marker item of `table`, or None."""
    return raw.get_item(TableName=table, Key=MARKER_KEY, ConsistentRead=True).get("Item")


def block_size(raw: Any, table: str) -> int:
    """The block size the marker records."""
    found = marker(raw, table)
    assert found is not None, f"{table} has no format marker"
    return int(found["block_size"]["N"])


def num(value: dict[str, Any]) -> int:
    """An N attribute as an int."""
    return int(value["N"])


@dataclass
class Snapshot:
    """What the two tables hold, decoded: inode items, entries, and block items (ignoring ids <= 0)."""

    inodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    entries: list[tuple[int, bytes, int]] = field(default_factory=list)  # (parent, name, ino)
    blocks: list[tuple[int, int, int]] = field(default_factory=list)  # (file ino, block number, bytes)
    locks: list[int] = field(default_factory=list)  # inodes with a lock item

    def children(self, parent: int) -> dict[bytes, int]:
        """Entries of directory `parent`: name → ino."""
        return {name: ino for p, name, ino in self.entries if p == parent}


LOCKS = b"\0locks"


def load(raw: Any, table: str) -> Snapshot:
    """Scan both tables into a Snapshot."""
    snap = Snapshot()
    for item in scan(raw, table):
        ino, name = num(item["id"]), bytes(item["name"]["B"])
        if ino <= 0:
            continue
        if name == INODE:
            snap.inodes[ino] = item
        elif name == LOCKS:
            snap.locks.append(ino)
        else:
            snap.entries.append((ino, name, num(item["ino"])))
    for item in scan(raw, table + BLOCKS):
        data = item.get("data", {}).get("B", b"")
        snap.blocks.append((num(item["blockId"]), num(item["blockNum"]), len(data)))
    return snap


def invariant_problems(raw: Any, table: str) -> list[str]:
    """Every broken invariant of the stored filesystem, one line each; [] for a consistent store.

    - each entry's ino has an inode item;
    - a non-directory's nlink is the number of entries naming it;
    - a directory's nlink is 2 + its subdirectory entries, and its `parent` is the
      directory whose entry names it (the root's is itself);
    - no block item lies at or past its file's size;
    - no inode other than the root has nlink > 0 and no entry.
    """
    snap = load(raw, table)
    size_of_block = block_size(raw, table)
    problems: list[str] = []
    names_of: Counter[int] = Counter()
    parents_of: dict[int, list[int]] = {}
    subdirs: Counter[int] = Counter()
    for parent, name, ino in snap.entries:
        names_of[ino] += 1
        parents_of.setdefault(ino, []).append(parent)
        inode = snap.inodes.get(ino)
        if inode is None:
            problems.append(f"entry {parent}/{name!r} names inode {ino}, which has no inode item")
        elif stat.S_ISDIR(num(inode["mode"])):
            subdirs[parent] += 1
        if parent not in snap.inodes:
            problems.append(f"entry {parent}/{name!r} is in directory {parent}, which has no inode item")
    if ROOT_INO not in snap.inodes:
        problems.append("the root (inode 1) has no inode item")
    for ino, inode in sorted(snap.inodes.items()):
        mode, nlink = num(inode["mode"]), num(inode["nlink"])
        if stat.S_ISDIR(mode):
            if nlink != 2 + subdirs[ino]:
                problems.append(f"directory {ino} has nlink {nlink}, but {subdirs[ino]} subdirectories")
            parent = num(inode["parent"]) if "parent" in inode else None
            expected = [ROOT_INO] if ino == ROOT_INO else parents_of.get(ino, [])
            if len(expected) != 1 or parent != expected[0]:
                problems.append(f"directory {ino} has parent {parent}, but is named in {expected}")
        elif nlink != names_of[ino]:
            problems.append(f"inode {ino} has nlink {nlink}, but {names_of[ino]} entries name it")
        if ino != ROOT_INO and nlink > 0 and names_of[ino] == 0:
            problems.append(f"inode {ino} has nlink {nlink} and no entry")
    for ino, number, _ in sorted(snap.blocks):
        inode = snap.inodes.get(ino)
        if inode is not None and number * size_of_block >= num(inode["size"]):
            problems.append(f"block {number} of inode {ino} lies past its size {num(inode['size'])}")
    return problems
