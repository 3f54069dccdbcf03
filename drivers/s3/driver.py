"""The S3 driver: the driver protocol over one bucket and prefix in the s3fs-fuse layout.

Namespace calls resolve paths through the metadata cache first and the store
second, so a listed directory answers lookups and creates without requests;
headers a listing lacks are fetched ahead of a scan (`lookahead.py`).
New regular files stay local (`_pending`) until the core's first `write`, so
a new small file costs one PUT. Unlinked files are hidden at once and deleted
at `purge`, so open handles keep reading them; the DELETE is queued there and
sent behind the unlink in batches (`deletes.py`), and the name stays hidden
until it is answered. Directory attributes set here
are also kept in memory (`_dir_attrs`) because some servers (SeaweedFS) drop
the headers of `dir/` markers. Data calls live in `data.py`.
"""

from __future__ import annotations

import errno
import logging
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from cloudfs.driver import ROOT_INO, Attr, Capabilities, StatFs
from cloudfs.errors import FsError

from .cache import MetaCache
from .data import DataOps
from .deletes import BatchedDeletes
from .inodes import InodeTable, child, join, name_bytes, parent_of
from .layout import Defaults, Entry, Orphan, from_head, listed_dir, listed_file, now_ns, to_headers
from .lookahead import Lookahead
from .rename import RenameOps
from .store import Store
from .streaming import StreamingReader

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MAX_HEADER_BYTES = 2048  # AWS's limit on all user metadata of one object
GONE_KEPT = 60.0  # seconds a deleted key is remembered: longer than any LIST can be on its way


