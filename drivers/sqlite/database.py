"""The sqlite driver's database file: locking, schema, pragmas and transactions.

Thread safety: one connection guarded by one lock. The core calls from several
threads, but SQLite runs one writer at a time anyway, and only one mount may
hold the file, so per-thread connections would add WAL snapshot juggling for
little gain: reads are short primary-key lookups and the core caches. The
lock is re-entrant because the core's staged data reads unchanged bytes back
through `driver.read` on the same thread in the middle of `write`; those reads
see the open transaction, which is safe as `blocks.store_staged` reads each
block before it rewrites it and changes the size last.

Single mount: an exclusive `flock` on the database file, held until `close`.
`flock` locks are separate from the POSIX record locks SQLite itself takes, but
closing *any* descriptor of the file drops this process's POSIX locks, so a
second open inside one process is refused from a registry of held paths
before it ever opens a descriptor.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from cloudfs.driver import ROOT_INO
from cloudfs.errors import FsError, SourceError, StoreError

log = logging.getLogger(__name__)

FORMAT_NAME = "cloudfs-sqlite"
FORMAT_VERSION = 1
BLOCK_SIZE = 128 * 1024
SQLITE_MAGIC = b"SQLite format 3\0"
BUSY_TIMEOUT_MS = 10_000
WAL_SIZE_LIMIT = 64 * 1024 * 1024

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;
-- AUTOINCREMENT: inode numbers are never reused, even after the newest is purged.
CREATE TABLE inodes (
    ino INTEGER PRIMARY KEY AUTOINCREMENT,
    mode INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    nlink INTEGER NOT NULL,
    rdev INTEGER NOT NULL DEFAULT 0,
    atime_ns INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    target BLOB,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX inodes_orphans ON inodes (nlink) WHERE nlink = 0;
CREATE TABLE dentries (
    parent INTEGER NOT NULL REFERENCES inodes (ino),
    name BLOB NOT NULL,
    ino INTEGER NOT NULL REFERENCES inodes (ino),
    PRIMARY KEY (parent, name)
) WITHOUT ROWID;
-- Finds a directory's parent (rename's subtree check) and an inode's names.
CREATE INDEX dentries_ino ON dentries (ino);
-- Blocks and xattrs go with their inode, so purging is one DELETE.
CREATE TABLE blocks (
    ino INTEGER NOT NULL REFERENCES inodes (ino) ON DELETE CASCADE,
    blockno INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (ino, blockno)
);
CREATE TABLE xattrs (
    ino INTEGER NOT NULL REFERENCES inodes (ino) ON DELETE CASCADE,
    name BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (ino, name)
) WITHOUT ROWID;
"""

_held_paths: set[str] = set()
_held_lock = threading.Lock()


