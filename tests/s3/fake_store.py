"""An in-memory S3 `Store` for driver tests without a server, with request counters and failure injection.

Modelled on mountpoint-s3's mock and failure clients. `FakeStore` keeps a
dict of objects and answers every request of the `Store` protocol. It shares
`RetriedStore` with `BotoStore`, so its requests go through the same retry
policy, error normalisation and reading of ListObjectsV2 pages (and, given a
`Hedger`, the same hedging); missing keys and injected faults are raised as
the botocore errors S3 would cause.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import io
import itertools
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError, ResponseStreamingError
from urllib3.exceptions import ProtocolError

from cloudfs.drivers.s3.layout import DIR_CONTENT_TYPE, FILE_CONTENT_TYPE
from cloudfs.drivers.s3.store import BodyReader, Head, NotFound, RetriedStore, is_transient, size_class
from cloudfs.drivers.s3.transfer import MIN_PART
from cloudfs.hedging import Hedger
from cloudfs.retry import RetryPolicy

T = TypeVar("T")

OPERATIONS = frozenset(
    {
        "HEAD",
        "GET",
        "PUT",
        "COPY",
        "DELETE",
        "DELETE multi",
        "LIST",
        "MPU create",
        "part",
        "part copy",
        "MPU complete",
        "MPU abort",
    }
)

# The shared policy with millisecond waits, so a test that retries stays fast.
FAST_RETRIES = RetryPolicy(is_transient, initial_wait=0.001, max_wait=0.005, max_attempts=4)

PAGE_KEYS = 1000  # ListObjectsV2's default and largest MaxKeys
MAX_KEY_BYTES = 1024
MAX_META_BYTES = 2048
READ_CHUNK = 1024 * 1024

STATUS = {
    "SlowDown": 503,
    "ServiceUnavailable": 503,
    "InternalError": 500,
    "AccessDenied": 403,
    "404": 404,
    "NoSuchKey": 404,
    "NoSuchUpload": 404,
    "PreconditionFailed": 412,
    "InvalidRange": 416,
}


def client_error(code: str, operation: str) -> ClientError:
    """The error botocore raises when S3 answers `code`, with S3's HTTP status for it (400 by default)."""
    response: Any = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": STATUS.get(code, 400)},
    }
    return ClientError(response, operation)


def dropped_connection() -> ResponseStreamingError:
    """What botocore raises when the connection breaks in the middle of a body (transient)."""
    return ResponseStreamingError(error=ProtocolError("Connection broken: IncompleteRead"))


def etag_of(body: bytes) -> str:
    """S3's ETag of a single-part object: its quoted MD5."""
    return f'"{hashlib.md5(body).hexdigest()}"'


@dataclass(frozen=True)
class FakeObject:
    """One stored object; `stamp` is LastModified in ns, in whole seconds as S3 keeps it."""

    body: bytes
    meta: dict[str, str]
    content_type: str
    etag: str
    stamp: int


@dataclass
class Upload:
    """A multipart upload in progress: its key, headers and parts by number (body, ETag)."""

    key: str
    meta: dict[str, str]
    parts: dict[int, tuple[bytes, str]] = field(default_factory=dict)


class TruncatedBody:
    """A body whose connection drops after `keep` bytes, as botocore reports it."""

    def __init__(self, data: bytes, keep: int) -> None:
        """Deliver at most `keep` bytes of `data`, then fail."""
        self._data = data[:keep]
        self._pos = 0

    def read(self, n: int, /) -> bytes:
        """The next bytes, until the cut; then the dropped connection."""
        if self._pos >= len(self._data):
            raise dropped_connection()
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk

    def close(self) -> None:
        """Nothing is held."""


