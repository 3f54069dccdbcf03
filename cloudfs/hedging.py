"""Hedged requests: an attempt slower than recent requests of its kind gets a second one racing it.

`LatencyTracker` keeps, per kind of request, the durations of the latest
successful attempts and derives a budget from a high percentile of them,
between a floor and a cap (a conservative default until enough are seen).
`Hedger.run` starts an attempt on its own executor and waits one budget for
it; when nothing has been heard by then (no answer and no failure), it starts
another, up to `max_attempts` in all. The first answer wins: a success, or
an error that is not transient. The race is lost when every attempt failed,
or when one failed, no more may start and the others are all overdue: the
caller's retry policy then backs off and tries again (`cloudfs.retry`), so
a stalled attempt is never waited out behind failing hedges. A pending
loser is cancelled if it has not started; otherwise it is abandoned, since a
blocking HTTP call cannot be interrupted: it runs on to its answer or its
socket timeout, still holding its thread and its connection, and its result
is then handed to `discard` (a stream to close, an upload to abort) and
dropped; botocore has read a plain answer whole by then and given its
connection back to the pool. A `HedgeTokens` bucket
keeps hedges to a share of all requests, so a store that slows down as a
whole is not sent twice the load. An abandoned attempt that changes an
object may land after a newer change of it: `Hedger` fences such keys (see
there). Abandoned attempts still running when the process exits are waited
for (their socket timeout bounds that), and their fences settled.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cloudfs.retry import RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")


class LatencyTracker:
    """Per kind of request: `factor` times the `quantile` of the last `window` successful durations, clamped.

    A kind with fewer than `min_samples` durations gets `default`: kinds are
    apart because their latencies are (an 8 MiB part takes far longer than a
    HEAD), so one kind's budget says nothing safe about another's. Budgets move
    with the window, following a store that speeds up or slows down within
    `window` requests.
    """

    def __init__(
        self,
        window: int = 128,
        quantile: float = 0.99,
        factor: float = 3.0,
        floor: float = 0.1,
        cap: float = 10.0,
        default: float = 1.0,
        min_samples: int = 32,
    ) -> None:
        """Budgets of `factor` x the `quantile` of `window` durations, within [floor, cap]; `default` at first."""
        self.window = window
        self.quantile = quantile
        self.factor = factor
        self.floor = floor
        self.cap = cap
        self.default = default
        self.min_samples = min_samples
        self._samples: dict[str, deque[float]] = {}
        self._budgets: dict[str, float] = {}  # computed budgets, dropped when a sample arrives
        self._lock = threading.Lock()

    def record(self, kind: str, seconds: float) -> None:
        """One successful attempt of `kind` took `seconds`."""
        with self._lock:
            samples = self._samples.get(kind)
            if samples is None:
                samples = self._samples[kind] = deque(maxlen=self.window)
            samples.append(seconds)
            self._budgets.pop(kind, None)

    def budget(self, kind: str) -> float:
        """How long an attempt of `kind` may go unanswered before it is hedged, in seconds."""
        with self._lock:
            cached = self._budgets.get(kind)
            if cached is not None:
                return cached
            samples = self._samples.get(kind, ())
            if len(samples) < self.min_samples:
                return self.default
            ordered = sorted(samples)
            high = ordered[min(len(ordered) - 1, int(self.quantile * len(ordered)))]
            budget = self._budgets[kind] = min(self.cap, max(self.floor, self.factor * high))
            return budget


class HedgeTokens:
    """Hedges as a share of requests: each request earns `ratio` of a token (up to `burst`), a hedge spends one."""

    def __init__(self, ratio: float = 0.1, burst: float = 10.0) -> None:
        """At most about `ratio` hedges per request over time, `burst` at once; the bucket starts full."""
        self.ratio = ratio
        self.burst = burst
        self._tokens = burst
        self._lock = threading.Lock()

    def earn(self) -> None:
        """A request was made."""
        with self._lock:
            self._tokens = min(self.burst, self._tokens + self.ratio)

    def spend(self) -> bool:
        """Take a token for one hedge; False when none is left."""
        with self._lock:
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


@dataclass
class _Fence:
    """One object's abandoned changing attempts (by the number of the change they belong to), and its latest
    change since that can be sent again."""

    abandoned: dict[Future[Any], int] = field(default_factory=dict)
    oldest: int | None = None  # the number of the oldest change an abandoned attempt belonged to
    latest: tuple[int, Callable[[], object]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)  # changes and the final re-send, one at a time
    settled: threading.Event = field(default_factory=threading.Event)


class Hedger:
    """Runs calls as races of attempts on its own executor (never the caller's pool, so it cannot deadlock it).

    `is_transient(exc)` says which failures leave the race open for the other
    attempts. `workers` bounds the attempts in flight, abandoned ones included:
    the HTTP connection pool should be as large.

    A call that changes objects names their keys as `fence`, because its
    abandoned attempts may still land after a newer change of the same object
    and undo it. A change that sets an object whole (`resendable`: a PUT, a
    DELETE) goes ahead at once, and once every abandoned attempt on its key has
    ended, the latest such change is sent again if it came after them. Any
    other change (a copy, which reads what may be stale; several keys at once)
    first waits, up to `fence_timeout`, until the abandoned attempts on its
    keys have ended and that re-send is done.
    """

    def __init__(
        self,
        is_transient: Callable[[BaseException], bool],
        tracker: LatencyTracker | None = None,
        tokens: HedgeTokens | None = None,
        max_attempts: int = 3,
        workers: int = 64,
        fence_timeout: float = 60.0,
    ) -> None:
        """Races of up to `max_attempts` attempts on `workers` threads; a fence is waited for `fence_timeout` s."""
        self.is_transient = is_transient
        self.tracker = tracker or LatencyTracker()
        self.tokens = tokens or HedgeTokens()
        self.max_attempts = max_attempts
        self.fence_timeout = fence_timeout
        self.resend_policy = RetryPolicy(is_transient)
        self.attempts = 0  # attempts started, hedges included
        self.hedges = 0
        self.resends = 0
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="hedge")
        # Re-sends wait for a change in progress; on a thread of their own they never hold up attempts.
        self._resender = ThreadPoolExecutor(1, thread_name_prefix="hedge-resend")
        self._fences: dict[str, _Fence] = {}
        self._changes = itertools.count(1)
        self._lock = threading.Lock()

    def run(
        self,
        kind: str,
        fn: Callable[[], T],
        discard: Callable[[T], object] | None = None,
        fence: Iterable[str] = (),
        resendable: bool = True,
    ) -> T:
        """`fn()` raced against hedges of itself: the first answer, or the last transient failure if all failed.

        `discard` takes the result of an attempt that lost; `fence` are the keys `fn` changes, `resendable`
        whether sending it again later sets them as it did (see the class).
        """
        keys = tuple(fence)
        if not keys:
            return self._race(kind, fn, discard, keys, 0)
        change = next(self._changes)
        if len(keys) > 1 or not resendable:
            self._await_settled(keys)
            return self._race(kind, fn, discard, keys, change)
        with self._lock:
            held = self._fences.get(keys[0])
        if held is None:
            return self._race(kind, fn, discard, keys, change)
        with held.lock:
            result = self._race(kind, fn, discard, keys, change)
            if held.latest is None or held.latest[0] < change:
                held.latest = (change, fn)
        return result

    def _race(
        self, kind: str, fn: Callable[[], T], discard: Callable[[T], object] | None, keys: tuple[str, ...], change: int
    ) -> T:
        """The race itself: attempts started a budget apart, the first answer taken, the others abandoned."""
        budget = self.tracker.budget(kind)
        self.tokens.earn()
        started: dict[Future[tuple[T, float]], float] = {}  # the attempts still pending, by start time
        launched, next_at = 0, 0.0
        error: BaseException | None = None
        try:
            while True:
                now = time.monotonic()
                if launched < self.max_attempts and now >= next_at:
                    if launched == 0 or self.tokens.spend():
                        if launched:
                            log.debug("%s unanswered after %.3f s: hedging (attempt %d)", kind, budget, launched + 1)
                        started[self._start(fn, hedge=launched > 0)] = now
                        launched += 1
                    next_at = now + budget
                if not started:
                    assert error is not None
                    raise error
                if launched < self.max_attempts:
                    timeout: float | None = next_at - now
                elif error is None:
                    timeout = None  # every attempt is out and none has failed: wait for them
                else:
                    # An attempt failed and no more may start: once the rest are all overdue, the race is lost
                    # (they are abandoned) and the retry policy's backoff decides when to try again.
                    overdue_at = max(started.values()) + budget
                    if now >= overdue_at:
                        raise error
                    timeout = overdue_at - now
                done, _ = wait(started, timeout, FIRST_COMPLETED)
                for future in done:
                    del started[future]
                won = [f for f in done if f.exception() is None]
                if won:
                    result, seconds = won[0].result()
                    self.tracker.record(kind, seconds)
                    for extra in won[1:]:
                        _dispose(extra, discard)
                    return result
                for failed in done:
                    exc = failed.exception()
                    assert exc is not None
                    if not self.is_transient(exc):
                        raise exc
                    error = exc
                    next_at = max(next_at, time.monotonic() + budget)  # a failure is news: wait a budget again
        finally:
            self._abandon(set(started), discard, keys, change)

    def _start(self, fn: Callable[[], T], hedge: bool) -> Future[tuple[T, float]]:
        """Submit one attempt, timed from when a worker runs it (not while it queues)."""
        with self._lock:
            self.attempts += 1
            self.hedges += hedge

        def timed() -> tuple[T, float]:
            """The attempt's result and how long it took."""
            start = time.monotonic()
            result = fn()
            return result, time.monotonic() - start

        return self._pool.submit(timed)

    def _abandon(
        self,
        pending: set[Future[tuple[T, float]]],
        discard: Callable[[T], object] | None,
        keys: tuple[str, ...],
        change: int,
    ) -> None:
        """Cancel losers not yet started; let the others finish into `discard`, fenced on `keys` meanwhile."""
        for future in pending:
            if future.cancel():
                continue
            if keys:
                with self._lock:
                    for key in keys:
                        held = self._fences.setdefault(key, _Fence())
                        held.abandoned[future] = change
                        held.oldest = change if held.oldest is None else min(held.oldest, change)
                future.add_done_callback(lambda f: self._ended(keys, f))
            future.add_done_callback(lambda f: _dispose(f, discard))

    def _ended(self, keys: tuple[str, ...], future: Future[Any]) -> None:
        """An abandoned attempt on `keys` is over; the last one on a key has that key settled."""
        for key in keys:
            with self._lock:
                held = self._fences.get(key)
                if held is None or held.abandoned.pop(future, None) is None or held.abandoned:
                    continue
            try:
                self._resender.submit(self._settle, key, held)
            except RuntimeError:  # the interpreter is exiting (and waits for this thread): settle here
                self._settle(key, held)

    def _settle(self, key: str, held: _Fence) -> None:
        """Send the latest change of `key` again if it came after the abandoned attempts, then drop the fence."""
        with held.lock:
            latest = held.latest
            if latest is not None and held.oldest is not None and latest[0] > held.oldest:
                log.debug("%s changed while abandoned attempts on it were out: sending the change again", key)
                try:
                    self.resend_policy.call(f"re-send of the latest change of {key}", latest[1])
                    with self._lock:
                        self.resends += 1
                except Exception as exc:
                    log.error("could not send the latest change of %s again; a stale one may stay: %s", key, exc)
            with self._lock:
                if held.abandoned:  # another attempt was abandoned meanwhile: its end settles the key
                    return
                if self._fences.get(key) is held:
                    del self._fences[key]
            held.settled.set()

    def _await_settled(self, keys: tuple[str, ...]) -> None:
        """Wait (bounded) until no key of `keys` has abandoned attempts or a re-send outstanding."""
        if not self._fences:
            return
        with self._lock:
            waiting = [self._fences[key] for key in keys if key in self._fences]
        if waiting:
            log.debug("waiting for abandoned attempts on %s to end", keys[0])
            deadline = time.monotonic() + self.fence_timeout
            for held in waiting:
                held.settled.wait(max(0.0, deadline - time.monotonic()))


def _dispose(future: Future[tuple[T, float]], discard: Callable[[T], object] | None) -> None:
    """Hand a finished loser's result to `discard`; its failure, or a failing discard, is only logged."""
    if future.cancelled() or future.exception() is not None or discard is None:
        return
    try:
        discard(future.result()[0])
    except Exception as exc:
        log.info("discarding an abandoned attempt's result failed: %s", exc)
