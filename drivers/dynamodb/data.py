"""File contents on DynamoDB: inline in the inode item when small, else fixed blocks (layer: dynamodb driver).

Invariants: a file of at most `inline_max` bytes keeps its contents in its
inode item's `data` (trailing zeros dropped) and has no blocks; a larger one
keeps block `n` (bytes `[n*bs, (n+1)*bs)`) as item `(ino, n)` of the blocks
table, absent for a hole and shorter than `bs` where the rest is zeros. No
stored byte lies at or past the size. Blocks are written before the inode
update that makes them visible; rewriting the same block is harmless, so a
retried write is too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from cloudfs.driver import StagedData
from cloudfs.readahead import Readahead

from ..inodestore.records import Inode
from .client import BATCH_WRITE_MAX, Dynamo
from .items import Item, inline_data

log = logging.getLogger(__name__)

# Batches in flight at once for one write: bounds memory to about 8 x 25 blocks.
WRITE_WINDOW = 8
# Sequential readers get a window that doubles up to READ_CAP, fetched as parallel Queries of
# READ_PART bytes: 14 blocks keep one Query within DynamoDB's 1 MB page.
READ_PART_BLOCKS = 14
READ_CAP = 8 * 1024 * 1024
READERS = 4


class FileData:
    """Reads and writes file contents for one store."""

    def __init__(self, dynamo: Dynamo, block_size: int, inline_max: int) -> None:
        """Blocks of `block_size` bytes; files up to `inline_max` bytes stay in their inode item."""
        self.dynamo = dynamo
        self.block_size = block_size
        self.inline_max = inline_max
        self._pool = ThreadPoolExecutor(max_workers=WRITE_WINDOW, thread_name_prefix="cloudfs-blocks")
        self._read_pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="cloudfs-readahead")
        part = READ_PART_BLOCKS * block_size
        self._readahead = Readahead(self._fetch, self._read_pool, initial=part, cap=max(READ_CAP, part), part=part)
        self._versions: dict[int, int] = {}
        self._lock = threading.Lock()

    def read(self, inode: Inode, item: Item, off: int, size: int) -> bytes:
        """Up to `size` bytes at `off`; holes and the unstored tail read as zeros."""
        end = min(off + size, inode.size)
        if end <= off:
            return b""
        if inode.size <= self.inline_max:
            data = inline_data(item)[off:end]
            return data + bytes(end - off - len(data))
        with self._lock:
            if self._versions.get(inode.ino) != inode.version:
                self._readahead.drop(inode.ino)  # another version: what was read ahead may be stale
                self._versions[inode.ino] = inode.version
        return self._readahead.read(inode.ino, off, size, inode.size)

    def _fetch(self, ino: int, start: int, end: int) -> bytes:
        """Bytes `[start, end)` of block file `ino` from one Query (per page); holes as zeros."""
        bs = self.block_size
        buf = bytearray(end - start)
        for num, block in self.dynamo.query_blocks(ino, start // bs, (end - 1) // bs):
            block_start = num * bs
            lo, hi = max(start, block_start), min(end, block_start + len(block))
            if hi > lo:
                buf[lo - start : hi - start] = block[lo - block_start : hi - block_start]
        return bytes(buf)

    def write(self, inode: Inode, item: Item, new_size: int, data: StagedData | None) -> bytes | None:
        """Store what changed and cut to `new_size`; returns the inline contents, or None for a block file."""
        self._readahead.drop(inode.ino)
        if new_size <= self.inline_max:
            content = data.read(0, min(data.size, new_size)) if data else self.read(inode, item, 0, new_size)
            if inode.size > self.inline_max:
                self._send(self._deletes(inode.ino, range(self._count(inode.size))))
            return content[:new_size].rstrip(b"\0")
        puts = self._changed_blocks(inode, item, new_size, data)
        requests = self._cut(inode, new_size, puts)
        self._send(self._requests(inode.ino, puts, requests))
        return None

    def _count(self, size: int) -> int:
        """How many blocks a file of `size` bytes spans."""
        return -(-size // self.block_size)

    def _changed_blocks(self, inode: Inode, item: Item, new_size: int, data: StagedData | None) -> dict[int, Any]:
        """Block numbers to rewrite, each with where its bytes come from."""
        bs = self.block_size
        if inode.size <= self.inline_max:
            if data is None:
                return {0: inline_data(item)[:new_size]}
            ranges = [(0, data.size)]
        else:
            ranges = data.dirty_ranges() if data else []
        limit = min(new_size, data.size) if data else new_size
        touched: dict[int, Any] = {}
        for start, end in ranges:
            end = min(end, limit)
            for num in range(start // bs, (end - 1) // bs + 1) if end > start else ():
                touched[num] = data
        return touched

    def _cut(self, inode: Inode, new_size: int, puts: dict[int, Any]) -> list[dict[str, Any]]:
        """Deletes of blocks past a smaller size, and the last kept block trimmed (added to `puts`)."""
        if inode.size <= self.inline_max or new_size >= inode.size:
            return []
        bs = self.block_size
        gone = [n for n in range(self._count(new_size), self._count(inode.size)) if n not in puts]
        tail = new_size // bs
        if new_size % bs and tail not in puts:
            stored = dict(self.dynamo.query_blocks(inode.ino, tail, tail)).get(tail)
            if stored is not None and len(stored) > new_size % bs:
                puts[tail] = stored[: new_size % bs]
        return list(self._deletes(inode.ino, gone))

    @staticmethod
    def _deletes(ino: int, nums: Iterable[int]) -> Iterator[dict[str, Any]]:
        """DeleteRequests for blocks `nums` of inode `ino`."""
        for num in nums:
            yield {"DeleteRequest": {"Key": {"blockId": {"N": str(ino)}, "blockNum": {"N": str(num)}}}}

    def _requests(self, ino: int, puts: dict[int, Any], extra: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Put (or, for an all-zero block, delete) requests for `puts`, then `extra`, keyed to inode `ino`."""
        bs = self.block_size
        for num in sorted(puts):
            source = puts[num]
            if isinstance(source, bytes | bytearray):
                content = bytes(source)
            else:
                content = source.read(num * bs, min(bs, source.size - num * bs))
            content = content.rstrip(b"\0")
            key = {"blockId": {"N": str(ino)}, "blockNum": {"N": str(num)}}
            if content:
                yield {"PutRequest": {"Item": {**key, "data": {"B": content}}}}
            else:
                yield {"DeleteRequest": {"Key": key}}
        yield from extra

    def delete_all(self, ino: int, size: int) -> None:
        """Delete every block a file of `size` bytes may have (purge)."""
        if size > self.inline_max:
            self._send(self._deletes(ino, range(self._count(size))))

    def _send(self, requests: Iterator[dict[str, Any]]) -> None:
        """BatchWriteItem the requests 25 at a time, up to WRITE_WINDOW batches in flight; raise the first failure."""
        in_flight: set[Future[None]] = set()
        batch: list[dict[str, Any]] = []
        try:
            for request in requests:
                batch.append(request)
                if len(batch) == BATCH_WRITE_MAX:
                    in_flight = self._submit(in_flight, batch)
                    batch = []
            if batch:
                in_flight = self._submit(in_flight, batch)
        finally:
            for future in in_flight:
                future.result()

    def _submit(self, in_flight: set[Future[None]], batch: list[dict[str, Any]]) -> set[Future[None]]:
        """Start one batch once fewer than WRITE_WINDOW are running."""
        while len(in_flight) >= WRITE_WINDOW:
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
        in_flight.add(self._pool.submit(self.dynamo.write_blocks, batch))
        return in_flight

    def close(self) -> None:
        """Stop the block writers and readers."""
        self._pool.shutdown(wait=True)
        self._read_pool.shutdown(wait=True)
