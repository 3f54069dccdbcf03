"""The lock rules on plain records: conflicts, splitting and merging as Linux does them."""

from __future__ import annotations

from cloudfs.core import locks
from cloudfs.driver import LockRecord


def rec(owner: str, start: int, end: int | None, exclusive: bool = True, family: str = "posix") -> LockRecord:
    return LockRecord(owner, family, exclusive, start, end, 1, "s")  # type: ignore[arg-type]


def spans(records: tuple[LockRecord, ...], owner: str = "a") -> list[tuple[int, int | None, bool]]:
    return [(r.start, r.end, r.exclusive) for r in records if r.owner == owner]


def test_overlapping_write_locks_of_two_owners_conflict_and_disjoint_ones_do_not() -> None:
    held = [rec("a", 0, 100)]
    assert locks.conflict(held, "b", "posix", True, 50, 60) == held[0]
    assert locks.conflict(held, "b", "posix", True, 100, 200) is None
    assert locks.conflict(held, "b", "posix", False, 99, 100) == held[0]


def test_shared_locks_coexist_and_a_write_lock_meets_them() -> None:
    held = [rec("a", 0, None, exclusive=False)]
    assert locks.conflict(held, "b", "posix", False, 10, 20) is None
    assert locks.conflict(held, "b", "posix", True, 10**12, None) == held[0]


def test_an_owner_never_conflicts_with_itself_nor_flock_with_posix() -> None:
    held = [rec("a", 0, None)]
    assert locks.conflict(held, "a", "posix", True, 0, None) is None
    assert locks.conflict(held, "b", "flock", True, 0, None) is None


def test_unlocking_the_middle_splits_a_lock_in_two() -> None:
    after = locks.applied([rec("a", 0, 300)], None, "a", "posix", 100, 200)
    assert spans(after) == [(0, 100, True), (200, 300, True)]


def test_unlocking_to_eof_cuts_a_lock_that_runs_to_eof() -> None:
    after = locks.applied([rec("a", 10, None)], None, "a", "posix", 50, None)
    assert spans(after) == [(10, 50, True)]


def test_adjacent_and_overlapping_locks_of_one_type_merge() -> None:
    records = locks.applied([rec("a", 0, 10)], rec("a", 20, 30), "a", "posix", 20, 30)
    merged = locks.applied(records, rec("a", 10, 20), "a", "posix", 10, 20)
    assert spans(merged) == [(0, 30, True)]


def test_a_new_type_over_part_of_a_lock_replaces_that_part_only() -> None:
    after = locks.applied([rec("a", 0, 300)], rec("a", 100, 200, exclusive=False), "a", "posix", 100, 200)
    assert spans(after) == [(0, 100, True), (100, 200, False), (200, 300, True)]


def test_other_owners_and_families_are_untouched_by_an_unlock() -> None:
    others = [rec("b", 0, 10, exclusive=False), rec("a", 0, None, family="flock")]
    after = locks.applied([*others, rec("a", 0, 10)], None, "a", "posix", 0, None)
    assert set(after) == set(others)
