"""RangeSet: merging, clipping and overlap queries, checked by example and against a set-of-bytes model."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from cloudfs.core.ranges import RangeSet


def _set(*ranges: tuple[int, int]) -> RangeSet:
    rs = RangeSet()
    for start, end in ranges:
        rs.add(start, end)
    return rs


def _bytes_of(ranges: list[tuple[int, int]]) -> set[int]:
    return {i for start, end in ranges for i in range(start, end)}


def test_empty_range_is_ignored() -> None:
    """An empty or inverted range adds nothing, so the set stays falsy."""
    rs = _set((5, 5), (9, 3))
    assert not rs
    assert rs.ranges() == []


def test_disjoint_ranges_stay_sorted() -> None:
    """Ranges added out of order come back sorted and separate."""
    assert _set((20, 30), (0, 5), (10, 12)).ranges() == [(0, 5), (10, 12), (20, 30)]


def test_overlapping_ranges_merge() -> None:
    """An overlap merges into one range covering both."""
    assert _set((0, 10), (5, 15)).ranges() == [(0, 15)]


def test_touching_ranges_merge() -> None:
    """Adjacent ranges merge: the set keeps no two ranges that touch."""
    assert _set((0, 10), (10, 20)).ranges() == [(0, 20)]
    assert _set((10, 20), (0, 10)).ranges() == [(0, 20)]


def test_bridging_range_merges_many() -> None:
    """One range spanning several merges them all, keeping the outer bounds."""
    assert _set((0, 2), (4, 6), (8, 10), (20, 21), (1, 9)).ranges() == [(0, 10), (20, 21)]


def test_contained_range_changes_nothing() -> None:
    """A range inside an existing one leaves it as it was."""
    assert _set((0, 100), (10, 20)).ranges() == [(0, 100)]


def test_clip_cuts_and_drops() -> None:
    """clip(size) drops ranges at or past size and shortens the one crossing it."""
    rs = _set((0, 5), (10, 20), (30, 40))
    rs.clip(15)
    assert rs.ranges() == [(0, 5), (10, 15)]
    rs.clip(10)
    assert rs.ranges() == [(0, 5)]


def test_overlapping_clamps_to_window() -> None:
    """overlapping() returns only the parts inside the window, clamped to it."""
    rs = _set((0, 5), (10, 20), (30, 40))
    assert rs.overlapping(3, 35) == [(3, 5), (10, 20), (30, 35)]
    assert rs.overlapping(5, 10) == []
    assert rs.overlapping(40, 50) == []


ranges_st = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=12)


@given(ranges_st, st.integers(0, 70), st.integers(0, 60), st.integers(0, 60))
def test_matches_set_of_bytes_model(ranges: list[tuple[int, int]], size: int, lo: int, hi: int) -> None:
    """Against a set of byte offsets: same bytes, disjoint non-touching sorted ranges, same clip and overlap."""
    rs = _set(*ranges)
    model = _bytes_of([(s, e) for s, e in ranges if s < e])
    got = rs.ranges()
    assert _bytes_of(got) == model
    assert all(s < e for s, e in got)
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(got))
    assert _bytes_of(rs.overlapping(lo, hi)) == {i for i in model if lo <= i < hi}
    rs.clip(size)
    assert _bytes_of(rs.ranges()) == {i for i in model if i < size}
