"""Which FUSE binding serves a mount, and the kernel-side settings every binding takes.

llfuse (libfuse 2, low-level) is the default: the fastest path and inode-based
like the core. mfusepy (libfuse 3, high-level) forwards fcntl/flock locks,
fallocate and renameat2 flags, which llfuse cannot; drivers whose locks must
hold across hosts (`capabilities.locks == "shared"`) get it by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import Capabilities


@dataclass(frozen=True)
class FuseSettings:
    """Kernel-side mount settings."""

    fsname: str
    allow_other: bool = False
    default_permissions: bool = True
    read_only: bool = False
    nonempty: bool = False
    workers: int = 8
    debug: bool = False


def choose(requested: str | None, caps: Capabilities) -> str:
    """The binding for a mount: the one asked for (`-o binding=`), else mfusepy where locks are shared, else llfuse."""
    if requested is not None:
        return requested
    return "mfusepy" if caps.locks == "shared" else "llfuse"


def serve(binding: str, fs: Filesystem, mountpoint: str, settings: FuseSettings, ready: Callable[[], None]) -> int:
    """Mount with `binding`, call `ready` once mounted, serve until unmounted; returns files not written."""
    if binding == "mfusepy":
        from cloudfs.mfuse.mount import serve as serve_mfusepy

        return serve_mfusepy(fs, mountpoint, settings, ready)
    from cloudfs.fuse.mount import serve as serve_llfuse

    return serve_llfuse(fs, mountpoint, settings, ready)
