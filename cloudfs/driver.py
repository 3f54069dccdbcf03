"""The storage-driver protocol: the narrow, typed interface between the core and a store.

A driver speaks in inode numbers. Inode-based stores (sqlite, DynamoDB) use
their own persistent numbers; path-based stores (S3) hand out numbers per
mount and may drop them on `forget`. `ROOT_INO` is always the root directory.

Conventions every driver keeps:
- Names are `bytes` without `/` or NUL, never `.` or `..`; the core has
  checked their length against `Capabilities.max_name_len`.
- Failures are `FsError(errno, message)` with the errno POSIX gives for the
  case; transient store faults are retried inside the driver, then `EIO`.
- Each call is atomic on its own: a multi-item change commits whole or not
  at all. Calls may arrive concurrently from several threads.
- Permission checks are the core's (and the kernel's) job, not the driver's;
  the driver enforces the structural rules named in each docstring.
- Times are set by the driver from its clock, following POSIX: a call that
  changes a directory's entries sets its mtime and ctime; a call that changes
  an inode's metadata sets its ctime.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

ROOT_INO = 1

XATTR_CREATE = 1
XATTR_REPLACE = 2

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


@dataclass(frozen=True, slots=True)
class Attr:
    """An inode's attributes; `mode` includes the file-type bits."""

    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    size: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    rdev: int = 0


@dataclass(frozen=True, slots=True)
class AttrChanges:
    """Attributes to change in one `setattr`; None leaves a field alone.

    `mode` holds permission bits only (07777). A `size` change truncates or
    extends with zeros and, when it alters the size, sets mtime to now unless
    `mtime_ns` is given (truncate(2)). The driver always sets ctime to now.
    """

    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None
    atime_ns: int | None = None
    mtime_ns: int | None = None

    def empty(self) -> bool:
        """True when nothing would change."""
        return all(v is None for v in (self.mode, self.uid, self.gid, self.size, self.atime_ns, self.mtime_ns))


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a driver can do; the core refuses the rest with the right errno.

    A driver refuses what it lacks too, never fakes it: `link`, `symlink` and
    `mknod` of a FIFO, socket or device raise EPERM; xattr calls ENOTSUP.
    """

    hard_links: bool
    symlinks: bool
    special_files: bool
    xattrs: bool
    persistent_inodes: bool
    max_name_len: int = 255
    max_xattr_value: int = 65536
    block_size: int = 131072
    max_file_size: int = 2**63 - 1
    atime: bool = True
    """Whether reads should update atime (relatime); False where each update costs a request."""
    create_needs_write: bool = True
    """Whether a created file must be written once even if empty: an object store defers creating it to that
    write. Inode stores create the inode in `mknod` and say False, sparing the write."""
    fresh_open: bool = False
    """Whether `open` re-reads the inode with `getattr(ino, fresh=True)` (close-to-open between hosts, one read
    per open)."""
    listing_attrs: bool = True
    """Whether `readdir` attributes are complete; False where a listing lacks modes, owners or times
    (S3 headers), so lookups must still ask the driver."""
    locks: Literal["kernel", "shared"] = "kernel"
    """Who keeps fcntl/flock locks: the kernel, per mount, or the store, across every host (`LockStore`)."""
    rename_flags: bool = False
    """Whether `rename` takes RENAME_NOREPLACE and RENAME_EXCHANGE atomically; otherwise they answer EINVAL."""


@dataclass(frozen=True, slots=True)
class StatFs:
    """Capacity figures for statfs(2), in `block_size` units and inode counts."""

    block_size: int
    blocks: int
    blocks_free: int
    files: int
    files_free: int
    name_max: int = 255


class StagedData(Protocol):
    """A file's new contents as the core staged them: the ranges that changed and a merged view."""

    @property
    def size(self) -> int:
        """The file's new size in bytes."""

    @property
    def base_size(self) -> int:
        """The size the store held when these changes were staged: `size` is equal when the writer changed no size."""

    def dirty_ranges(self) -> list[tuple[int, int]]:
        """Sorted, disjoint `(start, end)` byte ranges (end exclusive, within size) that changed."""

    def read(self, off: int, size: int) -> bytes:
        """Bytes of the new contents at `off`; short only at the new end of file."""


