"""Creating objects: open(O_CREAT), creat, mkdir, mkfifo, mknod.

Covers EEXIST over every existing kind, the mode a new object gets from the requested mode and the
umask, its owner and group, and mknod's type rules.
"""

import errno
import os
import stat
from collections.abc import Callable
from functools import partial

from posix_tests.helpers import (
    DEVICES,
    G1,
    G2,
    IFMT,
    KINDS,
    U1,
    closing_open,
    expect_eq,
    expect_errno,
    make,
    mode_of,
    user_expect,
    user_value,
)
from posix_tests.registry import add, case

CREATORS: dict[str, Callable[[str, int], object]] = {
    "open-creat": lambda p, m: closing_open(p, os.O_CREAT | os.O_WRONLY, m),
    "mkdir": lambda p, m: os.mkdir(p, m),
    "mkfifo": lambda p, m: os.mkfifo(p, m),
    "mknod-reg": lambda p, m: os.mknod(p, stat.S_IFREG | m),
    "mknod-sock": lambda p, m: os.mknod(p, stat.S_IFSOCK | m),
}
EXCL_CREATORS: dict[str, Callable[[str, str], object]] = {
    "open-creat-excl": lambda p, d: closing_open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY),
    "mkdir": lambda p, d: os.mkdir(p),
    "mkfifo": lambda p, d: os.mkfifo(p),
    "mknod": lambda p, d: os.mknod(p, stat.S_IFREG | 0o644),
    "symlink": lambda p, d: os.symlink("target", p),
    "link": lambda p, d: os.link(f"{d}/src", p),
}
MODES = (0o000, 0o600, 0o644, 0o755, 0o777, 0o1777, 0o2755, 0o4755)
UMASKS = (0o000, 0o022, 0o077)


def _exists(creator: str, kind: str, d: str) -> None:
    """Creating a name that exists as `kind` fails with EEXIST and leaves the object alone."""
    make("reg", f"{d}/src")
    make(kind, f"{d}/x")
    before = os.lstat(f"{d}/x")
    expect_errno(errno.EEXIST, EXCL_CREATORS[creator], f"{d}/x", d)
    after = os.lstat(f"{d}/x")
    expect_eq("object after EEXIST (ino, mode)", (before.st_ino, before.st_mode), (after.st_ino, after.st_mode))


def _mode(creator: str, mode: int, umask: int, d: str) -> None:
    """A new object gets the requested mode minus the umask; mkdir drops setuid/setgid."""
    os.umask(umask)
    CREATORS[creator](f"{d}/x", mode)
    keep = 0o1777 if creator == "mkdir" else 0o7777
    expect_eq("mode", oct(mode & ~umask & keep), oct(mode_of(f"{d}/x", follow=False)))


def _owner_root(creator: str, d: str) -> None:
    """Root creating in a plain directory owned by group G2 gets uid 0 and its own gid 0."""
    os.mkdir(f"{d}/p")
    os.chown(f"{d}/p", U1, G2)
    CREATORS[creator](f"{d}/p/x", 0o644)
    st = os.lstat(f"{d}/p/x")
    expect_eq("uid, gid", (0, 0), (st.st_uid, st.st_gid))


def _owner_user(creator: str, d: str) -> None:
    """A non-root creator owns the new object with its effective uid and gid."""
    path = f"{d}/x"

    def create() -> tuple[int, int]:
        """Create the object and report its owner."""
        CREATORS[creator](path, 0o644)
        st = os.lstat(path)
        return st.st_uid, st.st_gid

    expect_eq("uid, gid", (U1, G1), user_value(create))


def _mknod_kind(kind: str, d: str) -> None:
    """mknod creates exactly the requested type, with the device number for devices."""
    dev = DEVICES.get(kind, 0)
    os.mknod(f"{d}/x", IFMT[kind] | 0o600, dev)
    st = os.lstat(f"{d}/x")
    expect_eq("type", stat.S_IFMT(st.st_mode), IFMT[kind])
    if dev:
        expect_eq("rdev", (os.major(dev), os.minor(dev)), (os.major(st.st_rdev), os.minor(st.st_rdev)))


def _register() -> None:
    """Register the EEXIST matrix, the mode x umask matrix and the ownership cases."""
    for creator in EXCL_CREATORS:
        for kind in KINDS:
            add(f"{creator}/exists-{kind}/EEXIST", partial(_exists, creator, kind))
    for creator in CREATORS:
        for mode in MODES:
            for umask in UMASKS:
                add(f"{creator}/mode-{mode:04o}-umask-{umask:03o}/mode", partial(_mode, creator, mode, umask))
        add(f"{creator}/owner-root/uid-gid", partial(_owner_root, creator))
        add(f"{creator}/owner-user/uid-gid", partial(_owner_user, creator))
    for kind in ("reg", "fifo", "sock", "chr", "blk"):
        add(f"mknod/kind-{kind}/type", partial(_mknod_kind, kind))