class S3Driver(DataOps, RenameOps):
    """A mounted bucket prefix. See the module docstring for what is kept where and why.

    Attributes: `store` (requests), `cache` (metadata), `inodes` (ino ↔ path),
    `capabilities`; `no_metadata` means headers are never written.
    """

    def __init__(
        self,
        store: Store,
        defaults: Defaults,
        *,
        no_metadata: bool = False,
        ttl: float = 5.0,
        part_size: int = 8 * MiB,
        workers: int = 8,
        seaweedfs: bool = False,
    ) -> None:
        """Wrap `store`; `ttl` bounds the metadata cache, `part_size` the single-PUT size and parts."""
        self.store = store
        self.seaweedfs = seaweedfs
        self.defaults = defaults
        self.no_metadata = no_metadata
        self.part_size = part_size
        self.capabilities = Capabilities(
            hard_links=False,
            symlinks=not no_metadata,
            special_files=False,
            xattrs=not no_metadata,
            persistent_inodes=False,
            # SeaweedFS caps a key's path component at 255 bytes of UTF-8, and an escaped
            # name byte takes 3 (see inodes.name_text): 85 bytes is what always fits.
            max_name_len=85 if seaweedfs else 255,
            max_xattr_value=1024,
            max_file_size=5 * 1024 * 1024 * MiB,
            atime=False,  # storing an atime is a metadata copy per read: far too dear
            # A listing carries no headers: its modes, owners, times and symlink types are guesses,
            # except with no_metadata, where those guesses are all there is.
            listing_attrs=no_metadata,
        )
        self.cache = MetaCache(ttl)
        self.inodes = InodeTable()
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="s3")
        self.reader = StreamingReader(store)
        self.lookahead = Lookahead(self.cache, self._fetch_listed, threads=workers)
        self._lock = threading.RLock()  # guards the dicts below, never held over a request
        self._ns_lock = threading.RLock()  # serialises namespace changes, so a name is created once
        self._pending: dict[int, Entry] = {}
        self._dir_attrs: dict[int, Entry] = {}
        self._dirty_dirs: set[int] = set()
        self._orphans: dict[int, Orphan] = {}
        self._hidden: set[str] = set()
        self._gone: dict[str, float] = {}  # path -> when its queued delete was answered (monotonic)
        self.deletes = BatchedDeletes(store, self._lock, self._deleted)
        self._started = now_ns()

        # -- resolving paths -------------------------------------------------

    def _attr(self, ino: int, e: Entry, path: str | None = None, nlink: int | None = None) -> Attr:
        """The protocol's view of an entry; a directory's nlink counts its known subdirectories."""
        if nlink is None:
            nlink = 1
            if e.is_dir:
                subdirs = self.cache.subdirs(path) if path is not None else None
                nlink = 2 + (subdirs or 0)
        return Attr(ino, e.mode, nlink, e.uid, e.gid, e.size, e.atime_ns, e.mtime_ns, e.ctime_ns)

    def _full_attr(self, ino: int, path: str, e: Entry) -> Attr:
        """Attributes for getattr/lookup: a directory not listed yet is listed for its nlink.

        Only one page is fetched for that: a directory of more than 1000 entries
        gets nlink 1 ("unknown", as on many network filesystems) instead.
        """
        if e.is_dir and self.cache.subdirs(path) is None and self._list(path, max_pages=1) is None:
            return self._attr(ino, e, path, nlink=1)
        return self._attr(ino, e, path)

    def _with_dir_attrs(self, ino: int | None, e: Entry) -> Entry:
        """A directory entry with attributes set through this mount, if the server dropped them."""
        if ino is not None and e.is_dir and not e.has_meta:
            kept = self._dir_attrs.get(ino)
            if kept is not None:
                return kept
        return e

    def _entry(self, path: str, full: bool = False) -> Entry | None:
        """What is at `path`: pending, cached or fetched; None if nothing. `full` wants headers seen."""
        ino = self.inodes.known(path)
        with self._lock:
            if ino in self._pending:
                return self._pending[ino]
            if path in self._hidden:
                return None
        if path == "":
            return self._with_dir_attrs(ROOT_INO, listed_dir(self._started, self.defaults).copy(full=True))
        cached = self.cache.entry(path)
        if cached is not None and (cached.full or not full):
            return self._with_dir_attrs(ino, cached)
        if cached is None and self.cache.known_absent(path):
            return None
        found = self.lookahead.lookup(path, cached) if cached is not None else self._fetch(path)
        if found is None:
            self.cache.remove(path)
            return None
        self.cache.put(path, found)
        return self._with_dir_attrs(ino, found)

    def _fetch_listed(self, path: str, listed: Entry) -> Entry | None:
        """The headers of an entry known from a listing: its object's, or its directory marker's."""
        return self._fetch_dir(path, probe=False) if listed.is_dir else self._fetch(path)

    def _fetch(self, path: str) -> Entry | None:
        """HEAD `path` as a file, else probe it as a directory (1 request for a file, 2 for a miss)."""
        head = self.store.head(path)
        if head is not None:
            return from_head(head.meta, head.size, head.stamp, head.etag, False, self.defaults)
        return self._fetch_dir(path, probe=True)

    def _fetch_dir(self, path: str, probe: bool) -> Entry | None:
        """A directory's entry from its marker; with `probe`, first check anything is under it."""
        if probe:
            keys = self.store.first_under(path, 1)
            if not keys:
                return None
            if keys[0] != path + "/":
                return listed_dir(self._started, self.defaults).copy(full=True)
        head = self.store.head(path + "/")
        if head is None:
            return listed_dir(self._started, self.defaults).copy(full=True)
        return from_head(head.meta, 0, head.stamp, head.etag, True, self.defaults)

    def _path(self, ino: int) -> str:
        """The path `ino` holds; ENOENT for unknown numbers and for those that let go of their path."""
        path = self.inodes.path(ino)
        if self.inodes.known(path) != ino:
            raise FsError(errno.ENOENT, f"inode {ino} was removed")
        return path

    def _existing(self, ino: int, full: bool = False) -> tuple[str, Entry]:
        """Path and entry of `ino`; ENOENT when it is gone."""
        path = self._path(ino)
        e = self._entry(path, full)
        if e is None:
            raise FsError(errno.ENOENT, f"{path!r} no longer exists")
        return path, e

    def _orphan(self, ino: int) -> Orphan | None:
        """The orphan record of `ino`, if it was unlinked or replaced."""
        with self._lock:
            return self._orphans.get(ino)

    def _dir(self, ino: int) -> str:
        """The path of directory `ino`; ENOENT or ENOTDIR otherwise."""
        path, e = self._existing(ino)
        if not e.is_dir:
            raise FsError(errno.ENOTDIR, f"{path!r} is not a directory")
        return path

    def _touch_dir(self, path: str) -> None:
        """An entry of directory `path` changed: set its mtime and ctime now; stored at close."""
        ino = self.inodes.ino(path)
        e = self._entry(path)
        if e is None:
            return
        t = now_ns()
        e = e.copy(mtime_ns=t, ctime_ns=t)
        with self._lock:
            self._dir_attrs[ino] = e
            self._dirty_dirs.add(ino)
        if path:
            self.cache.put(path, e.copy(has_meta=False))

    # -- namespace -------------------------------------------------------

    def getattr(self, ino: int, fresh: bool = False) -> Attr:
        """Attributes of `ino`, from the cache while it holds them (the core never asks `fresh`: no fresh_open)."""
        orphan = self._orphan(ino)
        if orphan is not None:
            return self._attr(ino, orphan.entry, nlink=0)
        path, e = self._existing(ino)
        return self._full_attr(ino, path, e)

    def lookup(self, parent: int, name: bytes) -> Attr:
        """Attributes of `name` in `parent`; a fresh listing answers misses without a request."""
        path = join(self._dir(parent), name)
        e = self._entry(path, full=True)
        if e is None:
            raise FsError(errno.ENOENT, f"{path!r} does not exist")
        return self._full_attr(self.inodes.ino(path), path, e)

    def readdir(self, parent: int) -> list[tuple[bytes, Attr]]:
        """Entries of `parent` from one paginated listing (or the cached one); fills the cache."""
        path = self._dir(parent)
        names = self.cache.names(path)
        if names is None:
            names = self._list(path) or set()
        out = []
        for name in sorted(names, key=name_bytes):
            p = child(path, name)
            e = self._entry(p)
            if e is not None:
                out.append((name_bytes(name), self._attr(self.inodes.ino(p), e, p)))
        return out

    def _list(self, path: str, max_pages: int | None = None) -> set[str] | None:
        """List one directory level and return its names (None if `max_pages` did not reach the end).

        Entries whose object did not change keep the headers seen before. A key whose
        delete was answered after the LIST was sent may still be in it: it is left out.
        """
        asked = time.monotonic()
        listing = self.store.list_dir(path, max_pages)
        now = now_ns()
        children: dict[str, Entry] = {}
        for name, size, stamp, etag in listing.files:
            old = self.cache.any_entry(child(path, name))
            same = old and old.full and old.etag == etag and old.size == size and old.stamp in (0, stamp)
            children[name] = old if same and old else listed_file(size, stamp, etag, self.defaults)
        for name in listing.dirs:
            old = self.cache.any_entry(child(path, name))
            children[name] = old if old and old.is_dir else listed_dir(now, self.defaults)
        with self._lock:
            for name in [n for n in children if child(path, n) in self._hidden]:
                del children[name]
            for name in [n for n in children if self._gone.get(child(path, n), -1.0) >= asked]:
                del children[name]
            for ino, e in self._pending.items():
                p = self.inodes.path(ino)
                if p and parent_of(p) == path and self.inodes.known(p) == ino:
                    children[p.rpartition("/")[2]] = e
        if not listing.complete:
            for name, e in children.items():
                self.cache.put(child(path, name), e)
            return None
        self.cache.put_listing(path, children)
        return set(children)

    def _claim(self, path: str) -> int:
        """A fresh inode for a path being created (an orphan hidden there lets go of it)."""
        self._reuse(path)
        return self.inodes.ino(path)

    def _reuse(self, path: str) -> None:
        """A new object is about to be stored at `path`: the delete of an old one there goes first."""
        with self._lock:
            self.deletes.claim(path)
            self._hidden.discard(path)
            self._gone.pop(path, None)

    def _deleted(self, path: str, ok: bool) -> None:
        """The queued delete of `path` was answered (under `_lock`): its name stops being hidden."""
        self._hidden.discard(path)
        if ok:
            self.cache.remove(path)
            now = time.monotonic()
            self._gone[path] = now
            if len(self._gone) > 4096:
                self._gone = {p: t for p, t in self._gone.items() if now - t < GONE_KEPT}

    def _new_entry(self, mode: int, uid: int, gid: int, size: int = 0) -> Entry:
        """A just-created entry: all times now, headers ours."""
        t = now_ns()
        return Entry(mode, uid, gid, size, t, t, t, full=True, has_meta=not self.no_metadata)

    def _headers(self, e: Entry) -> dict[str, str] | None:
        """Headers to write for `e`, or None under no_metadata; ENOSPC past S3's 2 KiB limit."""
        if self.no_metadata:
            return None
        meta = to_headers(e)
        if sum(len(k) + len(v) for k, v in meta.items()) > MAX_HEADER_BYTES:
            raise FsError(errno.ENOSPC, "object headers would exceed 2 KiB")
        return meta

    def mknod(self, parent: int, name: bytes, mode: int, rdev: int, uid: int, gid: int) -> Attr:
        """Create a file (kept local until `write`) or a directory (one PUT of its marker)."""
        if stat.S_IFMT(mode) == 0:
            mode |= stat.S_IFREG
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise FsError(errno.EPERM, "S3 stores no FIFOs, sockets or devices")
        with self._ns_lock:
            parent_path = self._dir(parent)
            path = join(parent_path, name)
            if self._entry(path) is not None:
                raise FsError(errno.EEXIST, f"{path!r} exists")
            e = self._new_entry(mode, uid, gid)
            if stat.S_ISDIR(mode):
                e.etag = self.store.put(path + "/", b"", self._headers(e), is_dir=True)
                ino = self._claim(path)
                self._dir_attrs[ino] = e
                self.cache.put(path, e)
                self.cache.put_listing(path, {})
            else:
                ino = self._claim(path)
                with self._lock:
                    self._pending[ino] = e
                self.cache.put(path, e)
            self._touch_dir(parent_path)
            return self._attr(ino, e, path)

    def symlink(self, parent: int, name: bytes, target: bytes, uid: int, gid: int) -> Attr:
        """Create a symlink: one PUT whose body is the target."""
        if self.no_metadata:
            raise FsError(errno.EPERM, "symlinks need headers (no_metadata is set)")
        with self._ns_lock:
            parent_path = self._dir(parent)
            path = join(parent_path, name)
            if self._entry(path) is not None:
                raise FsError(errno.EEXIST, f"{path!r} exists")
            e = self._new_entry(stat.S_IFLNK | 0o777, uid, gid, len(target))
            e.etag = self.store.put(path, target, self._headers(e))
            self.cache.put(path, e)
            self._touch_dir(parent_path)
            return self._attr(self._claim(path), e)

    def readlink(self, ino: int) -> bytes:
        """The target of symlink `ino`: one GET."""
        path, e = self._existing(ino, full=True)
        if not e.is_link:
            raise FsError(errno.EINVAL, f"{path!r} is not a symlink")
        return self.store.get(path)

    def link(self, ino: int, new_parent: int, new_name: bytes) -> Attr:
        """S3 has no hard links."""
        raise FsError(errno.EPERM, "S3 has no hard links")

    def unlink(self, parent: int, name: bytes) -> Attr:
        """Hide a file at once; its object goes at `purge`, so open handles keep reading it."""
        with self._ns_lock:
            parent_path = self._dir(parent)
            path = join(parent_path, name)
            e = self._entry(path)
            if e is None:
                raise FsError(errno.ENOENT, f"{path!r} does not exist")
            if e.is_dir:
                raise FsError(errno.EISDIR, f"{path!r} is a directory")
            ino = self.inodes.ino(path)
            gone = e.copy(ctime_ns=now_ns())
            with self._lock:
                remote = self._pending.pop(ino, None) is None
                self._orphans[ino] = Orphan(path, gone, remote)
                if remote:
                    self._hidden.add(path)
            self.inodes.detach(path)
            self.cache.remove(path)
            self._touch_dir(parent_path)
            return self._attr(ino, gone, nlink=0)

    def purge(self, ino: int) -> None:
        """Delete an orphan's object unless its path was taken by a newer file meanwhile."""
        with self._ns_lock:
            with self._lock:
                orphan = self._orphans.pop(ino, None)
                if orphan is None:
                    return
                hidden = orphan.path in self._hidden
                if orphan.remote and hidden and self.inodes.known(orphan.path) is None:
                    self.deletes.submit(orphan.path)
                else:
                    self._hidden.discard(orphan.path)
            self.inodes.drop(ino)
            self.reader.drop(ino)

    def rmdir(self, parent: int, name: bytes) -> None:
        """Remove an empty directory: one LIST (implicit children count) and one DELETE."""
        with self._ns_lock:
            parent_path = self._dir(parent)
            path = join(parent_path, name)
            e = self._entry(path)
            if e is None:
                raise FsError(errno.ENOENT, f"{path!r} does not exist")
            if not e.is_dir:
                raise FsError(errno.ENOTDIR, f"{path!r} is not a directory")
            self.deletes.flush()  # `rm -r` returns with its files gone from the bucket, not on their way
            self._check_empty(path)
            self.store.delete(path + "/")
            self._forget_dir(path)
            self._touch_dir(parent_path)

    def _forget_dir(self, path: str) -> None:
        """A directory is gone: unbind its number and drop what was kept for it."""
        ino = self.inodes.detach(path)
        if ino is not None:
            with self._lock:
                self._dir_attrs.pop(ino, None)
                self._dirty_dirs.discard(ino)
        self.cache.remove(path)

    def _check_empty(self, path: str) -> None:
        """ENOTEMPTY if anything but the marker is under `path`, uploaded or still local."""
        with self._lock:
            if any(parent_of(self.inodes.path(i)) == path for i in self._pending):
                raise FsError(errno.ENOTEMPTY, f"{path!r} is not empty")
            hidden = {p for p in self._hidden if parent_of(p) == path}
        keys = self.store.first_under(path, 2 + len(hidden))
        if any(k != path + "/" and k not in hidden for k in keys):
            raise FsError(errno.ENOTEMPTY, f"{path!r} is not empty")

    def statfs(self) -> StatFs:
        """S3 has no capacity: report plenty."""
        big = 2**40
        name_max = self.capabilities.max_name_len
        return StatFs(block_size=4096, blocks=big, blocks_free=big, files=big, files_free=big, name_max=name_max)

    def forget(self, ino: int) -> None:
        """Drop the number of a path nobody holds; a still-local new file is uploaded first."""
        with self._lock:
            pending = ino in self._pending
            keep = ino in self._orphans or ino in self._dir_attrs
        if pending:
            self._flush_pending(ino)
        elif not keep:
            self.inodes.drop(ino)
            self.reader.drop(ino)

    def _flush_dirs(self) -> None:
        """Store directory times changed by entry changes (kept in memory so a create costs one PUT).

        Only directories with a marker: an implicit directory stays implicit, the layout is the bucket's.
        """
        with self._lock:
            dirty = [(ino, self._dir_attrs.get(ino)) for ino in self._dirty_dirs]
            self._dirty_dirs.clear()
        for ino, e in dirty:
            path = self.inodes.path(ino)
            explicit = e is not None and e.etag is not None
            if explicit and path and self.inodes.known(path) == ino and not self.no_metadata:
                self.store.put(path + "/", b"", self._headers(e), is_dir=True)

    def close(self) -> None:
        """Upload files still local, store directory times, delete orphans, release the pool."""
        with self._lock:
            pending = list(self._pending)
            orphans = list(self._orphans)
        for ino in pending:
            self._flush_pending(ino)
        for ino in orphans:
            self.purge(ino)
        self.deletes.close()
        self.reader.close()
        self._flush_dirs()
        self.lookahead.close()
        self.pool.shutdown(wait=True)
