"""Pure pieces of the S3 driver: header encodings, name escaping, the inode table."""

from __future__ import annotations

import stat

import pytest

from cloudfs.drivers.s3.inodes import InodeTable, name_bytes, name_text
from cloudfs.drivers.s3.layout import Defaults, decode_xattrs, encode_xattrs, format_time, from_head, parse_time


@pytest.mark.parametrize(
    ("ns", "text"), [(1_700_000_000 * 10**9, "1700000000"), (1_500_000_000_000_000_001, "1500000000.000000001")]
)
def test_times_use_s3fs_seconds_with_optional_nanoseconds(ns: int, text: str) -> None:
    assert format_time(ns) == text
    assert parse_time(text) == ns


def test_malformed_headers_fall_back_to_defaults() -> None:
    d = Defaults(uid=7, gid=8, umask=0o022)
    e = from_head({"mode": "x", "uid": "", "mtime": "soon", "xattr": "%%%"}, 3, 42, None, False, d)
    assert (e.mode, e.uid, e.gid, e.mtime_ns, e.xattrs) == (stat.S_IFREG | 0o644, 7, 8, 42, {})
    # s3fs versions that leave the type bits out: the key decides.
    assert from_head({"mode": "448"}, 0, 1, None, True, d).mode == stat.S_IFDIR | 0o700


def test_xattrs_round_trip_through_the_s3fs_encoding() -> None:
    xattrs = {b"user.a": b"\x00\xff", "user.é".encode(): b'v,"}'}
    assert decode_xattrs(encode_xattrs(xattrs)) == xattrs
    assert all(c.isalnum() or c in "%-._~" for c in encode_xattrs(xattrs))


@pytest.mark.parametrize("name", [b"plain", "caf\u00e9".encode(), b"\xff\xfe", b"a\nb\x01\x7f", b"\xed\xa0\x80"])
def test_every_name_round_trips_through_a_utf8_key(name: bytes) -> None:
    text = name_text(name)
    text.encode("utf-8")
    assert name_bytes(text) == name
    assert all(ord(c) >= 0x20 and c != "\x7f" for c in text)


def test_inode_numbers_follow_renames_and_are_never_reused() -> None:
    table = InodeTable()
    a, b = table.ino("d"), table.ino("d/f")
    table.move("d", "e")
    assert (table.path(a), table.path(b), table.known("d/f")) == ("e", "e/f", None)
    table.drop(b)
    assert table.ino("e/f") not in (a, b)
