"""Lock requests as they arrive on open handles: whose lock it is, and what goes when a handle closes.

The kernel names a POSIX lock's owner (a process) itself, but an flock
belongs to an open file description, which is the handle: the kernel's id
for it is the file's address, reused by the next open while the old one's
release may still be on its way. It sends no unlock for OFD locks, so every
lock taken through a handle is dropped when the handle is released.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import threading
from collections.abc import Callable

from cloudfs.core.shared_locks import LockRequest, SharedLocks
from cloudfs.driver import LockRecord
from cloudfs.errors import FsError

log = logging.getLogger(__name__)


class HandleLocks:
    """The lock calls of one mount by handle; `inode_of(fh)` names the file or directory a handle is open on."""

    def __init__(self, shared: SharedLocks | None, inode_of: Callable[[int], int]) -> None:
        self.shared = shared
        self.inode_of = inode_of
        self._lock = threading.Lock()
        self._taken: dict[int, set[tuple[int, str]]] = {}  # by handle: the (owner, family) that locked through it

    def test(self, fh: int, request: LockRequest) -> LockRecord | None:
        """F_GETLK: the lock that would block `request`, on any host."""
        return self._store().test(self.inode_of(fh), self._owned(fh, request))

    def set(self, fh: int, request: LockRequest, wait: bool, interrupted: Callable[[], bool]) -> None:
        """F_SETLK, F_SETLKW and flock: EAGAIN when held elsewhere and not waiting, EINTR when interrupted."""
        request = self._owned(fh, request)
        self._store().set(self.inode_of(fh), request, wait, interrupted)
        if request.exclusive is not None:
            with self._lock:
                self._taken.setdefault(fh, set()).add((request.owner, request.family))

    def release(self, fh: int, owner: int, family: str) -> None:
        """A close: `owner` drops its locks of `family` on the file (no request if it held none)."""
        if self.shared is not None:
            self.shared.release_owner(self.inode_of(fh), fh if family == "flock" else owner, family)

    def release_handle(self, fh: int) -> None:
        """The handle's last close: every lock taken through it goes."""
        with self._lock:
            taken = self._taken.pop(fh, ())
        for owner, family in taken:
            try:
                self.release(fh, owner, family)
            except FsError as exc:
                log.warning("locks taken through handle %d were not released (%s); they end with the lease", fh, exc)

    @staticmethod
    def _owned(fh: int, request: LockRequest) -> LockRequest:
        return dataclasses.replace(request, owner=fh) if request.family == "flock" else request

    def _store(self) -> SharedLocks:
        if self.shared is None:
            raise FsError(errno.ENOLCK, "this store keeps no locks; the kernel does")
        return self.shared