class Database:
    """An open, locked cloudfs database file.

    Attributes: `path`, `read_only`, `block_size` (from the format marker).
    Use `read()` for queries and `write()` for one transaction; both hold the
    connection lock and turn SQLite failures into FsError.
    """

    def __init__(self, path: Path, read_only: bool = False, root_owner: tuple[int, int] = (0, 0)) -> None:
        """Lock, open and check the file, or create it with a root owned by `root_owner` (uid, gid).

        Errors say why it cannot be used.
        """
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        self._key = os.path.realpath(path)
        self._lock_fd = self._take_lock()
        try:
            self._db = self._connect()
            try:
                self.block_size = self._prepare(root_owner)
            except BaseException:
                self._db.close()
                raise
        except FsError as exc:
            self._release_lock()
            raise StoreError(f"cannot use {path}: {exc.message}") from exc
        except BaseException:
            self._release_lock()
            raise

    def _take_lock(self) -> int:
        """Claim the file for this mount: flock across processes, a registry within this one."""
        busy = StoreError(f"{self.path} is already mounted by another cloudfs process")
        with _held_lock:
            if self._key in _held_paths:
                raise busy
            flags = os.O_RDONLY if self.read_only else os.O_RDWR | os.O_CREAT
            try:
                fd = os.open(self.path, flags | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                raise SourceError(f"{self.path} does not exist; a read-only mount cannot create it") from None
            except OSError as exc:
                raise StoreError(f"cannot open {self.path}: {exc.strerror}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise busy from None
            _held_paths.add(self._key)
        return fd

    def _release_lock(self) -> None:
        """Give up the mount claim taken by `_take_lock`."""
        with _held_lock:
            os.close(self._lock_fd)
            _held_paths.discard(self._key)

    def _connect(self) -> sqlite3.Connection:
        """Open the connection after checking the file is SQLite at all."""
        header = os.pread(self._lock_fd, len(SQLITE_MAGIC), 0)
        if header and header != SQLITE_MAGIC:
            raise SourceError(f"{self.path} is not a cloudfs database (not an SQLite file)")
        mode = "ro" if self.read_only else "rw"
        uri = f"file:{quote(str(self.path))}?mode={mode}"
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), never implicit.
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Enforces dentry → inode references and cascades blocks/xattrs on purge.
            db.execute("PRAGMA foreign_keys = ON")
            if not self.read_only:
                mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    log.warning("%s: SQLite refused WAL mode (kept %s); writes block readers", self.path, mode)
            # One large write is one transaction and grows the WAL to its size; after a
            # checkpoint, cut the file back instead of keeping that size until close.
            db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            # FULL syncs the WAL on every commit: a committed write survives power loss.
            db.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            db.close()
            raise self._open_failure(exc) from exc
        return db

    def _open_failure(self, exc: sqlite3.Error) -> SourceError | StoreError:
        """A file SQLite cannot read as a database is not ours; other failures are the store's."""
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
            return SourceError(f"{self.path} is not a cloudfs database ({exc})")
        return StoreError(f"cannot open {self.path}: {exc}")

    def _prepare(self, root_owner: tuple[int, int]) -> int:
        """Create the schema in a new file or check the format marker; return the block size."""
        try:
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            meta = dict(self._db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        except sqlite3.Error as exc:
            raise self._open_failure(exc) from exc
        if not tables:
            if self.read_only:
                raise SourceError(f"{self.path} is empty; a read-only mount cannot create a filesystem")
            self._create(*root_owner)
            return BLOCK_SIZE
        if meta.get("format") != FORMAT_NAME:
            raise SourceError(f"{self.path} is not a cloudfs database (no cloudfs format marker)")
        try:
            version, block_size = int(meta["version"]), int(meta["block_size"])
        except (KeyError, ValueError) as exc:
            raise StoreError(f"{self.path} has a damaged cloudfs format marker ({exc!r})") from exc
        if version > FORMAT_VERSION:
            raise StoreError(
                f"{self.path} has cloudfs format version {version}; this cloudfs "
                f"reads up to {FORMAT_VERSION}: upgrade cloudfs"
            )
        if not self.read_only:
            self._purge_orphans()
        log.debug("opened %s: %s", self.path, self.pragmas())
        return block_size

    def _create(self, uid: int, gid: int) -> None:
        """Write the schema, format marker and a root directory owned by `uid`:`gid`, in one transaction."""
        now = time.time_ns()
        # DDL is transactional in SQLite: a crash never leaves tables without the marker.
        with self.write() as db:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("format", FORMAT_NAME),
                    ("version", FORMAT_VERSION),
                    ("block_size", BLOCK_SIZE),
                    ("created_ns", now),
                ],
            )
            db.execute(
                "INSERT INTO inodes (ino, mode, uid, gid, nlink, atime_ns, mtime_ns, ctime_ns)"
                " VALUES (?, ?, ?, ?, 2, ?, ?, ?)",
                (ROOT_INO, 0o040755, uid, gid, now, now, now),
            )
        log.info("created cloudfs database %s", self.path)

    def _purge_orphans(self) -> None:
        """Delete inodes a crashed mount left unlinked; only this mount holds the file."""
        with self.write() as db:
            count = db.execute("DELETE FROM inodes WHERE nlink = 0").rowcount
        if count:
            log.info("purged %d orphaned inodes left in %s", count, self.path)

    def space(self) -> tuple[int, int]:
        """Total and free bytes for statfs.

        Free is the host filesystem's, plus pages SQLite freed for reuse, minus
        pages committed to the WAL that the database file has yet to grow by.
        """
        host = os.statvfs(self.path.parent)
        with self.read() as db:
            page_size, pages, free_pages = (
                db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_size", "page_count", "freelist_count")
            )
            file_size = os.fstat(self._lock_fd).st_size
        total = host.f_blocks * host.f_frsize
        pending = max(0, pages * page_size - file_size)
        free = host.f_bavail * host.f_frsize + free_pages * page_size - pending
        return total, min(total, max(0, free))

    def pragmas(self) -> dict[str, object]:
        """The connection settings durability and integrity rest on, as SQLite reports them."""
        names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "journal_size_limit")
        with self.read() as db:
            return {name: db.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection for queries, under the lock; SQLite errors become FsError."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise _fs_error(exc) from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE … COMMIT` transaction, rolled back on any error."""
        if self.read_only:
            raise FsError(errno.EROFS, f"{self.path} is mounted read-only")
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _fs_error(exc) from exc
                raise

    def close(self) -> None:
        """Close the connection, then drop the mount lock; safe to call twice."""
        with self._lock:
            if self._lock_fd < 0:
                return
            self._db.close()
            self._release_lock()
            self._lock_fd = -1
        log.debug("closed %s", self.path)


def _fs_error(exc: sqlite3.Error) -> FsError:
    """Map an SQLite failure to the errno a caller can act on; the rest is EIO."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return FsError(errno.ENOSPC, f"database full: {exc}")
    if code == sqlite3.SQLITE_READONLY:
        return FsError(errno.EROFS, f"database is read-only: {exc}")
    log.error("sqlite failure: %s (%s)", exc, getattr(exc, "sqlite_errorname", "?"))
    return FsError(errno.EIO, f"sqlite failure: {exc}")
