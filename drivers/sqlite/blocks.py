"""File contents as fixed-size blocks in the `blocks` table (layer: sqlite driver internals).

Invariants: block `n` holds bytes `[n*bs, (n+1)*bs)`; an absent block is a
hole; a stored block may be shorter than `bs` (trailing zeros are not
stored) and never holds bytes at or past the file size, so growing a file
exposes zeros without touching any block. Callers run these helpers inside
the driver's transaction.
"""

from __future__ import annotations

import errno
import logging
import sqlite3

from cloudfs.driver import StagedData
from cloudfs.errors import FsError

log = logging.getLogger(__name__)


def read_range(db: sqlite3.Connection, ino: int, file_size: int, off: int, size: int, bs: int) -> bytes:
    """Up to `size` bytes at `off` of a file of `file_size` bytes; holes read as zeros."""
    end = min(off + size, file_size)
    if end <= off:
        return b""
    first, last = off // bs, (end - 1) // bs
    buf = bytearray(end - off)
    rows = db.execute(
        "SELECT blockno, data FROM blocks WHERE ino = ? AND blockno BETWEEN ? AND ?",
        (ino, first, last),
    )
    for blockno, data in rows:
        start = blockno * bs
        lo, hi = max(off, start), min(end, start + len(data))
        if hi > lo:
            buf[lo - off : hi - off] = data[lo - start : hi - start]
    return bytes(buf)


def _put(db: sqlite3.Connection, ino: int, blockno: int, data: bytes) -> None:
    """Store one block, dropping trailing zeros; an all-zero block becomes a hole."""
    data = data.rstrip(b"\0")
    if data:
        db.execute(
            "INSERT OR REPLACE INTO blocks (ino, blockno, data) VALUES (?, ?, ?)",
            (ino, blockno, data),
        )
    else:
        db.execute("DELETE FROM blocks WHERE ino = ? AND blockno = ?", (ino, blockno))


def truncate(db: sqlite3.Connection, ino: int, new_size: int, bs: int, keep: frozenset[int]) -> None:
    """Drop blocks past `new_size` and cut the last kept block there, unless it is in `keep`."""
    db.execute("DELETE FROM blocks WHERE ino = ? AND blockno >= ?", (ino, -(-new_size // bs)))
    tail = new_size % bs
    last = new_size // bs
    if not tail or last in keep:
        return
    row = db.execute("SELECT data FROM blocks WHERE ino = ? AND blockno = ?", (ino, last)).fetchone()
    if row is not None and len(row[0]) > tail:
        _put(db, ino, last, row[0][:tail])


def store_staged(db: sqlite3.Connection, ino: int, data: StagedData, bs: int, new_size: int) -> int:
    """Write the blocks `data.dirty_ranges()` touch and drop what lies past `new_size`.

    Returns the number of blocks written. Each touched block is rewritten whole
    from the merged view, so calling this twice with the same data is harmless.
    """
    limit = min(new_size, data.size)
    touched: set[int] = set()
    for start, end in data.dirty_ranges():
        end = min(end, limit)
        if end > start:
            touched.update(range(start // bs, (end - 1) // bs + 1))
    for blockno in sorted(touched):
        start = blockno * bs
        length = min(bs, limit - start)
        content = data.read(start, length)
        if len(content) != length:
            msg = f"staged data for inode {ino} gave {len(content)} of {length} bytes at {start}"
            raise FsError(errno.EIO, msg)
        _put(db, ino, blockno, content)
    truncate(db, ino, new_size, bs, frozenset(touched))
    return len(touched)
