"""Sequential reads of S3 objects as one streaming GET each; random reads as one ranged GET each.

A reader of an inode that keeps reading where it stopped gets one GET from
that offset to the end of the object, whose body a thread per stream reads
ahead into a bounded buffer: as far ahead as the reader has read so far, from
`INITIAL_AHEAD` up to `window`, so a reader that stops early costs little.
A read a little ahead of the stream, or within the last BEHIND bytes it
served, comes from its buffer; a late read further behind (the kernel's
concurrent reads of one file arrive in any order) is one ranged GET and the
stream goes on; any other read closes it and fetches exactly what was asked.
A body that breaks is opened again from where it broke, under the store's
retry policy; what still fails is EIO, never short or wrong data.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from botocore.exceptions import IncompleteReadError

from cloudfs.errors import FsError
from cloudfs.retry import RetryPolicy

from .store import BodyReader, RetriedStore, Store, is_transient

log = logging.getLogger(__name__)

MiB = 1024 * 1024
CHUNK = 1 * MiB  # one body.read(): Python's per-call cost stays small beside the bytes it moves
INITIAL_AHEAD = 1 * MiB  # read ahead of a new reader: what a reader that stops at once wastes
BEHIND = 4 * MiB  # served bytes kept for reads that arrive late, out of order
WINDOW = 16 * MiB  # the most read ahead of one reader (see bench/results/streaming-2026-12-02.md)
MAX_STREAMS = 4  # open GETs at once: each may hold WINDOW + BEHIND bytes
MAX_FILES = 16  # inodes whose read position is remembered
IDLE = 30.0  # seconds without a read after which a stream lets go of its connection and buffer


class ShortBody(Exception):
    """A body ended before the bytes its GET asked for (transient: opened again from there)."""


def _stream_transient(policy: RetryPolicy) -> Callable[[BaseException], bool]:
    """The policy's transient faults, plus the ways a body breaks mid-way."""
    return lambda exc: isinstance(exc, (ShortBody, IncompleteReadError)) or policy.is_transient(exc)


