"""Ownership rules as non-root users: sticky directories, chmod/chown by non-owners, utimensat rights,
setuid/setgid bits cleared on write and chown, and setgid directories passing their group on.
"""

import errno
import os
import stat
from collections.abc import Callable
from functools import partial

from posix_tests.helpers import (
    G1,
    G2,
    G3,
    U1,
    U2,
    as_user,
    expect_eq,
    make,
    mode_of,
    user_expect,
    user_value,
    write_file,
)
from posix_tests.registry import add, case


def _sticky_dir(d: str, owner: int = 0) -> str:
    """A world-writable sticky directory holding U1's file f and U1's directory sub."""
    os.mkdir(f"{d}/s")
    os.chmod(f"{d}/s", 0o1777)
    os.chown(f"{d}/s", owner, -1)
    make("reg", f"{d}/s/f")
    os.mkdir(f"{d}/s/sub")
    for name in ("f", "sub"):
        os.chown(f"{d}/s/{name}", U1, G1)
    return f"{d}/s"


STICKY_OPS: dict[str, Callable[[str], object]] = {
    "unlink": lambda s: os.unlink(f"{s}/f"),
    "rmdir": lambda s: os.rmdir(f"{s}/sub"),
    "rename-away": lambda s: os.rename(f"{s}/f", f"{s}/g"),
    "rename-over": lambda s: os.rename(f"{s}/mine", f"{s}/f"),
}
# Who tries: (credentials, owner of the sticky directory, expected errno).
STICKY_ACTORS = {
    "stranger": ({"uid": U2, "gid": G2}, 0, errno.EPERM),
    "file-owner": ({"uid": U1, "gid": G1}, 0, 0),
    "dir-owner": ({"uid": U2, "gid": G2}, U2, 0),
}


def _sticky(op: str, actor: str, d: str) -> None:
    """In a sticky directory only the entry's owner, the directory's owner or root may remove it."""
    creds, dir_owner, expected = STICKY_ACTORS[actor]
    s = _sticky_dir(d, dir_owner)
    make("reg", f"{s}/mine")
    os.chown(f"{s}/mine", creds["uid"], creds["gid"])
    user_expect(expected, lambda: STICKY_OPS[op](s), **creds)


def _not_sticky(op: str, d: str) -> None:
    """Without the sticky bit anyone with write permission may remove others' entries."""
    s = _sticky_dir(d)
    os.chmod(s, 0o777)
    make("reg", f"{s}/mine")
    os.chown(f"{s}/mine", U2, G2)
    user_expect(0, lambda: STICKY_OPS[op](s), uid=U2, gid=G2)


for _op in STICKY_OPS:
    for _actor, (_, _, _exp) in STICKY_ACTORS.items():
        add(f"sticky/{_op}-by-{_actor}/{'EPERM' if _exp else 'ok'}", partial(_sticky, _op, _actor))
    add(f"sticky/{_op}-not-sticky-by-stranger/ok", partial(_not_sticky, _op))


def _owned_file(d: str, mode: int = 0o644) -> str:
    """A regular file owned by U1:G1 with an exact mode."""
    make("reg", f"{d}/f")
    os.chown(f"{d}/f", U1, G1)
    os.chmod(f"{d}/f", mode)
    return f"{d}/f"


def _fchmod(path: str, mode: int) -> None:
    """chmod through an fd."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _fchown(path: str, uid: int, gid: int) -> None:
    """chown through an fd."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


CHOWNERS: dict[str, Callable[[str, int, int], None]] = {
    "chown": os.chown,
    "lchown": os.lchown,
    "fchown": _fchown,
}
# (uid, gid, credentials, expected errno) for a file owned by U1:G1.
CHOWN_RULES = {
    "owner-gives-away": (U2, -1, {"uid": U1, "gid": G1}, errno.EPERM),
    "owner-keeps-uid": (U1, -1, {"uid": U1, "gid": G1}, 0),
    "owner-to-member-group": (-1, G3, {"uid": U1, "gid": G1, "groups": (G3,)}, 0),
    "owner-to-nonmember-group": (-1, G2, {"uid": U1, "gid": G1}, errno.EPERM),
    "owner-noop": (-1, -1, {"uid": U1, "gid": G1}, 0),
    "stranger-chgrp": (-1, G2, {"uid": U2, "gid": G2}, errno.EPERM),
    "stranger-takes": (U2, -1, {"uid": U2, "gid": G2}, errno.EPERM),
}


