"""Error types shared by every layer.

Drivers and the core raise `FsError`; only `cloudfs/fuse/errors.py` turns
errors into kernel replies. `SourceError` and `StoreError` end a mount
attempt before anything is mounted (exit codes 2 and 1).
"""

from __future__ import annotations

import errno as errno_codes
import os


class FsError(Exception):
    """A filesystem operation failed with a POSIX errno.

    `message` is for the log; the caller sees only the errno.
    """

    def __init__(self, errno: int, message: str = "") -> None:
        super().__init__(errno, message or os.strerror(errno))
        self.errno = errno
        self.message = message or os.strerror(errno)

    def __str__(self) -> str:
        name = errno_codes.errorcode.get(self.errno, str(self.errno))
        return f"[{name}] {self.message}"


class SourceError(ValueError):
    """The mount source or an option is malformed or names something missing (exit 2)."""


class StoreError(RuntimeError):
    """The store cannot be reached or used: no bucket, no table, no credentials (exit 1)."""
