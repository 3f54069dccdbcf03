"""Mount a `Filesystem` with mfusepy on libfuse 3, serve it, and flush on the way out.

libfuse's own handlers end the loop on SIGTERM, SIGINT and SIGHUP and
unmount; every staged file is then flushed to the store before the process
exits, so `cloudfs umount` (which waits for the process) returns once the
data is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cloudfs.binding import FuseSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.descriptors import OpenDescriptors
from cloudfs.mfuse.library import mfusepy
from cloudfs.mfuse.operations import LockingOperations, Operations

log = logging.getLogger(__name__)

MAX_THREADS = 64  # lock waiters each hold a thread while they wait


class CloudFuse(mfusepy.FUSE):
    """mfusepy's FUSE, passing on what it drops: rename flags, raw UTIME_NOW/OMIT, and file infos for f*() calls."""

    def _path(self, path: bytes | None) -> str | None:
        return None if path is None else path.decode(self.encoding, self.errors)

    def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:
        return self.operations.rename(self._path(old), self._path(new), flags)

    def utimens_fuse_3(self, path: bytes | None, buf: Any, fip: Any) -> int:
        return self.operations.utimens(self._path(path), buf.contents if buf else None, fip.contents if fip else None)

    def chmod_fuse_3(self, path: bytes | None, mode: int, fip: Any) -> int:
        return self.operations.chmod(self._path(path), mode, fip.contents if fip else None)

    def chown_fuse_3(self, path: bytes | None, uid: int, gid: int, fip: Any) -> int:
        uid = -1 if uid == 2**32 - 1 else uid
        gid = -1 if gid == 2**32 - 1 else gid
        return self.operations.chown(self._path(path), uid, gid, fip.contents if fip else None)

    def truncate_fuse_3(self, path: bytes | None, length: int, fip: Any) -> int:
        return self.operations.truncate(self._path(path), length, fip.contents if fip else None)

    def flock(self, path: bytes | None, fip: Any, op: int) -> int:
        return self.operations.flock(self._path(path), fip.contents, op)


def mount_options(settings: FuseSettings) -> dict[str, Any]:
    """The options libfuse 3 takes for these settings (it has no `nonempty`: mounting over files is allowed)."""
    return {
        "fsname": settings.fsname,
        "subtype": "cloudfs",
        "default_permissions": settings.default_permissions,
        "allow_other": settings.allow_other,
        "ro": settings.read_only,
        "max_threads": max(MAX_THREADS, settings.workers),
        "debug": settings.debug,
    }


def serve(fs: Filesystem, mountpoint: str, settings: FuseSettings, ready: Callable[[], None]) -> int:
    """Mount, call `ready` once the kernel is connected, serve until unmounted; returns files not written."""
    kind = LockingOperations if fs.caps.locks == "shared" else Operations
    fs.files.still_held = OpenDescriptors(mountpoint).holds
    try:
        CloudFuse(kind(fs, ready), mountpoint, raw_fi=True, foreground=True, **mount_options(settings))
        log.info("unmounted %s: flushing", mountpoint)
    finally:
        failed = fs.shutdown()
    return failed
