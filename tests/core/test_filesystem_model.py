"""Filesystem data path against a bytearray model: random opens, writes, truncates, reads, flushes and closes."""

from __future__ import annotations

import dataclasses
import os
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudfs.core.context import MountSettings
from cloudfs.core.filesystem import Filesystem
from cloudfs.driver import AttrChanges
from cloudfs.drivers.memory import FULL_CAPABILITIES, MemoryDriver

from .helpers import ROOT, make_file

# Tiny cache blocks and a cache of a few blocks, so short files cross blocks and get evicted.
CAPS = dataclasses.replace(FULL_CAPABILITIES, block_size=16)

offsets = st.integers(0, 120)
ops_st = st.lists(
    st.one_of(
        st.tuples(st.just("open")),
        st.tuples(st.just("write"), offsets, st.binary(min_size=1, max_size=40)),
        st.tuples(st.just("truncate"), offsets),
        st.tuples(st.just("read"), offsets, st.integers(1, 80)),
        st.tuples(st.just("flush")),
        st.tuples(st.just("release")),
    ),
    max_size=30,
)


class Session:
    """One file on a fresh store, its handles, and the bytes it should hold."""

    def __init__(self, spool_dir: str, base: bytes, cache_ttl: float) -> None:
        self.driver = MemoryDriver(capabilities=CAPS)
        settings_ = MountSettings(spool_dir=spool_dir, read_cache_bytes=48, cache_ttl=cache_ttl)
        self.fs = Filesystem(self.driver, settings_)
        self.ino = make_file(self.fs, b"f", base)
        self.model = bytearray(base)
        self.handles = [self.fs.open(self.ino, os.O_RDWR, ROOT)]

    def apply(self, op: tuple) -> None:
        """Run one operation on the filesystem and the model, checking reads and sizes."""
        kind, *args = op
        if kind == "open":
            self.handles.append(self.fs.open(self.ino, os.O_RDWR, ROOT))
        elif not self.handles:
            return
        elif kind == "write":
            off, data = args
            self.model[len(self.model) : off] = bytes(max(0, off - len(self.model)))
            self.model[off : off + len(data)] = data
            self.fs.write(self.handles[-1], off, data)
        elif kind == "truncate":
            del self.model[args[0] :]
            self.model.extend(bytes(args[0] - len(self.model)))
            self.fs.setattr(self.ino, AttrChanges(size=args[0]), ROOT)
        elif kind == "read":
            off, size = args
            assert self.fs.read(self.handles[0], off, size) == bytes(self.model[off : off + size])
        elif kind == "flush":
            self.fs.flush(self.handles[-1])
        else:
            self.fs.release(self.handles.pop())
        assert self.fs.getattr(self.ino).size == len(self.model)


@pytest.mark.parametrize("cache_ttl", [0, 60])
@settings(max_examples=100, deadline=None)
@given(base=st.binary(max_size=100), ops=ops_st)
def test_file_matches_bytearray_model(cache_ttl: float, base: bytes, ops: list[tuple]) -> None:
    """Whatever the sequence, with or without the attribute cache, reads, sizes and finally the store match."""
    with tempfile.TemporaryDirectory() as spool_dir:
        session = Session(spool_dir, base, cache_ttl)
        for op in ops:
            session.apply(op)
        while session.handles:
            session.fs.release(session.handles.pop())
        assert session.driver.read(session.ino, 0, 1000) == bytes(session.model)
        assert session.fs.shutdown() == 0
