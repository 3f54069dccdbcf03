"""Permission checks as non-root users: each case forks a child that drops to U1/U2 (and groups).

Covers the owner/group/other class rules for files and directories, supplementary groups, search and
write permission on directories, and root's exceptions.
"""

import errno
import os
from collections.abc import Callable
from functools import partial
from typing import Any

from posix_tests.helpers import G1, G2, U1, U2, access, closing_open, expect_eq, make, user_expect, write_file
from posix_tests.registry import add, case

FILE_MODES = (
    0o000,
    0o400,
    0o200,
    0o100,
    0o600,
    0o700,
    0o040,
    0o020,
    0o060,
    0o070,
    0o004,
    0o002,
    0o006,
    0o007,
    0o707,
    0o077,
    0o770,
    0o777,
    0o466,
    0o646,
    0o664,
)
# Credentials per class against an object owned by U1:G1.
WHO: dict[str, dict[str, Any]] = {
    "owner": {"uid": U1, "gid": G2},
    "group-primary": {"uid": U2, "gid": G1},
    "group-supplementary": {"uid": U2, "gid": G2, "groups": (G1,)},
    "other": {"uid": U2, "gid": G2},
}
SHIFT = {"owner": 6, "group-primary": 3, "group-supplementary": 3, "other": 0}
NEED = {"read": 4, "write": 2, "rdwr": 6, "exec": 1}


FILE_OPS: dict[str, Callable[[str], object]] = {
    "read": lambda p: closing_open(p, os.O_RDONLY),
    "write": lambda p: closing_open(p, os.O_WRONLY),
    "rdwr": lambda p: closing_open(p, os.O_RDWR),
    "exec": lambda p: access(p, os.X_OK),
}


def _file_access(mode: int, who: str, op: str, d: str) -> None:
    """The class that matches first (owner, then group, then other) alone decides."""
    make("reg", f"{d}/f")
    os.chown(f"{d}/f", U1, G1)
    os.chmod(f"{d}/f", mode)
    bits = (mode >> SHIFT[who]) & 7
    expected = 0 if bits & NEED[op] == NEED[op] else errno.EACCES
    user_expect(expected, lambda: FILE_OPS[op](f"{d}/f"), **WHO[who])


DIR_OPS: dict[str, tuple[int, Callable[[str], object]]] = {
    "list": (4, os.listdir),
    "lookup": (1, lambda p: os.stat(f"{p}/c")),
    "create": (3, lambda p: os.mkdir(f"{p}/new")),
    "unlink": (3, lambda p: os.unlink(f"{p}/c")),
}


def _dir_access(bits: int, who: str, op: str, d: str) -> None:
    """Directory bits: r lists, x searches, w+x changes entries."""
    os.mkdir(f"{d}/t")
    make("reg", f"{d}/t/c")
    os.chown(f"{d}/t", U1, G1)
    os.chmod(f"{d}/t", bits << SHIFT[who])
    need, fn = DIR_OPS[op]
    expected = 0 if bits & need == need else errno.EACCES
    user_expect(expected, lambda: fn(f"{d}/t"), **WHO[who])


def _register() -> None:
    """Register the file and directory class matrices."""
    for who in WHO:
        for mode in FILE_MODES:
            for op in FILE_OPS:
                bits = (mode >> SHIFT[who]) & 7
                res = "ok" if bits & NEED[op] == NEED[op] else "EACCES"
                add(f"perm/file-{mode:04o}-{who}-{op}/{res}", partial(_file_access, mode, who, op))
        for bits in range(8):
            for op, (need, _) in DIR_OPS.items():
                res = "ok" if bits & need == need else "EACCES"
                add(f"perm/dir-{bits:o}-{who}-{op}/{res}", partial(_dir_access, bits, who, op))


_register()

# Operations that need write permission on the parent, run by U1 in a root-owned 0o555 directory.
PARENT_WRITE_OPS: dict[str, Callable[[str], object]] = {
    "open-creat": lambda p: closing_open(f"{p}/new", os.O_CREAT | os.O_WRONLY),
    "mkdir": lambda p: os.mkdir(f"{p}/new"),
    "mkfifo": lambda p: os.mkfifo(f"{p}/new"),
    "symlink": lambda p: os.symlink("t", f"{p}/new"),
    "link": lambda p: os.link(f"{p}/f", f"{p}/new"),
    "unlink": lambda p: os.unlink(f"{p}/f"),
    "rmdir": lambda p: os.rmdir(f"{p}/sub"),
    "rename-within": lambda p: os.rename(f"{p}/f", f"{p}/new"),
}


