"""The S3 requests the driver makes: the `Store` protocol, and `BotoStore` doing them with boto3.

Every method is one idempotent request (or a paginated series of them)
wrapped in the shared retry policy, and speaks in paths relative to the
prefix. Errors are normalised here: a missing key is `None` or `NotFound`,
anything else that survives the retries becomes `FsError(EIO)`.
`RetriedStore` holds what every implementation shares (retries, that
normalisation, the reading of ListObjectsV2 pages), so the tests' in-memory
fake fails and lists exactly as `BotoStore` does.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from botocore.exceptions import (
    ClientError,
)

from cloudfs.aws import NETWORK_ERRORS
from cloudfs.errors import FsError
from cloudfs.retry import RetryPolicy

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
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def is_transient(exc: BaseException) -> bool:
    """S3's transient faults: throttling, 5xx, connection resets and timeouts."""
    if isinstance(exc, NETWORK_ERRORS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES or status >= 500
    return False


def error_code(exc: ClientError) -> str:
    """The S3 error code of a failed request."""
    return str(exc.response.get("Error", {}).get("Code", ""))


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

    def __init__(self, prefix: str, policy: RetryPolicy | None = None) -> None:
        """Requests under `prefix` (empty or ending in `/`), retried by `policy` (S3's transient faults by default)."""
        self.prefix = prefix
        self.policy = policy or RetryPolicy(is_transient)

    def key(self, path: str) -> str:
        """The object key of a relative path."""
        return self.prefix + path

    def _call(self, what: str, fn: Callable[[], T], missing: bool = False) -> T:
        """Run one request under the retry policy; lasting failures become EIO (NotFound if `missing`)."""
        try:
            return self.policy.call(what, fn)
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
            page = self._call(what, lambda kwargs=kwargs: self._list_objects(**kwargs))
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
        page = self._call(f"LIST {path}/ (probe)", lambda: self._list_objects(Prefix=base, MaxKeys=limit))
        return [obj["Key"][len(self.prefix) :] for obj in page.get("Contents", [])]


def byte_range(start: int, end: int | None) -> str:
    """An HTTP Range header for bytes `[start, end)`, open-ended when `end` is None."""
    return f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"


class BotoStore(RetriedStore):
    """Requests on `bucket` under `prefix` through a boto3 client, each retried on transient faults."""

    def __init__(self, client: Any, bucket: str, prefix: str, policy: RetryPolicy | None = None) -> None:
        """Requests go through `client`, retried by `policy` (the S3 transient predicate by default)."""
        super().__init__(prefix, policy)
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
                f"HEAD {path}", lambda: self.client.head_object(Bucket=self.bucket, Key=self.key(path)), missing=True
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
            """One GET; a range past the end is empty rather than an error."""
            try:
                return self.client.get_object(**kwargs)["Body"].read()
            except ClientError as exc:
                if error_code(exc) == "InvalidRange":
                    return b""
                raise

        return self._call(f"GET {path} [{start},{end})", fetch)

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

        return self._call(f"GET {path} [{start},{end}) (stream)", fetch)

    def put(self, path: str, body: bytes, meta: dict[str, str] | None, is_dir: bool = False) -> str | None:
        """PUT a whole object with user metadata; returns its ETag."""
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key(path),
            "Body": body,
            "ContentType": DIR_CONTENT_TYPE if is_dir else FILE_CONTENT_TYPE,
        }
        if meta:
            kwargs["Metadata"] = meta
        return self._call(f"PUT {path}", lambda: self.client.put_object(**kwargs)).get("ETag")

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
        self._call(f"COPY {src} -> {dst}", lambda: self.client.copy_object(**kwargs), missing=True)

    def delete(self, path: str) -> None:
        """Delete one object; a missing key is fine."""
        with contextlib.suppress(NotFound):
            self._call(
                f"DELETE {path}",
                lambda: self.client.delete_object(Bucket=self.bucket, Key=self.key(path)),
                missing=True,
            )

    def delete_many(self, paths: list[str]) -> None:
        """Delete objects in batches of 1000 (one request each); missing keys are fine."""
        for i in range(0, len(paths), 1000):
            batch = [{"Key": self.key(p)} for p in paths[i : i + 1000]]
            request = {"Objects": batch, "Quiet": True}
            r = self._call(
                f"DELETE {len(batch)} keys",
                lambda request=request: self.client.delete_objects(Bucket=self.bucket, Delete=request),
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
        return str(self._call(f"CREATE-MPU {path}", lambda: self.client.create_multipart_upload(**kwargs))["UploadId"])

    def upload_part(self, path: str, upload_id: str, number: int, body: bytes) -> str:
        """Upload part `number` of an upload; returns the part's ETag."""
        kwargs = {"Bucket": self.bucket, "Key": self.key(path), "UploadId": upload_id, "PartNumber": number}
        return str(self._call(f"PART {number} {path}", lambda: self.client.upload_part(**kwargs, Body=body))["ETag"])

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
        r = self._call(f"PART-COPY {number} {path}", lambda: self.client.upload_part_copy(**kwargs))
        return str(r["CopyPartResult"]["ETag"])

    def complete_multipart(self, path: str, upload_id: str, parts: list[str]) -> str | None:
        """Assemble the parts whose ETags are `parts` (part 1 first) into the object; returns its ETag."""
        request = {"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(parts, 1)]}
        kwargs = {"Bucket": self.bucket, "Key": self.key(path), "UploadId": upload_id, "MultipartUpload": request}
        return self._call(f"COMPLETE-MPU {path}", lambda: self.client.complete_multipart_upload(**kwargs)).get("ETag")

    def abort_multipart(self, path: str, upload_id: str) -> None:
        """Abort an upload, dropping its parts."""
        kwargs = {"Bucket": self.bucket, "Key": self.key(path), "UploadId": upload_id}
        self._call(f"ABORT-MPU {path}", lambda: self.client.abort_multipart_upload(**kwargs))
