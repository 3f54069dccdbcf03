"""Names and limits: odd bytes in names (spaces, newlines, UTF-8, non-UTF-8), 255 vs 256 bytes,
paths near and beyond PATH_MAX, and directories with many entries.

Paths are handled as bytes here, so names that are not UTF-8 reach the kernel unchanged.
"""

import errno
import os
import stat
from collections.abc import Callable
from functools import partial

from posix_tests.helpers import expect_eq, expect_errno, read_file, write_file
from posix_tests.registry import add, case

NAMES: dict[str, bytes] = {
    "space-inside": b"a b",
    "space-leading": b" a",
    "space-trailing": b"a ",
    "only-spaces": b"   ",
    "newline": b"a\nb",
    "tab": b"a\tb",
    "control-chars": b"\x01\x02\x7f",
    "backslash": b"a\\b",
    "dash-leading": b"-rf",
    "three-dots": b"...",
    "utf8-accents": "caf\u00e9".encode(),
    "utf8-cjk": "\u6f22\u5b57".encode(),
    "utf8-emoji": "\U0001f600".encode(),
    "not-utf8": b"\xff\xfe\x80",
    "latin1": b"caf\xe9",
    "ascii-255": b"n" * 255,
    "utf8-255": "\u00e9".encode() * 127 + b"x",
}
CREATORS: dict[str, Callable[[bytes, bytes], object]] = {
    "create": lambda d, p: write_file(p, b"data"),
    "mkdir": lambda d, p: os.mkdir(p),
    "mkfifo": lambda d, p: os.mkfifo(p),
    "symlink": lambda d, p: os.symlink(b"target", p),
    "link": lambda d, p: os.link(d + b"/src", p),
    "rename": lambda d, p: os.rename(d + b"/src", p),
}


def _name(creator: str, name: str, d: str) -> None:
    """The exact bytes of a name are stored, listed, looked up and removed."""
    base = os.fsencode(d)
    write_file(base + b"/src", b"data")
    path = base + b"/" + NAMES[name]
    CREATORS[creator](base, path)
    expect_eq("listed", True, NAMES[name] in os.listdir(base))
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        os.rmdir(path)
    else:
        os.unlink(path)
    expect_eq("gone", False, NAMES[name] in os.listdir(base))


for _creator in CREATORS:
    for _name_key in NAMES:
        add(f"names/{_creator}-{_name_key}/stored-exactly", partial(_name, _creator, _name_key))


def _too_long(creator: str, name: bytes, d: str) -> None:
    """A 256-byte name is ENAMETOOLONG for every creator."""
    base = os.fsencode(d)
    write_file(base + b"/src", b"data")
    expect_errno(errno.ENAMETOOLONG, CREATORS[creator], base, base + b"/" + name)


for _creator in CREATORS:
    add(f"names/{_creator}-ascii-256/ENAMETOOLONG", partial(_too_long, _creator, b"n" * 256))
    add(f"names/{_creator}-utf8-256/ENAMETOOLONG", partial(_too_long, _creator, "\u00e9".encode() * 128))


@case("names/open-existing-not-utf8/content")
def open_not_utf8(d: str) -> None:
    """A file with a non-UTF-8 name is opened by those bytes."""
    path = os.fsencode(d) + b"/\xff"
    write_file(path, b"bytes")
    expect_eq("content", b"bytes", read_file(path))


@case("names/case-differs/distinct")
def case_sensitive(d: str) -> None:
    """Names differing only in case are different files."""
    write_file(f"{d}/a", b"lower")
    write_file(f"{d}/A", b"upper")
    expect_eq("contents", (b"lower", b"upper"), (read_file(f"{d}/a"), read_file(f"{d}/A")))


@case("names/unicode-normalization/distinct")
def normalization(d: str) -> None:
    """Composed and decomposed forms of a name are different byte strings, so different files."""
    write_file(f"{d}/caf\u00e9", b"nfc")
    write_file(f"{d}/cafe\u0301", b"nfd")
    expect_eq("entries", 2, len(os.listdir(d)))


