"""The S3 driver's mount source: `s3:bucket[/prefix]` or `s3://bucket/prefix`.

`parse` checks the bucket name and prefix before any I/O; `open` builds a
client from the standard AWS chain (plus the endpoint, region and profile
options), finds the bucket's region when none is given, and proves the
bucket is usable with one HeadBucket, failing with one clear line if not.
A HeadBucket the store answers with a transient fault (503, 500) is asked
again for a few seconds, as a mount at boot may meet a store still waking;
an endpoint that cannot be reached fails at once, the clearer answer.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from cloudfs.aws import NO_CREDENTIALS
from cloudfs.driver import DriverSettings, DriverSpec
from cloudfs.errors import SourceError, StoreError
from cloudfs.retry import RetryPolicy

from .client import make_client
from .driver import S3Driver
from .layout import Defaults
from .store import BotoStore, error_code, is_transient

log = logging.getLogger(__name__)

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# The store answered, with a fault that passes: ask again, up to a few seconds in all.
_MOUNT_CHECK = RetryPolicy(lambda exc: isinstance(exc, ClientError) and is_transient(exc), max_time=10.0)


@dataclass(frozen=True)
class Location:
    """A parsed S3 location: bucket and key prefix (empty, or ending in `/`)."""

    bucket: str
    prefix: str


def parse(location: str) -> Location:
    """Parse `bucket`, `bucket/prefix` or `//bucket/prefix`; SourceError for a bad bucket name."""
    text = location[2:] if location.startswith("//") else location
    bucket, _, prefix = text.partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise SourceError(f"invalid S3 bucket name {bucket!r}: 3-63 lowercase letters, digits, '.' or '-'")
    prefix = prefix.strip("/")
    if "//" in prefix:
        raise SourceError(f"invalid S3 prefix {prefix!r}: empty path component")
    return Location(bucket, prefix + "/" if prefix else "")


def _bucket_region(client: Any, bucket: str) -> str | None:
    """The bucket's region from HeadBucket's `x-amz-bucket-region` header (sent even on 301/403)."""
    try:
        r = _MOUNT_CHECK.call(f"HeadBucket {bucket}", lambda: client.head_bucket(Bucket=bucket))
        return r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")
    except ClientError as exc:
        return exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")


def _check(client: Any, bucket: str) -> str:
    """HeadBucket once and return the Server header; one clear StoreError line for a missing bucket,
    denial or bad credentials."""
    try:
        r = _MOUNT_CHECK.call(f"HeadBucket {bucket}", lambda: client.head_bucket(Bucket=bucket))
        return str(r["ResponseMetadata"]["HTTPHeaders"].get("server", ""))
    except NoCredentialsError:
        raise StoreError(NO_CREDENTIALS) from None
    except ClientError as exc:
        code = error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise StoreError(f"S3 bucket {bucket!r} does not exist") from None
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise StoreError(f"access to S3 bucket {bucket!r} denied: check credentials and policy") from None
        raise StoreError(f"S3 bucket {bucket!r} cannot be used: {code}") from None


def open_driver(location: object, settings: DriverSettings) -> S3Driver:
    """Connect to the bucket and return a driver; StoreError (exit 1) when it cannot be used.

    A bad `no_metadata` value is a SourceError (exit 2), raised before any request.
    """
    assert isinstance(location, Location)
    options = settings.options
    no_metadata = _flag(options, "no_metadata")
    try:
        region = options.get("region") or None
        client = make_client(options, region)
        if region is None:
            found = _bucket_region(client, location.bucket)
            if found and found != client.meta.region_name:
                client = make_client(options, found)
        server = _check(client, location.bucket)
    except ProfileNotFound as exc:
        raise StoreError(str(exc)) from None
    except NoCredentialsError:
        raise StoreError(NO_CREDENTIALS) from None
    except BotoCoreError as exc:
        raise StoreError(f"S3 endpoint unreachable for bucket {location.bucket!r}: {exc}") from None
    defaults = Defaults(
        uid=os.getuid() if settings.uid is None else settings.uid,
        gid=os.getgid() if settings.gid is None else settings.gid,
        umask=0o022 if settings.umask is None else settings.umask,
    )
    log.info("opened s3://%s/%s (region %s)", location.bucket, location.prefix, client.meta.region_name)
    store = BotoStore(client, location.bucket, location.prefix)
    return S3Driver(store, defaults, no_metadata=no_metadata, seaweedfs=server.startswith("SeaweedFS"))


def _flag(options: Mapping[str, str], name: str) -> bool:
    """A yes/no driver option: absent or 0/false/no is False; bare, 1/true/yes is True; else SourceError."""
    text = options.get(name, "0")
    if text.lower() in ("", "1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise SourceError(f"bad value for mount option {name}: {text!r} (1, true, yes or 0, false, no)")


SPEC = DriverSpec(
    scheme="s3",
    summary="an S3 bucket or prefix in the s3fs-fuse layout (s3:bucket[/prefix])",
    parse=parse,
    open=open_driver,
    options=frozenset({"endpoint", "region", "profile", "no_metadata"}),
)
