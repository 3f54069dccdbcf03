"""The sqlite driver: the shared inode-store model (`drivers/inodestore`) in one SQLite file.

Layer: implements `cloudfs.driver.Driver` for the core. Every change is one
transaction (`Database.write`), so each call commits whole or not at all, and
`synchronous=FULL` makes a committed call durable. The POSIX rules are the
model's, shared with the DynamoDB driver; `store` holds the SQL. Unlinked
inodes stay with nlink 0 until `purge` (or the next open, after a crash).
"""

from __future__ import annotations

import dataclasses

from cloudfs.driver import DriverSettings

from ..inodestore.model import INODE_STORE_CAPABILITIES, InodeStoreDriver
from .database import Database
from .source import SqliteSettings
from .store import SqliteStore


class SqliteDriver(InodeStoreDriver):
    """A fully POSIX driver on one SQLite database file held by one mount at a time.

    Attributes: `capabilities`, `path`, `database` (the open file). Caveat: all calls share one connection,
    so they run one at a time (see `database` for why).
    """

    def __init__(self, db: Database) -> None:
        """Wrap an open database; capabilities follow its block size."""
        super().__init__(
            SqliteStore(db),
            dataclasses.replace(INODE_STORE_CAPABILITIES, block_size=db.block_size),
        )
        self.database = db
        self.path = db.path


def open_driver(location: object, settings: DriverSettings) -> SqliteDriver:
    """Open the database at `location`, creating it on first use with a root owned by uid:gid (default 0:0).

    See `Database` for errors.
    """
    if not isinstance(location, SqliteSettings):
        raise TypeError(f"sqlite driver needs SqliteSettings, got {type(location).__name__}")
    owner = (settings.uid or 0, settings.gid or 0)
    return SqliteDriver(Database(location.path, settings.read_only, owner))
