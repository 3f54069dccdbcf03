"""A set of disjoint half-open byte ranges, kept sorted and merged.

Used by the write-back staging to know which bytes of a file changed, so a
block store writes only dirty blocks and an object store copies the rest.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right


class RangeSet:
    """Sorted, disjoint, non-adjacent `[start, end)` ranges."""

    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __iter__(self):
        return iter(zip(self._starts, self._ends, strict=True))

    def ranges(self) -> list[tuple[int, int]]:
        """The ranges as a list of `(start, end)` tuples."""
        return list(self)

    def add(self, start: int, end: int) -> None:
        """Add `[start, end)`, merging with overlapping or touching ranges."""
        if start >= end:
            return
        lo = bisect_left(self._ends, start)
        hi = bisect_right(self._starts, end)
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]

    def clip(self, size: int) -> None:
        """Drop everything at or beyond `size` (a truncate)."""
        keep = bisect_left(self._starts, size)
        del self._starts[keep:]
        del self._ends[keep:]
        if self._ends and self._ends[-1] > size:
            self._ends[-1] = size

    def overlapping(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of the set inside `[start, end)`."""
        lo = bisect_right(self._ends, start)
        hi = bisect_left(self._starts, end)
        return [(max(s, start), min(e, end)) for s, e in zip(self._starts[lo:hi], self._ends[lo:hi], strict=True)]
