"""The in-memory driver (`memory:LABEL`): the reference implementation used by fast tests.

Every `open` makes a new, empty store; the label only names it in logs.
"""

from __future__ import annotations

import logging

from cloudfs.driver import DriverSettings, DriverSpec

from .driver import FULL_CAPABILITIES, MemoryDriver

log = logging.getLogger(__name__)

__all__ = ["FULL_CAPABILITIES", "SPEC", "MemoryDriver"]


def _parse(location: str) -> str:
    """Any location is fine: it is only a label."""
    return location


def _open(location: object, settings: DriverSettings) -> MemoryDriver:
    """A new, empty store; generic options such as uid are the core's business."""
    log.info("new in-memory store %r", location)
    return MemoryDriver()


SPEC = DriverSpec(
    scheme="memory",
    summary="in-memory store for tests; contents vanish at unmount",
    parse=_parse,
    open=_open,
)