def _parent_write(op: str, d: str) -> None:
    """Without write permission on the directory no entry can be added or removed."""
    os.mkdir(f"{d}/p")
    make("reg", f"{d}/p/f")
    os.chown(f"{d}/p/f", U1, G1)
    os.mkdir(f"{d}/p/sub")
    os.chmod(f"{d}/p", 0o555)
    user_expect(errno.EACCES, lambda: PARENT_WRITE_OPS[op](f"{d}/p"))


for _op in PARENT_WRITE_OPS:
    add(f"perm/parent-not-writable-{_op}/EACCES", partial(_parent_write, _op))


def _two_dirs(d: str, src_mode: int, dst_mode: int) -> None:
    """Directories a (holding U1's file f) and b with the given modes, owned by root."""
    os.mkdir(f"{d}/a")
    os.mkdir(f"{d}/b")
    make("reg", f"{d}/a/f")
    os.chown(f"{d}/a/f", U1, G1)
    os.chmod(f"{d}/a", src_mode)
    os.chmod(f"{d}/b", dst_mode)


@case("perm/rename-into-unwritable-dir/EACCES")
def rename_into_ro(d: str) -> None:
    """Moving a file needs write permission on the destination directory."""
    _two_dirs(d, 0o777, 0o555)
    user_expect(errno.EACCES, lambda: os.rename(f"{d}/a/f", f"{d}/b/f"))


@case("perm/rename-out-of-unwritable-dir/EACCES")
def rename_out_of_ro(d: str) -> None:
    """Moving a file needs write permission on the source directory."""
    _two_dirs(d, 0o555, 0o777)
    user_expect(errno.EACCES, lambda: os.rename(f"{d}/a/f", f"{d}/b/f"))


@case("perm/rename-between-writable-dirs/ok")
def rename_between_rw(d: str) -> None:
    """With write permission on both directories a non-owner may move a file."""
    _two_dirs(d, 0o777, 0o777)
    user_expect(0, lambda: os.rename(f"{d}/a/f", f"{d}/b/f"), uid=U2, gid=G2)


@case("perm/rename-unwritable-dir-across/EACCES")
def rename_dir_needs_write_on_itself(d: str) -> None:
    """Moving a directory to another parent rewrites its '..', so it must be writable itself."""
    _two_dirs(d, 0o777, 0o777)
    os.mkdir(f"{d}/a/sub", 0o755)
    user_expect(errno.EACCES, lambda: os.rename(f"{d}/a/sub", f"{d}/b/sub"))


@case("perm/rename-unwritable-dir-same-parent/ok")
def rename_dir_same_parent(d: str) -> None:
    """Renaming a directory within its parent leaves '..' alone, so its own mode does not matter."""
    _two_dirs(d, 0o777, 0o777)
    os.mkdir(f"{d}/a/sub", 0o755)
    user_expect(0, lambda: os.rename(f"{d}/a/sub", f"{d}/a/sub2"))


@case("perm/root-reads-mode-000/ok")
def root_reads(d: str) -> None:
    """Root's DAC override reads and writes any file."""
    make("reg", f"{d}/f", 0o000)
    os.close(os.open(f"{d}/f", os.O_RDWR))


@case("perm/root-exec-no-x-bits/EACCES")
def root_exec(d: str) -> None:
    """Even root cannot execute a file with no execute bit at all."""
    make("reg", f"{d}/f", 0o644)
    try:
        access(f"{d}/f", os.X_OK)
    except PermissionError:
        return
    raise AssertionError("expected EACCES, got success")


@case("perm/root-exec-one-x-bit/ok")
def root_exec_one(d: str) -> None:
    """Root may execute when any class has the execute bit."""
    make("reg", f"{d}/f", 0o001)
    access(f"{d}/f", os.X_OK)


@case("perm/root-searches-mode-000-dir/ok")
def root_search(d: str) -> None:
    """Root searches and lists directories whatever their mode."""
    os.mkdir(f"{d}/t", 0o000)
    make("reg", f"{d}/t/c")
    expect_eq("listing", ["c"], os.listdir(f"{d}/t"))


