"""The one retry policy for transient store faults, shared by the S3 and DynamoDB drivers.

Capped exponential backoff with full jitter and a bounded total time, built on
tenacity; optionally a quick first retry for a failure that says nothing of load. Each
driver supplies its own `is_transient(exc)` predicate; only the smallest
idempotent step is wrapped, so a retry never repeats a half-done change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random,
    wait_random_exponential,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a call whose failure `is_transient` calls temporary.

    `initial_wait` seeds the exponential backoff, `max_wait` caps one sleep,
    `max_time` bounds the whole attempt (after which the last error is raised)
    and `max_attempts` bounds the number of tries. A first failure for which
    `retry_at_once` holds (one that says nothing about the store's load: a
    dropped connection, a cut body, an internal error) is retried after at
    most `quick_wait`; every later failure backs off as usual.
    """

    is_transient: Callable[[BaseException], bool]
    initial_wait: float = 0.05
    max_wait: float = 5.0
    max_time: float = 60.0
    max_attempts: int = 10
    retry_at_once: Callable[[BaseException], bool] | None = None
    quick_wait: float = 0.005

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying transient failures; `what` names the step in log lines."""

        def before_sleep(state: RetryCallState) -> None:
            """Log each failed attempt before backing off."""
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s failed (attempt %d), retrying: %s", what, state.attempt_number, exc)

        backoff = wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait)
        quick = wait_random(0, self.quick_wait)

        def wait(state: RetryCallState) -> float:
            """A quick first retry where `retry_at_once` allows it, the jittered exponential backoff otherwise."""
            exc = state.outcome.exception() if state.outcome else None
            at_once = exc is not None and self.retry_at_once is not None and self.retry_at_once(exc)
            return quick(state) if at_once and state.attempt_number == 1 else backoff(state)

        retrying = Retrying(
            retry=retry_if_exception(self.is_transient),
            wait=wait,
            stop=stop_after_delay(self.max_time) | stop_after_attempt(self.max_attempts),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)