@runtime_checkable
class Driver(Protocol):
    """A store the core can mount. See the module docstring for the shared rules."""

    capabilities: Capabilities

    def getattr(self, ino: int, fresh: bool = False) -> Attr:
        """Attributes of `ino`, from the store itself when `fresh` (open's close-to-open check). ENOENT if gone.

        Without `fresh` a driver may answer from what it learnt within the core's attribute TTL.
        """

    def lookup(self, parent: int, name: bytes) -> Attr:
        """Attributes of entry `name` in directory `parent`. ENOENT if absent, ENOTDIR if parent is no directory."""

    def readdir(self, parent: int) -> Iterable[tuple[bytes, Attr]]:
        """Entries of directory `parent` (no `.`/`..`), each name once, in a stable order. ENOTDIR."""

    def mknod(self, parent: int, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Attr:
        """Create a file, directory, FIFO, socket or device node (`mode` has the type). EEXIST if name exists."""

    def symlink(self, parent: int, name: bytes, target: bytes, uid: int, gid: int) -> Attr:
        """Create a symlink to `target` (mode 0o120777). EEXIST if name exists."""

    def readlink(self, ino: int) -> bytes:
        """Target of symlink `ino`. EINVAL if it is no symlink."""

    def link(self, ino: int, new_parent: int, new_name: bytes) -> Attr:
        """Add a hard link; returns the inode's new attributes. EEXIST, EPERM for directories."""

    def unlink(self, parent: int, name: bytes) -> Attr:
        """Remove a non-directory entry; returns the inode after (nlink 0 = orphan kept until `purge`). EISDIR."""

    def rmdir(self, parent: int, name: bytes) -> None:
        """Remove an empty directory, deleting it at once (only files wait for `purge`). ENOTEMPTY, ENOTDIR."""

    def rename(self, parent: int, name: bytes, new_parent: int, new_name: bytes, flags: int = 0) -> Attr | None:
        """Move an entry, replacing what `new_name` held; returns the replaced inode after (nlink 0 = orphan).

        EINVAL when moving a directory into itself, EISDIR/ENOTDIR when the types
        clash, ENOTEMPTY for a non-empty target directory. Renaming onto another
        name of the same inode does nothing and returns None. A replaced
        directory is deleted at once (its returned Attr has nlink 0).
        With `capabilities.rename_flags`: RENAME_NOREPLACE answers EEXIST when
        `new_name` exists; RENAME_EXCHANGE swaps two existing entries (ENOENT
        if either is missing) and returns None.
        """

    def setattr(self, ino: int, changes: AttrChanges) -> Attr:
        """Apply `changes` (see AttrChanges) and set ctime; returns the new attributes."""

    def touch_atime(self, ino: int, atime_ns: int) -> Attr:
        """Record a read access: set atime only, leaving ctime alone (unlike setattr)."""

    def read(self, ino: int, off: int, size: int) -> bytes:
        """Up to `size` bytes at `off`; holes read as zeros; short only at end of file."""

    def write(self, ino: int, data: StagedData, mtime_ns: int) -> Attr:
        """Store staged contents: size becomes `data.size`, dirty ranges are replaced; mtime=ctime=`mtime_ns`.

        Idempotent: calling it again with the same data leaves the same file.
        `data.read` may read unchanged bytes back through this driver's `read`,
        so hold no non-reentrant lock across it.
        """

    def purge(self, ino: int) -> None:
        """Delete an orphan (nlink 0) inode and its data; an inode with links, or none at all, is left alone.

        Orphans may also be collected when the store is opened again.
        """

    def forget(self, ino: int) -> None:
        """The kernel holds `ino` no more; a path-based driver may drop its mapping. Others ignore it."""

    def getxattr(self, ino: int, name: bytes) -> bytes:
        """Value of extended attribute `name`. ENODATA if unset."""

    def listxattr(self, ino: int) -> list[bytes]:
        """Names of all extended attributes of `ino`."""

    def setxattr(self, ino: int, name: bytes, value: bytes, flags: int) -> None:
        """Set an extended attribute; XATTR_CREATE → EEXIST if set, XATTR_REPLACE → ENODATA if unset."""

    def removexattr(self, ino: int, name: bytes) -> None:
        """Remove an extended attribute. ENODATA if unset."""

    def statfs(self) -> StatFs:
        """Capacity figures for statfs(2)."""

    def close(self) -> None:
        """Release connections and locks; the driver is not used again."""


@dataclass(frozen=True, slots=True)
class LockRecord:
    """One lock held on a file: by `owner` (unique across hosts), of one `family`, over bytes [start, end).

    `end` is None for "to the end of the file, however it grows". `pid` is the
    holder's process on its own host; `session` names the holder's mount, whose
    lease decides whether the lock still counts.
    """

    owner: str
    family: Literal["posix", "flock"]
    exclusive: bool
    start: int
    end: int | None
    pid: int
    session: str


@dataclass(frozen=True, slots=True)
class LockTable:
    """Every lock held on one file, and the version a conditional write must name (None: no record yet)."""

    records: tuple[LockRecord, ...] = ()
    version: int | None = None


class LockStore(Protocol):
    """Where a driver with `capabilities.locks == "shared"` keeps locks; the rules are the core's (core/locks)."""

    @property
    def session(self) -> str:
        """The holder name this mount's records carry, kept alive by its lease; a new one once a lease was lost."""

    def read_locks(self, ino: int) -> LockTable:
        """The locks on `ino`, read strongly consistent."""

    def write_locks(self, ino: int, expected: int | None, records: tuple[LockRecord, ...]) -> LockTable | None:
        """Replace the locks on `ino` if its version is still `expected`; the table now, or None if another won."""

    def sessions_alive(self, sessions: set[str]) -> set[str]:
        """Which of `sessions` hold a lease that has not run out."""

    def end_session(self) -> None:
        """Give up the lease at once (clean unmount), after the core has released its locks."""


@dataclass(frozen=True, slots=True)
class DriverSettings:
    """What a driver's `open` gets besides its location: the generic `-o` values, parsed once by the CLI.

    `uid`, `gid` and `umask` are None when not given (the driver picks its
    default); `options` holds the driver's own `-o` values as text ("" for a
    bare name), which only the driver can parse.
    """

    uid: int | None = None
    gid: int | None = None
    umask: int | None = None
    read_only: bool = False
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DriverSpec:
    """How a mount-source scheme becomes a driver; registered under entry-point group `cloudfs.drivers`.

    `parse` checks the location (the source after `scheme:`) and raises
    SourceError (exit 2) before any I/O; `open(location, settings)` connects
    and raises StoreError (exit 1) when the store cannot be used, or
    SourceError (exit 2) for a bad value of one of its own options.
    `options` are the driver-specific `-o` names it accepts; their values
    reach `open` in `DriverSettings.options`, the generic ones typed.
    """

    scheme: str
    summary: str
    parse: Callable[[str], object]
    open: Callable[[object, DriverSettings], Driver]
    options: frozenset[str] = frozenset()
