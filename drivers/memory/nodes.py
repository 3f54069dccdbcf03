"""In-memory inode records and sparse file contents for the memory driver.

Invariant kept by `SparseBytes`: every stored byte at or beyond `size` is
zero, so growing a file never resurrects old data and holes read as zeros.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

from cloudfs.driver import Attr

CHUNK = 65536


class SparseBytes:
    """File contents kept as fixed-size chunks; a missing chunk is a hole of zeros."""

    def __init__(self) -> None:
        """Start as an empty file."""
        self.size = 0
        self._chunks: dict[int, bytearray] = {}

    def stored_bytes(self) -> int:
        """Bytes of memory the chunks occupy (for statfs)."""
        return len(self._chunks) * CHUNK

    def read(self, off: int, size: int) -> bytes:
        """Up to `size` bytes at `off`, short only at end of file."""
        end = min(off + size, self.size)
        if off >= end:
            return b""
        out = bytearray(end - off)
        for idx in range(off // CHUNK, (end - 1) // CHUNK + 1):
            chunk = self._chunks.get(idx)
            if chunk is None:
                continue
            base = idx * CHUNK
            lo, hi = max(off, base), min(end, base + CHUNK)
            out[lo - off : hi - off] = chunk[lo - base : hi - base]
        return bytes(out)

    def write(self, off: int, data: bytes) -> None:
        """Replace bytes at `off`, growing the file if the range ends past it."""
        end = off + len(data)
        pos = off
        while pos < end:
            idx, start = divmod(pos, CHUNK)
            count = min(CHUNK - start, end - pos)
            chunk = self._chunks.get(idx)
            if chunk is None:
                chunk = self._chunks[idx] = bytearray(CHUNK)
            chunk[start : start + count] = data[pos - off : pos - off + count]
            pos += count
        self.size = max(self.size, end)

    def truncate(self, size: int) -> None:
        """Set the size; shrinking zeroes what is cut so a later extension reads zeros."""
        if size < self.size:
            keep = -(-size // CHUNK)
            for idx in [i for i in self._chunks if i >= keep]:
                del self._chunks[idx]
            tail = size % CHUNK
            chunk = self._chunks.get(size // CHUNK)
            if tail and chunk is not None:
                chunk[tail:] = bytes(CHUNK - tail)
        self.size = size


@dataclass(slots=True)
class Inode:
    """One inode: attributes plus the payload its type needs.

    Directories keep `entries` and `parent` (for `..` nlink bookkeeping and the
    rename-into-own-subtree check); regular files keep `data`; symlinks keep
    `target`. An inode with nlink 0 is an orphan kept until `purge`.
    """

    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    rdev: int = 0
    parent: int = 0
    entries: dict[bytes, int] = field(default_factory=dict)
    data: SparseBytes = field(default_factory=SparseBytes)
    target: bytes = b""
    xattrs: dict[bytes, bytes] = field(default_factory=dict)

    @property
    def is_dir(self) -> bool:
        """True for a directory."""
        return stat.S_ISDIR(self.mode)

    @property
    def is_reg(self) -> bool:
        """True for a regular file."""
        return stat.S_ISREG(self.mode)

    def size(self) -> int:
        """st_size: content length for files, target length for symlinks, 0 otherwise."""
        if self.is_reg:
            return self.data.size
        if stat.S_ISLNK(self.mode):
            return len(self.target)
        return 0

    def attr(self) -> Attr:
        """A frozen snapshot of the attributes."""
        return Attr(
            ino=self.ino,
            mode=self.mode,
            nlink=self.nlink,
            uid=self.uid,
            gid=self.gid,
            size=self.size(),
            atime_ns=self.atime_ns,
            mtime_ns=self.mtime_ns,
            ctime_ns=self.ctime_ns,
            rdev=self.rdev,
        )
