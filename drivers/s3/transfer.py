"""Multipart transfers: parallel uploads that re-send only changed parts, and large copies.

A file above the multipart threshold is uploaded in fixed-size parts, chosen
so an object stays under 10,000 parts. A part no dirty range touches is
copied server-side from the current object (`UploadPartCopy`, guarded by its
ETag), so changing a few bytes of a large file re-sends only those parts.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from cloudfs.driver import StagedData
from cloudfs.errors import FsError

from .layout import FILE_CONTENT_TYPE
from .store import Store

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MIN_PART = 5 * MiB
MAX_PARTS = 10_000
MAX_COPY = 5 * 1024 * MiB


def part_size_for(size: int, preferred: int) -> int:
    """A part size ≥ `preferred` (≥ 5 MiB) that keeps `size` within 10,000 parts, in whole MiB."""
    part = max(preferred, MIN_PART)
    needed = -(-size // MAX_PARTS)
    if needed > part:
        part = -(-needed // MiB) * MiB
    return part


def _touched(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    """True when a dirty range overlaps `[start, end)`."""
    return any(a < end and b > start for a, b in ranges)


class Multipart:
    """One multipart upload of `path`: parts go up in parallel, then complete, or abort on failure."""

    def __init__(self, store: Store, pool: ThreadPoolExecutor, path: str, meta: dict[str, str] | None) -> None:
        """An upload of `path` with headers `meta`, its parts run on `pool`."""
        self.store = store
        self.pool = pool
        self.path = path
        self.meta = meta

    def _client_call(self, what: str, fn: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """One retried request on the store's client."""
        return self.store._call(f"{what} {self.path}", lambda: fn(self.store.client))

    def run(self, parts: list[Callable[[str, int], dict[str, Any]]]) -> str | None:
        """Start the upload, run each part job `(upload_id, number) -> {ETag}` in parallel, complete it."""
        kwargs: dict[str, Any] = {"Bucket": self.store.bucket, "Key": self.store.key(self.path)}
        start = {**kwargs, "ContentType": FILE_CONTENT_TYPE}
        if self.meta:
            start["Metadata"] = self.meta
        upload_id = self._client_call("CREATE-MPU", lambda c: c.create_multipart_upload(**start))["UploadId"]
        try:
            futures = [self.pool.submit(job, upload_id, n) for n, job in enumerate(parts, 1)]
            wait(futures)  # no abort while parts are still in flight
            etags = [{"PartNumber": n, "ETag": f.result()["ETag"]} for n, f in enumerate(futures, 1)]
            done = self._client_call(
                "COMPLETE-MPU",
                lambda c: c.complete_multipart_upload(**kwargs, UploadId=upload_id, MultipartUpload={"Parts": etags}),
            )
        except BaseException:
            self.abort(upload_id)
            raise
        return done.get("ETag")

    def abort(self, upload_id: str) -> None:
        """Abort the upload so no orphaned parts keep costing storage."""
        kwargs = {"Bucket": self.store.bucket, "Key": self.store.key(self.path), "UploadId": upload_id}
        try:
            self._client_call("ABORT-MPU", lambda c: c.abort_multipart_upload(**kwargs))
        except Exception as exc:
            log.error("could not abort multipart upload of %s: %s", self.path, exc)

    def send_job(self, data: StagedData, start: int, end: int) -> Callable[[str, int], dict[str, Any]]:
        """A job uploading bytes `[start, end)` of `data` as one part."""

        def job(upload_id: str, number: int) -> dict[str, Any]:
            """Run as part `number` of upload `upload_id`."""
            body = data.read(start, end - start)
            kwargs = {"Bucket": self.store.bucket, "Key": self.store.key(self.path), "UploadId": upload_id}
            return self._client_call(f"PART {number}", lambda c: c.upload_part(**kwargs, PartNumber=number, Body=body))

        return job

    def copy_job(self, src: str, etag: str | None, start: int, end: int) -> Callable[[str, int], dict[str, Any]]:
        """A job copying bytes `[start, end)` of object `src` server-side as one part."""

        def job(upload_id: str, number: int) -> dict[str, Any]:
            """Run as part `number` of upload `upload_id`."""
            kwargs: dict[str, Any] = {
                "Bucket": self.store.bucket,
                "Key": self.store.key(self.path),
                "UploadId": upload_id,
                "PartNumber": number,
                "CopySource": {"Bucket": self.store.bucket, "Key": self.store.key(src)},
                "CopySourceRange": f"bytes={start}-{end - 1}",
            }
            if etag:
                kwargs["CopySourceIfMatch"] = etag
            r = self._client_call(f"PART-COPY {number}", lambda c: c.upload_part_copy(**kwargs))
            return {"ETag": r["CopyPartResult"]["ETag"]}

        return job


def upload(m: Multipart, data: StagedData, part: int, old_size: int, old_etag: str | None) -> str | None:
    """Upload `data` in parts of `part` bytes, copying parts unchanged since the object at `m.path`."""
    size = data.size
    dirty = data.dirty_ranges()
    jobs = []
    for start in range(0, size, part):
        end = min(start + part, size)
        reusable = old_etag is not None and end <= old_size and not _touched(dirty, start, end)
        jobs.append(m.copy_job(m.path, old_etag, start, end) if reusable else m.send_job(data, start, end))
    return m.run(jobs)


def copy_large(m: Multipart, src: str, size: int, etag: str | None) -> str | None:
    """Copy an object above 5 GiB (too big for CopyObject) as a multipart copy."""
    part = part_size_for(size, 512 * MiB)
    return m.run([m.copy_job(src, etag, s, min(s + part, size)) for s in range(0, size, part)])


def check_size(size: int) -> None:
    """EFBIG beyond what S3 stores in one object (5 TiB)."""
    if size > 5 * 1024 * 1024 * MiB:
        raise FsError(errno.EFBIG, "S3 objects are limited to 5 TiB")
