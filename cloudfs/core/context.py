"""Who is asking: the caller of a request, and the settings a mount runs with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Caller:
    """The process behind a request; `groups` reads its supplementary groups only when needed."""

    uid: int
    gid: int
    pid: int = 0
    groups: Callable[[], frozenset[int]] = field(default=lambda: frozenset(), compare=False)

    @property
    def is_root(self) -> bool:
        """Root bypasses permission checks, as on any Linux filesystem."""
        return self.uid == 0

    def in_group(self, gid: int) -> bool:
        """True when `gid` is the caller's group or one of its supplementary groups."""
        return gid == self.gid or gid in self.groups()


ROOT_CALLER = Caller(uid=0, gid=0)


@dataclass(frozen=True, slots=True)
class MountSettings:
    """Core settings taken from mount options.

    `uid`/`gid`/`umask` override what every inode shows (as s3fs-fuse and
    rclone do), `check_permissions` is on when the kernel does not check
    (`nodefault_permissions`), `cache_ttl` bounds staleness across hosts,
    `noatime` turns off the relatime updates reads make.
    """

    read_only: bool = False
    noatime: bool = False
    uid: int | None = None
    gid: int | None = None
    umask: int | None = None
    check_permissions: bool = False
    cache_ttl: float = 1.0
    read_cache_bytes: int = 64 * 1024 * 1024
    spool_dir: str | None = None
