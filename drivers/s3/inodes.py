"""The per-mount inode table: S3 is path-based, the protocol speaks inode numbers.

Numbers are handed out on first sight of a path and never reused within a
mount; the root is ROOT_INO with path "". A rename moves a path and all its
descendants; `forget` may drop a number, after which the path gets a new one.
"""

from __future__ import annotations

import errno
import threading

from cloudfs.driver import ROOT_INO
from cloudfs.errors import FsError


def parent_of(path: str) -> str:
    """The parent directory's path ("" for entries of the root)."""
    return path.rpartition("/")[0]


# S3 keys are UTF-8, and control characters break servers' XML listings and
# URL routing. Bytes that are not valid UTF-8 (U+F780..U+F7FF) and control
# characters (U+F701..U+F71F, U+F77F) map one to one onto private-use
# characters, so any name round-trips; only names that really contain those
# characters (which nothing writes) would read back differently.
_TO_KEY = {0xDC00 + b: 0xF700 + b for b in range(0x80, 0x100)}
_TO_KEY.update({c: 0xF700 + c for c in [*range(1, 0x20), 0x7F]})
_FROM_KEY = {v: k for k, v in _TO_KEY.items()}


def name_text(name: bytes) -> str:
    """The key text of a file name."""
    return name.decode("utf-8", "surrogateescape").translate(_TO_KEY)


def name_bytes(text: str) -> bytes:
    """The file name of a key's text."""
    return text.translate(_FROM_KEY).encode("utf-8", "surrogateescape")


def join(parent: str, name: bytes) -> str:
    """The path of `name` in directory `parent`."""
    text = name_text(name)
    return f"{parent}/{text}" if parent else text


def child(parent: str, name: str) -> str:
    """The path of a child given as key text."""
    return f"{parent}/{name}" if parent else name


def under(path: str, top: str) -> bool:
    """True when `path` is `top` or inside it."""
    return path == top or path.startswith(top + "/")


class InodeTable:
    """Thread-safe ino ↔ path mapping."""

    def __init__(self) -> None:
        """Start with the root only."""
        self._lock = threading.Lock()
        self._paths: dict[int, str] = {ROOT_INO: ""}
        self._inos: dict[str, int] = {"": ROOT_INO}
        self._next = ROOT_INO + 1

    def path(self, ino: int) -> str:
        """The path of `ino`; ENOENT when the number is unknown (forgotten or never given)."""
        with self._lock:
            try:
                return self._paths[ino]
            except KeyError:
                raise FsError(errno.ENOENT, f"unknown inode {ino}") from None

    def ino(self, path: str) -> int:
        """The number of `path`, handing out a new one on first sight."""
        with self._lock:
            ino = self._inos.get(path)
            if ino is None:
                ino = self._next
                self._next += 1
                self._inos[path] = ino
                self._paths[ino] = path
            return ino

    def known(self, path: str) -> int | None:
        """The number of `path` if it has one."""
        with self._lock:
            return self._inos.get(path)

    def detach(self, path: str) -> int | None:
        """Unbind `path` from its number (the number keeps the old path); returns the number."""
        with self._lock:
            return self._inos.pop(path, None)

    def move(self, old: str, new: str) -> None:
        """Rename `old` and everything under it to `new`; whatever held those paths is unbound."""
        with self._lock:
            for path in [p for p in self._inos if under(p, new)]:
                del self._inos[path]
            for path in [p for p in self._inos if under(p, old)]:
                ino = self._inos.pop(path)
                moved = new + path[len(old) :]
                self._inos[moved] = ino
                self._paths[ino] = moved

    def drop(self, ino: int) -> None:
        """Forget `ino` (not the root)."""
        with self._lock:
            if ino == ROOT_INO:
                return
            path = self._paths.pop(ino, None)
            if path is not None and self._inos.get(path) == ino:
                del self._inos[path]