class _Stream:
    """One GET of `path` from `start` to `end`, read ahead into `chunks` by its own thread.

    `base` is the offset of `chunks[0]`, `filled` the offset after the last
    chunk, `served` the end of the furthest read served. All fields change
    under `cond`, except `body`, which only the filler touches.
    """

    def __init__(self, store: Store, policy: RetryPolicy, path: str, start: int, size: int, window: int) -> None:
        """Read `[start, size)` of the `size`-byte object `path` ahead, at most `window` beyond what was served."""
        self.store = store
        self.policy = policy
        self.path = path
        self.start = start
        self.size = size
        self.end = size  # where the body ends: less than `size` if the object was cut meanwhile
        self.window = window
        self.cond = threading.Condition()
        self.chunks: deque[bytes] = deque()
        self.base = self.filled = self.served = start
        self.error: FsError | None = None
        self.closed = False
        self.last_used = time.monotonic()
        self.filler_waiting = False
        self.body: BodyReader | None = None
        self.thread = threading.Thread(target=self._fill, name=f"s3-stream {path}", daemon=True)
        self.thread.start()

    # -- the reader's side ---------------------------------------------------

    def covers(self, off: int) -> bool:
        """Whether a read at `off` belongs here: not before what is kept, at most INITIAL_AHEAD past what is read."""
        with self.cond:
            return not self.closed and self.base <= off <= max(self.filled, self.served) + INITIAL_AHEAD

    def trails(self, off: int) -> bool:
        """Whether a read at `off`, before what is kept, is still within a window of what was served."""
        with self.cond:
            return not self.closed and self.served - self.window <= off < self.base

    def read(self, off: int, end: int) -> bytes | None:
        """Bytes `[off, end)` (fewer if the object was cut), waiting for the filler; None if closed meanwhile."""
        with self.cond:
            self.last_used = time.monotonic()
            self.served = max(self.served, end)
            ahead = self._ahead()
            if self.filler_waiting and self.filled - self.served <= ahead - min(CHUNK, ahead // 2):
                self.cond.notify_all()  # room for a chunk: waking the filler for less costs a switch per read
            while self.filled < min(end, self.end) and self.error is None and not self.closed:
                self.cond.wait()
            if self.closed:
                return None
            end = min(end, self.end)
            if self.filled < end:
                assert self.error is not None
                raise self.error
            data = self._slice(off, end) if off < end else b""
            self._trim()
            return data

    def _slice(self, off: int, end: int) -> bytes:
        """Bytes `[off, end)` out of the chunks (all there)."""
        pieces = []
        pos = self.base
        for chunk in self.chunks:
            nxt = pos + len(chunk)
            if nxt > off and pos < end:
                pieces.append(chunk[max(off - pos, 0) : min(end, nxt) - pos])
            if nxt >= end:
                break
            pos = nxt
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _trim(self) -> None:
        """Drop chunks wholly more than BEHIND before what was served."""
        while self.chunks and self.base + len(self.chunks[0]) <= self.served - BEHIND:
            self.base += len(self.chunks.popleft())

    def close(self) -> None:
        """Stop the filler and let go of the buffer; a waiting read returns None."""
        with self.cond:
            self.closed = True
            self.chunks.clear()
            self.cond.notify_all()

    # -- the filler's side ---------------------------------------------------

    def _ahead(self) -> int:
        """How far beyond what was served to read: as much as was read so far, within the bounds."""
        return min(self.window, max(INITIAL_AHEAD, self.served - self.start))

    def _fill(self) -> None:
        """Read the body ahead of the reader until closed, failed, or IDLE seconds without a read."""
        try:
            while True:
                with self.cond:
                    while not self.closed and (self.filled >= self.end or self.filled - self.served >= self._ahead()):
                        if time.monotonic() - self.last_used > IDLE:
                            self.closed = True  # given up on: free the connection and the memory
                            self.chunks.clear()
                            break
                        self.filler_waiting = True
                        self.cond.wait(IDLE / 4)
                        self.filler_waiting = False
                    if self.closed:
                        return
                    pos = self.filled
                chunk = self._next(pos)
                if not chunk or pos + len(chunk) >= self.end:
                    self._release()  # read to its end: the connection can serve other requests
                with self.cond:
                    if not chunk:  # the object ends before we thought: it changed, reads end there
                        self.end = pos
                    elif not self.closed:
                        self.chunks.append(chunk)
                        self.filled += len(chunk)
                    self.cond.notify_all()
        except FsError as exc:
            self._fail(exc)
        except Exception as exc:  # a fault the policy calls permanent, or the retries ran out
            log.error("GET %s from %d failed: %s", self.path, self.filled, exc)
            self._fail(FsError(errno.EIO, f"GET {self.path}: {exc}"))
        finally:
            self._release()

    def _fail(self, exc: FsError) -> None:
        """Hand `exc` to the reads waiting for bytes that will not come."""
        with self.cond:
            self.error = exc
            self.cond.notify_all()

    def _release(self) -> None:
        """Close the body, if open."""
        if self.body is not None:
            self.body.close()
            self.body = None

    def _next(self, pos: int) -> bytes:
        """The next bytes at `pos`, opening the body there if needed; b"" if the object now ends at `pos`."""

        def step() -> bytes:
            """One read of the body; a broken body is closed, so the next attempt opens it again at `pos`."""
            fresh = self.body is None
            if self.body is None:
                self.body = self.store.open_read(self.path, pos, self.end)
            try:
                chunk = self.body.read(min(CHUNK, self.end - pos))
                if not chunk and not fresh:
                    raise ShortBody(f"body of {self.path} ended at {pos} of {self.end}")
            except BaseException:
                self.body.close()
                self.body = None
                raise
            return chunk

        return self.policy.call(f"GET {self.path} from {pos} (stream)", step)


@dataclasses.dataclass
class _Reader:
    """One inode's reads: where the last one ended, and its stream if it has one."""

    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    next_off: int = 0
    stream: _Stream | None = None


class StreamingReader:
    """Reads of S3 objects by inode: a streaming GET for sequential readers, ranged GETs for the others."""

    def __init__(
        self, store: Store, window: int = WINDOW, max_streams: int = MAX_STREAMS, policy: RetryPolicy | None = None
    ) -> None:
        """Read through `store`, at most `window` bytes ahead per stream, `max_streams` streams at once.

        Broken bodies are retried under `policy`, by default the store's own (so its limits apply to both).
        """
        self.store = store
        self.window = window
        self.max_streams = max_streams
        base = policy or (store.policy if isinstance(store, RetriedStore) else RetryPolicy(is_transient))
        self.policy = dataclasses.replace(base, is_transient=_stream_transient(base))
        self._lock = threading.Lock()  # guards the two dicts; taken after a _Reader's lock, never before
        self._readers: OrderedDict[int, _Reader] = OrderedDict()
        self._streams: OrderedDict[int, _Stream] = OrderedDict()

    def read(self, ino: int, path: str, off: int, size: int, file_size: int) -> bytes:
        """Up to `size` bytes at `off` of `ino`, the `file_size`-byte object at `path`."""
        end = min(off + size, file_size)
        if off >= end:
            return b""
        reader = self._reader(ino)
        with reader.lock:
            stream = reader.stream
            late = False
            if stream is not None and (stream.path != path or stream.size != file_size):
                self._close(ino, stream)  # renamed or changed: this stream is no use any more
                reader.stream = stream = None
            if stream is not None and not stream.covers(off):
                # A read of this sequence that arrived late (the kernel's concurrent reads are served
                # in any order) is answered alone, keeping the stream for the others; any other is a seek.
                late = stream.trails(off)
                if not late:
                    self._close(ino, stream)
                    reader.stream = None
                stream = None
            if stream is None and not late and off == reader.next_off and end < file_size:
                stream = reader.stream = self._open(ino, path, off, file_size)
            if stream is not None:
                reader.next_off = max(reader.next_off, end)
                try:
                    data = stream.read(off, end)
                except FsError:
                    self._close(ino, stream)
                    reader.stream = None
                    reader.next_off = off  # the next read here starts a fresh stream
                    raise
                if data is not None:
                    return data
                reader.stream = None  # closed under us (dropped or evicted): fall back to a ranged GET
            elif reader.stream is None:
                reader.next_off = end
        return self.store.get(path, off, end)

    def _reader(self, ino: int) -> _Reader:
        """The read state of `ino`, created on first use; only the MAX_FILES latest are kept."""
        with self._lock:
            reader = self._readers.get(ino)
            if reader is None:
                reader = self._readers[ino] = _Reader()
                while len(self._readers) > MAX_FILES:
                    old, _ = self._readers.popitem(last=False)
                    self._pop_stream(old)
            self._readers.move_to_end(ino)
            return reader

    def _open(self, ino: int, path: str, off: int, file_size: int) -> _Stream:
        """A new stream of `ino` from `off`, closing the least recently opened beyond max_streams."""
        stream = _Stream(self.store, self.policy, path, off, file_size, self.window)
        with self._lock:
            self._streams[ino] = stream
            evicted = []
            while len(self._streams) > self.max_streams:
                evicted.append(self._streams.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return stream

    def _close(self, ino: int, stream: _Stream) -> None:
        """Close `stream` and forget it if it is still `ino`'s."""
        with self._lock:
            if self._streams.get(ino) is stream:
                del self._streams[ino]
        stream.close()

    def _pop_stream(self, ino: int) -> None:
        """Close `ino`'s stream, if any (with self._lock held)."""
        stream = self._streams.pop(ino, None)
        if stream is not None:
            stream.close()

    def drop(self, ino: int) -> None:
        """Forget what was read of `ino` and close its stream (its contents changed or it is gone)."""
        with self._lock:
            self._readers.pop(ino, None)
            self._pop_stream(ino)

    def close(self) -> None:
        """Close every stream (the driver is closing)."""
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
            self._readers.clear()
        for stream in streams:
            stream.close()
