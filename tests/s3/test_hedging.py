"""Hedged S3 requests: budgets learnt from latencies, races won by the first answer, losers disposed of.

From the latency tracker on made-up durations, through the hedger on plain
functions and the driver on FakeStore, to BotoStore behind a FlakyProxy that
stalls, cuts and resets real HTTP answers, and a mount copying files through
a proxy that fails 30% of requests.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from errno import EIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError

from cloudfs.driver import ROOT_INO
from cloudfs.drivers.s3.client import make_client
from cloudfs.drivers.s3.driver import S3Driver
from cloudfs.drivers.s3.layout import Defaults
from cloudfs.drivers.s3.store import BotoStore, is_transient
from cloudfs.drivers.s3.transfer import MiB
from cloudfs.hedging import Hedger, HedgeTokens, LatencyTracker
from cloudfs.retry import RetryPolicy
from tests.drivers.helpers import fails_with
from tests.drivers.staging import Staged
from tests.fuse.mounts import Mount
from tests.servers import ACCESS_KEY, BUCKET, SECRET_KEY, FlakyProxy, RequestCounter, S3Server, fresh_prefix

from .fake_store import FakeStore

QUICK = RetryPolicy(is_transient, initial_wait=0.001, max_wait=0.01, max_attempts=4)


def quick_hedger(budget: float = 0.05, **kwargs: Any) -> Hedger:
    """A hedger whose budget is `budget` from the first request (no learning needed)."""
    return Hedger(is_transient, LatencyTracker(default=budget, floor=budget, min_samples=10**6), **kwargs)


# -- the latency tracker -------------------------------------------------------


def test_the_budget_is_the_default_until_enough_samples_then_a_clamped_percentile() -> None:
    tracker = LatencyTracker(window=100, quantile=0.95, factor=2.0, floor=0.05, cap=10.0, default=1.0, min_samples=16)
    for _ in range(15):
        tracker.record("PUT", 0.010)
    assert tracker.budget("PUT") == 1.0
    tracker.record("PUT", 0.010)
    assert tracker.budget("PUT") == 0.05  # 2 x 10 ms is below the floor
    assert tracker.budget("HEAD") == 1.0  # a kind not seen yet: the default, whatever the others learnt
    for ms in range(1, 101):  # 1..100 ms: the 95th percentile is 96 ms
        tracker.record("GET", ms / 1000)
    assert tracker.budget("GET") == pytest.approx(0.192)
    assert tracker.budget("PUT") == 0.05  # kinds are apart
    for _ in range(100):
        tracker.record("LIST", 30.0)
    assert tracker.budget("LIST") == 10.0


def test_the_budget_follows_a_store_that_speeds_up_within_one_window() -> None:
    tracker = LatencyTracker(window=50, quantile=0.95, factor=2.0, min_samples=16)
    for _ in range(50):
        tracker.record("GET", 2.0)
    assert tracker.budget("GET") == 4.0
    for _ in range(47):
        tracker.record("GET", 0.1)
    assert tracker.budget("GET") == 4.0  # three slow samples left: still the 95th percentile
    tracker.record("GET", 0.1)
    assert tracker.budget("GET") == pytest.approx(0.2)


def test_hedge_tokens_allow_a_burst_then_a_share_of_requests() -> None:
    tokens = HedgeTokens(ratio=0.25, burst=2)
    assert [tokens.spend() for _ in range(3)] == [True, True, False]
    for _ in range(3):
        tokens.earn()
    assert tokens.spend() is False
    tokens.earn()
    assert [tokens.spend(), tokens.spend()] == [True, False]


# -- the hedger on plain functions -------------------------------------------


class Attempts:
    """A request whose attempts follow a script: each entry a delay and then a result or an exception."""

    def __init__(self, *script: tuple[float, object]) -> None:
        self.script = list(script)
        self.started = 0
        self.finished: list[object] = []
        self._lock = threading.Lock()

    def __call__(self) -> object:
        with self._lock:
            delay, outcome = self.script[min(self.started, len(self.script) - 1)]
            self.started += 1
        time.sleep(delay)
        self.finished.append(outcome)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def test_an_attempt_past_its_budget_is_raced_and_the_slow_one_discarded_when_it_ends() -> None:
    hedger = quick_hedger()
    attempts = Attempts((0.5, "slow"), (0.0, "fast"))
    discarded: list[object] = []
    start = time.monotonic()
    assert hedger.run("GET", attempts, discard=discarded.append) == "fast"
    assert time.monotonic() - start < 0.3
    assert (attempts.started, hedger.attempts, hedger.hedges) == (2, 2, 1)
    assert eventually(lambda: discarded == ["slow"])


def test_a_failed_hedge_leaves_the_race_open_and_a_lost_race_goes_back_to_the_retry_policy() -> None:
    hedger = quick_hedger(max_attempts=3)
    reset = ConnectionClosedError(endpoint_url="x")
    attempts = Attempts((0.4, "first"), (0.0, reset), (0.0, reset), (0.0, "fourth"))
    start = time.monotonic()
    # The third attempt comes a budget after the second failed; when it fails too, nothing more may start
    # and the first is overdue: the race is lost, and the policy's next race answers at once.
    assert QUICK.call("GET", lambda: hedger.run("GET", attempts)) == "fourth"
    assert time.monotonic() - start < 0.35
    assert attempts.started == 4
    all_fail = Attempts((0.0, reset))
    with pytest.raises(ConnectionClosedError):
        hedger.run("GET", all_fail)
    assert all_fail.started == 1  # a fast failure is the retry policy's, with its backoff


def test_an_answer_that_is_not_transient_ends_the_race_at_once() -> None:
    hedger = quick_hedger()
    attempts = Attempts((1.0, "slow"), (0.0, ValueError("denied")))
    start = time.monotonic()
    with pytest.raises(ValueError):
        hedger.run("GET", attempts)
    assert time.monotonic() - start < 0.5


def test_without_tokens_a_slow_attempt_is_waited_for() -> None:
    hedger = quick_hedger(tokens=HedgeTokens(ratio=0, burst=0))
    attempts = Attempts((0.3, "slow"), (0.0, "fast"))
    assert hedger.run("GET", attempts) == "slow"
    assert (attempts.started, hedger.hedges) == (1, 0)


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether `condition` holds within `timeout` seconds (checked every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_newer_put_goes_at_once_and_is_sent_again_after_a_late_abandoned_one() -> None:
    hedger = quick_hedger()
    landed: list[str] = []
    first = Attempts((0.6, "old"), (0.0, "old"))
    hedger.run("PUT", lambda: landed.append(str(first())), fence=("k",))
    assert landed == ["old"]  # the hedge; the slow attempt is still on its way
    start = time.monotonic()
    hedger.run("PUT", lambda: landed.append("new"), fence=("k",))
    assert time.monotonic() - start < 0.3
    assert eventually(lambda: len(landed) == 4)
    assert landed == ["old", "new", "old", "new"]  # the late attempt undid "new": sent again
    assert hedger.resends == 1


def test_a_late_abandoned_attempt_with_nothing_newer_costs_nothing_more() -> None:
    hedger = quick_hedger()
    attempts = Attempts((0.3, "slow"), (0.0, "fast"))
    hedger.run("PUT", attempts, fence=("k",))
    assert eventually(lambda: len(attempts.finished) == 2 and not hedger._fences)
    time.sleep(0.05)
    assert (attempts.started, hedger.resends) == (2, 0)


def test_a_copy_waits_for_abandoned_attempts_on_its_key() -> None:
    hedger = quick_hedger()
    landed: list[str] = []
    first = Attempts((0.6, "old"), (0.0, "old"))
    hedger.run("PUT", lambda: landed.append(str(first())), fence=("k",))
    hedger.run("COPY", lambda: landed.append("copy"), fence=("k",), resendable=False)
    assert landed == ["old", "old", "copy"]
    hedger.run("COPY", lambda: landed.append("elsewhere"), fence=("j",), resendable=False)
    assert landed[-1] == "elsewhere"


# -- the driver on FakeStore ------------------------------------------------------


@pytest.fixture
def fake() -> FakeStore:
    """An in-memory bucket whose requests are hedged after 50 ms."""
    return FakeStore("t/", hedger=quick_hedger())


@pytest.fixture
def driver(fake: FakeStore) -> Iterator[S3Driver]:
    """A driver on `fake` with 5 MiB parts."""
    driver = S3Driver(fake, Defaults(uid=1000, gid=1000, umask=0o022), part_size=5 * MiB)
    yield driver
    driver.close()


def test_a_stalled_put_is_hedged_and_a_later_write_is_not_undone_by_it(fake: FakeStore, driver: S3Driver) -> None:
    driver.readdir(ROOT_INO)
    f = driver.mknod(ROOT_INO, b"f", 0o100644, 0, 1000, 1000)
    fake.take()
    fake.stall("PUT", 0.6)
    start = time.monotonic()
    driver.write(f.ino, Staged().write(0, b"first"), f.mtime_ns)
    assert time.monotonic() - start < 0.4
    assert fake.take() == {"PUT": 2}
    driver.write(f.ino, Staged(b"first").write(0, b"newer"), f.mtime_ns)
    assert time.monotonic() - start < 0.5  # the newer write did not wait for the stalled one
    # The stalled attempt (counted when it came in) lands "first" at 0.6 s, then "newer" is sent again.
    assert eventually(lambda: fake.counts["PUT"] == 2)
    obj = fake.object("f")
    assert obj is not None and obj.body == b"newer"


def test_a_losing_multipart_create_is_aborted(fake: FakeStore, driver: S3Driver) -> None:
    driver.readdir(ROOT_INO)
    f = driver.mknod(ROOT_INO, b"big", 0o100644, 0, 1000, 1000)
    fake.take()
    fake.stall("MPU create", 0.3)
    data = random.Random(1).randbytes(6 * MiB)
    driver.write(f.ino, Staged().write(0, data), f.mtime_ns)
    assert fake.take() == {"MPU create": 2, "part": 2, "MPU complete": 1}
    assert eventually(lambda: fake.uploads == {})
    obj = fake.object("big")
    assert obj is not None and obj.body == data


# -- BotoStore behind a fault proxy -------------------------------------------------


@pytest.fixture
def proxied(moto_s3: S3Server) -> Iterator[tuple[FlakyProxy, BotoStore, RequestCounter]]:
    """A BotoStore as a mount makes it, on a fresh prefix of moto through a FlakyProxy; quick retries."""
    with FlakyProxy(moto_s3.url) as proxy:
        client = make_client({"endpoint": proxy.url}, "us-east-1")
        store = BotoStore(client, BUCKET, fresh_prefix("hedge") + "/", QUICK)
        yield proxy, store, RequestCounter().attach(client)
        proxy.faults.clear()


def test_a_stalled_get_is_hedged_at_a_budget_learnt_from_the_store(
    proxied: tuple[FlakyProxy, BotoStore, RequestCounter],
) -> None:
    proxy, store, counter = proxied
    store.put("f", b"contents", None)
    for _ in range(40):
        assert store.get("f") == b"contents"
    assert store.hedger is not None
    budget = store.hedger.tracker.budget("GET all")
    assert budget < store.hedger.tracker.default
    counter.take()
    proxy.operations.clear()
    proxy.stall, proxy.faults[:] = 3.0, ["stall"]
    start = time.monotonic()
    assert store.get("f") == b"contents"
    assert time.monotonic() - start < 1.0
    assert counter.take() == {"GetObject": 2}
    assert (proxy.operations, proxy.overlapping) == ({"GET": 2}, 1)  # the second came while the first was held


@pytest.mark.parametrize("fault", ["reset-mid-body", "truncate", "reset", "slowdown", "503", "500"])
def test_a_cut_or_failed_get_is_retried_and_never_returned_short(
    proxied: tuple[FlakyProxy, BotoStore, RequestCounter], fault: str
) -> None:
    proxy, store, counter = proxied
    data = random.Random(2).randbytes(300_000)
    store.put("f", data, None)
    counter.take()
    proxy.faults[:] = [fault]
    assert store.get("f") == data
    assert store.get("f", 1000, 201_000) == data[1000:201_000]
    assert counter.take() == {"GetObject": 3}


def test_a_stream_stalled_mid_body_is_hedged(proxied: tuple[FlakyProxy, BotoStore, RequestCounter]) -> None:
    proxy, store, counter = proxied
    data = random.Random(3).randbytes(100_000)
    store.put("f", data, None)
    counter.take()
    proxy.stall, proxy.faults[:] = 3.0, ["stall-mid-body"]
    start = time.monotonic()
    assert store.get("f") == data
    assert time.monotonic() - start < 2.5  # hedged at the default budget, before the stall ends
    assert counter.take() == {"GetObject": 2}


def test_persistent_stalls_end_as_eio_within_the_socket_timeout_of_each_race(moto_s3: S3Server) -> None:
    with FlakyProxy(moto_s3.url) as proxy:
        client = boto3.client(
            "s3",
            endpoint_url=proxy.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, read_timeout=0.5),
        )
        policy = RetryPolicy(is_transient, initial_wait=0.001, max_wait=0.01, max_attempts=2)
        store = BotoStore(client, BUCKET, fresh_prefix("stuck") + "/", policy, quick_hedger(0.1, max_attempts=2))
        proxy.stall, proxy.faults[:] = 3.0, ["stall"] * 4
        start = time.monotonic()
        with fails_with(EIO):
            store.put("f", b"never", None)
        assert time.monotonic() - start < 2.5  # two races of two attempts, each cut at 0.5 s
        assert proxy.injected == {"stall": 4}


# -- a mount through a proxy failing 30% of requests ---------------------------------


def test_a_copy_through_a_mount_at_30_percent_faults_loses_and_corrupts_nothing(
    moto_s3: S3Server, tmp_path: Path
) -> None:
    """Every file arrives intact, no error is logged, and the stalls cost far less than their length."""
    rng = random.Random(30)
    src = tmp_path / "src"
    for i in range(36):
        d = src / f"d{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:02d}").write_bytes(rng.randbytes(rng.choice([10, 3000, 70_000, 400_000])))
    prefix = fresh_prefix("faults")
    with FlakyProxy(moto_s3.url) as proxy:
        mount = Mount(f"s3:{BUCKET}/{prefix}", tmp_path / "mnt", tmp_path / "mnt.log", (f"endpoint={proxy.url}",))
        mount.start()
        try:
            proxy.stall = 2.0
            kinds = ("stall", "stall", "503", "500", "slowdown", "reset", "reset-mid-body", "truncate")
            proxy.randomly(0.3, kinds, seed=7)
            start = time.monotonic()
            subprocess.run(["cp", "-a", str(src), str(mount.path / "src")], check=True, timeout=120)
            elapsed, stalls = time.monotonic() - start, proxy.injected["stall"]
        finally:
            mount.stop()
    raw = moto_s3.client()
    stored = {}
    for page in raw.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/src/"):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):
                body = raw.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
                stored[obj["Key"][len(prefix) + 1 :]] = hashlib.sha256(body).hexdigest()
    wanted = {
        str(p.relative_to(tmp_path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in src.rglob("*") if p.is_file()
    }
    assert stored == wanted
    problems = [line for line in mount.problems() if " WARNING " not in line]
    assert problems == []
    assert stalls >= 2
    assert elapsed < stalls * proxy.stall  # cp -a waits for each request in turn: unhedged, the stalls add up
