"""The DynamoDB driver: the shared inode-store model on a metadata table and a blocks table (layer: drivers).

`open_driver` connects with the standard AWS credential chain, makes the
tables usable (`tables`), starts this mount's session and collects orphans
that crashed mounts left. Everything else is `InodeStoreDriver` over
`DynamoStore`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from cloudfs.aws import NO_CREDENTIALS
from cloudfs.driver import DriverSettings
from cloudfs.errors import SourceError, StoreError

from ..inodestore.model import INODE_STORE_CAPABILITIES, InodeStoreDriver
from .client import Dynamo, error_code, make_client
from .locks import DEFAULT_LEASE_SECONDS, DynamoLocks
from .source import TableLocation
from .store import DynamoStore
from .tables import Tables

log = logging.getLogger(__name__)

# The core reads through its cache in units of this many bytes (two blocks); the driver reads ahead.
READ_UNIT = 128 * 1024


class DynamoDriver(InodeStoreDriver):
    """A fully POSIX driver on DynamoDB, shared by every mount of the same table.

    Attributes: `capabilities`, `store` (a DynamoStore), `client` (the boto3
    client every request goes through), `lock_store` (the locks every host sees).
    """

    def __init__(self, store: DynamoStore, lock_lease: float = DEFAULT_LEASE_SECONDS) -> None:
        """Serve `store`; a mount that stops renewing its locks loses them after `lock_lease` seconds."""
        super().__init__(
            store,
            dataclasses.replace(
                INODE_STORE_CAPABILITIES,
                block_size=READ_UNIT,
                atime=False,  # an atime update per read would cost a write per read
                fresh_open=True,
                locks="shared",
            ),
        )
        self.dynamo_store = store
        self.lock_store = DynamoLocks(store.dynamo, lock_lease)

    @property
    def client(self) -> Any:
        """The boto3 DynamoDB client of this driver."""
        return self.dynamo_store.dynamo.client

    def collect_orphans(self) -> int:
        """Purge orphans of mounts that are gone; returns how many this driver purged, at open too (`cloudfs gc`)."""
        self.dynamo_store.collect_orphans()
        return self.dynamo_store.collected


def connect(location: TableLocation, settings: DriverSettings) -> tuple[Dynamo, dict[str, Any]]:
    """A client on the tables, made usable; returns it with the format marker. StoreError (exit 1) if not."""
    uid = os.getuid() if settings.uid is None else settings.uid
    gid = os.getgid() if settings.gid is None else settings.gid
    try:
        client = make_client(location.region, settings.options.get("endpoint"), settings.options.get("profile"))
        tables = Tables(client, location)
        marker = tables.prepare(settings.read_only, uid, gid)
    except ProfileNotFound as exc:
        raise StoreError(str(exc)) from None
    except NoCredentialsError:
        raise StoreError(NO_CREDENTIALS) from None
    except BotoCoreError as exc:
        raise StoreError(f"DynamoDB endpoint unreachable for table {location.table!r}: {exc}") from None
    except ClientError as exc:
        code = error_code(exc)
        if code in ("UnrecognizedClientException", "InvalidSignatureException"):
            raise StoreError(f"DynamoDB refused the credentials ({code}): check them") from None
        raise StoreError(f"DynamoDB table {location.table!r} cannot be used: {code}: {exc}") from None
    return Dynamo(client, location.table, location.blocks_table), marker


def open_driver(location: object, settings: DriverSettings) -> DynamoDriver:
    """Connect to the tables (creating them on first use) and return a driver."""
    if not isinstance(location, TableLocation):
        raise TypeError(f"dynamodb driver needs a TableLocation, got {type(location).__name__}")
    lock_lease = lease_seconds(settings.options.get("lock_lease"))
    dynamo, marker = connect(location, settings)
    block_size = int(marker["block_size"]["N"])
    inline_max = int(marker["inline_max"]["N"])
    store = DynamoStore(dynamo, block_size, inline_max, read_only=settings.read_only)
    if not store.read_only:
        store.start_session()
        store.collect_orphans()
    log.info("opened DynamoDB table %s in %s (blocks of %d bytes)", location.table, location.region, block_size)
    return DynamoDriver(store, lock_lease)


def lease_seconds(text: str | None) -> float:
    """`-o lock_lease=SECONDS`: how long the locks of a mount that stopped renewing them outlive it."""
    if text is None:
        return DEFAULT_LEASE_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 1.0 <= seconds <= 3600.0:
        raise SourceError(f"bad value for mount option lock_lease: {text!r} (seconds, from 1 to 3600)")
    return seconds