def _deep_near_path_max(d: str) -> str:
    """Nest 200-byte directories until at most 250 bytes remain below PATH_MAX; return the deepest."""
    depth = -(-(4094 - 250 - len(d)) // 201)
    path = d
    for i in range(depth):
        path = f"{path}/{str(i % 10) * 200}"
        os.mkdir(path)
    return path


@case("long-path/just-under-path-max/ok")
def under_path_max(d: str) -> None:
    """An absolute path of 4095 bytes (PATH_MAX minus the NUL) works."""
    deep = _deep_near_path_max(d)
    path = f"{deep}/" + "f" * (4095 - len(deep) - 1)
    write_file(path, b"deep")
    expect_eq("length, content", (4095, b"deep"), (len(path), read_file(path)))


@case("long-path/exactly-path-max/ENAMETOOLONG")
def at_path_max(d: str) -> None:
    """An absolute path of 4096 bytes leaves no room for the NUL: ENAMETOOLONG."""
    deep = _deep_near_path_max(d)
    path = f"{deep}/" + "f" * (4096 - len(deep) - 1)
    expect_errno(errno.ENAMETOOLONG, write_file, path, b"deep")


@case("long-path/beyond-path-max-relative/works")
def beyond_path_max(d: str) -> None:
    """A tree deeper than PATH_MAX is still usable with relative paths from inside it."""
    os.chdir(d)
    for _ in range(24):
        os.mkdir("d" * 250)
        os.chdir("d" * 250)
    write_file("f", b"deep")
    expect_eq("content", b"deep", read_file("f"))


@case("long-path/beyond-path-max-absolute/ENAMETOOLONG")
def beyond_absolute(d: str) -> None:
    """The same deep file named by its absolute path is ENAMETOOLONG."""
    os.chdir(d)
    for _ in range(17):
        os.mkdir("d" * 250)
        os.chdir("d" * 250)
    write_file("f", b"deep")
    expect_errno(errno.ENAMETOOLONG, os.stat, d + ("/" + "d" * 250) * 17 + "/f")


def _many(count: int, d: str) -> None:
    """A directory with many entries lists each exactly once."""
    names = {f"entry-{i:05d}" for i in range(count)}
    for name in names:
        os.close(os.open(f"{d}/{name}", os.O_CREAT | os.O_WRONLY, 0o644))
    listing = os.listdir(d)
    expect_eq("count, set", (count, names), (len(listing), set(listing)))


for _count in (100, 1000):
    add(f"readdir/{_count}-entries/each-once", partial(_many, _count))


@case("readdir/after-unlinks/rest-listed")
def listing_after_unlinks(d: str) -> None:
    """Removing every other entry leaves exactly the rest."""
    for i in range(200):
        write_file(f"{d}/e{i}", b"")
    for i in range(0, 200, 2):
        os.unlink(f"{d}/e{i}")
    expect_eq("set", {f"e{i}" for i in range(1, 200, 2)}, set(os.listdir(d)))


@case("readdir/scandir/types")
def scandir_types(d: str) -> None:
    """scandir's d_type (or its lstat fallback) reports each kind correctly."""
    write_file(f"{d}/f", b"")
    os.mkdir(f"{d}/s")
    os.symlink("f", f"{d}/l")
    os.mkfifo(f"{d}/p")
    got = {
        e.name: (e.is_file(follow_symlinks=False), e.is_dir(follow_symlinks=False), e.is_symlink())
        for e in os.scandir(d)
    }
    want = {
        "f": (True, False, False),
        "s": (False, True, False),
        "l": (False, False, True),
        "p": (False, False, False),
    }
    expect_eq("types", want, got)


@case("readdir/inode-numbers/match-stat")
def readdir_inodes(d: str) -> None:
    """d_ino of each entry equals st_ino from lstat."""
    for i in range(10):
        write_file(f"{d}/f{i}", b"")
    for entry in os.scandir(d):
        expect_eq(f"{entry.name} ino", os.lstat(entry.path).st_ino, entry.inode())