def _chown_rule(call: str, rule: str, d: str) -> None:
    """Non-root may only change the group of its own files, to a group it belongs to."""
    uid, gid, creds, expected = CHOWN_RULES[rule]
    path = _owned_file(d)
    user_expect(expected, lambda: CHOWNERS[call](path, uid, gid), **creds)
    if expected == 0 and gid != -1:
        expect_eq("gid", gid, os.stat(path).st_gid)


for _call in CHOWNERS:
    for _rule, (*_, _exp) in CHOWN_RULES.items():
        add(f"{_call}/{_rule}/{'EPERM' if _exp else 'ok'}", partial(_chown_rule, _call, _rule))


def _chmod_rule(call: str, who: str, d: str) -> None:
    """Only the owner (or root) may chmod."""
    path = _owned_file(d)
    fn = os.chmod if call == "chmod" else _fchmod
    creds = {"uid": U1, "gid": G1} if who == "owner" else {"uid": U2, "gid": G1}
    user_expect(0 if who == "owner" else errno.EPERM, lambda: fn(path, 0o600), **creds)


for _call in ("chmod", "fchmod"):
    add(f"{_call}/by-owner/ok", partial(_chmod_rule, _call, "owner"))
    add(f"{_call}/by-group-member/EPERM", partial(_chmod_rule, _call, "group"))


@case("chmod/owner-setgid-nonmember-group/bit-dropped")
def chmod_sgid_nonmember(d: str) -> None:
    """An owner outside the file's group may chmod, but the setgid bit is silently dropped."""
    path = _owned_file(d)
    os.chown(path, U1, G2)
    user_value(lambda: os.chmod(path, 0o2755), uid=U1, gid=G1)
    expect_eq("mode", oct(0o755), oct(mode_of(path)))


@case("chmod/owner-setgid-member-group/bit-kept")
def chmod_sgid_member(d: str) -> None:
    """An owner in the file's group may set setgid."""
    path = _owned_file(d)
    user_value(lambda: os.chmod(path, 0o2755), uid=U1, gid=G1)
    expect_eq("mode", oct(0o2755), oct(mode_of(path)))


