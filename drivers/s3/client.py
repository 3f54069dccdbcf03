"""The S3 driver's boto3 client: the AWS chain plus mount options, tuned for many small requests.

botocore turns every PutObject and UploadPart body into a file object and so
sends `Expect: 100-continue` with it, waiting for the server's interim answer
before the body goes: one more round trip per upload. That protects a large
body from being sent to an endpoint that refuses it; for a body of a few
KiB it only doubles the latency of the commonest write, so small uploads go
without it.

botocore also parses every timestamp with dateutil's general parser: 9% of
the daemon's CPU on `cat` of 1,000 small files, most of it the listing's
LastModified values. S3 sends two fixed formats, read here directly.

Timeouts: a request slow to answer is hedged by the store (`cloudfs/hedging.py`)
at a budget learnt from recent latencies, well before any socket timeout. The
read timeout (per socket read: the longest silence allowed, not a limit on a
whole transfer) is only the backstop that ends an attempt nobody races any
more, or an abandoned one still holding a thread and a connection, and a
stream stalled mid-body: 20 s rather than botocore's 60. AWS keeps its long
server-side operations (a large CopyObject, CompleteMultipartUpload) talking
with whitespace, so the timeout does not cut them. Connecting takes
milliseconds on any network a bucket is used over: 5 s.
"""

from __future__ import annotations

import email.utils
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.utils import parse_timestamp as general_timestamp

MiB = 1024 * 1024
EXPECT_CONTINUE_FROM = 1 * MiB  # bodies this large still wait for "100 Continue"
# Connections kept per client: as many as the store's hedger has workers, so abandoned attempts never overflow it.
MAX_POOL = 64
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 20


def _body_length(body: Any) -> int | None:
    """The length of a request body botocore holds (bytes or a seekable file), None if unknown."""
    if isinstance(body, bytes | bytearray):
        return len(body)
    try:
        here = body.tell()
        end = body.seek(0, os.SEEK_END)
        body.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    return int(end - here)


def drop_small_expect(params: dict[str, Any], **_: Any) -> None:
    """botocore hook: no `Expect: 100-continue` for a body under EXPECT_CONTINUE_FROM bytes.

    Registered on "before-call.s3" after botocore's own handler there, which adds the header:
    a handler on a more specific event name would run before it.
    """
    headers = params.get("headers", {})
    if "Expect" not in headers:
        return
    size = _body_length(params.get("body"))
    if size is not None and size < EXPECT_CONTINUE_FROM:
        del headers["Expect"]


def parse_timestamp(value: Any) -> datetime:
    """A timestamp as S3 sends it: ISO 8601 in XML bodies, RFC 1123 in headers; anything else as botocore does."""
    if isinstance(value, str):
        try:
            if value[:1].isdigit():
                return datetime.fromisoformat(value)
            return email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            pass
    return general_timestamp(value)


def make_client(options: Mapping[str, str], region: str | None) -> Any:
    """An S3 client from the AWS chain plus options; botocore's own retries off (ours apply)."""
    core = botocore.session.Session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    session = boto3.Session(botocore_session=core, profile_name=options.get("profile") or None)
    endpoint = options.get("endpoint") or None
    custom = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        retries={"total_max_attempts": 1},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        max_pool_connections=MAX_POOL,
        s3={"addressing_style": "path" if custom else "auto"},
        parameter_validation=False,  # the driver builds every request itself; checking it costs ~0.3 ms each
    )
    region = region or session.region_name or "us-east-1"
    client = session.client("s3", endpoint_url=endpoint, region_name=region, config=config)
    client.meta.events.register("before-call.s3", drop_small_expect)
    return client
