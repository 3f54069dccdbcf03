"""Fixtures for S3 driver tests: a moto and a SeaweedFS server per session, a fresh prefix per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudfs.drivers.s3 import SPEC
from cloudfs.drivers.s3.driver import S3Driver
from tests.servers import BUCKET, RequestCounter, S3Server, fresh_prefix, s3_options


@pytest.fixture(params=["moto", "seaweedfs"])
def server(request: pytest.FixtureRequest) -> S3Server:
    """Each test runs against moto and against SeaweedFS."""
    return request.getfixturevalue(f"{request.param}_s3")


@pytest.fixture
def prefix() -> str:
    """This test's own key prefix."""
    return fresh_prefix("t")


@pytest.fixture
def raw(server: S3Server) -> Any:
    """A plain client on the server, standing for another tool using the same bucket."""
    return server.client()


DriverFactory = Callable[..., tuple[S3Driver, RequestCounter]]


@pytest.fixture
def make_driver(server: S3Server, prefix: str) -> Iterator[DriverFactory]:
    """Open drivers on this test's prefix (keywords as for `tests.servers.settings`); each with its request counter."""
    opened: list[S3Driver] = []

    def make(**options: Any) -> tuple[S3Driver, RequestCounter]:
        """A driver on this prefix with `options`, and a counter of its requests."""
        driver = SPEC.open(SPEC.parse(f"{BUCKET}/{prefix}"), s3_options(server, **options))
        assert isinstance(driver, S3Driver)
        driver.part_size = 5 * 1024 * 1024  # the S3 minimum, so multipart tests stay small
        opened.append(driver)
        return driver, RequestCounter().attach(driver.store.client)

    yield make
    for driver in opened:
        driver.close()


@pytest.fixture
def driver(make_driver: DriverFactory) -> tuple[S3Driver, RequestCounter]:
    """A driver on this test's prefix, and its request counter."""
    return make_driver()
