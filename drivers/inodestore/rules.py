"""The POSIX structural rules every inode store keeps, as checks on records (layer: inode-store model).

Each check raises FsError with the errno Linux gives. Limits the core checks
already (name length, xattr name size) are not repeated here.
"""

from __future__ import annotations

import errno
import stat

from cloudfs.driver import XATTR_CREATE, XATTR_REPLACE, StagedData
from cloudfs.errors import FsError

from .records import Inode

NODE_TYPES = frozenset({stat.S_IFREG, stat.S_IFDIR, stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFCHR, stat.S_IFBLK})


def node_mode(mode: int) -> int:
    """The full mode mknod creates: type 0 is a regular file, as on Linux; EINVAL for a type it cannot make."""
    kind = stat.S_IFMT(mode) or stat.S_IFREG
    if kind not in NODE_TYPES:
        raise FsError(errno.EINVAL, f"mknod cannot create file type {kind:o}")
    return kind | stat.S_IMODE(mode)


def device_number(mode: int, rdev: int) -> int:
    """Only device nodes keep a device number."""
    return rdev if stat.S_IFMT(mode) in (stat.S_IFCHR, stat.S_IFBLK) else 0


def require_dir(inode: Inode) -> Inode:
    """ENOTDIR unless `inode` is a directory."""
    if not inode.is_dir:
        raise FsError(errno.ENOTDIR, f"inode {inode.ino} is not a directory")
    return inode


def require_regular(inode: Inode) -> Inode:
    """EISDIR for a directory, EINVAL for other non-regular files: only files hold data."""
    if inode.is_dir:
        raise FsError(errno.EISDIR, f"inode {inode.ino} is a directory")
    if not stat.S_ISREG(inode.mode):
        raise FsError(errno.EINVAL, f"inode {inode.ino} is not a regular file")
    return inode


def require_absent(found: int | None, parent: int, name: bytes) -> None:
    """EEXIST when `name` is taken in `parent`."""
    if found is not None:
        raise FsError(errno.EEXIST, f"{name!r} exists in directory {parent}")


def require_present(found: int | None, parent: int, name: bytes) -> int:
    """ENOENT when `name` is absent from `parent`."""
    if found is None:
        raise FsError(errno.ENOENT, f"no entry {name!r} in directory {parent}")
    return found


def require_linkable(inode: Inode) -> None:
    """Directories take no hard links (EPERM); an orphan cannot get a name back (ENOENT)."""
    if inode.is_dir:
        raise FsError(errno.EPERM, f"inode {inode.ino} is a directory")
    if inode.nlink == 0:
        raise FsError(errno.ENOENT, f"inode {inode.ino} has no links left")


def require_size(size: int, max_size: int) -> None:
    """EINVAL for a negative size, EFBIG past the largest file the store keeps."""
    if size < 0:
        raise FsError(errno.EINVAL, f"negative file size {size}")
    if size > max_size:
        raise FsError(errno.EFBIG, f"size {size} beyond the maximum {max_size}")


def require_replaceable(src_is_dir: bool, dst: Inode) -> None:
    """Rename may replace a file by a file and a directory by a directory; ENOTDIR/EISDIR otherwise."""
    if src_is_dir and not dst.is_dir:
        raise FsError(errno.ENOTDIR, f"cannot replace non-directory {dst.ino} with a directory")
    if dst.is_dir and not src_is_dir:
        raise FsError(errno.EISDIR, f"cannot replace directory {dst.ino} with a non-directory")


def require_empty(ino: int, has_entries: bool) -> None:
    """ENOTEMPTY for a directory that still has entries."""
    if has_entries:
        raise FsError(errno.ENOTEMPTY, f"directory {ino} is not empty")


def require_not_within(moved: int, ancestors: list[int]) -> None:
    """EINVAL when directory `moved` is the target directory or one of its ancestors."""
    if moved in ancestors:
        raise FsError(errno.EINVAL, f"cannot move directory {moved} into its own subtree")


def require_xattr_flags(ino: int, name: bytes, exists: bool, flags: int) -> None:
    """XATTR_CREATE on a set attribute → EEXIST; XATTR_REPLACE on an unset one → ENODATA."""
    if exists and flags & XATTR_CREATE:
        raise FsError(errno.EEXIST, f"inode {ino} already has xattr {name!r}")
    if not exists and flags & XATTR_REPLACE:
        raise FsError(errno.ENODATA, f"inode {ino} has no xattr {name!r}")


def written_size(store_size: int, data: StagedData) -> int:
    """The size a write-back leaves: the writer's own size if it changed it, else the store's grown to cover writes.

    So a writer that only rewrote bytes neither undoes another host's
    truncate nor cuts off what another host appended meanwhile.
    """
    if data.size != data.base_size:
        return data.size
    ranges = data.dirty_ranges()
    return max(store_size, ranges[-1][1] if ranges else 0)