@case("perm/truncate-without-write/EACCES")
def truncate_no_write(d: str) -> None:
    """truncate needs write permission on the file."""
    write_file(f"{d}/f", b"data", 0o644)
    user_expect(errno.EACCES, lambda: os.truncate(f"{d}/f", 0))


@case("perm/open-trunc-without-write/EACCES")
def open_trunc_no_write(d: str) -> None:
    """O_TRUNC needs write permission, even combined with O_RDONLY."""
    write_file(f"{d}/f", b"data", 0o644)
    user_expect(errno.EACCES, lambda: closing_open(f"{d}/f", os.O_RDONLY | os.O_TRUNC))


@case("perm/creat-existing-without-write/EACCES")
def creat_existing_no_write(d: str) -> None:
    """O_CREAT on an existing file still checks the requested access."""
    write_file(f"{d}/f", b"data", 0o444)
    user_expect(errno.EACCES, lambda: closing_open(f"{d}/f", os.O_CREAT | os.O_WRONLY))


@case("perm/getxattr-without-read/EACCES")
def getxattr_no_read(d: str) -> None:
    """Reading a user xattr needs read permission on the file."""
    make("reg", f"{d}/f", 0o600)
    os.setxattr(f"{d}/f", "user.k", b"v")
    user_expect(errno.EACCES, lambda: os.getxattr(f"{d}/f", "user.k"))


@case("perm/setxattr-without-write/EACCES")
def setxattr_no_write(d: str) -> None:
    """Setting a user xattr needs write permission on the file."""
    make("reg", f"{d}/f", 0o644)
    user_expect(errno.EACCES, lambda: os.setxattr(f"{d}/f", "user.k", b"v"))


@case("perm/setxattr-with-write/ok")
def setxattr_write(d: str) -> None:
    """Any user with write permission may set a user xattr."""
    make("reg", f"{d}/f", 0o666)
    user_expect(0, lambda: os.setxattr(f"{d}/f", "user.k", b"v"))
    expect_eq("value", b"v", os.getxattr(f"{d}/f", "user.k"))


SEARCH_OPS: dict[str, Callable[[str], object]] = {
    "open": lambda p: closing_open(p, os.O_RDONLY),
    "stat": os.stat,
    "mkdir": os.mkdir,
    "unlink": os.unlink,
    "rename-source": lambda p: os.rename(p, p + "-moved"),
    "chmod": lambda p: os.chmod(p, 0o600),
}


def _deep_no_search(depth: int, blocked: int, op: str, d: str) -> None:
    """Search permission is needed on every component: one blocked level anywhere is EACCES."""
    path = d
    for level in range(depth):
        path = f"{path}/c{level}"
        os.mkdir(path, 0o777)
        os.chmod(path, 0o666 if level == blocked else 0o777)
    make("reg", f"{path}/x")
    os.chown(f"{path}/x", U1, G1)
    user_expect(errno.EACCES, lambda: SEARCH_OPS[op](f"{path}/x"))


def _via_symlink_no_search(op: str, d: str) -> None:
    """A symlink to a directory without search permission does not bypass it."""
    os.mkdir(f"{d}/s", 0o777)
    make("reg", f"{d}/s/x")
    os.chown(f"{d}/s/x", U1, G1)
    os.chmod(f"{d}/s", 0o666)
    os.symlink("s", f"{d}/l")
    user_expect(errno.EACCES, lambda: SEARCH_OPS[op](f"{d}/l/x"))


def _all_searchable(op: str, d: str) -> None:
    """With search permission on every level the same call goes through (the control case)."""
    path = f"{d}/c0/c1/c2"
    os.makedirs(path)
    for level in (f"{d}/c0", f"{d}/c0/c1", path):
        os.chmod(level, 0o777)
    make("reg", f"{path}/x")
    os.chown(f"{path}/x", U1, G1)
    user_expect(0, lambda: SEARCH_OPS[op](f"{path}/x" if op != "mkdir" else f"{path}/new"))


for _op in SEARCH_OPS:
    for _blocked in (0, 1, 2):
        add(f"perm/no-search-level-{_blocked}-of-3-{_op}/EACCES", partial(_deep_no_search, 3, _blocked, _op))
    add(f"perm/no-search-via-symlink-{_op}/EACCES", partial(_via_symlink_no_search, _op))
    add(f"perm/search-all-levels-{_op}/ok", partial(_all_searchable, _op))
