"""Redis for JuiceFS's metadata: a server of our own, its per-command counts, and a relay that counts round trips.

`INFO commandstats` counts commands (a pipelined MULTI…EXEC is several, and
the commands a Lua script runs are counted besides its EVALSHA); what a
client waits for is round trips. The relay sits between JuiceFS and the
server and counts, per connection, each new burst of bytes the client sends
after the server last answered: one request, or one pipeline, per round trip
(go-redis sends a pipeline in one write and reads all its answers after). It
can hold each round trip, as a remote Redis would.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.servers import HOST, _stop, _wait_listening, free_port

RECV = 1 << 16


def redis_call(port: int, *args: str) -> bytes:
    """One command on a fresh connection; the reply's payload (a status line or bulk string). Errors raise."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(request.encode())
        reader = sock.makefile("rb")
        head = reader.readline()
        if head.startswith(b"-"):
            raise RuntimeError(f"redis {args[0]}: {head.decode().strip()}")
        if head.startswith(b"$"):
            size = int(head[1:])
            return reader.read(size + 2)[:size] if size >= 0 else b""
        return head[1:].strip()


def parse_commandstats(info: bytes) -> Counter[str]:
    """Calls per command from `INFO commandstats` ("cmdstat_get:calls=5,usec=…")."""
    calls: Counter[str] = Counter()
    for line in info.decode().splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line.removeprefix("cmdstat_").partition(":")
            stats = dict(kv.split("=", 1) for kv in fields.split(","))
            calls[name] = int(stats["calls"])
    return calls


@dataclass
class RedisServer:
    """A running `redis-server` on 127.0.0.1: its port, and `take()` for the commands run since the last take."""

    port: int
    pid: int
    _last: Counter[str] | None = None

    def stats(self) -> Counter[str]:
        """The server's cumulative calls per command."""
        return parse_commandstats(redis_call(self.port, "INFO", "commandstats"))

    def take(self) -> Counter[str]:
        """Calls per command since the last take (our own INFO left out), then reset."""
        now = self.stats()
        delta = Counter({k: v - (self._last or {}).get(k, 0) for k, v in now.items()})
        if self._last is not None:
            delta["info"] -= 1  # the previous take's own INFO
        self._last = now
        return +delta

    def flush(self) -> None:
        """Empty every database (a fresh volume for `juicefs format`)."""
        redis_call(self.port, "FLUSHALL")


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """`redis-server` on a free loopback port, no persistence, stopped by its PID on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not installed (apt-get install redis-server)")
    work = Path(tempfile.mkdtemp(prefix="cloudfs-redis-"))
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", str(work)]
    proc = subprocess.Popen(cmd, stdout=(work / "redis.log").open("wb"), stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc)
        server = RedisServer(port, proc.pid)
        server.take()
        yield server
    finally:
        _stop(proc)
        shutil.rmtree(work, ignore_errors=True)


class _Link:
    """One client connection and its upstream one; `answered` is True once the server replied to the last burst."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.answered = True

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with suppress(OSError):
                sock.close()


class RoundTripRelay:
    """A TCP relay on 127.0.0.1 in front of `upstream_port`; `take()` reads and resets the round trips counted.

    `latency` seconds are added to each round trip (held before its first bytes are relayed).
    """

    def __init__(self, upstream_port: int, latency: float = 0.0) -> None:
        self.upstream_port = upstream_port
        self.latency = latency
        self._round_trips = 0
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._listener = socket.create_server((HOST, 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False

    def take(self) -> int:
        """Round trips since the last take, then reset."""
        with self._lock:
            out, self._round_trips = self._round_trips, 0
        return out

    def __enter__(self) -> RoundTripRelay:
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((HOST, self.upstream_port))
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._requests, args=(link,), daemon=True).start()
            threading.Thread(target=self._answers, args=(link,), daemon=True).start()

    def _requests(self, link: _Link) -> None:
        """Client to server: the first bytes after an answer start a round trip."""
        try:
            while data := link.client.recv(RECV):
                with self._lock:
                    new = link.answered
                    if new:
                        self._round_trips += 1
                        link.answered = False
                if new and self.latency:
                    time.sleep(self.latency)
                link.upstream.sendall(data)
        except OSError:
            pass
        link.close()

    def _answers(self, link: _Link) -> None:
        """Server to client."""
        try:
            while data := link.upstream.recv(RECV):
                with self._lock:
                    link.answered = True
                link.client.sendall(data)
        except OSError:
            pass
        link.close()


def redis_url(port: int, db: int = 1) -> str:
    """The JuiceFS metadata URL of database `db` on a local port."""
    return f"redis://{HOST}:{port}/{db}"
