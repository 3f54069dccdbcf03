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

from cloudfs.driver import StagedData
from cloudfs.errors import FsError

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

    def run(self, parts: list[Callable[[str, int], str]]) -> str | None:
        """Start the upload, run each part job `(upload_id, number) -> ETag` in parallel, complete it."""
        upload_id = self.store.create_multipart(self.path, self.meta)
        try:
            futures = [self.pool.submit(job, upload_id, n) for n, job in enumerate(parts, 1)]
            wait(futures)  # no abort while parts are still in flight
            return self.store.complete_multipart(self.path, upload_id, [f.result() for f in futures])
        except BaseException:
            self.abort(upload_id)
            raise

    def abort(self, upload_id: str) -> None:
        """Abort the upload so no orphaned parts keep costing storage."""
        try:
            self.store.abort_multipart(self.path, upload_id)
        except Exception as exc:
            log.error("could not abort multipart upload of %s: %s", self.path, exc)

    def send_job(self, data: StagedData, start: int, end: int) -> Callable[[str, int], str]:
        """A job uploading bytes `[start, end)` of `data` as one part."""

        def job(upload_id: str, number: int) -> str:
            """Run as part `number` of upload `upload_id`."""
            return self.store.upload_part(self.path, upload_id, number, data.read(start, end - start))

        return job

    def copy_job(self, src: str, etag: str | None, start: int, end: int) -> Callable[[str, int], str]:
        """A job copying bytes `[start, end)` of object `src` server-side as one part (if still at `etag`)."""

        def job(upload_id: str, number: int) -> str:
            """Run as part `number` of upload `upload_id`."""
            return self.store.upload_part_copy(self.path, upload_id, number, src, start, end, etag)

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
