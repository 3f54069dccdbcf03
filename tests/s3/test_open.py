"""Mount sources and opening: parsing, region discovery, one clear line for unusable buckets."""

from __future__ import annotations

import os

import pytest

from cloudfs.driver import DriverSettings
from cloudfs.drivers.s3 import SPEC, Location
from cloudfs.drivers.s3.layout import Defaults
from cloudfs.errors import SourceError, StoreError
from cloudfs.options import parse_options
from tests.servers import BUCKET, FlakyProxy, S3Server, s3_options


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bucket", Location("bucket", "")),
        ("bucket/", Location("bucket", "")),
        ("bucket/a/b", Location("bucket", "a/b/")),
        ("//my.bucket-1/pre/", Location("my.bucket-1", "pre/")),
    ],
)
def test_source_forms(text: str, expected: Location) -> None:
    assert SPEC.parse(text) == expected


@pytest.mark.parametrize("text", ["", "B", "ab", "bad_bucket", "-x-y", "a..b", "x" * 64, "bucket/a//b"])
def test_bad_sources_are_source_errors(text: str) -> None:
    with pytest.raises(SourceError):
        SPEC.parse(text)


def test_missing_bucket_is_one_clear_line(server: S3Server) -> None:
    with pytest.raises(StoreError) as info:
        SPEC.open(SPEC.parse("no-such-bucket-here"), s3_options(server))
    assert str(info.value) == "S3 bucket 'no-such-bucket-here' does not exist"


def test_wrong_keys_are_access_denied(seaweedfs_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(StoreError) as info:
        SPEC.open(SPEC.parse("cloudfs-test"), s3_options(seaweedfs_s3))
    assert str(info.value) == "access to S3 bucket 'cloudfs-test' denied: check credentials and policy"
    assert "not-the-secret" not in str(info.value)


def test_no_credentials_is_one_clear_line(moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StoreError) as info:
        SPEC.open(SPEC.parse("cloudfs-test"), s3_options(moto_s3))
    assert str(info.value).startswith("no AWS credentials found")


def test_a_store_failing_for_a_moment_at_mount_is_asked_again(moto_s3: S3Server) -> None:
    with FlakyProxy(moto_s3.url) as proxy:
        proxy.faults = ["503", "500", "slowdown"]
        driver = SPEC.open(SPEC.parse(BUCKET), s3_options(S3Server("moto", proxy.url), region="us-east-1"))
        driver.close()
        assert (proxy.faults, proxy.operations["HEAD"]) == ([], 4)


def test_the_bucket_region_is_found_when_not_given(moto_s3: S3Server) -> None:
    moto_s3.client().create_bucket(Bucket="cloudfs-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    driver = SPEC.open(SPEC.parse("cloudfs-eu"), s3_options(moto_s3))
    try:
        assert driver.store.client.meta.region_name == "eu-west-1"
    finally:
        driver.close()
    given = SPEC.open(SPEC.parse("cloudfs-eu"), s3_options(moto_s3, region="eu-west-1"))
    try:
        assert given.store.client.meta.region_name == "eu-west-1"
    finally:
        given.close()


def test_parsed_options_reach_the_driver(moto_s3: S3Server) -> None:
    """`-o uid=1000,umask=027,ro,no_metadata` as the CLI parses it: the owner and umask of header-less objects,
    and no headers; the gid not given is the mounting user's."""
    texts = [f"endpoint={moto_s3.url},uid=1000,umask=027,ro,no_metadata"]
    driver = SPEC.open(SPEC.parse(BUCKET), parse_options(texts, SPEC.options, "s3").driver_settings())
    try:
        assert driver.defaults == Defaults(uid=1000, gid=os.getgid(), umask=0o027)
        assert driver.no_metadata is True
    finally:
        driver.close()


@pytest.mark.parametrize(("text", "expected"), [("", True), ("YES", True), ("1", True), ("no", False), ("0", False)])
def test_no_metadata_takes_yes_or_no(moto_s3: S3Server, text: str, expected: bool) -> None:
    """A bare `no_metadata` means yes; 1/true/yes and 0/false/no in any case are accepted."""
    driver = SPEC.open(SPEC.parse(BUCKET), s3_options(moto_s3, no_metadata=text))
    try:
        assert driver.no_metadata is expected
    finally:
        driver.close()


def test_a_bad_no_metadata_value_is_one_line_before_any_request() -> None:
    """`-o no_metadata=maybe` is a SourceError (exit 2); the endpoint is unreachable on purpose."""
    settings = DriverSettings(options={"endpoint": "http://127.0.0.1:9", "no_metadata": "maybe"})
    with pytest.raises(SourceError) as info:
        SPEC.open(SPEC.parse(BUCKET), settings)
    assert str(info.value) == "bad value for mount option no_metadata: 'maybe' (1, true, yes or 0, false, no)"
