"""Deletes of unlinked objects, sent behind the unlink as batches (a group commit).

`rm -rf` unlinks one name after another, each waiting for the last: with a
DELETE inside every unlink, a directory of N files costs N round trips in a
row. Here an unlink only queues its key; one thread sends whatever has queued
since the last request went, as one DeleteObjects of up to 1000 keys (a single
key as a plain DELETE). The first delete leaves at once, and the others gather
while it is on its way, so a delete waits at most for the one before it.

Invariants, under the driver's lock (`lock`, shared so a path's state and the
driver's view of it change together): a path being created again waits in
`claim` until the delete of its old object has been answered, so a new object
is never deleted by an old unlink, and the old one never outlives it; `done(path,
ok)` runs for every key sent, once its request is answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from cloudfs.errors import FsError

from .store import Store

log = logging.getLogger(__name__)

BATCH = 1000  # DeleteObjects' limit


class BatchedDeletes:
    """A queue of keys to delete and the thread that sends them."""

    def __init__(
        self,
        store: Store,
        lock: threading.RLock,
        done: Callable[[str, bool], None],
    ) -> None:
        """Delete through `store`; `lock` is the driver's, and `done` runs under it."""
        self._store = store
        self._changed = threading.Condition(lock)
        self._done = done
        self._queued: dict[str, None] = {}  # insertion-ordered set
        self._in_flight: set[str] = set()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="s3-deletes", daemon=True)
        self._thread.start()

    def submit(self, path: str) -> None:
        """Queue the object at `path` for deletion."""
        with self._changed:
            self._queued[path] = None
            self._changed.notify_all()

    def claim(self, path: str) -> None:
        """`path` is being created again: wait until the delete of its old object, if any, is answered."""
        with self._changed:
            self._changed.wait_for(lambda: path not in self._queued and path not in self._in_flight)

    def flush(self) -> None:
        """Wait until every delete queued so far has been answered (rmdir, unmount)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._queued and not self._in_flight)

    def close(self) -> None:
        """Send what is queued, then stop the thread."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()

    def _take(self) -> list[str] | None:
        """The next batch, once there is one; None when closing with nothing left."""
        with self._changed:
            self._changed.wait_for(lambda: self._queued or self._closing)
            if not self._queued:
                return None
            batch = list(self._queued)[:BATCH]
            for path in batch:
                del self._queued[path]
            self._in_flight.update(batch)
            return batch

    def _run(self) -> None:
        """Send batches until closed."""
        while (batch := self._take()) is not None:
            ok = True
            try:
                if len(batch) == 1:
                    self._store.delete(batch[0])
                else:
                    self._store.delete_many(batch)
            except FsError as exc:
                ok = False
                log.error("deleting %d unlinked objects failed (%s); they stay in the bucket", len(batch), exc)
            except Exception:
                ok = False
                log.exception("deleting %d unlinked objects failed; they stay in the bucket", len(batch))
            with self._changed:
                self._in_flight.difference_update(batch)
                for path in batch:
                    self._done(path, ok)
                self._changed.notify_all()
