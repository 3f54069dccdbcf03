"""Read cache: recently read file data in block-aligned pieces, bounded in bytes.

The kernel's page cache keeps what processes read; this cache sits below it
and turns small or unaligned kernel reads into whole-block store reads, so
a store with per-request cost is asked once per block, not once per read.
Entries are dropped whenever the file changes. A sequential pass stores only
its first `sequential_limit` bytes: the driver streams such a reader anyway,
and a pass over a large file would otherwise evict every other file's blocks
for blocks it never reads again (and hold `capacity` bytes of memory).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

Fetch = Callable[[int, int], bytes]

MiB = 1024 * 1024
SEQUENTIAL_LIMIT = 8 * MiB  # bytes a sequential pass may store (see bench/results/streaming-2026-12-02.md)
# How far from where a run's reads reached a read still continues it: the kernel's concurrent reads
# of one file arrive in any order, some MiB early or late.
SEQUENTIAL_REACH = 16 * MiB


class ReadCache:
    """LRU of `(ino, block index) → bytes`, at most `capacity` bytes in all."""

    def __init__(self, block_size: int, capacity: int, sequential_limit: int = SEQUENTIAL_LIMIT) -> None:
        """Blocks of `block_size` bytes, `capacity` in all; a sequential pass stores at most `sequential_limit`."""
        self.block_size = block_size
        self.capacity = capacity
        self.sequential_limit = sequential_limit
        self._reach = max(1, SEQUENTIAL_REACH // block_size)
        self._blocks: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._used = 0
        self._versions: dict[int, tuple[int, int]] = {}
        self._runs: dict[int, tuple[int, int]] = {}  # ino -> (block after the last read, bytes its run stored)
        self._lock = threading.Lock()

    def read(self, ino: int, off: int, size: int, file_size: int, fetch: Fetch) -> bytes:
        """Bytes `[off, off+size)` of `ino`, fetching the missing blocks in one store read."""
        end = min(off + size, file_size)
        if end <= off:
            return b""
        first, last = off // self.block_size, (end - 1) // self.block_size
        blocks = self._cached(ino, first, last)
        missing = [i for i, b in enumerate(blocks) if b is None]
        if missing:
            lo, hi = first + missing[0], first + missing[-1]
            start = lo * self.block_size
            fetched = fetch(start, min((hi + 1) * self.block_size, file_size) - start)
            keep = self._run(ino, first, last, len(fetched))
            for index in range(lo, hi + 1):
                rel = (index - lo) * self.block_size
                piece = fetched[rel : rel + self.block_size]
                if blocks[index - first] is None:
                    blocks[index - first] = piece
                # Only whole blocks, or the true last block, are safe to serve to later reads.
                if keep and len(piece) == min(self.block_size, file_size - index * self.block_size):
                    self._store(ino, index, piece)
        data = b"".join(blocks)  # type: ignore[arg-type]
        skip = off - first * self.block_size
        return data[skip : skip + end - off]

    def _run(self, ino: int, first: int, last: int, fetched: int) -> bool:
        """Note a miss on blocks `first..last` that fetched `fetched` bytes; False once its run stored its limit."""
        with self._lock:
            after, stored = self._runs.get(ino, (-1, 0))
            if abs(first - after) > self._reach:
                after, stored = -1, 0  # a jump: a new run
            keep = stored < self.sequential_limit
            self._runs[ino] = (max(after, last + 1), stored + fetched if keep else stored)
            return keep

    def _cached(self, ino: int, first: int, last: int) -> list[bytes | None]:
        with self._lock:
            found: list[bytes | None] = []
            for index in range(first, last + 1):
                block = self._blocks.get((ino, index))
                if block is not None:
                    self._blocks.move_to_end((ino, index))
                found.append(block)
            return found

    def _store(self, ino: int, index: int, block: bytes) -> None:
        if len(block) > self.capacity:
            return
        with self._lock:
            old = self._blocks.pop((ino, index), None)
            if old is not None:
                self._used -= len(old)
            self._blocks[(ino, index)] = block
            self._used += len(block)
            while self._used > self.capacity:
                _, evicted = self._blocks.popitem(last=False)
                self._used -= len(evicted)

    def validate(self, ino: int, version: tuple[int, int]) -> bool:
        """Drop `ino`'s blocks unless its `(mtime_ns, size)` is what it was; True if it changed."""
        with self._lock:
            previous = self._versions.get(ino)
            if previous == version:
                return False
            self._versions[ino] = version
        self.invalidate(ino)
        return previous is not None

    def invalidate(self, ino: int) -> None:
        """Drop every cached block of `ino`."""
        with self._lock:
            self._runs.pop(ino, None)
            for key in [k for k in self._blocks if k[0] == ino]:
                self._used -= len(self._blocks.pop(key))
