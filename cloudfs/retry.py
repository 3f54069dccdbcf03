"""The one retry policy for transient store faults, shared by the S3 and DynamoDB drivers.

Capped exponential backoff with full jitter and a bounded total time, built on
tenacity. Each driver supplies its own `is_transient(exc)` predicate; only the
smallest idempotent step is wrapped, so a retry never repeats a half-done change.
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
    wait_random_exponential,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a call whose failure `is_transient` calls temporary.

    `initial_wait` seeds the exponential backoff, `max_wait` caps one sleep,
    `max_time` bounds the whole attempt (after which the last error is raised)
    and `max_attempts` bounds the number of tries.
    """

    is_transient: Callable[[BaseException], bool]
    initial_wait: float = 0.05
    max_wait: float = 5.0
    max_time: float = 60.0
    max_attempts: int = 10

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying transient failures; `what` names the step in log lines."""

        def before_sleep(state: RetryCallState) -> None:
            """Log each failed attempt before backing off."""
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s failed (attempt %d), retrying: %s", what, state.attempt_number, exc)

        retrying = Retrying(
            retry=retry_if_exception(self.is_transient),
            wait=wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait),
            stop=stop_after_delay(self.max_time) | stop_after_attempt(self.max_attempts),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)
