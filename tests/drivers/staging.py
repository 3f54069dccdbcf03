"""A minimal `StagedData` for driver tests: base contents plus recorded writes and truncations."""

from __future__ import annotations

from cloudfs.driver import Driver


class Staged:
    """New contents of a file built from `base`, tracking which byte ranges changed.

    Besides written ranges, the part of `base` that a truncation cut and a later
    growth brought back counts as dirty: the store still holds the old bytes there.
    """

    def __init__(self, base: bytes = b"") -> None:
        """Start from the file's current contents `base` with nothing dirty."""
        self._content = bytearray(base)
        self._base_len = len(base)
        self._cut = len(base)
        self._written: list[tuple[int, int]] = []

    @property
    def size(self) -> int:
        """The new size in bytes."""
        return len(self._content)

    @property
    def base_size(self) -> int:
        """The size of `base`: what the store held before these changes."""
        return self._base_len

    def write(self, off: int, data: bytes) -> Staged:
        """Overwrite at `off`, growing the file (with zeros in any gap) as needed."""
        if off > self.size:
            self._content.extend(bytes(off - self.size))
        self._content[off : off + len(data)] = data
        if data:
            self._written.append((off, off + len(data)))
        return self

    def truncate(self, size: int) -> Staged:
        """Cut or zero-extend to `size`."""
        if size < self.size:
            del self._content[size:]
            self._cut = min(self._cut, size)
        else:
            self._content.extend(bytes(size - self.size))
        return self

    def dirty_ranges(self) -> list[tuple[int, int]]:
        """Sorted, disjoint, merged ranges within the new size."""
        ranges = [*self._written]
        if self._cut < self._base_len:
            ranges.append((self._cut, self._base_len))
        merged: list[tuple[int, int]] = []
        for start, end in sorted(ranges):
            end = min(end, self.size)
            if start >= end:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def read(self, off: int, size: int) -> bytes:
        """Bytes of the new contents at `off`, short only at the end."""
        return bytes(self._content[off : off + size])


class ReadThrough(Staged):
    """A Staged whose unchanged bytes come back from the driver itself, as the core's spool does.

    A driver that reads more than the dirty ranges from it (whole blocks, the
    whole object) thus calls back into itself in the middle of `write`.
    """

    def __init__(self, driver: Driver, ino: int) -> None:
        """Stage changes to `ino` as it is stored now."""
        super().__init__(driver.read(ino, 0, driver.getattr(ino).size))
        self._driver = driver
        self._ino = ino

    def read(self, off: int, size: int) -> bytes:
        """Dirty bytes from the staged copy, clean ones from the driver, zeros past the old end."""
        data = bytearray(super().read(off, size))
        limit = min(off + len(data), self._cut)
        pos = off
        for start, stop in [*self.dirty_ranges(), (limit, limit)]:
            clean_end = min(start, limit)
            if pos < clean_end:
                data[pos - off : clean_end - off] = self._driver.read(self._ino, pos, clean_end - pos)
            pos = max(pos, stop)
            if pos >= limit:
                break
        return bytes(data)
