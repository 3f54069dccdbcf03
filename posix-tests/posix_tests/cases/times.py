"""Time rules: which operations must change atime, mtime and ctime of a file and its directories.

Each case checks one field of one object after one operation, so a filesystem that gets a single rule
wrong fails a single id. Atime rules are only asserted where `relatime` still guarantees an update:
every object starts with atime == mtime in the past, which relatime always refreshes.
"""

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from posix_tests.helpers import U1, expect_eq, set_past, tick, write_file
from posix_tests.registry import add

FIELDS = {"a": "atime", "m": "mtime", "c": "ctime"}


def _nothing(d: str) -> None:
    """No extra setup."""


@dataclass(frozen=True)
class TimeOp:
    """An operation and its rules: `changes` maps a subject to the fields that must change.

    Fields of a listed subject that are not named must stay as they were. Subjects: `file` (the object
    operated on, found at `before` and then at `after`), `parent` (p) and `dest` (q).
    """

    act: Callable[[str], object]
    changes: dict[str, str]
    setup: Callable[[str], object] = _nothing
    before: str = "p/f"
    after: str = "p/f"


def _write_at(d: str, data: bytes, off: int) -> None:
    """pwrite `data` at `off` into p/f."""
    fd = os.open(f"{d}/p/f", os.O_WRONLY)
    try:
        os.pwrite(fd, data, off)
    finally:
        os.close(fd)


def _open_close(d: str, flags: int, read: int = 0) -> None:
    """Open p/f with `flags`, optionally read, then close."""
    fd = os.open(f"{d}/p/f", flags, 0o644)
    try:
        if read:
            os.read(fd, read)
    finally:
        os.close(fd)


def _ftruncate(d: str) -> None:
    """ftruncate p/f to 10 bytes."""
    fd = os.open(f"{d}/p/f", os.O_WRONLY)
    try:
        os.ftruncate(fd, 10)
    finally:
        os.close(fd)


