"""An in-memory `LockStore` several `SharedLocks` can share, as hosts share a table: counts writes, ends leases."""

from __future__ import annotations

import threading
from collections import Counter

from cloudfs.driver import LockRecord, LockTable


class MemoryLockStore:
    """One host's view of a lock table kept in `tables` (shared between hosts); `dead` holds ended leases."""

    def __init__(self, name: str, tables: dict[int, LockTable], dead: set[str], lock: threading.Lock) -> None:
        self.name = name
        self.tables = tables
        self.dead = dead
        self.lock = lock
        self.requests: Counter[str] = Counter()
        self.renewals = 0

    @property
    def session(self) -> str:
        """A new name once this host's lease was ended, as a store does after losing it."""
        while f"{self.name}.{self.renewals}" in self.dead:
            self.renewals += 1
        return f"{self.name}.{self.renewals}"

    def read_locks(self, ino: int) -> LockTable:
        self.requests["read"] += 1
        with self.lock:
            return self.tables.get(ino, LockTable())

    def write_locks(self, ino: int, expected: int | None, records: tuple[LockRecord, ...]) -> LockTable | None:
        self.requests["write"] += 1
        with self.lock:
            if self.tables.get(ino, LockTable()).version != expected:
                return None
            table = LockTable(records, (expected or 0) + 1) if records else LockTable()
            if records:
                self.tables[ino] = table
            else:
                self.tables.pop(ino, None)
            return table

    def sessions_alive(self, sessions: set[str]) -> set[str]:
        self.requests["alive"] += 1
        return sessions - self.dead

    def end_session(self) -> None:
        self.dead.add(self.session)


def hosts(*names: str) -> list[MemoryLockStore]:
    """Stores for hosts `names` over one shared table."""
    tables: dict[int, LockTable] = {}
    dead: set[str] = set()
    lock = threading.Lock()
    return [MemoryLockStore(name, tables, dead, lock) for name in names]
