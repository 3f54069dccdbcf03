"""Mount a `Filesystem` with llfuse, serve it, and flush and unmount on the way out.

SIGTERM, SIGINT and SIGHUP end the request loop (llfuse's own handlers);
then every staged file is flushed to the store before the kernel mount goes.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

import llfuse

from cloudfs.binding import FuseSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.descriptors import OpenDescriptors
from cloudfs.fuse.operations import Operations

log = logging.getLogger(__name__)


def fuse_options(settings: FuseSettings) -> set[str]:
    """The option set handed to libfuse."""
    options = {f"fsname={settings.fsname}", "subtype=cloudfs", "big_writes", "max_read=1048576"}
    if settings.default_permissions:
        options.add("default_permissions")
    if settings.allow_other:
        options.add("allow_other")
    if settings.read_only:
        options.add("ro")
    if settings.nonempty:
        options.add("nonempty")
    if settings.debug:
        options.add("debug")
    return options


def invalidate_pages(ino: int) -> None:
    """Drop the kernel's page cache of `ino` (llfuse queues the request; safe from a handler)."""
    try:
        llfuse.invalidate_inode(ino, attr_only=False)
    except OSError as exc:
        log.debug("kernel had nothing cached for inode %d (%s)", ino, exc)


def serve(fs: Filesystem, mountpoint: str, settings: FuseSettings, ready: Callable[[], None]) -> int:
    """Mount, call `ready`, serve until unmounted or signalled; returns files that could not be written."""
    fs.invalidate_kernel = invalidate_pages
    fs.files.still_held = OpenDescriptors(mountpoint).holds
    llfuse.init(Operations(fs), mountpoint, fuse_options(settings))
    unmounted = False
    try:
        ready()
        log.info("mounted %s on %s", settings.fsname, mountpoint)
        received = llfuse.main(workers=settings.workers)
        unmounted = received is None
        if not unmounted:
            log.info("received %s: flushing and unmounting", signal.Signals(received).name)
    finally:
        failed = fs.shutdown()
        llfuse.close(unmount=not unmounted)
    log.info("unmounted %s", mountpoint)
    return failed
