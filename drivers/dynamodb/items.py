"""How inodes, entries and blocks are laid out as DynamoDB items (layer: dynamodb driver internals).

Metadata table, key `id` (N, hash) + `name` (B, range):
- an inode is `(ino, b"\\0")`: names never hold NUL, so it sorts before its
  own directory entries, and a Query of `id = dir` returns the directory and
  its entries in one request;
- a directory entry is `(parent ino, name)` with attribute `ino`;
- a file's fcntl/flock locks are `(ino, b"\\0locks")` (see `locks`);
- id 0 holds the format marker and the inode counter; negative ids hold
  mount sessions (-2), orphan records (-1) and lock leases (-3).
Blocks table, key `blockId` (N, the inode) + `blockNum` (N), attribute `data`.
Items here are in the low-level wire form (`{"N": "1"}`), which boto3's
client takes as is; `Item` is that form.
"""

from __future__ import annotations

from typing import Any

from ..inodestore.records import Inode

Item = dict[str, Any]
Key = tuple[int, bytes]

INODE_NAME = b"\0"
META_ID = 0
ORPHANS_ID = -1
SESSIONS_ID = -2
LEASES_ID = -3
LOCKS_NAME = b"\0locks"
FORMAT_NAME = b"format"
COUNTER_NAME = b"counter"

_NUMBERS = ("mode", "uid", "gid", "nlink", "size", "rdev", "atime_ns", "mtime_ns", "ctime_ns", "version")
# An item may hold 400 KB; an inode keeps this much for its attributes and names.
ITEM_LIMIT = 400 * 1024
ITEM_MARGIN = 1024


def num(value: int) -> dict[str, str]:
    """A number attribute."""
    return {"N": str(value)}


def key(id_: int, name: bytes) -> Item:
    """The primary key of a metadata item."""
    return {"id": num(id_), "name": {"B": name}}


def key_of(item: Item) -> Key:
    """The `(id, name)` of a metadata item."""
    return int(item["id"]["N"]), bytes(item["name"]["B"])


def inode_key(ino: int) -> Key:
    """The key of inode `ino`'s item."""
    return ino, INODE_NAME


def orphan_key(ino: int) -> Key:
    """The key of the record that inode `ino` lost its last link (kept until it is purged)."""
    return ORPHANS_ID, str(ino).encode()


def inode_item(inode: Inode, base: Item | None = None) -> Item:
    """The item storing `inode`; attributes of `base` that Inode lacks (data, xattrs) are kept."""
    item: Item = dict(base or {})
    item.update(key(inode.ino, INODE_NAME))
    for field in _NUMBERS:
        item[field] = num(getattr(inode, field))
    for field, value in (("parent", inode.parent), ("target", inode.target)):
        item.pop(field, None)
        if value is not None:
            item[field] = num(value) if field == "parent" else {"B": value}
    return item


def inode_from(item: Item) -> Inode:
    """The Inode an item stores."""
    values = {field: int(item[field]["N"]) for field in _NUMBERS if field in item}
    parent = item.get("parent")
    target = item.get("target")
    return Inode(
        ino=int(item["id"]["N"]),
        parent=None if parent is None else int(parent["N"]),
        target=None if target is None else bytes(target["B"]),
        **values,
    )


def entry_item(parent: int, name: bytes, ino: int) -> Item:
    """The item of directory entry `name` in `parent`."""
    return {**key(parent, name), "ino": num(ino)}


def inline_data(item: Item) -> bytes:
    """A small file's contents kept in its inode item (absent: all zeros)."""
    data = item.get("data")
    return b"" if data is None else bytes(data["B"])


def xattrs_of(item: Item) -> dict[bytes, bytes]:
    """Extended attributes from an inode item; names are kept as latin-1 map keys (any byte round-trips)."""
    stored = item.get("xattrs", {}).get("M", {})
    return {name.encode("latin-1"): bytes(value["B"]) for name, value in stored.items()}


def with_xattrs(item: Item, xattrs: dict[bytes, bytes]) -> Item:
    """`item` with its xattr map replaced."""
    out = dict(item)
    out.pop("xattrs", None)
    if xattrs:
        out["xattrs"] = {"M": {name.decode("latin-1"): {"B": value} for name, value in xattrs.items()}}
    return out


def with_data(item: Item, data: bytes | None) -> Item:
    """`item` with its inline contents replaced (None or empty: none kept)."""
    out = dict(item)
    out.pop("data", None)
    if data:
        out["data"] = {"B": data}
    return out


def item_size(item: Item) -> int:
    """Roughly the bytes DynamoDB counts for an item: names plus values."""
    return sum(len(name) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value."""
    ((kind, inner),) = value.items()
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) for k, v in inner.items())
    return len(inner) if isinstance(inner, bytes | bytearray | str) else 8
