"""Driver factories for the contract suite; every test runs once per entry in FACTORIES.

A factory builds a fresh driver on a fresh, empty store. A server-backed driver
plugs in by adding one factory, which may reach other fixtures (a server on
127.0.0.1, a temporary directory) through `request.getfixturevalue`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from cloudfs.driver import Driver, DriverSettings
from cloudfs.drivers.memory import FULL_CAPABILITIES, MemoryDriver


class Store:
    """A store under test: its open driver, and how to open the same store again.

    `persistent` stores (anything not in memory) can be reopened; tests use that
    to check what survives a remount.
    """

    def __init__(self, opener: Callable[[], Driver], persistent: bool) -> None:
        """Open the first driver on the store."""
        self._opener = opener
        self.persistent = persistent
        self.driver = opener()

    def reopen(self) -> Driver:
        """Close the current driver and open the store again."""
        if not self.persistent:
            raise RuntimeError("an in-memory store cannot be reopened")
        self.driver.close()
        self.driver = self._opener()
        return self.driver


def _memory(request: pytest.FixtureRequest) -> Store:
    """The full-featured in-memory driver."""
    return Store(MemoryDriver, persistent=False)


# A memory store narrowed to what a plain object store offers, so every
# "refuse without the capability" branch of the suite runs too.
_MINIMAL = dataclasses.replace(
    FULL_CAPABILITIES,
    hard_links=False,
    symlinks=False,
    special_files=False,
    xattrs=False,
    block_size=4096,
)


def _memory_minimal(request: pytest.FixtureRequest) -> Store:
    """The in-memory driver narrowed to _MINIMAL capabilities."""
    return Store(lambda: MemoryDriver(capabilities=_MINIMAL), persistent=False)


def _sqlite(request: pytest.FixtureRequest) -> Store:
    """The sqlite driver on a new database file in the test's tmp_path."""
    # Imported here so that a driver that is absent or broken fails its own tests only.
    from cloudfs.drivers.sqlite import SPEC

    location = SPEC.parse(str(request.getfixturevalue("tmp_path") / "fs.db"))
    return Store(lambda: SPEC.open(location, DriverSettings()), persistent=True)


def _s3(kind: str) -> Callable[[pytest.FixtureRequest], Store]:
    """A fresh prefix in the test bucket of a `kind` S3 server on 127.0.0.1.

    SeaweedFS drops the headers of directory markers, so directory attributes
    last only as long as the driver: that store does not count as reopenable.
    """

    def factory(request: pytest.FixtureRequest) -> Store:
        from cloudfs.drivers.s3 import SPEC
        from tests.servers import BUCKET, fresh_prefix, s3_options

        server = request.getfixturevalue(f"{kind}_s3")
        location = SPEC.parse(f"{BUCKET}/{fresh_prefix('contract')}")
        return Store(lambda: SPEC.open(location, s3_options(server)), persistent=kind != "seaweedfs")

    return factory


def _dynamodb(request: pytest.FixtureRequest) -> Store:
    """A fresh pair of tables (created by the first open) on the moto DynamoDB server on 127.0.0.1."""
    from cloudfs.drivers.dynamodb import SPEC
    from tests.servers import dynamodb_options, fresh_table

    server = request.getfixturevalue("moto_dynamodb")
    settings = SPEC.parse(f"{server.region}/{fresh_table('contract')}")
    return Store(lambda: SPEC.open(settings, dynamodb_options(server)), persistent=True)


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Store]] = {
    "memory": _memory,
    "memory-minimal": _memory_minimal,
    "sqlite": _sqlite,
    "s3-moto": _s3("moto"),
    "s3-seaweedfs": _s3("seaweedfs"),
    "dynamodb": _dynamodb,
}


@pytest.fixture(params=list(FACTORIES))
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh store for each registered driver; closed after the test."""
    opened = FACTORIES[request.param](request)
    yield opened
    opened.driver.close()


@pytest.fixture
def driver(store: Store) -> Driver:
    """The driver of a fresh store."""
    return store.driver
