"""Path resolution, per syscall: every path-taking call x every way a path can fail to resolve.

Linux resolves all components before a syscall looks at its own arguments, so each bad path fails with
the same errno whatever the call; checking it for every call catches filesystems that resolve paths
themselves (and get one of them wrong).
"""

import errno
import os
import stat
from collections.abc import Callable
from functools import partial
from typing import Any

from posix_tests.helpers import U1, access, closing_open, expect_errno, make, user_expect
from posix_tests.registry import add

# Each op performs one syscall on `p`; `d` is the scratch dir, holding `aux` (a file owned by U1).
OPS: dict[str, Callable[[str, str], Any]] = {
    "open": lambda p, d: closing_open(p, os.O_RDONLY),
    "open-creat": lambda p, d: closing_open(p, os.O_CREAT | os.O_WRONLY),
    "creat": lambda p, d: closing_open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC),
    "mkdir": lambda p, d: os.mkdir(p),
    "mkfifo": lambda p, d: os.mkfifo(p),
    "mknod": lambda p, d: os.mknod(p, stat.S_IFREG | 0o644),
    "rmdir": lambda p, d: os.rmdir(p),
    "unlink": lambda p, d: os.unlink(p),
    "link-source": lambda p, d: os.link(p, f"{d}/new"),
    "link-target": lambda p, d: os.link(f"{d}/aux", p),
    "symlink": lambda p, d: os.symlink("target", p),
    "readlink": lambda p, d: os.readlink(p),
    "rename-source": lambda p, d: os.rename(p, f"{d}/new"),
    "rename-target": lambda p, d: os.rename(f"{d}/aux", p),
    "truncate": lambda p, d: os.truncate(p, 0),
    "chmod": lambda p, d: os.chmod(p, 0o644),
    "chown": lambda p, d: os.chown(p, -1, -1),
    "lchown": lambda p, d: os.lchown(p, -1, -1),
    "utimensat": lambda p, d: os.utime(p, None),
    "utimensat-nofollow": lambda p, d: os.utime(p, None, follow_symlinks=False),
    "stat": lambda p, d: os.stat(p),
    "lstat": lambda p, d: os.lstat(p),
    "statvfs": lambda p, d: os.statvfs(p),
    "access": lambda p, d: access(p, os.F_OK),
    "getxattr": lambda p, d: os.getxattr(p, "user.x"),
    "setxattr": lambda p, d: os.setxattr(p, "user.x", b"v"),
    "listxattr": lambda p, d: os.listxattr(p),
    "removexattr": lambda p, d: os.removexattr(p, "user.x"),
    "opendir": lambda p, d: os.listdir(p),
    "chdir": lambda p, d: os.chdir(p),
}
CREATING = {"open-creat", "creat", "mkdir", "mkfifo", "mknod", "link-target", "symlink", "rename-target"}
# Calls that follow a final symlink, so a dangling one is ENOENT for them.
FOLLOWING = {
    "open",
    "truncate",
    "chmod",
    "chown",
    "utimensat",
    "stat",
    "statvfs",
    "getxattr",
    "setxattr",
    "listxattr",
    "removexattr",
    "opendir",
    "chdir",
}


def _component_kind(kind: str, d: str) -> str:
    """A non-directory of `kind` used as a path component."""
    make(kind, f"{d}/c")
    return f"{d}/c/x"


def _symlink_to_reg(d: str) -> str:
    """A symlink to a regular file used as a component: resolution reaches a non-directory."""
    make("reg", f"{d}/f")
    os.symlink("f", f"{d}/c")
    return f"{d}/c/x"


def _dangling(d: str) -> str:
    """A dangling symlink used as a component."""
    os.symlink("missing", f"{d}/c")
    return f"{d}/c/x"


def _loop(d: str) -> str:
    """A symlink pointing at itself used as a component."""
    os.symlink("c", f"{d}/c")
    return f"{d}/c/x"


def _chain(d: str) -> str:
    """A chain of 41 symlinks ending at a directory: one more than Linux's MAXSYMLINKS (40)."""
    os.mkdir(f"{d}/real")
    os.symlink("real", f"{d}/l40")
    for i in range(40):
        os.symlink(f"l{i + 1}", f"{d}/l{i}")
    return f"{d}/l0/x"


def _no_search(d: str) -> str:
    """A directory without search permission for U1 used as a component."""
    os.mkdir(f"{d}/s", 0o666)
    os.chmod(f"{d}/s", 0o666)
    return f"{d}/s/x"


CONDITIONS: dict[str, tuple[Callable[[str], str], int]] = {
    **{f"component-{k}": (partial(_component_kind, k), errno.ENOTDIR) for k in ("reg", "fifo", "sock", "chr", "blk")},
    "component-symlink-to-reg": (_symlink_to_reg, errno.ENOTDIR),
    "component-missing": (lambda d: f"{d}/missing/x", errno.ENOENT),
    "component-dangling-symlink": (_dangling, errno.ENOENT),
    "component-symlink-loop": (_loop, errno.ELOOP),
    "component-symlink-chain-41": (_chain, errno.ELOOP),
    "component-name-256": (lambda d: f"{d}/{'n' * 256}/x", errno.ENAMETOOLONG),
    "final-name-256": (lambda d: f"{d}/{'n' * 256}", errno.ENAMETOOLONG),
    "path-4096": (lambda d: d + "/a" * 2048, errno.ENAMETOOLONG),
}


def _setup_aux(d: str) -> None:
    """The existing file that two-path calls use as their other argument, owned by U1."""
    make("reg", f"{d}/aux")
    os.chown(f"{d}/aux", U1, -1)


def _check(op: str, cond: str, d: str) -> None:
    """Set up the bad path and assert the op fails with the condition's errno."""
    setup, expected = CONDITIONS[cond]
    _setup_aux(d)
    path = setup(d)
    expect_errno(expected, OPS[op], path, d)


def _check_no_search(op: str, d: str) -> None:
    """As U1, a component without search permission fails with EACCES."""
    _setup_aux(d)
    path = _no_search(d)
    user_expect(errno.EACCES, lambda: OPS[op](path, d))


def _final_missing(op: str, d: str) -> None:
    """A call that needs an existing final component fails with ENOENT when it is missing."""
    _setup_aux(d)
    expect_errno(errno.ENOENT, OPS[op], f"{d}/missing", d)


def _final_dangling(op: str, d: str) -> None:
    """A call that follows a final symlink fails with ENOENT when the symlink dangles."""
    _setup_aux(d)
    os.symlink("missing", f"{d}/link")
    expect_errno(errno.ENOENT, OPS[op], f"{d}/link", d)


def _trailing_slash(op: str, d: str) -> None:
    """A regular file named with a trailing slash is not a directory: ENOTDIR."""
    _setup_aux(d)
    make("reg", f"{d}/f")
    expect_errno(errno.ENOTDIR, OPS[op], f"{d}/f/", d)


def _register() -> None:
    """Register the op x condition matrix."""
    for op in OPS:
        for cond, (_, expected) in CONDITIONS.items():
            add(f"{op}/{cond}/{errno.errorcode[expected]}", partial(_check, op, cond))
        add(f"{op}/component-no-search/EACCES", partial(_check_no_search, op))
        if op not in CREATING:
            add(f"{op}/final-missing/ENOENT", partial(_final_missing, op))
            add(f"{op}/trailing-slash-on-reg/ENOTDIR", partial(_trailing_slash, op))
        if op in FOLLOWING:
            add(f"{op}/final-dangling-symlink/ENOENT", partial(_final_dangling, op))


_register()
