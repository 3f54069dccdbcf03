"""Transient faults are retried with the shared policy; a write that keeps failing is EIO.

Faults come from a FlakyProxy in front of moto: error answers, dropped connections, cut answers.
"""

from __future__ import annotations

import dataclasses
import stat
import time
from collections.abc import Iterator
from errno import EIO

import pytest
from botocore.exceptions import ConnectionClosedError, ResponseStreamingError
from urllib3.exceptions import ProtocolError

from cloudfs.driver import ROOT_INO
from cloudfs.drivers.s3 import SPEC
from cloudfs.drivers.s3.driver import S3Driver
from cloudfs.drivers.s3.store import BotoStore, is_transient, retry_at_once
from cloudfs.retry import RetryPolicy
from tests.drivers.helpers import fails_with
from tests.drivers.staging import Staged
from tests.servers import BUCKET, FlakyProxy, RequestCounter, S3Server, fresh_prefix, s3_options

from .fake_store import client_error


@pytest.fixture
def flaky(moto_s3: S3Server) -> Iterator[tuple[FlakyProxy, S3Driver, RequestCounter]]:
    """A driver talking to moto through a proxy that fails what the test asks; quick retries."""
    with FlakyProxy(moto_s3.url) as proxy:
        driver = SPEC.open(SPEC.parse(f"{BUCKET}/{fresh_prefix('retry')}"), s3_options(moto_s3, endpoint=proxy.url))
        assert isinstance(driver, S3Driver)
        driver.store.policy = RetryPolicy(is_transient, initial_wait=0.001, max_wait=0.01, max_attempts=4)
        yield proxy, driver, RequestCounter().attach(driver.store.client)
        proxy.faults.clear()
        driver.close()


def test_throttling_errors_and_resets_are_retried(flaky: tuple[FlakyProxy, S3Driver, RequestCounter]) -> None:
    proxy, driver, counter = flaky
    driver.readdir(ROOT_INO)
    f = driver.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, 1000, 1000)
    counter.take()
    proxy.faults[:] = ["503", "reset", "500"]
    driver.write(f.ino, Staged().write(0, b"made it"), f.mtime_ns)
    assert counter.take() == {"PutObject": 4}
    assert driver.read(f.ino, 0, 100) == b"made it"


def test_a_write_that_keeps_failing_is_eio_and_stays_local(
    flaky: tuple[FlakyProxy, S3Driver, RequestCounter], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, driver, counter = flaky
    driver.readdir(ROOT_INO)
    f = driver.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, 1000, 1000)
    counter.take()
    proxy.faults[:] = ["503"] * 4
    with fails_with(EIO):
        driver.write(f.ino, Staged().write(0, b"lost?"), f.mtime_ns)
    assert counter.take() == {"PutObject": 4}
    assert any("PUT f failed" in r.getMessage() for r in caplog.records)
    # Still a new local file: the next flush uploads it.
    assert driver.write(f.ino, Staged().write(0, b"kept"), f.mtime_ns).size == 4
    assert driver.read(f.ino, 0, 10) == b"kept"


def test_a_failed_multipart_upload_is_aborted(
    flaky: tuple[FlakyProxy, S3Driver, RequestCounter], moto_s3: S3Server
) -> None:
    proxy, driver, counter = flaky
    driver.part_size = 5 * 1024 * 1024
    driver.readdir(ROOT_INO)
    f = driver.mknod(ROOT_INO, b"big", stat.S_IFREG | 0o644, 0, 1000, 1000)
    counter.take()
    proxy.only, proxy.faults[:] = "partNumber=2", ["503"] * 4
    with fails_with(EIO):
        driver.write(f.ino, Staged().write(0, bytes(11 * 1024 * 1024)), f.mtime_ns)
    # Parts 1 and 3 once, part 2 four times, then the abort: no parts left behind.
    assert counter.take() == {"CreateMultipartUpload": 1, "UploadPart": 6, "AbortMultipartUpload": 1}
    uploads = moto_s3.client().list_multipart_uploads(Bucket=BUCKET, Prefix=driver.store.key("")).get("Uploads")
    assert not uploads


def test_the_policy_gives_up_on_what_is_not_transient() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("not transient")

    with pytest.raises(ValueError):
        RetryPolicy(lambda exc: isinstance(exc, ConnectionError), initial_wait=0.001).call("step", broken)
    assert calls == [1]


@pytest.mark.parametrize(("fault", "puts"), [("slowdown", 2), ("reset-mid-body", 2), ("truncate", 1)])
def test_a_put_whose_answer_is_cut_is_sent_again_unless_its_headers_arrived(
    flaky: tuple[FlakyProxy, S3Driver, RequestCounter], moto_s3: S3Server, fault: str, puts: int
) -> None:
    """A cut answer to a PUT: headers and half the body, or a promise of a body that never comes.

    The server has stored the object either way. A reset mid-answer loses it, so the PUT goes
    again; a truncated answer still brought its status and ETag, which botocore accepts.
    """
    proxy, driver, counter = flaky
    driver.readdir(ROOT_INO)
    f = driver.mknod(ROOT_INO, b"f", stat.S_IFREG | 0o644, 0, 1000, 1000)
    counter.take()
    proxy.faults[:] = [fault]
    driver.write(f.ino, Staged().write(0, b"stored"), f.mtime_ns)
    assert counter.take() == {"PutObject": puts}
    assert proxy.injected == {fault: 1}
    body = moto_s3.client().get_object(Bucket=BUCKET, Key=driver.store.key("f"))["Body"].read()
    assert body == b"stored"


def test_a_lost_answer_is_sent_again_at_once_however_long_the_backoff() -> None:
    calls: list[float] = []

    def flaky_call() -> str:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise ConnectionClosedError(endpoint_url="http://127.0.0.1")
        return "answered"

    policy = RetryPolicy(is_transient, initial_wait=10.0, retry_at_once=retry_at_once)
    assert policy.call("GET", flaky_call) == "answered"
    assert calls[1] - calls[0] < 0.5
    # The store's own policy is that one: with its backoff stretched, a lost answer is still sent again at once.
    store_policy = dataclasses.replace(BotoStore(None, BUCKET, "").policy, initial_wait=10.0)
    calls.clear()
    assert store_policy.call("GET", flaky_call) == "answered"
    assert calls[1] - calls[0] < 0.5


def test_only_throttling_always_backs_off() -> None:
    assert retry_at_once(client_error("InternalError", "PUT"))
    assert retry_at_once(ResponseStreamingError(error=ProtocolError("Connection broken: IncompleteRead")))
    assert not retry_at_once(client_error("SlowDown", "PUT"))
    assert not retry_at_once(client_error("ServiceUnavailable", "PUT"))
    assert not retry_at_once(client_error("AccessDenied", "PUT"))


def test_the_random_faults_follow_their_seed_and_rate() -> None:
    with FlakyProxy("http://127.0.0.1:9") as proxy:  # nothing is forwarded

        def draws(seed: int) -> list[str | None]:
            proxy.randomly(0.3, ("stall", "503", "truncate"), seed=seed)
            return [proxy._next_fault("/b/k") for _ in range(1000)]

        first = draws(5)
        assert first == draws(5) != draws(6)
        assert 250 < sum(f is not None for f in first) < 350
        assert set(first) == {None, "stall", "503", "truncate"}
        with pytest.raises(ValueError):
            proxy.randomly(0.1, ("teapot",))
