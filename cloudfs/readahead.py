"""Ranged reads with sequential readahead, for drivers that read a file in ranges (S3 objects, DynamoDB blocks).

A reader that keeps reading where it stopped gets a window that starts at
1 MiB and doubles up to a cap; windows larger than one part are fetched as
parallel ranged GETs. A read anywhere else (random access) fetches just what
was asked and resets the window, so random readers never pay for readahead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

MiB = 1024 * 1024
# Files whose read position and buffer are kept: each buffer may hold a whole window.
MAX_FILES = 16


@dataclass
class _State:
    """One inode's read position, window and buffered bytes."""

    next_off: int = 0
    window: int = 0
    buf_start: int = 0
    buf: bytes = b""


class Readahead:
    """Per-inode readahead over `fetch(ino, start, end) -> bytes`, parts fetched on `pool`."""

    def __init__(
        self,
        fetch: Callable[[int, int, int], bytes],
        pool: ThreadPoolExecutor,
        initial: int = 1 * MiB,
        cap: int = 64 * MiB,
        part: int = 8 * MiB,
    ) -> None:
        """Windows start at `initial`, double to `cap`, and are fetched `part` bytes per GET."""
        self.fetch = fetch
        self.pool = pool
        self.initial = initial
        self.cap = cap
        self.part = part
        self._lock = threading.Lock()
        self._states: OrderedDict[int, tuple[threading.Lock, _State]] = OrderedDict()

    def _state(self, ino: int) -> tuple[threading.Lock, _State]:
        """The lock and state of `ino`, created on first use; only the MAX_FILES latest are kept (memory)."""
        with self._lock:
            if ino not in self._states:
                self._states[ino] = (threading.Lock(), _State())
                while len(self._states) > MAX_FILES:
                    self._states.popitem(last=False)
            self._states.move_to_end(ino)
            return self._states[ino]

    def drop(self, ino: int) -> None:
        """Forget what was read of `ino` (its contents changed or it is gone)."""
        with self._lock:
            self._states.pop(ino, None)

    def read(self, ino: int, off: int, size: int, file_size: int) -> bytes:
        """Up to `size` bytes at `off` of a `file_size`-byte object."""
        end = min(off + size, file_size)
        if off >= end:
            return b""
        lock, st = self._state(ino)
        with lock:
            if st.buf_start <= off and end <= st.buf_start + len(st.buf):
                st.next_off = end
                return st.buf[off - st.buf_start : end - st.buf_start]
            if off == st.next_off:
                st.window = min(st.window * 2, self.cap) if st.window else self.initial
                fetch_end = min(off + max(size, st.window), file_size)
            else:
                st.window = 0
                fetch_end = end
            st.buf, st.buf_start = self._fetch(ino, off, fetch_end), off
            st.next_off = end
            return st.buf[: end - off]

    def _fetch(self, ino: int, start: int, end: int) -> bytes:
        """Bytes `[start, end)`, as parallel part-sized GETs when the range is large."""
        if end - start <= self.part:
            return self.fetch(ino, start, end)
        bounds = [(s, min(s + self.part, end)) for s in range(start, end, self.part)]
        return b"".join(self.pool.map(lambda b: self.fetch(ino, b[0], b[1]), bounds))
