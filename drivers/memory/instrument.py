"""Call counting and failure injection for the memory driver.

The core's unit tests use these to assert how many store requests an
operation costs and how the core reacts when a store call fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cloudfs.driver import Driver
from cloudfs.errors import FsError

log = logging.getLogger(__name__)

# Every method of the protocol; fail() refuses other names so a typo cannot arm nothing.
PROTOCOL_METHODS = frozenset(
    name for name, value in vars(Driver).items() if callable(value) and not name.startswith("_")
)


@dataclass(slots=True)
class _Fault:
    """A planned failure: let `skip` calls pass, then fail `remaining` calls with `errno`."""

    errno: int
    skip: int
    remaining: int


class FaultPlan:
    """Planned failures per protocol method; not thread-safe, the driver's lock guards it."""

    def __init__(self) -> None:
        """Start with nothing armed."""
        self._faults: dict[str, _Fault] = {}

    def arm(self, method: str, errno: int, times: int, after: int) -> None:
        """Make calls after+1 .. after+times of `method` fail; replaces an earlier plan for it."""
        if method not in PROTOCOL_METHODS:
            raise ValueError(f"{method!r} is not a driver protocol method")
        if times < 1 or after < 0:
            raise ValueError(f"need times >= 1 and after >= 0, got times={times} after={after}")
        self._faults[method] = _Fault(errno=errno, skip=after, remaining=times)

    def check(self, method: str) -> None:
        """Raise FsError if this call of `method` is planned to fail."""
        fault = self._faults.get(method)
        if fault is None:
            return
        if fault.skip:
            fault.skip -= 1
            return
        fault.remaining -= 1
        if not fault.remaining:
            del self._faults[method]
        log.debug("injected failure of %s: errno %d", method, fault.errno)
        raise FsError(fault.errno, f"injected failure of {method}")
