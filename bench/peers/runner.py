"""Runs the workloads for one tool on its own fresh bucket, measuring each step.

Filesystem tools: every step starts on a fresh mount with empty local caches
(so reads and listings are cold and each step pays its own requests), is timed
until the tool has stored everything (rclone uploads after close), then its
requests are taken from the proxy; the check runs after that, unmeasured.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from bench.peers.data import Data
from bench.peers.proxy import CountingProxy, Tally
from bench.peers.tools import Mounted, Tool
from bench.peers.workloads import STEPS, Step
from tests.servers import ACCESS_KEY, SECRET_KEY

BOTO3 = "boto3 (limit)"
log = logging.getLogger(__name__)


@dataclass
class Result:
    """One tool's measurement of one step."""

    tool: str
    step: Step
    seconds: float = 0.0
    tally: Tally = field(default_factory=Tally)
    error: str = ""
    peak_rss_kib: int = 0


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """Raise TimeoutError in the main thread after `seconds` (interrupts a hung FUSE call)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"step took over {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _measure(result: Result, proxy: CountingProxy, action: Callable[[], None], timeout: int) -> None:
    """Time `action` into `result`, then take the proxy's tally; errors are recorded, not raised."""
    proxy.take()
    start = time.perf_counter()
    try:
        with _time_limit(timeout):
            action()
    except Exception as exc:  # any failure of the tool is a result to report, not a crash of the bench
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    result.tally = proxy.take()
    log.info("%s: %s: %.2fs, %d requests %s", result.tool, result.step.name, result.seconds,
             sum(result.tally.requests.values()), result.error)  # fmt: skip


def run_tool(tool: Tool, bucket: str, proxy: CountingProxy, data: Data, timeout: int) -> list[Result]:
    """Every step of `tool`, each on a fresh mount of `bucket` through the proxy."""
    tool.work.mkdir(parents=True, exist_ok=True)
    tool.prepare(bucket, proxy.url)
    results = []
    for step in STEPS:
        result = Result(tool.name, step)
        try:
            with tool.mount(bucket, proxy.url) as mounted:
                _measure(result, proxy, lambda m=mounted, s=step: _fs_step(tool, s, m, data), timeout)
                result.peak_rss_kib = mounted.peak_rss_kib()
                if step.check and not result.error:
                    _check(result, step, mounted.path, data, timeout)
        except (OSError, RuntimeError) as exc:
            result.error = result.error or f"mount: {exc}"
        results.append(result)
    return results


def _fs_step(tool: Tool, step: Step, mounted: Mounted, data: Data) -> None:
    """The step, then the tool's settle even when the step failed (unmounting drops rclone's pending uploads)."""
    try:
        step.fs(mounted.path, data)
    finally:
        tool.settle(mounted, step.writes)


def _check(result: Result, step: Step, path: Any, data: Data, timeout: int) -> None:
    """Run the step's check; a failure is the step's error."""
    try:
        with _time_limit(timeout):
            step.check(path, data)  # type: ignore[misc]
    except Exception as exc:  # as in _measure
        result.error = f"check: {type(exc).__name__}: {exc}"


def boto3_client(url: str) -> Any:
    """A path-style boto3 client on `url` with the dummy keys and botocore's standard retries."""
    config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}, max_pool_connections=10)
    return boto3.client(
        "s3", endpoint_url=url, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1", config=config,
    )  # fmt: skip


def run_boto3(bucket: str, proxy: CountingProxy, data: Data, timeout: int) -> list[Result]:
    """Every step as direct boto3 calls through the proxy: the limit."""
    client = boto3_client(proxy.url)
    results = []
    for step in STEPS:
        result = Result(BOTO3, step)
        _measure(result, proxy, lambda s=step: s.s3(client, bucket, data), timeout)
        results.append(result)
    return results
