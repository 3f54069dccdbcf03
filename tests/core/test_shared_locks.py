"""SharedLocks over an in-memory lock store shared by two "hosts": conflicts, waits, leases and request counts."""

from __future__ import annotations

import errno
import threading
import time

import pytest

from cloudfs.core.shared_locks import LockRequest, SharedLocks
from cloudfs.driver import LockTable
from cloudfs.errors import FsError

from .lockstore import MemoryLockStore, hosts

INO = 7


def never() -> bool:
    return False


def write(owner: int, start: int = 0, end: int | None = None) -> LockRequest:
    return LockRequest(owner, "posix", True, start, end, pid=100 + owner)


def unlock(owner: int, start: int = 0, end: int | None = None) -> LockRequest:
    return LockRequest(owner, "posix", None, start, end)


class Host:
    """One mount's SharedLocks with the coherence calls it made."""

    def __init__(self, store: MemoryLockStore) -> None:
        self.store = store
        self.flushed: list[int] = []
        self.revalidated: list[int] = []
        self.locks = SharedLocks(store, self.flushed.append, self.revalidated.append)


@pytest.fixture
def pair() -> tuple[Host, Host]:
    a, b = hosts("a", "b")
    return Host(a), Host(b)


def test_a_lock_held_on_one_host_refuses_the_other_with_eagain(pair: tuple[Host, Host]) -> None:
    a, b = pair
    a.locks.set(INO, write(1, 0, 100), False, never)
    with pytest.raises(FsError) as refused:
        b.locks.set(INO, write(2, 50, 60), False, never)
    assert refused.value.errno == errno.EAGAIN
    b.locks.set(INO, write(2, 100, 200), False, never)
    held = b.locks.test(INO, write(3, 0, 10))
    assert held is not None and (held.start, held.end, held.session) == (0, 100, a.store.session)


def test_an_uncontended_lock_and_unlock_cost_one_write_each_and_a_close_without_locks_none(
    pair: tuple[Host, Host],
) -> None:
    a, _ = pair
    a.locks.set(INO, write(1), False, never)
    a.locks.set(INO, unlock(1), False, never)
    a.locks.release_owner(INO, 1, "posix")
    a.locks.release_owner(INO + 1, 5, "posix")
    assert dict(a.store.requests) == {"write": 2}


def test_unlock_writes_the_file_first_and_lock_revalidates_it(pair: tuple[Host, Host]) -> None:
    a, _ = pair
    a.locks.set(INO, write(1), False, never)
    assert a.revalidated == [INO] and a.flushed == []
    a.locks.release_owner(INO, 1, "posix")
    assert a.flushed == [INO]


def test_a_waiter_gets_the_lock_within_a_second_of_its_release_elsewhere(pair: tuple[Host, Host]) -> None:
    a, b = pair
    a.locks.set(INO, write(1), False, never)
    got: list[float] = []
    waiter = threading.Thread(target=lambda: (b.locks.set(INO, write(2), True, never), got.append(time.monotonic())))
    waiter.start()
    time.sleep(1.5)  # long enough for the backoff to reach its longest poll
    assert got == []
    released = time.monotonic()
    a.locks.release_owner(INO, 1, "posix")
    waiter.join(5)
    assert got and got[0] - released < 1.0


def test_an_interrupted_wait_answers_eintr_and_leaves_no_lock(pair: tuple[Host, Host]) -> None:
    a, b = pair
    a.locks.set(INO, write(1), False, never)
    deadline = time.monotonic() + 0.3
    with pytest.raises(FsError) as stopped:
        b.locks.set(INO, write(2), True, lambda: time.monotonic() > deadline)
    assert stopped.value.errno == errno.EINTR
    a.locks.release_owner(INO, 1, "posix")
    assert a.locks.test(INO, write(1)) is None


def test_locks_of_a_host_whose_lease_ended_are_void(pair: tuple[Host, Host]) -> None:
    a, b = pair
    a.locks.set(INO, write(1), False, never)
    a.store.dead.add(a.store.session)
    b.locks.set(INO, write(2), False, never)
    assert [r.session for r in b.store.tables[INO].records] == [b.store.session]


def test_a_host_that_lost_its_lease_refuses_lock_calls_on_those_files_until_closed(pair: tuple[Host, Host]) -> None:
    a, _ = pair
    a.locks.set(INO, write(1), False, never)
    a.store.dead.add(a.store.session)
    with pytest.raises(FsError) as refused:
        a.locks.set(INO, write(1, 0, 10), False, never)
    assert refused.value.errno == errno.EIO
    a.locks.release_owner(INO, 1, "posix")
    a.locks.set(INO, write(1), False, never)
    a.locks.set(INO + 1, write(1), False, never)


def test_release_all_drops_every_lock_of_the_mount_and_ends_its_lease(pair: tuple[Host, Host]) -> None:
    a, b = pair
    a.locks.set(INO, write(1), False, never)
    a.locks.set(INO + 1, LockRequest(9, "flock", False, 0, None), False, never)
    session = a.store.session
    a.locks.release_all()
    assert a.store.tables == {} and session in a.store.dead
    b.locks.set(INO, write(2), False, never)


def test_two_hosts_racing_for_one_lock_never_both_win() -> None:
    stores = hosts(*"abcdef")
    mounts = [Host(s) for s in stores]
    winners: list[int] = []
    start = threading.Barrier(len(mounts))

    def race(index: int) -> None:
        start.wait()
        try:
            mounts[index].locks.set(INO, write(index), False, never)
            winners.append(index)
        except FsError as exc:
            assert exc.errno == errno.EAGAIN

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(mounts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_an_unlock_is_not_skipped_when_the_mounts_view_of_the_table_lags(pair: tuple[Host, Host]) -> None:
    """Two threads of one mount can record their writes out of order; the release still reaches the store."""
    a, b = pair
    a.locks.set(INO, write(1), False, never)
    a.locks._known[INO] = LockTable()  # as if a concurrent unlock's "empty" landed after this lock's write
    a.locks.release_owner(INO, 1, "posix")
    assert INO not in a.store.tables
    b.locks.set(INO, write(2), False, never)
