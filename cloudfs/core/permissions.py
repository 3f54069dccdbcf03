"""POSIX permission rules the core applies itself.

With `default_permissions` (the default) the kernel checks mode bits, sticky
directories and chown/chmod rights before a request reaches us; these
helpers then only decide ownership of new inodes. With
`nodefault_permissions` the core checks access with them instead.
"""

from __future__ import annotations

import errno
import os
import stat

from cloudfs.core.context import Caller
from cloudfs.driver import Attr
from cloudfs.errors import FsError


def may_access(attr: Attr, caller: Caller, want: int) -> bool:
    """True when `caller` has all of `want` (os.R_OK|W_OK|X_OK bits) on `attr`."""
    if want == os.F_OK:
        return True
    if caller.is_root:
        # Root may execute only what someone may execute, or search any directory.
        return not want & os.X_OK or stat.S_ISDIR(attr.mode) or bool(attr.mode & 0o111)
    if caller.uid == attr.uid:
        granted = (attr.mode >> 6) & 7
    elif caller.in_group(attr.gid):
        granted = (attr.mode >> 3) & 7
    else:
        granted = attr.mode & 7
    return want & granted == want


def require_access(attr: Attr, caller: Caller, want: int) -> None:
    """Raise EACCES unless `caller` has `want` on `attr`."""
    if not may_access(attr, caller, want):
        raise FsError(errno.EACCES, f"uid {caller.uid} lacks access {want:o} to inode {attr.ino}")


def require_may_delete(parent: Attr, victim: Attr, caller: Caller) -> None:
    """Write+search on the parent, and ownership of parent or victim in a sticky directory."""
    require_access(parent, caller, os.W_OK | os.X_OK)
    sticky = parent.mode & stat.S_ISVTX
    if sticky and not caller.is_root and caller.uid not in (parent.uid, victim.uid):
        raise FsError(errno.EPERM, f"sticky directory {parent.ino}: uid {caller.uid} owns neither")


def require_owner(attr: Attr, caller: Caller) -> None:
    """EPERM unless the caller owns the inode or is root (chmod, utimes with explicit times)."""
    if not caller.is_root and caller.uid != attr.uid:
        raise FsError(errno.EPERM, f"uid {caller.uid} does not own inode {attr.ino}")


def new_inode_owner(parent: Attr, caller: Caller, mode: int) -> tuple[int, int, int]:
    """Owner, group and mode of a new inode: a setgid directory passes on its group (and bit, to dirs)."""
    gid = caller.gid
    if parent.mode & stat.S_ISGID:
        gid = parent.gid
        if stat.S_ISDIR(mode):
            mode |= stat.S_ISGID
    return caller.uid, gid, mode
