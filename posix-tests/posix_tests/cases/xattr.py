"""Extended attributes: get/set/list/remove, value sizes, name rules, flags, ENODATA and ERANGE.

XATTR_CREATE/XATTR_REPLACE cases have ids starting `setxattr/flag-` so a binding that drops the flags
can exclude exactly them.
"""

import ctypes
import errno
import os
from functools import partial

from posix_tests.helpers import expect_eq, expect_errno, make
from posix_tests.registry import add, case

_libc = ctypes.CDLL(None, use_errno=True)
VALUES = {
    "empty": b"",
    "one-byte": b"x",
    "binary-nuls": bytes(range(256)),
    "4k": b"v" * 4096,
    "64k-max": b"w" * 65536,
}
NAMES = {
    "short": "user.a",
    "dots": "user.a.b.c",
    "spaces": "user.a b",
    "utf8": "user.caf\u00e9",
    "255-bytes": "user." + "n" * 250,
}


def _roundtrip(kind: str, value: str, d: str) -> None:
    """A user xattr on a file or directory reads back byte for byte."""
    make(kind, f"{d}/x")
    os.setxattr(f"{d}/x", "user.k", VALUES[value])
    expect_eq("value equal", True, os.getxattr(f"{d}/x", "user.k") == VALUES[value])


def _name(name: str, d: str) -> None:
    """Any name up to 255 bytes in the user namespace works and is listed."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", NAMES[name], b"v")
    expect_eq("listed", [NAMES[name]], os.listxattr(f"{d}/x"))


def _special_kind(kind: str, d: str) -> None:
    """Linux allows user xattrs only on regular files and directories: EPERM elsewhere."""
    make(kind, f"{d}/x")
    expect_errno(errno.EPERM, lambda: os.setxattr(f"{d}/x", "user.k", b"v", follow_symlinks=False))


for _kind in ("reg", "dir"):
    for _value in VALUES:
        add(f"setxattr/{_kind}-value-{_value}/roundtrip", partial(_roundtrip, _kind, _value))
for _name_key in NAMES:
    add(f"setxattr/name-{_name_key}/listed", partial(_name, _name_key))
for _kind in ("fifo", "sock", "chr", "symlink"):
    add(f"setxattr/user-on-{_kind}/EPERM", partial(_special_kind, _kind))


@case("setxattr/value-65537/E2BIG")
def value_too_big(d: str) -> None:
    """Values above XATTR_SIZE_MAX (64 KiB) are E2BIG."""
    make("reg", f"{d}/x")
    expect_errno(errno.E2BIG, os.setxattr, f"{d}/x", "user.k", b"v" * 65537)


@case("setxattr/name-256-bytes/ERANGE")
def name_too_long(d: str) -> None:
    """Names longer than 255 bytes are ERANGE."""
    make("reg", f"{d}/x")
    expect_errno(errno.ERANGE, os.setxattr, f"{d}/x", "user." + "n" * 251, b"v")


@case("setxattr/empty-name/ERANGE")
def name_empty(d: str) -> None:
    """An empty name is ERANGE."""
    make("reg", f"{d}/x")
    expect_errno(errno.ERANGE, os.setxattr, f"{d}/x", "", b"v")


@case("setxattr/no-namespace/EOPNOTSUPP")
def no_namespace(d: str) -> None:
    """A name outside every namespace is EOPNOTSUPP."""
    make("reg", f"{d}/x")
    expect_errno(errno.EOPNOTSUPP, os.setxattr, f"{d}/x", "plainname", b"v")


@case("setxattr/trusted-as-root/roundtrip")
def trusted_ns(d: str) -> None:
    """Root may use the trusted namespace."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "trusted.k", b"t")
    expect_eq("value", b"t", os.getxattr(f"{d}/x", "trusted.k"))


@case("setxattr/overwrite/shorter-value")
def overwrite(d: str) -> None:
    """Setting again replaces the whole value, not a prefix of it."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.k", b"long value")
    os.setxattr(f"{d}/x", "user.k", b"s")
    expect_eq("value", b"s", os.getxattr(f"{d}/x", "user.k"))


@case("setxattr/flag-create-existing/EEXIST")
def flag_create_existing(d: str) -> None:
    """XATTR_CREATE refuses a name that exists."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.k", b"1")
    expect_errno(errno.EEXIST, os.setxattr, f"{d}/x", "user.k", b"2", os.XATTR_CREATE)


@case("setxattr/flag-create-missing/ok")
def flag_create_missing(d: str) -> None:
    """XATTR_CREATE creates a missing name."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.k", b"1", os.XATTR_CREATE)
    expect_eq("value", b"1", os.getxattr(f"{d}/x", "user.k"))


@case("setxattr/flag-replace-missing/ENODATA")
def flag_replace_missing(d: str) -> None:
    """XATTR_REPLACE refuses a missing name with ENODATA."""
    make("reg", f"{d}/x")
    expect_errno(errno.ENODATA, os.setxattr, f"{d}/x", "user.k", b"1", os.XATTR_REPLACE)


@case("setxattr/flag-replace-existing/replaced")
def flag_replace_existing(d: str) -> None:
    """XATTR_REPLACE replaces an existing value."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.k", b"1")
    os.setxattr(f"{d}/x", "user.k", b"2", os.XATTR_REPLACE)
    expect_eq("value", b"2", os.getxattr(f"{d}/x", "user.k"))


