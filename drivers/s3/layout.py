"""The s3fs-fuse object layout: how attributes live in object headers and keys.

A file is one object; a directory is a zero-byte `dir/` marker (or just a
prefix with objects under it); a symlink's body is its target. Attributes are
`x-amz-meta-{mode,uid,gid,mtime,ctime,atime}` and xattrs sit in
`x-amz-meta-xattr` as s3fs encodes them: URL-encoded JSON of base64 values.
Objects without headers (other tools wrote them) get the mount's defaults.
"""

from __future__ import annotations

import base64
import json
import stat
import time
import urllib.parse
from dataclasses import dataclass, field, replace
from datetime import datetime

DIR_CONTENT_TYPE = "application/x-directory"
FILE_CONTENT_TYPE = "application/octet-stream"


@dataclass
class Defaults:
    """Owner and permissions for objects without headers, from the mount's uid/gid/umask."""

    uid: int
    gid: int
    umask: int = 0o022

    def file_mode(self) -> int:
        """Mode of a header-less file object."""
        return stat.S_IFREG | (0o666 & ~self.umask)

    def dir_mode(self) -> int:
        """Mode of a marker-less or header-less directory."""
        return stat.S_IFDIR | (0o777 & ~self.umask)


@dataclass
class Entry:
    """What the driver knows about one path.

    `full` is False when the entry came from a listing only (no headers seen
    yet); `etag` and `stamp` (LastModified in ns) identify the object version
    the entry describes, so a later listing can tell whether it is stale.
    """

    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ctime_ns: int
    atime_ns: int
    xattrs: dict[bytes, bytes] = field(default_factory=dict)
    full: bool = False
    etag: str | None = None
    stamp: int = 0
    has_meta: bool = False

    @property
    def is_dir(self) -> bool:
        """True for directories."""
        return stat.S_ISDIR(self.mode)

    @property
    def is_link(self) -> bool:
        """True for symlinks."""
        return stat.S_ISLNK(self.mode)

    def copy(self, **changes: object) -> Entry:
        """A changed copy (xattrs copied too, so the two never share a dict)."""
        new = replace(self, **changes)  # type: ignore[arg-type]
        if "xattrs" not in changes:
            new.xattrs = dict(self.xattrs)
        return new


def now_ns() -> int:
    """The driver's clock for times it sets."""
    return time.time_ns()


def stamp_ns(when: datetime) -> int:
    """A LastModified datetime in nanoseconds."""
    return int(when.timestamp()) * 1_000_000_000


def format_time(ns: int) -> str:
    """s3fs's time header: `sec`, or `sec.nsec` when there are nanoseconds."""
    sec, nsec = divmod(ns, 1_000_000_000)
    return str(sec) if nsec == 0 else f"{sec}.{nsec:09d}"


def parse_time(text: str | None) -> int | None:
    """Parse `sec` or `sec.frac` into ns; None when absent or malformed."""
    if not text:
        return None
    sec, _, frac = text.strip().partition(".")
    try:
        return int(sec) * 1_000_000_000 + (int(frac[:9].ljust(9, "0")) if frac else 0)
    except ValueError:
        return None


def encode_xattrs(xattrs: dict[bytes, bytes]) -> str:
    """s3fs's `x-amz-meta-xattr` value: URL-encoded `{"name":"base64",...}`."""
    doc = {
        name.decode("utf-8", "surrogateescape"): base64.b64encode(value).decode()
        for name, value in sorted(xattrs.items())
    }
    return urllib.parse.quote(json.dumps(doc, separators=(",", ":")), safe="")


def decode_xattrs(text: str | None) -> dict[bytes, bytes]:
    """Inverse of `encode_xattrs`; a malformed header reads as no xattrs."""
    if not text:
        return {}
    try:
        doc = json.loads(urllib.parse.unquote(text))
        return {name.encode("utf-8", "surrogateescape"): base64.b64decode(value) for name, value in doc.items()}
    except (ValueError, AttributeError, TypeError):
        return {}


def to_headers(entry: Entry) -> dict[str, str]:
    """User metadata (without the `x-amz-meta-` prefix) that stores `entry`."""
    meta = {
        "mode": str(entry.mode),
        "uid": str(entry.uid),
        "gid": str(entry.gid),
        "mtime": format_time(entry.mtime_ns),
        "ctime": format_time(entry.ctime_ns),
        "atime": format_time(entry.atime_ns),
    }
    if entry.xattrs:
        meta["xattr"] = encode_xattrs(entry.xattrs)
    return meta


def _int(text: str | None) -> int | None:
    """An integer header, or None when absent or malformed."""
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def from_head(meta: dict[str, str], size: int, stamp: int, etag: str | None, is_dir: bool, d: Defaults) -> Entry:
    """The entry a HEAD (or GET) response describes; missing headers get defaults."""
    default_mode = d.dir_mode() if is_dir else d.file_mode()
    mode = _int(meta.get("mode"))
    if mode is None or stat.S_IFMT(mode) == 0:
        # s3fs leaves out the type bits in some versions; the key says which it is.
        mode = default_mode if mode is None else stat.S_IFMT(default_mode) | stat.S_IMODE(mode)
    if is_dir and not stat.S_ISDIR(mode):
        mode = stat.S_IFDIR | stat.S_IMODE(mode)
    mtime = parse_time(meta.get("mtime")) or stamp
    uid, gid = _int(meta.get("uid")), _int(meta.get("gid"))
    return Entry(
        mode=mode,
        uid=d.uid if uid is None else uid,
        gid=d.gid if gid is None else gid,
        size=0 if is_dir else size,
        mtime_ns=mtime,
        ctime_ns=parse_time(meta.get("ctime")) or mtime,
        atime_ns=parse_time(meta.get("atime")) or mtime,
        xattrs=decode_xattrs(meta.get("xattr")),
        full=True,
        etag=etag,
        stamp=stamp,
        has_meta="mode" in meta,
    )


def listed_file(size: int, stamp: int, etag: str | None, d: Defaults) -> Entry:
    """A file as a listing shows it: size and LastModified, default mode and owner."""
    return Entry(d.file_mode(), d.uid, d.gid, size, stamp, stamp, stamp, etag=etag, stamp=stamp)


def listed_dir(when_ns: int, d: Defaults) -> Entry:
    """A directory as a listing shows it (a common prefix carries no time: use `when_ns`)."""
    return Entry(d.dir_mode(), d.uid, d.gid, 0, when_ns, when_ns, when_ns)


@dataclass
class Orphan:
    """An unlinked or replaced file still held open: where its object was and what it was.

    `remote` means its object is still in the bucket, to be deleted at purge;
    `data` is a snapshot taken when a rename overwrote the object.
    """

    path: str
    entry: Entry
    remote: bool
    data: bytes | None = None
