"""The one place where errors become kernel replies.

`FsError` carries its errno through; anything else is a bug or an
unexpected store fault: it is logged with its traceback and answered EIO.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import llfuse

from cloudfs.errors import FsError

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

MAX_LOGGED_BYTES = 64  # longer buffers (write data) are logged by size: a log line per request stays short


def describe(arg: object) -> str:
    """A short text for one request argument in the debug log: data by its size, callers by their ids."""
    if isinstance(arg, bytes | bytearray | memoryview) and len(arg) > MAX_LOGGED_BYTES:
        return f"<{len(arg)} bytes>"
    if isinstance(arg, llfuse.RequestContext):
        return f"<uid={arg.uid} gid={arg.gid} pid={arg.pid}>"
    return repr(arg)


def to_fuse_error(exc: BaseException, operation: str) -> llfuse.FUSEError:
    """The FUSEError the kernel gets for `exc` raised while serving `operation`."""
    if isinstance(exc, FsError):
        log.debug("%s: %s", operation, exc)
        return llfuse.FUSEError(exc.errno)
    log.error("%s failed unexpectedly", operation, exc_info=exc)
    return llfuse.FUSEError(errno.EIO)


def fuse_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a handler so every failure reaches the kernel as an errno."""

    name = func.__name__

    @functools.wraps(func)
    def handler(*args: P.args, **kwargs: P.kwargs) -> R:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s(%s)", name, ", ".join(describe(a) for a in args[1:]))
        try:
            return func(*args, **kwargs)
        except llfuse.FUSEError:
            raise
        except Exception as exc:
            raise to_fuse_error(exc, name) from None

    return handler
