"""Fixtures for DynamoDB driver tests: one moto server per session, a fresh pair of tables per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudfs.drivers.dynamodb import SPEC
from cloudfs.drivers.dynamodb.driver import DynamoDriver
from tests.servers import DynamoServer, RequestCounter, dynamodb_options, fresh_table


@pytest.fixture
def server(moto_dynamodb: DynamoServer) -> DynamoServer:
    """The session's moto DynamoDB server."""
    return moto_dynamodb


@pytest.fixture
def table() -> str:
    """This test's own table name (its blocks live in the table of that name + "Blocks")."""
    return fresh_table("t")


@pytest.fixture
def raw(server: DynamoServer) -> Any:
    """A plain boto3 client on the server, standing for another tool (or an auditor) reading the tables."""
    return server.client()


DriverFactory = Callable[..., tuple[DynamoDriver, RequestCounter]]

# A driver's session heartbeat (one PutItem every 20 s, from its own thread) is no cost of what a test measures.
BACKGROUND_THREADS = ("cloudfs-heartbeat", "cloudfs-lock-lease")


@pytest.fixture
def make_driver(server: DynamoServer, table: str) -> Iterator[DriverFactory]:
    """Open drivers on this test's table (options as for `-o`); each comes with a counter of its requests.

    Every driver opened is a separate "host": its own client, its own caches.
    """
    opened: list[DynamoDriver] = []

    def make(**options: str) -> tuple[DynamoDriver, RequestCounter]:
        """A driver on this table with `options`, and a counter of the requests its client sends."""
        driver = SPEC.open(SPEC.parse(f"{server.region}/{table}"), dynamodb_options(server, **options))
        assert isinstance(driver, DynamoDriver)
        opened.append(driver)
        return driver, RequestCounter("dynamodb", BACKGROUND_THREADS).attach(driver.client)

    yield make
    for driver in opened:
        driver.close()


@pytest.fixture
def driver(make_driver: DriverFactory) -> tuple[DynamoDriver, RequestCounter]:
    """A driver on this test's table, and its request counter."""
    return make_driver()