_register()


@case("mknod/kind-dir/EPERM")
def mknod_dir(d: str) -> None:
    """mknod refuses to make a directory with EPERM."""
    expect_errno(errno.EPERM, os.mknod, f"{d}/x", stat.S_IFDIR | 0o755)


@case("mknod/kind-symlink/EINVAL")
def mknod_symlink(d: str) -> None:
    """mknod refuses a symlink type with EINVAL."""
    expect_errno(errno.EINVAL, os.mknod, f"{d}/x", stat.S_IFLNK | 0o755)


@case("mknod/chr-as-user/EPERM")
def mknod_chr_user(d: str) -> None:
    """Only a privileged process may create device nodes."""
    user_expect(errno.EPERM, lambda: os.mknod(f"{d}/x", stat.S_IFCHR | 0o600, DEVICES["chr"]))


@case("mknod/fifo-as-user/ok")
def mknod_fifo_user(d: str) -> None:
    """Anyone with write permission may create a FIFO with mknod."""
    user_expect(0, lambda: os.mknod(f"{d}/x", stat.S_IFIFO | 0o600))


@case("mkdir/new-dir/nlink-2")
def mkdir_nlink(d: str) -> None:
    """A new directory has two links: its entry and its own '.'."""
    os.mkdir(f"{d}/x")
    expect_eq("nlink", 2, os.stat(f"{d}/x").st_nlink)


@case("mkdir/parent/nlink-plus-1")
def mkdir_parent_nlink(d: str) -> None:
    """A new subdirectory's '..' adds one link to its parent."""
    before = os.stat(d).st_nlink
    os.mkdir(f"{d}/x")
    expect_eq("parent nlink", before + 1, os.stat(d).st_nlink)


@case("rmdir/parent/nlink-minus-1")
def rmdir_parent_nlink(d: str) -> None:
    """Removing a subdirectory takes its '..' link off the parent."""
    os.mkdir(f"{d}/x")
    before = os.stat(d).st_nlink
    os.rmdir(f"{d}/x")
    expect_eq("parent nlink", before - 1, os.stat(d).st_nlink)


@case("mkdir/trailing-slash/ok")
def mkdir_trailing_slash(d: str) -> None:
    """A trailing slash on mkdir's path names the directory to create."""
    os.mkdir(f"{d}/x/")
    expect_eq("is dir", True, stat.S_ISDIR(os.lstat(f"{d}/x").st_mode))


@case("mkdir/empty-path/ENOENT")
def mkdir_empty(d: str) -> None:
    """An empty path never names anything."""
    expect_errno(errno.ENOENT, os.mkdir, "")


@case("mkdir/new-dir/empty-listing")
def mkdir_empty_listing(d: str) -> None:
    """A new directory lists nothing (readdir's '.' and '..' are not reported by listdir)."""
    os.mkdir(f"{d}/x")
    expect_eq("entries", [], os.listdir(f"{d}/x"))


@case("creat/new/created-empty")
def creat_new(d: str) -> None:
    """creat() makes an empty regular file."""
    fd = os.open(f"{d}/x", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.close(fd)
    st = os.stat(f"{d}/x")
    expect_eq("type, size", (stat.S_IFREG, 0), (stat.S_IFMT(st.st_mode), st.st_size))


@case("creat/existing/truncates")
def creat_existing(d: str) -> None:
    """creat() on an existing file truncates it to zero and keeps its mode."""
    with open(f"{d}/x", "wb") as f:
        f.write(b"data")
    os.chmod(f"{d}/x", 0o640)
    os.close(os.open(f"{d}/x", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o777))
    st = os.stat(f"{d}/x")
    expect_eq("size, mode", (0, 0o640), (st.st_size, stat.S_IMODE(st.st_mode)))


@case("creat/fd/write-only-EBADF")
def creat_write_only(d: str) -> None:
    """creat() opens write-only, so reading the fd fails with EBADF."""
    fd = os.open(f"{d}/x", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        expect_errno(errno.EBADF, os.read, fd, 1)
    finally:
        os.close(fd)


@case("creat/dir/EISDIR")
def creat_dir(d: str) -> None:
    """creat() on a directory fails with EISDIR."""
    os.mkdir(f"{d}/x")
    expect_errno(errno.EISDIR, os.open, f"{d}/x", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)


@case("mkdir/in-unlinked-cwd/ENOENT")
def mkdir_in_removed_dir(d: str) -> None:
    """A directory that was removed cannot gain entries, even through a cwd still inside it."""
    os.mkdir(f"{d}/x")
    os.chdir(f"{d}/x")
    os.rmdir(f"{d}/x")
    expect_errno(errno.ENOENT, os.mkdir, "y")