def _write_byte(path: str) -> None:
    """Write one byte at the start of the file."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)


SETID_ACTIONS: dict[str, Callable[[str], object]] = {
    "write": _write_byte,
    "truncate": lambda p: os.truncate(p, 100),
}


def _clear_on(action: str, mode: int, who: str, d: str) -> None:
    """Writing or truncating clears setuid, and setgid when group-executable, unless done by root."""
    path = _owned_file(d, mode)
    if who == "root":
        SETID_ACTIONS[action](path)
        want = mode
    else:
        user_value(lambda: SETID_ACTIONS[action](path), uid=U1, gid=G1)
        # A setgid bit without group execute marks mandatory locking, not privilege: it stays.
        want = mode & ~stat.S_ISUID & ~(stat.S_ISGID if mode & 0o010 else 0)
    expect_eq("mode", oct(want), oct(mode_of(path)))


for _action in SETID_ACTIONS:
    for _mode in (0o4755, 0o2755, 0o6755, 0o2745, 0o6777):
        for _who in ("owner", "root"):
            add(f"setid/{_action}-{_mode:04o}-by-{_who}/mode", partial(_clear_on, _action, _mode, _who))


@case("setid/chown-by-owner/cleared")
def chgrp_clears(d: str) -> None:
    """A non-root owner changing the group clears setuid and setgid."""
    path = _owned_file(d, 0o6755)
    user_value(lambda: os.chown(path, -1, G3), uid=U1, gid=G1, groups=(G3,))
    expect_eq("mode", oct(0o755), oct(mode_of(path)))


def _sgid_dir(d: str) -> str:
    """A world-writable setgid directory owned by root:G2."""
    os.mkdir(f"{d}/g")
    os.chown(f"{d}/g", 0, G2)
    os.chmod(f"{d}/g", 0o2777)
    return f"{d}/g"


SGID_CREATORS: dict[str, Callable[[str], object]] = {
    "file": lambda p: write_file(p, b""),
    "mkdir": lambda p: os.mkdir(p),
    "mkfifo": lambda p: os.mkfifo(p),
    "symlink": lambda p: os.symlink("t", p),
}


def _sgid_inherit(kind: str, who: str, d: str) -> None:
    """Objects created in a setgid directory take its group, whoever creates them."""
    g = _sgid_dir(d)
    path = f"{g}/x"
    if who == "root":
        SGID_CREATORS[kind](path)
    else:
        user_value(lambda: SGID_CREATORS[kind](path), uid=U1, gid=G1)
    expect_eq("gid", G2, os.lstat(path).st_gid)


for _kind in SGID_CREATORS:
    for _who in ("root", "user"):
        add(f"setgid-dir/{_kind}-by-{_who}/group-inherited", partial(_sgid_inherit, _kind, _who))


@case("setgid-dir/mkdir/setgid-bit-inherited")
def sgid_subdir_bit(d: str) -> None:
    """A subdirectory of a setgid directory is setgid too, so inheritance continues."""
    g = _sgid_dir(d)
    user_value(lambda: os.mkdir(f"{g}/x", 0o755), uid=U1, gid=G1)
    expect_eq("mode", oct(0o2755), oct(mode_of(f"{g}/x")))


@case("setgid-dir/file-setgid-by-nonmember/bit-stripped")
def sgid_file_stripped(d: str) -> None:
    """A non-member creating a setgid file in a setgid directory does not get the setgid bit."""
    g = _sgid_dir(d)
    user_value(lambda: os.close(os.open(f"{g}/x", os.O_CREAT | os.O_WRONLY, 0o2755)), uid=U1, gid=G1)
    expect_eq("mode", oct(0o755), oct(mode_of(f"{g}/x")))


@case("setgid-dir/plain-dir/creator-group")
def no_sgid(d: str) -> None:
    """Without setgid, new objects take the creator's group."""
    g = _sgid_dir(d)
    os.chmod(g, 0o777)
    user_value(lambda: write_file(f"{g}/x", b""), uid=U1, gid=G1)
    expect_eq("gid", G1, os.stat(f"{g}/x").st_gid)


# (credentials, file mode, explicit times?, expected errno) for utimensat on U1's file.
UTIME_RULES = {
    "owner-explicit": ({"uid": U1, "gid": G1}, 0o444, True, 0),
    "writer-now": ({"uid": U2, "gid": G2}, 0o666, False, 0),
    "writer-explicit": ({"uid": U2, "gid": G2}, 0o666, True, errno.EPERM),
    "reader-now": ({"uid": U2, "gid": G2}, 0o644, False, errno.EACCES),
    "reader-explicit": ({"uid": U2, "gid": G2}, 0o644, True, errno.EPERM),
}


def _utime_rule(rule: str, d: str) -> None:
    """Setting the current time needs write access; setting explicit times needs ownership."""
    creds, mode, explicit, expected = UTIME_RULES[rule]
    path = _owned_file(d, mode)
    user_expect(expected, lambda: os.utime(path, ns=(1, 2)) if explicit else os.utime(path), **creds)


for _rule, (*_, _exp) in UTIME_RULES.items():
    add(f"utimensat/{_rule}/{errno.errorcode.get(_exp, 'ok')}", partial(_utime_rule, _rule))


@case("chown/user-sees-result/uid-gid")
def user_sees_chown(d: str) -> None:
    """A group change by the owner is visible to the owner at once."""
    path = _owned_file(d)
    got = as_user(lambda: (os.chown(path, -1, G3), os.stat(path).st_gid)[1], uid=U1, gid=G1, groups=(G3,))
    expect_eq("gid", G3, got.value)
