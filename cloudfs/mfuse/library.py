"""mfusepy, loaded on libfuse 3: it would take libfuse 2 (which llfuse needs installed) when it finds both."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

LIBFUSE3 = ctypes.util.find_library("fuse3")
if LIBFUSE3 is None:
    raise ImportError("libfuse 3 (libfuse3.so.3, Debian package libfuse3-3) is not installed")
os.environ.setdefault("FUSE_LIBRARY_PATH", LIBFUSE3)

import mfusepy  # noqa: E402  (after FUSE_LIBRARY_PATH on purpose)

# mfusepy logs every errno a handler answers with its traceback at DEBUG; the adapter logs each request itself.
logging.getLogger(mfusepy.log.name).setLevel(logging.INFO)

libfuse = mfusepy._libfuse
libfuse.fuse_interrupted.restype = ctypes.c_int
libfuse.fuse_invalidate_path.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
libfuse.fuse_invalidate_path.restype = ctypes.c_int

if mfusepy.fuse_version_major != 3:
    raise ImportError(f"mfusepy loaded libfuse {mfusepy.fuse_version_major}, not libfuse 3")

__all__ = ["libfuse", "mfusepy"]
