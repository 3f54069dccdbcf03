"""A counting HTTP proxy on 127.0.0.1 in front of one S3 (or DynamoDB) server.

Every request is named by its S3 operation (method plus the shape of path and
query: PUT, GET range, LIST, COPY, part, …) and counted, with the body bytes
each way. Bodies are streamed in both directions, so a 256 MiB object never sits
in memory. Clients must use path-style addressing (`/bucket/key`). A DynamoDB
request (`POST /` with `X-Amz-Target: DynamoDB_20120810.<Operation>`) is named
by its operation; a `refine` function given to the proxy may rename a request
from its (small) body, e.g. by the table it names.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import IO

CHUNK = 1 << 20
HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
HOP_HEADERS.add("expect")  # answered here (100 Continue) by http.server
MULTIPART_NAMES = {
    ("POST", "uploads"): "MPU create",
    ("GET", "uploads"): "MPU list",
    ("POST", "uploadId"): "MPU complete",
    ("DELETE", "uploadId"): "MPU abort",
    ("GET", "uploadId"): "part list",
}
# Bodies up to this size are read whole before relaying when the proxy has a `refine` function.
REFINE_MAX = 4 << 20
Refine = Callable[[str, bytes], str]


def classify(method: str, target: str, headers: Message) -> str:
    """The S3 operation of one path-style request, e.g. "GET range", "LIST", "part copy"; DynamoDB's by name."""
    if target_header := headers.get("X-Amz-Target", ""):
        return target_header.rpartition(".")[2] or target_header
    split = urllib.parse.urlsplit(target)
    query = {k for k in urllib.parse.parse_qs(split.query, keep_blank_values=True) if k != "x-id"}
    has_key = "/" in split.path.strip("/")
    copy = "x-amz-copy-source" in headers
    if method == "PUT" and "uploadId" in query:
        return "part copy" if copy else "part"
    for name in ("uploads", "uploadId"):
        if name in query:
            return MULTIPART_NAMES.get((method, name), f"{method} ?{name}")
    if method == "POST" and "delete" in query:
        return "DELETE multi"
    if query - {"list-type", "prefix", "delimiter", "continuation-token", "max-keys", "start-after", "encoding-type",
                "fetch-owner", "marker"}:  # fmt: skip
        return f"{method} ?{','.join(sorted(query))}"
    if not has_key:
        return {"GET": "LIST", "HEAD": "HEAD bucket", "PUT": "create bucket"}.get(method, f"{method} bucket")
    if method == "GET":
        return "GET range" if "Range" in headers else "GET"
    if method == "PUT":
        return "COPY" if copy else "PUT"
    return method


@dataclass
class Tally:
    """Requests by operation and body bytes up (to the server) and down, since the last take.

    `server_seconds`: the requests' time from being relayed to the server until its answer was relayed
    back (the added latency not included), summed.
    """

    requests: Counter[str] = field(default_factory=Counter)
    bytes_up: int = 0
    bytes_down: int = 0
    server_seconds: float = 0.0


class CountingProxy:
    """The proxy: `url` to point tools at, `take()` to read and reset the tally."""

    def __init__(self, upstream: str, latency: float = 0.0, refine: Refine | None = None) -> None:
        """Relay to `upstream`, holding each request `latency` seconds first (a WAN round trip; 0 on loopback).

        `refine(operation, body)`, when given, names each request of a known length up to REFINE_MAX
        bytes from its body (which is then read whole before it is relayed).
        """
        self.upstream = urllib.parse.urlsplit(upstream)
        self.latency = latency
        self.refine = refine
        self._tally = Tally()
        self._lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, operation: str = "", up: int = 0, down: int = 0, seconds: float = 0.0) -> None:
        """Count one request (when `operation` is given), body bytes and time spent on the server's side."""
        with self._lock:
            if operation:
                self._tally.requests[operation] += 1
            self._tally.bytes_up += up
            self._tally.bytes_down += down
            self._tally.server_seconds += seconds

    def take(self) -> Tally:
        """The tally since the last take, then reset."""
        with self._lock:
            out, self._tally = self._tally, Tally()
        return out

    def connect(self) -> http.client.HTTPConnection:
        """A new connection to the upstream server, without Nagle's delay (headers and body go separately)."""
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _copy(src: IO[bytes], dst_write: object, length: int) -> int:
    """Copy `length` bytes from `src` to the callable `dst_write`, a chunk at a time."""
    left = length
    while left > 0:
        chunk = src.read(min(CHUNK, left))
        if not chunk:
            break
        dst_write(chunk)  # type: ignore[operator]
        left -= len(chunk)
    return length - left


def _read_chunked(src: IO[bytes]) -> bytes:
    """A whole request body sent with Transfer-Encoding: chunked."""
    parts = []
    while size := int(src.readline().split(b";")[0].strip() or b"0", 16):
        parts.append(src.read(size))
        src.readline()
    while src.readline() not in (b"\r\n", b"\n", b""):
        pass
    return b"".join(parts)


def _handler_class(proxy: CountingProxy) -> type[http.server.BaseHTTPRequestHandler]:
    """The request handler bound to `proxy`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        """Counts one request and relays it, streaming both bodies."""

        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tally is the output."""

        def _handle(self) -> None:
            operation = classify(self.command, self.path, self.headers)
            body = None
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            length = int(self.headers.get("Content-Length", 0) or 0)
            if proxy.refine is not None and not chunked and length <= REFINE_MAX:
                body = self.rfile.read(length)
                operation = proxy.refine(operation, body)
            proxy.record(operation)
            time.sleep(proxy.latency)
            start = time.perf_counter()
            conn = proxy.connect()
            try:
                self._send_upstream(conn, body)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self.send_error(502, f"upstream: {exc}")
                return
            try:
                self._relay(resp)
            except ConnectionError:  # the client stopped reading (rclone abandons readahead): its choice
                self.close_connection = True
            finally:
                conn.close()
                proxy.record(seconds=time.perf_counter() - start)

        def _send_upstream(self, conn: http.client.HTTPConnection, read: bytes | None = None) -> None:
            """Send the request line, headers and body (`read`: the body, already read whole) to the server."""
            if read is None and "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                read = _read_chunked(self.rfile)
            length = len(read) if read is not None else int(self.headers.get("Content-Length", 0) or 0)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in self.headers.items():
                if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                    conn.putheader(key, value)
            if length or self.command in ("PUT", "POST"):
                conn.putheader("Content-Length", str(length))
            conn.endheaders()
            if read is not None:
                conn.send(read)
            sent = length if read is not None else _copy(self.rfile, conn.send, length)
            proxy.record(up=sent)

        def _relay(self, resp: http.client.HTTPResponse) -> None:
            """Send the server's answer back, streaming a body of known length."""
            no_body = self.command == "HEAD" or resp.status in (204, 304)
            length = resp.getheader("Content-Length")
            payload = b"" if no_body or length is not None else resp.read()
            self.send_response_only(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() not in HOP_HEADERS and (length is not None or key.lower() != "content-length"):
                    self.send_header(key, value)
            if length is None:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if no_body:
                return
            sent = _copy(resp, self.wfile.write, int(length)) if length is not None else len(payload)
            if length is None:
                self.wfile.write(payload)
            proxy.record(down=sent)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    return Handler
