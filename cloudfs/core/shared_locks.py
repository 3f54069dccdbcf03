"""fcntl and flock locks that every host mounting a store sees: the rules of `locks` over a `LockStore`.

Each change is a conditional write of the file's whole lock table, so two
hosts racing for a lock cannot both win: the loser re-reads and judges again.
Locks of a mount whose lease ran out count for nothing and are pruned by the
next writer. A waiter (F_SETLKW, blocking flock) polls with backoff up to
POLL_MAX, and is woken at once by a release on its own mount.

Requests: an uncontended lock or unlock is one conditional write; a close of
a file this mount holds no lock on costs nothing.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cloudfs.core import locks as rules
from cloudfs.driver import LockRecord, LockStore, LockTable
from cloudfs.errors import FsError

log = logging.getLogger(__name__)

POLL_FIRST = 0.05
POLL_MAX = 0.8  # with a request's time on top, a waiter sees a release within about a second
INTERRUPT_CHECK = 0.05
ALIVE_CACHE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class LockRequest:
    """One lock call: who (`owner` as the kernel names it), which family, what (None unlocks), where."""

    owner: int
    family: str
    exclusive: bool | None
    start: int
    end: int | None
    pid: int = 0


class SharedLocks:
    """The lock calls of one mount, over its driver's `LockStore`.

    `before_unlock(ino)` writes the file's dirty data, `after_lock(ino)` drops
    what is cached of it: a lock is a coherence point, as on NFS.
    """

    def __init__(
        self, store: LockStore, before_unlock: Callable[[int], None], after_lock: Callable[[int], None]
    ) -> None:
        self.store = store
        self.before_unlock = before_unlock
        self.after_lock = after_lock
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._known: dict[int, LockTable] = {}  # the table as this mount last read or wrote it
        # By inode: the (kernel owner, family) pairs of this mount holding some lock, and the name they hold it under.
        self._holding: dict[int, dict[tuple[int, str], str]] = {}
        self._lost: set[int] = set()
        self._alive: dict[str, float] = {}

    def owner_name(self, owner: int) -> str:
        """A kernel lock owner, unique across hosts."""
        return f"{self.store.session}/{owner:x}"

    # -- the calls -------------------------------------------------------------

    def test(self, ino: int, request: LockRequest) -> LockRecord | None:
        """F_GETLK: the lock that would keep `request` from being granted now, or None."""
        self._check_lease(ino)
        table = self._pruned(ino, self.store.read_locks(ino))
        return rules.conflict(
            table.records, self.owner_name(request.owner), request.family, bool(request.exclusive),
            request.start, request.end,
        )  # fmt: skip

    def set(self, ino: int, request: LockRequest, wait: bool, interrupted: Callable[[], bool]) -> None:
        """F_SETLK(W) or flock: take, change or release a lock; EAGAIN if held elsewhere, EINTR if interrupted."""
        if request.exclusive is None:
            self._unlock(ino, request)
            return
        self._check_lease(ino)
        owner = self.owner_name(request.owner)
        # What this mount last wrote may be stale: it can grant a lock (the write is conditional), never refuse one.
        table = self._known.get(ino) or LockTable()
        fresh = False
        delay = POLL_FIRST
        while True:
            table = self._pruned(ino, table)
            blocker = rules.conflict(table.records, owner, request.family, request.exclusive, request.start,
                                     request.end)  # fmt: skip
            if blocker is None:
                record = LockRecord(owner, request.family, request.exclusive, request.start, request.end,  # type: ignore[arg-type]
                                    request.pid, self.store.session)  # fmt: skip
                new = rules.applied(table.records, record, owner, request.family, request.start, request.end)
                if self._write(ino, table, new):
                    with self._lock:
                        self._holding.setdefault(ino, {})[request.owner, request.family] = owner
                    self.after_lock(ino)
                    return
            elif fresh and not wait:
                raise FsError(errno.EAGAIN, f"inode {ino} is locked by {blocker.owner}")
            elif fresh:
                self._wait(delay, interrupted)
                delay = min(POLL_MAX, delay * 2)
            table = self.store.read_locks(ino)
            fresh = True

    def release_owner(self, ino: int, owner: int, family: str) -> None:
        """Drop every lock `owner` holds on `ino` in `family` (a close, as POSIX and flock want it)."""
        self._unlock(ino, LockRequest(owner, family, None, 0, None))

    def release_all(self) -> None:
        """Drop every lock this mount holds (a clean unmount), then end the lease."""
        with self._lock:
            held = {ino: set(owners.values()) for ino, owners in self._holding.items() if ino not in self._lost}
        for ino, owners in held.items():
            try:
                self._drop(ino, lambda records, gone=owners: rules.without_owners(records, gone))
            except FsError as exc:
                log.warning("locks on inode %d were not released (%s); they end with the lease", ino, exc)
        self.store.end_session()

    # -- inside ----------------------------------------------------------------

    def _unlock(self, ino: int, request: LockRequest) -> None:
        held_as = (request.owner, request.family)
        with self._lock:
            owner = self._holding.get(ino, {}).get(held_as)
            if owner is None:
                return  # nothing of ours to release: no request (every close of a file asks)
            lost = ino in self._lost
        if lost:
            self._forget_owner(ino, held_as)
            return
        self.before_unlock(ino)
        after = self._drop(
            ino, lambda records: rules.applied(records, None, owner, request.family, request.start, request.end)
        )
        if not any(r.owner == owner and r.family == request.family for r in after):
            self._forget_owner(ino, held_as)
        with self._released:
            self._released.notify_all()

    def _drop(self, ino: int, change: Callable[[tuple[LockRecord, ...]], tuple[LockRecord, ...]]) -> tuple:
        """Write `change(records)` until it lands; returns the records written.

        The table this mount last saw may lag behind another thread's write: it can serve a change, but
        "nothing to change" is only believed from a fresh read.
        """
        known = self._known.get(ino)
        table, fresh = (known, False) if known is not None else (self.store.read_locks(ino), True)
        while True:
            new = change(table.records)
            if new == table.records and fresh:
                return new
            if new != table.records and self._write(ino, table, new):
                return new
            table, fresh = self.store.read_locks(ino), True

    def _write(self, ino: int, table: LockTable, records: tuple[LockRecord, ...]) -> bool:
        written = self.store.write_locks(ino, table.version, records)
        if written is None:
            self._known.pop(ino, None)
            return False
        self._known[ino] = written
        return True

    def _forget_owner(self, ino: int, held_as: tuple[int, str]) -> None:
        with self._lock:
            owners = self._holding.get(ino, {})
            owners.pop(held_as, None)
            if not owners:
                self._holding.pop(ino, None)
                self._lost.discard(ino)

    def _pruned(self, ino: int, table: LockTable) -> LockTable:
        """`table` without the locks of other mounts whose lease ran out."""
        others = {r.session for r in table.records if r.session != self.store.session}
        now = time.monotonic()
        unsure = {s for s in others if self._alive.get(s, 0.0) < now}
        if not unsure:
            return table
        alive = self.store.sessions_alive(unsure)
        for session in alive:
            self._alive[session] = now + ALIVE_CACHE_SECONDS
        dead = unsure - alive
        if not dead:
            return table
        log.info("locks on inode %d of mounts whose lease ran out are void: %s", ino, ", ".join(sorted(dead)))
        return LockTable(rules.without_sessions(table.records, dead), table.version)

    def _wait(self, delay: float, interrupted: Callable[[], bool]) -> None:
        """Sleep up to `delay`, woken early by a release on this mount; EINTR when the caller was signalled."""
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            if interrupted():
                raise FsError(errno.EINTR, "lock wait interrupted")
            with self._released:
                if self._released.wait(min(left, INTERRUPT_CHECK)):
                    return
        if interrupted():
            raise FsError(errno.EINTR, "lock wait interrupted")

    def _check_lease(self, ino: int) -> None:
        """Locks taken under a lease that ran out are void: say so once, and refuse lock calls on those files."""
        mine = self.store.session + "/"
        with self._lock:
            newly = {
                i for i, owners in self._holding.items()
                if i not in self._lost and any(not o.startswith(mine) for o in owners.values())
            }  # fmt: skip
            self._lost |= newly
        if newly:
            log.error(
                "LOCK LEASE LOST: this mount could not renew its lease in time; the locks it held on inodes %s"
                " may now be held by other hosts, and lock calls on those files fail with EIO until closed",
                ", ".join(map(str, sorted(newly))),
            )
        with self._lock:
            if ino in self._lost:
                raise FsError(errno.EIO, f"the locks on inode {ino} were lost with this mount's lease")