class FakeStore(RetriedStore):
    """A bucket prefix in memory implementing `Store`; `counts` has every request attempt by operation name.

    Keys are `prefix + path`, a directory marker being a key ending in "/";
    `objects` maps keys to `FakeObject`s and `uploads` holds unfinished
    multipart uploads. `fail`, `stall` and `truncate` arm faults for the next requests.
    """

    def __init__(
        self,
        prefix: str = "",
        policy: RetryPolicy | None = None,
        clock: Callable[[], int] = time.time_ns,
        hedger: Hedger | None = None,
    ) -> None:
        """An empty prefix whose retries are `policy` (FAST_RETRIES by default), hedged by `hedger` if given
        (none by default: requests run in the caller's thread), and whose times come from `clock`."""
        super().__init__(prefix, policy or FAST_RETRIES, hedger)
        self.counts: Counter[str] = Counter()
        self.objects: dict[str, FakeObject] = {}
        self.uploads: dict[str, Upload] = {}
        self._sorted: list[str] = []  # the keys of `objects` in S3's listing order
        self._faults: defaultdict[str, deque[Callable[[], BaseException]]] = defaultdict(deque)
        self._truncations: deque[int] = deque()
        self._stalls: defaultdict[str, deque[float]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._clock = clock
        self._lock = threading.Lock()  # the driver's pool sends requests from many threads

    # -- test controls -----------------------------------------------------

    def take(self) -> Counter[str]:
        """The request counts since the last take, then reset."""
        with self._lock:
            out = Counter(self.counts)
            self.counts.clear()
        return out

    def fail(self, op: str, times: int = 1, code: str = "SlowDown", error: BaseException | None = None) -> None:
        """Make the next `times` attempts of `op` fail with S3 error `code`, or raise `error`.

        SlowDown and other 5xx codes are transient (retried, each attempt counted);
        a code such as AccessDenied is not, and becomes FsError(EIO).
        """
        if op not in OPERATIONS:
            raise ValueError(f"unknown operation {op!r}: one of {sorted(OPERATIONS)}")
        fault: Callable[[], BaseException] = (lambda: error) if error is not None else (lambda: client_error(code, op))
        with self._lock:
            self._faults[op].extend([fault] * times)

    def stall(self, op: str, seconds: float, times: int = 1) -> None:
        """Hold the next `times` attempts of `op` `seconds` each before they are served, as a slow server would."""
        if op not in OPERATIONS:
            raise ValueError(f"unknown operation {op!r}: one of {sorted(OPERATIONS)}")
        with self._lock:
            self._stalls[op].extend([seconds] * times)

    def truncate(self, keep: int = 0, times: int = 1) -> None:
        """Make the next `times` GET bodies break after `keep` bytes (a transient dropped connection)."""
        with self._lock:
            self._truncations.extend([keep] * times)

    def seed(self, path: str, body: bytes = b"", meta: dict[str, str] | None = None, is_dir: bool = False) -> None:
        """Store an object as another tool would, without a request."""
        with self._lock:
            self._write(self.key(path), body, meta or {}, DIR_CONTENT_TYPE if is_dir else FILE_CONTENT_TYPE)

    def object(self, path: str) -> FakeObject | None:
        """The object at `path`, without a request."""
        with self._lock:
            return self.objects.get(self.key(path))

    def paths(self) -> list[str]:
        """Every stored key relative to the prefix, in listing order."""
        with self._lock:
            return [k[len(self.prefix) :] for k in self._sorted if k.startswith(self.prefix)]

    # -- the objects, always under the lock ---------------------------------

    def _attempt(self, op: str, fn: Callable[[], T]) -> T:
        """One request of `op`: counted, held by an armed stall, then the next armed fault, else `fn` on the objects."""
        with self._lock:
            self.counts[op] += 1
            stall = self._stalls[op].popleft() if self._stalls[op] else 0.0
        if stall:
            time.sleep(stall)  # outside the lock, so a hedge of this request gets through meanwhile
        with self._lock:
            if self._faults[op]:
                raise self._faults[op].popleft()()
            return fn()

    def _existing(self, key: str, code: str, op: str) -> FakeObject:
        """The object at `key`, or S3's `code` for a missing one."""
        obj = self.objects.get(key)
        if obj is None:
            raise client_error(code, op)
        return obj

    def _write(self, key: str, body: bytes, meta: dict[str, str], content_type: str, etag: str = "") -> FakeObject:
        """Store an object, refusing what S3 refuses: keys over 1024 bytes, headers over 2 KiB."""
        self._check(key, meta)
        obj = FakeObject(bytes(body), dict(meta), content_type, etag or etag_of(body), self._clock() // 10**9 * 10**9)
        if key not in self.objects:
            bisect.insort(self._sorted, key)
        self.objects[key] = obj
        return obj

    def _check(self, key: str, meta: dict[str, str]) -> None:
        """S3's limits on a key and on the user metadata of one object."""
        if len(key.encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES:
            raise client_error("KeyTooLongError", "PUT")
        if sum(len(k) + len(v.encode()) for k, v in meta.items()) > MAX_META_BYTES:
            raise client_error("MetadataTooLarge", "PUT")

    def _remove(self, keys: list[str]) -> None:
        """Delete objects; a missing key is no error, as on S3."""
        for key in keys:
            if self.objects.pop(key, None) is not None:
                del self._sorted[bisect.bisect_left(self._sorted, key)]

    def _body(self, key: str, start: int, end: int | None) -> BodyReader:
        """A GET's body of bytes `[start, end)`: empty past the end, cut short if a truncation is armed."""
        data = self._existing(key, "NoSuchKey", "GET").body[start:end]
        if self._truncations:
            return TruncatedBody(data, self._truncations.popleft())
        return io.BytesIO(data)

    def _forget_upload(self, upload_id: str) -> None:
        """Drop an upload a losing hedge opened, as BotoStore aborts it."""
        with self._lock:
            self.uploads.pop(upload_id, None)

    def _upload(self, upload_id: str, key: str, op: str) -> Upload:
        """The upload `upload_id` of `key`; NoSuchUpload otherwise."""
        upload = self.uploads.get(upload_id)
        if upload is None or upload.key != key:
            raise client_error("NoSuchUpload", op)
        return upload

    def _list_objects(self, **kwargs: Any) -> dict[str, Any]:
        """One ListObjectsV2 request, answered as S3 pages it."""
        return self._attempt(
            "LIST",
            lambda: self._page(
                kwargs.get("Prefix", ""),
                kwargs.get("Delimiter"),
                kwargs.get("MaxKeys", PAGE_KEYS),
                kwargs.get("ContinuationToken"),
            ),
        )

    def _page(self, prefix: str, delimiter: str | None, max_keys: int, token: str | None) -> dict[str, Any]:
        """Keys under `prefix` in order, those with a `delimiter` after it rolled up into common prefixes;
        `max_keys` of both together, resuming after `token` ("K:" key or "P:" prefix last returned)."""
        skip = None
        start = bisect.bisect_left(self._sorted, prefix)
        if token is not None:
            start = bisect.bisect_right(self._sorted, token[2:])
            skip = token[2:] if token.startswith("P:") else None
        contents: list[dict[str, Any]] = []
        prefixes: list[dict[str, str]] = []
        last, truncated = "", False
        for key in itertools.islice(self._sorted, start, None):
            if not key.startswith(prefix):
                break
            if skip is not None and key.startswith(skip):
                continue
            if len(contents) + len(prefixes) == max_keys:
                truncated = True
                break
            rest = key[len(prefix) :]
            cut = rest.find(delimiter) if delimiter else -1
            if cut >= 0 and delimiter:
                skip = prefix + rest[: cut + len(delimiter)]
                prefixes.append({"Prefix": skip})
                last = "P:" + skip
            else:
                obj = self.objects[key]
                when = datetime.fromtimestamp(obj.stamp // 10**9, UTC)
                contents.append({"Key": key, "Size": len(obj.body), "LastModified": when, "ETag": obj.etag})
                last = "K:" + key
        page: dict[str, Any] = {
            "Contents": contents,
            "CommonPrefixes": prefixes,
            "KeyCount": len(contents) + len(prefixes),
            "IsTruncated": truncated,
        }
        if truncated:
            page["NextContinuationToken"] = last
        return page

    # -- the Store protocol --------------------------------------------------

    def head(self, path: str) -> Head | None:
        """HEAD one object; None when it does not exist."""
        key = self.key(path)
        try:
            obj = self._call(
                f"HEAD {path}",
                lambda: self._attempt("HEAD", lambda: self._existing(key, "404", "HEAD")),
                missing=True,
                kind="HEAD",
            )
        except NotFound:
            return None
        return Head(len(obj.body), obj.stamp, obj.etag, dict(obj.meta))

    def get(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes `[start, end)` of an object (all when end is None); b"" past its end."""
        if end is not None and end <= start:
            return b""
        key = self.key(path)

        def fetch() -> bytes:
            """One GET read to the end: a dropped connection fails the whole attempt."""
            body = self._attempt("GET", lambda: self._body(key, start, end))
            return b"".join(iter(functools.partial(body.read, READ_CHUNK), b""))

        size = None if end is None else end - start
        return self._call(f"GET {path} [{start},{end})", fetch, kind=f"GET {size_class(size)}")

    def open_read(self, path: str, start: int, end: int | None) -> BodyReader:
        """One GET of bytes `[start, end)` (to the end when None), read as a stream; empty past the end."""
        if end is not None and end <= start:
            return io.BytesIO()
        key = self.key(path)
        return self._call(
            f"GET {path} [{start},{end}) (stream)",
            lambda: self._attempt("GET", lambda: self._body(key, start, end)),
            kind="GET stream",
            discard=lambda body: body.close(),
        )

    def put(self, path: str, body: bytes, meta: dict[str, str] | None, is_dir: bool = False) -> str | None:
        """PUT a whole object with user metadata; returns its ETag."""
        key, content_type = self.key(path), DIR_CONTENT_TYPE if is_dir else FILE_CONTENT_TYPE
        obj = self._call(
            f"PUT {path}",
            lambda: self._attempt("PUT", lambda: self._write(key, body, meta or {}, content_type)),
            kind=f"PUT {size_class(len(body))}",
            fence=(key,),
        )
        return obj.etag

    def copy(self, src: str, dst: str, meta: dict[str, str] | None, is_dir: bool = False) -> None:
        """Server-side copy; `meta` replaces the headers (None keeps them). NotFound if `src` is gone."""
        src_key, dst_key = self.key(src), self.key(dst)

        def run() -> FakeObject:
            """Copy as S3 does: onto itself only when the headers are replaced."""
            obj = self._existing(src_key, "NoSuchKey", "COPY")
            if meta is None:
                if src_key == dst_key:
                    raise client_error("InvalidRequest", "COPY")
                return self._write(dst_key, obj.body, obj.meta, obj.content_type)
            return self._write(dst_key, obj.body, meta, DIR_CONTENT_TYPE if is_dir else FILE_CONTENT_TYPE)

        self._call(
            f"COPY {src} -> {dst}",
            lambda: self._attempt("COPY", run),
            missing=True,
            kind="COPY",
            fence=(dst_key,),
            resendable=False,
        )

    def delete(self, path: str) -> None:
        """Delete one object; a missing key is fine."""
        key = self.key(path)
        with contextlib.suppress(NotFound):
            self._call(
                f"DELETE {path}",
                lambda: self._attempt("DELETE", lambda: self._remove([key])),
                missing=True,
                kind="DELETE",
                fence=(key,),
            )

    def delete_many(self, paths: list[str]) -> None:
        """Delete objects in batches of 1000 (one request each); missing keys are fine."""
        for i in range(0, len(paths), 1000):
            batch = [self.key(p) for p in paths[i : i + 1000]]
            self._call(
                f"DELETE {len(batch)} keys",
                functools.partial(self._attempt, "DELETE multi", functools.partial(self._remove, batch)),
                kind="DELETE multi",
                fence=tuple(batch),
            )

    def create_multipart(self, path: str, meta: dict[str, str] | None) -> str:
        """Start a multipart upload of `path` with headers `meta`; returns its upload id."""
        key = self.key(path)

        def start() -> str:
            """Register the upload."""
            self._check(key, meta or {})
            upload_id = f"upload-{next(self._ids)}"
            self.uploads[upload_id] = Upload(key, dict(meta or {}))
            return upload_id

        return self._call(
            f"CREATE-MPU {path}",
            lambda: self._attempt("MPU create", start),
            kind="MPU create",
            discard=lambda upload_id: self._forget_upload(upload_id),
        )

    def upload_part(self, path: str, upload_id: str, number: int, body: bytes) -> str:
        """Upload part `number` of an upload; returns the part's ETag."""
        key = self.key(path)

        def send() -> str:
            """Keep the part (a part sent again replaces the first)."""
            etag = etag_of(body)
            self._upload(upload_id, key, "part").parts[number] = (bytes(body), etag)
            return etag

        return self._call(
            f"PART {number} {path}", lambda: self._attempt("part", send), kind=f"PART {size_class(len(body))}"
        )

    def upload_part_copy(
        self, path: str, upload_id: str, number: int, src: str, start: int, end: int, if_match: str | None = None
    ) -> str:
        """Copy bytes `[start, end)` of `src` as part `number`, only if `src` still has ETag `if_match`."""
        key, src_key = self.key(path), self.key(src)

        def copy_part() -> str:
            """Take the part from the source as it is now, refusing a changed source or a bad range."""
            upload = self._upload(upload_id, key, "part copy")
            obj = self._existing(src_key, "NoSuchKey", "part copy")
            if if_match and obj.etag != if_match:
                raise client_error("PreconditionFailed", "part copy")
            if not 0 <= start < end <= len(obj.body):
                raise client_error("InvalidArgument", "part copy")
            data = obj.body[start:end]
            upload.parts[number] = (data, etag_of(data))
            return etag_of(data)

        return self._call(
            f"PART-COPY {number} {path}",
            lambda: self._attempt("part copy", copy_part),
            kind=f"PART-COPY {size_class(end - start)}",
        )

    def complete_multipart(self, path: str, upload_id: str, parts: list[str]) -> str | None:
        """Assemble the parts whose ETags are `parts` (part 1 first) into the object; returns its ETag."""
        key = self.key(path)

        def complete() -> str:
            """Check the parts as S3 does (all there, ETags matching, all but the last ≥ 5 MiB), then join them."""
            upload = self._upload(upload_id, key, "MPU complete")
            if not parts:
                raise client_error("MalformedXML", "MPU complete")
            bodies = []
            for number, etag in enumerate(parts, 1):
                part = upload.parts.get(number)
                if part is None or part[1] != etag:
                    raise client_error("InvalidPart", "MPU complete")
                if number < len(parts) and len(part[0]) < MIN_PART:
                    raise client_error("EntityTooSmall", "MPU complete")
                bodies.append(part[0])
            del self.uploads[upload_id]
            digest = hashlib.md5(b"".join(hashlib.md5(b).digest() for b in bodies)).hexdigest()
            etag = f'"{digest}-{len(bodies)}"'
            return self._write(key, b"".join(bodies), upload.meta, FILE_CONTENT_TYPE, etag).etag

        return self._call(
            f"COMPLETE-MPU {path}",
            lambda: self._attempt("MPU complete", complete),
            kind="MPU complete",
            fence=(key,),
            resendable=False,
        )

    def abort_multipart(self, path: str, upload_id: str) -> None:
        """Abort an upload, dropping its parts."""
        key = self.key(path)

        def abort() -> None:
            """Forget the upload and its parts."""
            self._upload(upload_id, key, "MPU abort")
            del self.uploads[upload_id]

        self._call(f"ABORT-MPU {path}", lambda: self._attempt("MPU abort", abort), kind="MPU abort")
