"""Write-back staging: a file's unflushed writes in a sparse local spool file.

The spool directory is private (0700). Each staged inode gets one sparse
file holding only the bytes written since the last flush; `dirty` records
which ranges those are. Bytes outside them come from the store, so opening a large file for a one-byte
change never downloads it. A staged file is `StagedData` for the driver.

After a failed flush the spool file stays where it is and the log names it,
so no written byte is lost with the store unreachable.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from cloudfs.core.ranges import RangeSet

log = logging.getLogger(__name__)

ReadBase = Callable[[int, int], bytes]


class Spool:
    """The private directory that holds staged files."""

    def __init__(self, directory: Path | None = None) -> None:
        if directory is None:
            self.path = Path(tempfile.mkdtemp(prefix="cloudfs-spool-"))
        else:
            self.path = directory
            self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, stat.S_IRWXU)

    def stage(self, ino: int, store_size: int, read_base: ReadBase) -> StagedFile:
        """A new staged file for `ino` whose unchanged bytes come from `read_base`."""
        fd, name = tempfile.mkstemp(prefix=f"ino{ino}-", dir=self.path)
        return StagedFile(fd, Path(name), store_size, read_base)

    def remove_if_empty(self) -> None:
        """Remove the spool directory when no staged file is left in it."""
        try:
            self.path.rmdir()
        except OSError:
            log.warning("spool %s still holds unflushed data; it is kept", self.path)


class StagedFile:
    """One inode's unflushed changes; implements the driver's StagedData protocol.

    `_store_size` is the size the store holds; bytes below `_clean_limit`
    that were not written read from the store, the rest as zeros. Zeros that
    cover bytes the store still has (a truncate, then growth) count as dirty,
    so the driver overwrites them.
    """

    def __init__(self, fd: int, path: Path, store_size: int, read_base: ReadBase) -> None:
        self._fd = fd
        self.path = path
        self._read_base = read_base
        self._store_size = store_size
        self._clean_limit = store_size
        self._size = store_size
        self._dirty = RangeSet()
        self._lock = threading.Lock()
        self.generation = 0

    @property
    def size(self) -> int:
        """The file's size including staged changes."""
        return self._size

    @property
    def base_size(self) -> int:
        """The store's size when these changes began (at staging, or at the last flush)."""
        return self._store_size

    @property
    def changed(self) -> bool:
        """True when there is something the store does not have yet."""
        return bool(self._dirty) or self._size != self._store_size

    def dirty_ranges(self) -> list[tuple[int, int]]:
        """Ranges that differ from the store, within the current size."""
        with self._lock:
            return self._dirty.ranges()

    def write(self, off: int, data: bytes) -> int:
        """Stage `data` at `off`; returns the number of bytes staged."""
        if not data:
            return 0
        with self._lock:
            self._grow(off)
            os.pwrite(self._fd, data, off)
            self._dirty.add(off, off + len(data))
            self._size = max(self._size, off + len(data))
            self.generation += 1
        return len(data)

    def truncate(self, size: int) -> None:
        """Change the size; bytes past the old end read as zeros."""
        with self._lock:
            if size < self._size:
                self._dirty.clip(size)
                self._clean_limit = min(self._clean_limit, size)
            else:
                self._grow(size)
            os.ftruncate(self._fd, size)
            self._size = size
            self.generation += 1

    def _grow(self, new_end: int) -> None:
        """Zeros appearing over bytes the store still has are a change the store must get."""
        self._dirty.add(self._size, min(new_end, self._store_size))

    def read(self, off: int, size: int) -> bytes:
        """Merged view: staged bytes where written, the store's below the clean limit, zeros beyond."""
        with self._lock:
            end = min(off + size, self._size)
            if end <= off:
                return b""
            pieces: list[bytes] = []
            pos = off
            for start, stop in self._dirty.overlapping(off, end):
                pieces.append(self._read_clean(pos, start))
                pieces.append(self._read_staged(start, stop))
                pos = stop
            pieces.append(self._read_clean(pos, end))
            return b"".join(pieces)

    def _read_staged(self, start: int, end: int) -> bytes:
        """Dirty bytes from the spool file; never-written parts of a sparse spool read as zeros."""
        data = os.pread(self._fd, end - start, start)
        return data + bytes(end - start - len(data))

    def _read_clean(self, start: int, end: int) -> bytes:
        """Unchanged bytes in `[start, end)`: the store's data, then zeros past the clean limit."""
        if start >= end:
            return b""
        from_base = b""
        if start < self._clean_limit:
            want = min(end, self._clean_limit) - start
            from_base = self._read_base(start, want)
            from_base += bytes(want - len(from_base))
        return from_base + bytes(end - start - len(from_base))

    def mark_flushed(self, generation: int) -> bool:
        """Forget the dirty ranges if nothing changed since `generation`; True if so."""
        with self._lock:
            if generation != self.generation:
                return False
            self._dirty = RangeSet()
            self._store_size = self._clean_limit = self._size
            os.ftruncate(self._fd, 0)
            return True

    def discard(self) -> None:
        """Close and delete the spool file."""
        os.close(self._fd)
        self.path.unlink(missing_ok=True)
