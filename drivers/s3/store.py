"""The S3 requests the driver makes: the `Store` protocol, and `BotoStore` doing them with boto3.

Every method is one idempotent request (or a paginated series of them)
wrapped in the shared retry policy, and speaks in paths relative to the
prefix. Errors are normalised here: a missing key is `None` or `NotFound`,
anything else that survives the retries becomes `FsError(EIO)`.
`RetriedStore` holds what every implementation shares (retries, hedging,
that normalisation, the reading of ListObjectsV2 pages), so the tests'
in-memory fake fails and lists exactly as `BotoStore` does.

With a `Hedger` (BotoStore has one by default), each attempt that the retry
policy makes is itself a race (`cloudfs/hedging.py`): an attempt unanswered
past the budget learnt for its kind of request (the operation and, for
bodies, their size class) gets a second one in parallel. Every request here
may be sent twice: GET, HEAD and LIST read; PUT, COPY and DELETE of a whole
object leave the same object whichever copy lands; UploadPart and
UploadPartCopy name their part number, a second copy replacing the first
with the same bytes; a second DeleteObjects, AbortMultipartUpload or
CompleteMultipartUpload finds its work done (a NoSuchUpload is then checked
as below). CreateMultipartUpload is the exception: each copy opens an upload,
so a losing one is aborted. Changing requests fence their keys, so that an
abandoned attempt landing late cannot undo a newer change: a newer PUT or
DELETE is sent again after it, a copy or a multipart completion waits for it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import itertools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from botocore.exceptions import (
    ClientError,
)

from cloudfs.aws import LOST_ANSWERS, NETWORK_ERRORS
from cloudfs.errors import FsError
from cloudfs.hedging import Hedger
from cloudfs.retry import RetryPolicy

from .client import MAX_POOL
from .layout import DIR_CONTENT_TYPE, FILE_CONTENT_TYPE, stamp_ns

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
        "502",
        "504",
    }
)
THROTTLING_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "ServiceUnavailable", "503"})
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
KiB = 1024
# Upper bounds of the body sizes whose latencies are tracked apart: a 2 MiB PUT is not a slow 4 KiB one.
SIZE_CLASSES = ((64 * KiB, "64K"), (1024 * KiB, "1M"), (8192 * KiB, "8M"))


def is_transient(exc: BaseException) -> bool:
    """S3's transient faults: throttling, 5xx, connection resets and timeouts."""
    if isinstance(exc, NETWORK_ERRORS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES or status >= 500
    return False


def retry_at_once(exc: BaseException) -> bool:
    """A failure that says nothing about the store's load, so its first retry need not back off: an answer lost on
    its way (dropped connection, cut body) or an internal error (500, 502, 504); throttling (503) always backs off."""
    if isinstance(exc, LOST_ANSWERS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status in (500, 502, 504) and exc.response.get("Error", {}).get("Code") not in THROTTLING_CODES
    return False


def error_code(exc: ClientError) -> str:
    """The S3 error code of a failed request."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def size_class(size: int | None) -> str:
    """The latency class of a request moving `size` body bytes ("≤64K", …, ">8M"; "all" when unknown)."""
    if size is None:
        return "all"
    for bound, name in SIZE_CLASSES:
        if size <= bound:
            return f"≤{name}"
    return f">{SIZE_CLASSES[-1][1]}"


def multipart_etag(parts: list[str]) -> str:
    """The ETag S3 gives the object assembled from parts with ETags `parts`: MD5 of their MD5s, dash, count."""
    digests = b"".join(bytes.fromhex(etag.strip('"')) for etag in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


class NotFound(Exception):
    """The key (or the copy source) does not exist."""


@dataclass(frozen=True)
class Head:
    """What HEAD or GET says about an object."""

    size: int
    stamp: int
    etag: str | None
    meta: dict[str, str]


@dataclass(frozen=True)
class Listing:
    """One directory level: files (name, size, LastModified ns, etag) and subdirectory names."""

    files: list[tuple[str, int, int, str | None]]
    dirs: list[str]
    has_marker: bool
    complete: bool = True


class BodyReader(Protocol):
    """An object body arriving as a stream: `read(n)` gives up to n bytes, b"" at the end."""

    def read(self, n: int, /) -> bytes:
        """Up to `n` more bytes; b"" once the body is done."""
        ...

    def close(self) -> None:
        """Let go of the connection, read to the end or not."""
        ...


class Store(Protocol):
    """Every request the S3 driver makes on its bucket and prefix; paths are relative to the prefix."""

    def head(self, path: str) -> Head | None:
        """HEAD one object; None when it does not exist."""
        ...

    def get(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes `[start, end)` of an object (all when end is None); b"" past its end."""
        ...

    def open_read(self, path: str, start: int, end: int | None) -> BodyReader:
        """One GET of bytes `[start, end)` (to the end when None), read as a stream; empty past the end."""
        ...

    def put(self, path: str, body: bytes, meta: dict[str, str] | None, is_dir: bool = False) -> str | None:
        """PUT a whole object with user metadata; returns its ETag."""
        ...

    def copy(self, src: str, dst: str, meta: dict[str, str] | None, is_dir: bool = False) -> None:
        """Server-side copy; `meta` replaces the headers (None keeps them). NotFound if `src` is gone."""
        ...

    def delete(self, path: str) -> None:
        """Delete one object; a missing key is fine."""
        ...

    def delete_many(self, paths: list[str]) -> None:
        """Delete objects in batches of 1000 (one request each); missing keys are fine."""
        ...

    def list_dir(self, path: str, max_pages: int | None = None) -> Listing:
        """One directory level under `path` ("" = the root), with a delimiter: all pages, or `max_pages`."""
        ...

    def list_tree(self, path: str) -> list[str]:
        """Every key under directory `path` (marker included), relative to the prefix."""
        ...

    def first_under(self, path: str, limit: int = 2) -> list[str]:
        """Up to `limit` keys under directory `path` (marker included): one request."""
        ...

    def create_multipart(self, path: str, meta: dict[str, str] | None) -> str:
        """Start a multipart upload of `path` with headers `meta`; returns its upload id."""
        ...

    def upload_part(self, path: str, upload_id: str, number: int, body: bytes) -> str:
        """Upload part `number` of an upload; returns the part's ETag."""
        ...

    def upload_part_copy(
        self, path: str, upload_id: str, number: int, src: str, start: int, end: int, if_match: str | None = None
    ) -> str:
        """Copy bytes `[start, end)` of `src` as part `number`, only if `src` still has ETag `if_match`."""
        ...

    def complete_multipart(self, path: str, upload_id: str, parts: list[str]) -> str | None:
        """Assemble the parts whose ETags are `parts` (part 1 first) into the object; returns its ETag."""
        ...

    def abort_multipart(self, path: str, upload_id: str) -> None:
        """Abort an upload, dropping its parts."""
        ...


class RetriedStore(ABC):
    """What Store implementations share: retried, normalised requests and the reading of listings.

    A subclass does one ListObjectsV2 request in `_list_objects` and wraps its
    other requests in `_call`, raising botocore's errors as S3 would.
    """

    def __init__(self, prefix: str, policy: RetryPolicy | None = None, hedger: Hedger | None = None) -> None:
        """Requests under `prefix` (empty or ending in `/`), retried by `policy` (by default S3's transient faults,
        the first retry at once where the failure says nothing of load), each attempt raced against hedges by
        `hedger` when there is one."""
        self.prefix = prefix
        self.policy = policy or RetryPolicy(is_transient, retry_at_once=retry_at_once)
        self.hedger = hedger

    def key(self, path: str) -> str:
        """The object key of a relative path."""
        return self.prefix + path

    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        missing: bool = False,
        *,
        kind: str,
        discard: Callable[[T], object] | None = None,
        fence: tuple[str, ...] = (),
        resendable: bool = True,
    ) -> T:
        """Run one request under the retry policy, each attempt hedged as a request of `kind` when there is a
        hedger (`discard` takes a losing result; `fence`: the keys it changes, `resendable` if sending it again
        later sets them as it did); lasting failures become EIO (NotFound if `missing`)."""
        hedger = self.hedger
        attempt = fn if hedger is None else lambda: hedger.run(kind, fn, discard, fence, resendable)
        try:
            return self.policy.call(what, attempt)
        except ClientError as exc:
            if missing and error_code(exc) in MISSING_CODES:
                raise NotFound(what) from exc
            if error_code(exc) == "KeyTooLongError":
                raise FsError(errno.ENAMETOOLONG, f"{what}: key too long") from exc
            log.error("%s failed: %s", what, exc)
            raise FsError(errno.EIO, f"{what}: {error_code(exc)}") from exc
        except NETWORK_ERRORS as exc:
            log.error("%s failed: %s", what, exc)
            raise FsError(errno.EIO, f"{what}: {exc}") from exc

    @abstractmethod
    def _list_objects(self, **kwargs: Any) -> dict[str, Any]:
        """One ListObjectsV2 request (Prefix, Delimiter, MaxKeys, ContinuationToken), not retried."""

    def _pages(self, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """ListObjectsV2 pages, each page one retried request."""
        while True:
            page = self._call(what, lambda kwargs=kwargs: self._list_objects(**kwargs), kind="LIST")
            yield page
            if not page.get("IsTruncated"):
                return
            kwargs = {**kwargs, "ContinuationToken": page["NextContinuationToken"]}

    def list_dir(self, path: str, max_pages: int | None = None) -> Listing:
        """One directory level under `path` ("" = the root), with a delimiter: all pages, or `max_pages`."""
        base = self.key(path + "/" if path else "")
        files: list[tuple[str, int, int, str | None]] = []
        dirs: list[str] = []
        marker, complete = False, True
        for number, page in enumerate(self._pages(f"LIST {path}/", Prefix=base, Delimiter="/"), 1):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(base) :]
                if not name:
                    marker = True
                elif "/" not in name:
                    files.append((name, obj["Size"], stamp_ns(obj["LastModified"]), obj.get("ETag")))
            for cp in page.get("CommonPrefixes", []):
                name = cp["Prefix"][len(base) : -1]
                if name and "/" not in name:
                    dirs.append(name)
            if page.get("IsTruncated") and number == max_pages:
                complete = False
                break
        return Listing(files, dirs, marker, complete)

    def list_tree(self, path: str) -> list[str]:
        """Every key under directory `path` (marker included), relative to the prefix."""
        base = self.key(path + "/")
        return [
            obj["Key"][len(self.prefix) :]
            for page in self._pages(f"LIST {path}/ (tree)", Prefix=base)
            for obj in page.get("Contents", [])
        ]

    def first_under(self, path: str, limit: int = 2) -> list[str]:
        """Up to `limit` keys under directory `path` (marker included): one request."""
        base = self.key(path + "/" if path else "")
        page = self._call(f"LIST {path}/ (probe)", lambda: self._list_objects(Prefix=base, MaxKeys=limit), kind="LIST")
        return [obj["Key"][len(self.prefix) :] for obj in page.get("Contents", [])]


def byte_range(start: int, end: int | None) -> str:
    """An HTTP Range header for bytes `[start, end)`, open-ended when `end` is None."""
    return f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"


class BotoStore(RetriedStore):
    """Requests on `bucket` under `prefix` through a boto3 client, each retried on transient faults and hedged.

    The hedger's workers match the client's connection pool (`MAX_POOL` in client.py),
    so abandoned attempts never push a request past the pool.
    """

    def __init__(
        self, client: Any, bucket: str, prefix: str, policy: RetryPolicy | None = None, hedger: Hedger | None = None
    ) -> None:
        """Requests go through `client`, retried by `policy` (the S3 transient predicate by default) and
        hedged by `hedger` (a new one by default; set `.hedger = None` for plain retries)."""
        super().__init__(prefix, policy, hedger or Hedger(is_transient, workers=MAX_POOL))
        self.client = client
        self.bucket = bucket

    def _list_objects(self, **kwargs: Any) -> dict[str, Any]:
        """One ListObjectsV2 request on the bucket."""
        page: dict[str, Any] = self.client.list_objects_v2(Bucket=self.bucket, **kwargs)
        return page

    def head(self, path: str) -> Head | None:
        """HEAD one object; None when it does not exist."""
        try:
            r = self._call(
                f"HEAD {path}",
                lambda: self.client.head_object(Bucket=self.bucket, Key=self.key(path)),
                missing=True,
                kind="HEAD",
            )
        except NotFound:
            return None
        return Head(r["ContentLength"], stamp_ns(r["LastModified"]), r.get("ETag"), r.get("Metadata", {}))

    def get(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes `[start, end)` of an object (all when end is None); b"" past its end."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key(path)}
        if end is not None:
            if end <= start:
                return b""
            kwargs["Range"] = byte_range(start, end)

        def fetch() -> bytes:
            """One GET read to its end (botocore fails a body shorter than its Content-Length); a range past
            the end is empty rather than an error."""
            try:
                return self.client.get_object(**kwargs)["Body"].read()
            except ClientError as exc:
                if error_code(exc) == "InvalidRange":
                    return b""
                raise

        size = None if end is None else end - start
        return self._call(f"GET {path} [{start},{end})", fetch, kind=f"GET {size_class(size)}")

    def open_read(self, path: str, start: int, end: int | None) -> BodyReader:
        """One ranged GET whose body is read as it arrives; empty past the end (S3's InvalidRange)."""
        if end is not None and end <= start:
            return io.BytesIO()
        kwargs = {"Bucket": self.bucket, "Key": self.key(path), "Range": byte_range(start, end)}

        def fetch() -> BodyReader:
            """One GET, handing back its body unread."""
            try:
                body: BodyReader = self.client.get_object(**kwargs)["Body"]
            except ClientError as exc:
                if error_code(exc) == "InvalidRange":
                    return io.BytesIO()
                raise
            return body

        # Raced to the headers only: a losing stream is closed, which drops its connection.
        return self._call(f"GET {path} [{start},{end}) (stream)", fetch, kind="GET stream", discard=_close)

    def put(self, path: str, body: bytes, meta: dict[str, str] | None, is_dir: bool = False) -> str | None:
        """PUT a whole object with user metadata; returns its ETag."""
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key(path),
            # Immutable bytes: each attempt's botocore request wraps them in a stream of its own.
            "Body": bytes(body),
            "ContentType": DIR_CONTENT_TYPE if is_dir else FILE_CONTENT_TYPE,
        }
        if meta:
            kwargs["Metadata"] = meta
        r = self._call(
            f"PUT {path}",
            lambda: self.client.put_object(**kwargs),
            kind=f"PUT {size_class(len(body))}",
            fence=(kwargs["Key"],),
        )
        return r.get("ETag")

    def copy(self, src: str, dst: str, meta: dict[str, str] | None, is_dir: bool = False) -> None:
        """Server-side copy; `meta` replaces the headers (None keeps them). NotFound if `src` is gone."""
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key(dst),
            "CopySource": {"Bucket": self.bucket, "Key": self.key(src)},
        }
        if meta is not None:
            kwargs["Metadata"] = meta
            kwargs["MetadataDirective"] = "REPLACE"
            kwargs["ContentType"] = DIR_CONTENT_TYPE if is_dir else FILE_CONTENT_TYPE
        self._call(
            f"COPY {src} -> {dst}",
            lambda: self.client.copy_object(**kwargs),
            missing=True,
            kind="COPY",
            fence=(kwargs["Key"],),
            resendable=False,  # copies what the source holds by then
        )

    def delete(self, path: str) -> None:
        """Delete one object; a missing key is fine."""
        with contextlib.suppress(NotFound):
            self._call(
                f"DELETE {path}",
                lambda: self.client.delete_object(Bucket=self.bucket, Key=self.key(path)),
                missing=True,
                kind="DELETE",
                fence=(self.key(path),),
            )

    def delete_many(self, paths: list[str]) -> None:
        """Delete objects in batches of 1000 (one request each); missing keys are fine."""
        for i in range(0, len(paths), 1000):
            batch = [{"Key": self.key(p)} for p in paths[i : i + 1000]]
            request = {"Objects": batch, "Quiet": True}
            r = self._call(
                f"DELETE {len(batch)} keys",
                lambda request=request: self.client.delete_objects(Bucket=self.bucket, Delete=request),
                kind="DELETE multi",
                fence=tuple(o["Key"] for o in batch),
            )
            failed = [e for e in r.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if failed:
                log.error("batch delete left %d keys, first: %s", len(failed), failed[0])
                raise FsError(errno.EIO, f"batch delete failed for {failed[0].get('Key')}")

    def create_multipart(self, path: str, meta: dict[str, str] | None) -> str:
        """Start a multipart upload of `path` with headers `meta`; returns its upload id."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key(path), "ContentType": FILE_CONTENT_TYPE}
        if meta:
            kwargs["Metadata"] = meta
        r = self._call(
            f"CREATE-MPU {path}",
            lambda: self.client.create_multipart_upload(**kwargs),
            kind="MPU create",
            discard=lambda lost: self._abort_quietly(path, lost["UploadId"]),
        )
        return str(r["UploadId"])

    def _abort_quietly(self, path: str, upload_id: str) -> None:
        """Abort an upload a losing CreateMultipartUpload opened: one plain request, on the hedger's thread."""
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key(path), UploadId=upload_id)

    def upload_part(self, path: str, upload_id: str, number: int, body: bytes) -> str:
        """Upload part `number` of an upload; returns the part's ETag."""
        kwargs = {"Bucket": self.bucket, "Key": self.key(path), "UploadId": upload_id, "PartNumber": number}
        data = bytes(body)  # immutable, as for put
        r = self._call(
            f"PART {number} {path}",
            lambda: self.client.upload_part(**kwargs, Body=data),
            kind=f"PART {size_class(len(data))}",
        )
        return str(r["ETag"])

    def upload_part_copy(
        self, path: str, upload_id: str, number: int, src: str, start: int, end: int, if_match: str | None = None
    ) -> str:
        """Copy bytes `[start, end)` of `src` as part `number`, only if `src` still has ETag `if_match`."""
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key(path),
            "UploadId": upload_id,
            "PartNumber": number,
            "CopySource": {"Bucket": self.bucket, "Key": self.key(src)},
            "CopySourceRange": byte_range(start, end),
        }
        if if_match:
            kwargs["CopySourceIfMatch"] = if_match
        r = self._call(
            f"PART-COPY {number} {path}",
            lambda: self.client.upload_part_copy(**kwargs),
            kind=f"PART-COPY {size_class(end - start)}",
        )
        return str(r["CopyPartResult"]["ETag"])

    def complete_multipart(self, path: str, upload_id: str, parts: list[str]) -> str | None:
        """Assemble the parts whose ETags are `parts` (part 1 first) into the object; returns its ETag."""
        request = {"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(parts, 1)]}
        kwargs = {"Bucket": self.bucket, "Key": self.key(path), "UploadId": upload_id, "MultipartUpload": request}
        sent = itertools.count()

        def complete() -> dict[str, Any]:
            """One CompleteMultipartUpload. NoSuchUpload after an earlier attempt may mean that one completed
            with its answer lost: the object then carries the ETag of exactly these parts."""
            earlier = next(sent) > 0
            try:
                r: dict[str, Any] = self.client.complete_multipart_upload(**kwargs)
            except ClientError as exc:
                if not earlier or error_code(exc) != "NoSuchUpload":
                    raise
                head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=kwargs["Key"])
                if head.get("ETag") != multipart_etag(parts):
                    raise
                return head
            return r

        r = self._call(f"COMPLETE-MPU {path}", complete, kind="MPU complete", fence=(kwargs["Key"],), resendable=False)
        return r.get("ETag")

    def abort_multipart(self, path: str, upload_id: str) -> None:
        """Abort an upload, dropping its parts; an upload already gone (NoSuchUpload) is what was asked."""
        kwargs = {"Bucket": self.bucket, "Key": self.key(path), "UploadId": upload_id}

        def abort() -> None:
            """One AbortMultipartUpload."""
            try:
                self.client.abort_multipart_upload(**kwargs)
            except ClientError as exc:
                if error_code(exc) != "NoSuchUpload":
                    raise

        self._call(f"ABORT-MPU {path}", abort, kind="MPU abort")


def _close(body: BodyReader) -> None:
    """Let go of a losing stream's connection."""
    body.close()