def _fsync(d: str) -> None:
    """fsync p/f without writing."""
    fd = os.open(f"{d}/p/f", os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mkdir_existing(d: str) -> None:
    """A failing mkdir (EEXIST) must not touch the parent."""
    try:
        os.mkdir(f"{d}/p/f")
    except FileExistsError:
        return
    raise AssertionError("mkdir over an existing file succeeded")


FILE_ONLY = {"file": "", "parent": ""}
OPS: dict[str, TimeOp] = {
    "write": TimeOp(lambda d: _write_at(d, b"x", 0), {"file": "mc", "parent": ""}),
    "pwrite-extend": TimeOp(lambda d: _write_at(d, b"x", 8192), {"file": "mc", "parent": ""}),
    "write-zero-bytes": TimeOp(lambda d: _write_at(d, b"", 0), FILE_ONLY),
    "truncate-shrink": TimeOp(lambda d: os.truncate(f"{d}/p/f", 10), {"file": "mc", "parent": ""}),
    "truncate-grow": TimeOp(lambda d: os.truncate(f"{d}/p/f", 10000), {"file": "mc", "parent": ""}),
    "ftruncate-shrink": TimeOp(_ftruncate, {"file": "mc", "parent": ""}),
    "open-trunc": TimeOp(lambda d: _open_close(d, os.O_WRONLY | os.O_TRUNC), {"file": "mc", "parent": ""}),
    "open-trunc-empty": TimeOp(
        lambda d: _open_close(d, os.O_WRONLY | os.O_TRUNC),
        {"file": "mc", "parent": ""},
        setup=lambda d: os.truncate(f"{d}/p/f", 0),
    ),
    "read": TimeOp(lambda d: _open_close(d, os.O_RDONLY, read=100), {"file": "a", "parent": ""}),
    "open-close": TimeOp(lambda d: _open_close(d, os.O_RDONLY), FILE_ONLY),
    "open-creat-existing": TimeOp(lambda d: _open_close(d, os.O_CREAT | os.O_WRONLY), FILE_ONLY),
    "stat": TimeOp(lambda d: os.stat(f"{d}/p/f"), FILE_ONLY),
    "fsync": TimeOp(_fsync, FILE_ONLY),
    "chmod": TimeOp(lambda d: os.chmod(f"{d}/p/f", 0o600), {"file": "c", "parent": ""}),
    "chown": TimeOp(lambda d: os.chown(f"{d}/p/f", U1, -1), {"file": "c", "parent": ""}),
    "utimensat-now": TimeOp(lambda d: os.utime(f"{d}/p/f"), {"file": "amc", "parent": ""}),
    "utimensat-explicit": TimeOp(lambda d: os.utime(f"{d}/p/f", ns=(7, 9)), {"file": "amc", "parent": ""}),
    "setxattr": TimeOp(lambda d: os.setxattr(f"{d}/p/f", "user.t", b"v"), {"file": "c", "parent": ""}),
    "removexattr": TimeOp(
        lambda d: os.removexattr(f"{d}/p/f", "user.t"),
        {"file": "c", "parent": ""},
        setup=lambda d: os.setxattr(f"{d}/p/f", "user.t", b"v"),
    ),
    "link-same-dir": TimeOp(lambda d: os.link(f"{d}/p/f", f"{d}/p/g"), {"file": "c", "parent": "mc"}),
    "link-other-dir": TimeOp(lambda d: os.link(f"{d}/p/f", f"{d}/q/g"), {"file": "c", "parent": "", "dest": "mc"}),
    "unlink-other-link": TimeOp(
        lambda d: os.unlink(f"{d}/p/f"),
        {"file": "c", "parent": "mc"},
        setup=lambda d: os.link(f"{d}/p/f", f"{d}/p/f2"),
        before="p/f2",
        after="p/f2",
    ),
    "rename-same-dir": TimeOp(lambda d: os.rename(f"{d}/p/f", f"{d}/p/g"), {"file": "c", "parent": "mc"}, after="p/g"),
    "rename-other-dir": TimeOp(
        lambda d: os.rename(f"{d}/p/f", f"{d}/q/g"), {"file": "c", "parent": "mc", "dest": "mc"}, after="q/g"
    ),
    "rename-over-existing": TimeOp(
        lambda d: os.rename(f"{d}/p/f", f"{d}/q/g"),
        {"file": "c", "parent": "mc", "dest": "mc"},
        setup=lambda d: write_file(f"{d}/q/g", b"old"),
        after="q/g",
    ),
    "rename-dir-other-dir": TimeOp(
        lambda d: os.rename(f"{d}/p/sub", f"{d}/q/sub"),
        {"file": "c", "parent": "mc", "dest": "mc"},
        setup=lambda d: os.mkdir(f"{d}/p/sub"),
        before="p/sub",
        after="q/sub",
    ),
    "rename-dir-same-dir": TimeOp(
        lambda d: os.rename(f"{d}/p/sub", f"{d}/p/sub2"),
        {"file": "c", "parent": "mc"},
        setup=lambda d: os.mkdir(f"{d}/p/sub"),
        before="p/sub",
        after="p/sub2",
    ),
    "rename-onto-itself": TimeOp(lambda d: os.rename(f"{d}/p/f", f"{d}/p/f"), FILE_ONLY),
    "chmod-same-mode": TimeOp(lambda d: os.chmod(f"{d}/p/f", 0o644), {"file": "c", "parent": ""}),
    "create-sibling": TimeOp(lambda d: write_file(f"{d}/p/new", b""), {"file": "", "parent": "mc"}),
    "mkdir-sibling": TimeOp(lambda d: os.mkdir(f"{d}/p/new"), {"file": "", "parent": "mc"}),
    "mkfifo-sibling": TimeOp(lambda d: os.mkfifo(f"{d}/p/new"), {"file": "", "parent": "mc"}),
    "symlink-sibling": TimeOp(lambda d: os.symlink("t", f"{d}/p/new"), {"file": "", "parent": "mc"}),
    "unlink-sibling": TimeOp(
        lambda d: os.unlink(f"{d}/p/s"),
        {"file": "", "parent": "mc"},
        setup=lambda d: write_file(f"{d}/p/s", b""),
    ),
    "rmdir-sibling": TimeOp(
        lambda d: os.rmdir(f"{d}/p/s"), {"file": "", "parent": "mc"}, setup=lambda d: os.mkdir(f"{d}/p/s")
    ),
    "mkdir-eexist": TimeOp(_mkdir_existing, FILE_ONLY),
    "readdir": TimeOp(lambda d: os.listdir(f"{d}/p"), {"file": "", "parent": "a"}),
    "chmod-dir": TimeOp(lambda d: os.chmod(f"{d}/p", 0o700), {"file": "", "parent": "c"}),
    "setxattr-dir": TimeOp(lambda d: os.setxattr(f"{d}/p", "user.t", b"v"), {"file": "", "parent": "c"}),
}


def _stat_all(d: str, op: TimeOp, when: str) -> dict[str, os.stat_result]:
    """lstat every subject the op has rules for."""
    paths = {"file": op.before if when == "before" else op.after, "parent": "p", "dest": "q"}
    return {subject: os.lstat(f"{d}/{paths[subject]}") for subject in op.changes}


def _check(name: str, subject: str, field: str, d: str) -> None:
    """Run the op on a past-dated tree and check one field of one subject."""
    op = OPS[name]
    os.mkdir(f"{d}/p")
    os.mkdir(f"{d}/q")
    write_file(f"{d}/p/f", b"z" * 4096)
    op.setup(d)
    for rel in {"p/f", op.before, "p", "q"}:
        set_past(f"{d}/{rel}")
    tick()
    before = _stat_all(d, op, "before")
    op.act(d)
    after = _stat_all(d, op, "after")
    attr = f"st_{FIELDS[field]}_ns"
    changed = getattr(before[subject], attr) != getattr(after[subject], attr)
    want = field in op.changes[subject]
    expect_eq(f"{subject} {FIELDS[field]} changed", want, changed)


def _register() -> None:
    """Register one case per op x subject x field."""
    for name, op in OPS.items():
        for subject, fields in op.changes.items():
            for field in "amc":
                verdict = "changes" if field in fields else "unchanged"
                add(f"times/{name}/{subject}-{FIELDS[field]}/{verdict}", partial(_check, name, subject, field))


_register()


NEW_OBJECTS: dict[str, Callable[[str], object]] = {
    "create": lambda p: write_file(p, b""),
    "mkdir": os.mkdir,
    "mkfifo": os.mkfifo,
    "symlink": lambda p: os.symlink("t", p),
    "mknod-sock": lambda p: os.mknod(p, stat.S_IFSOCK | 0o644),
}


def _new_object(creator: str, d: str) -> None:
    """A new object starts with atime, mtime and ctime all equal: one moment of creation."""
    NEW_OBJECTS[creator](f"{d}/x")
    st = os.lstat(f"{d}/x")
    expect_eq("atime, mtime vs ctime", (st.st_ctime_ns, st.st_ctime_ns), (st.st_atime_ns, st.st_mtime_ns))


for _creator in NEW_OBJECTS:
    add(f"times/new-{_creator}/all-three-equal", partial(_new_object, _creator))
