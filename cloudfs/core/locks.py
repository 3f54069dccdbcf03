"""The rules of fcntl and flock locks, as Linux keeps them, on plain lock records (no I/O here).

POSIX record locks belong to an owner (a process on a host) and cover byte
ranges: a new lock replaces the owner's own locks where it overlaps them,
splitting them where needed, and merges with the owner's adjacent or
overlapping locks of the same type. flock locks cover the whole file and
belong to an open file description. The two families never conflict with
each other, as on Linux. Ranges are [start, end) with end None for "to the
end of the file".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from cloudfs.driver import LockRecord


def overlaps(a: LockRecord, start: int, end: int | None) -> bool:
    """True when `a` covers some byte of [start, end)."""
    return (a.end is None or a.end > start) and (end is None or a.start < end)


def conflict(
    records: Iterable[LockRecord], owner: str, family: str, exclusive: bool, start: int, end: int | None
) -> LockRecord | None:
    """The first lock of another owner that keeps `owner` from this lock, or None."""
    for held in records:
        if held.owner == owner or held.family != family:
            continue
        if (exclusive or held.exclusive) and overlaps(held, start, end):
            return held
    return None


def _cut(held: LockRecord, start: int, end: int | None) -> list[LockRecord]:
    """What is left of `held` outside [start, end): none, one or two pieces."""
    if not overlaps(held, start, end):
        return [held]
    pieces = []
    if held.start < start:
        pieces.append(dataclasses.replace(held, end=start))
    if end is not None and (held.end is None or held.end > end):
        pieces.append(dataclasses.replace(held, start=end))
    return pieces


def _touches(a: LockRecord, b: LockRecord) -> bool:
    """True when two ranges overlap or meet end to start."""
    return (a.end is None or a.end >= b.start) and (b.end is None or b.end >= a.start)


def applied(records: Iterable[LockRecord], request: LockRecord | None, owner: str, family: str,
            start: int, end: int | None) -> tuple[LockRecord, ...]:  # fmt: skip
    """The records after `owner` sets [start, end) to `request` (None unlocks), with its own locks split and merged."""
    others: list[LockRecord] = []
    own: list[LockRecord] = []
    for held in records:
        if held.owner == owner and held.family == family:
            own.extend(_cut(held, start, end))
        else:
            others.append(held)
    if request is not None:
        merged = request
        rest = []
        for held in own:
            if held.exclusive == merged.exclusive and _touches(held, merged):
                merged = dataclasses.replace(
                    merged,
                    start=min(held.start, merged.start),
                    end=None if held.end is None or merged.end is None else max(held.end, merged.end),
                )
            else:
                rest.append(held)
        own = [*rest, merged]
    own.sort(key=lambda r: r.start)
    return (*others, *own)


def without_owners(records: Iterable[LockRecord], gone: set[str]) -> tuple[LockRecord, ...]:
    """The records of every owner but those in `gone`."""
    return tuple(r for r in records if r.owner not in gone)


def without_sessions(records: Iterable[LockRecord], dead: set[str]) -> tuple[LockRecord, ...]:
    """The records whose mount still holds its lease."""
    return tuple(r for r in records if r.session not in dead)