@case("getxattr/missing/ENODATA")
def get_missing(d: str) -> None:
    """Reading an absent attribute is ENODATA."""
    make("reg", f"{d}/x")
    expect_errno(errno.ENODATA, os.getxattr, f"{d}/x", "user.nope")


@case("removexattr/missing/ENODATA")
def remove_missing(d: str) -> None:
    """Removing an absent attribute is ENODATA."""
    make("reg", f"{d}/x")
    expect_errno(errno.ENODATA, os.removexattr, f"{d}/x", "user.nope")


@case("removexattr/existing/gone")
def remove_existing(d: str) -> None:
    """A removed attribute is neither readable nor listed."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.k", b"1")
    os.removexattr(f"{d}/x", "user.k")
    expect_errno(errno.ENODATA, os.getxattr, f"{d}/x", "user.k")
    expect_eq("list", [], os.listxattr(f"{d}/x"))


@case("listxattr/new-file/empty")
def list_empty(d: str) -> None:
    """A new file has no user-visible attributes."""
    make("reg", f"{d}/x")
    expect_eq("list", [], os.listxattr(f"{d}/x"))


@case("listxattr/fifty/all-listed")
def list_many(d: str) -> None:
    """Every attribute set is listed, once."""
    make("reg", f"{d}/x")
    names = {f"user.k{i}" for i in range(50)}
    for name in names:
        os.setxattr(f"{d}/x", name, name.encode())
    expect_eq("names", sorted(names), sorted(os.listxattr(f"{d}/x")))


def _raw_size(fn_name: str, path: str, name: str | None, size: int) -> int:
    """Call getxattr/listxattr with a buffer of `size`; return the length or raise OSError."""
    buf = ctypes.create_string_buffer(max(size, 1))
    args = (path.encode(), name.encode(), buf, size) if name else (path.encode(), buf, size)
    n = getattr(_libc, fn_name)(*args)
    if n < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)
    return n


@case("getxattr/small-buffer/ERANGE")
def get_erange(d: str) -> None:
    """A buffer smaller than the value is ERANGE."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.k", b"123456")
    expect_errno(errno.ERANGE, _raw_size, "getxattr", f"{d}/x", "user.k", 3)


@case("getxattr/size-zero/returns-length")
def get_size_zero(d: str) -> None:
    """A zero-size buffer asks for the value's length."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.k", b"123456")
    expect_eq("length", 6, _raw_size("getxattr", f"{d}/x", "user.k", 0))


@case("listxattr/small-buffer/ERANGE")
def list_erange(d: str) -> None:
    """A buffer smaller than the name list is ERANGE."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.key", b"1")
    expect_errno(errno.ERANGE, _raw_size, "listxattr", f"{d}/x", None, 3)


@case("listxattr/size-zero/returns-length")
def list_size_zero(d: str) -> None:
    """A zero-size buffer asks for the list's length: each name plus its NUL."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.key", b"1")
    expect_eq("length", len(b"user.key\0"), _raw_size("listxattr", f"{d}/x", None, 0))


@case("setxattr/survives-rename/kept")
def survives_rename(d: str) -> None:
    """Attributes belong to the inode, so they move with it."""
    make("reg", f"{d}/x")
    os.setxattr(f"{d}/x", "user.k", b"1")
    os.rename(f"{d}/x", f"{d}/y")
    expect_eq("value", b"1", os.getxattr(f"{d}/y", "user.k"))


@case("setxattr/hard-link/shared")
def shared_by_link(d: str) -> None:
    """Attributes set through one link are seen through the other."""
    make("reg", f"{d}/x")
    os.link(f"{d}/x", f"{d}/y")
    os.setxattr(f"{d}/x", "user.k", b"1")
    expect_eq("value", b"1", os.getxattr(f"{d}/y", "user.k"))


@case("fsetxattr/fd/roundtrip")
def via_fd(d: str) -> None:
    """fsetxattr/fgetxattr/flistxattr/fremovexattr work on an open fd."""
    make("reg", f"{d}/x")
    fd = os.open(f"{d}/x", os.O_RDONLY)
    try:
        os.setxattr(fd, "user.k", b"fd")
        expect_eq("value, list", (b"fd", ["user.k"]), (os.getxattr(fd, "user.k"), os.listxattr(fd)))
        os.removexattr(fd, "user.k")
        expect_eq("list after remove", [], os.listxattr(fd))
    finally:
        os.close(fd)


@case("getxattr/through-symlink/target-value")
def through_symlink(d: str) -> None:
    """getxattr follows a symlink; lgetxattr on the link does not find the target's attribute."""
    make("reg", f"{d}/t")
    os.setxattr(f"{d}/t", "user.k", b"1")
    os.symlink("t", f"{d}/x")
    expect_eq("value", b"1", os.getxattr(f"{d}/x", "user.k"))
    expect_errno(errno.ENODATA, lambda: os.getxattr(f"{d}/x", "user.k", follow_symlinks=False))
