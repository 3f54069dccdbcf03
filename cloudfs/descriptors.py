"""Which files of a mount a process still holds open, read from /proc.

FUSE sends FLUSH at every close(2) and does not say whether it was the last
descriptor of the file. A shell's `cmd > f` opens `f`, dup2s it onto stdout and
closes the original before anything is written: without knowing that stdout
still holds the file, a new file would be stored empty at that close and again
with its data at the last one.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def _unescape(field: str) -> str:
    """A path from /proc/self/mountinfo, where space, tab, newline and backslash are octal escapes."""
    for escaped, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, char)
    return field


def mount_id(mountpoint: str) -> int | None:
    """The kernel's id of the topmost mount on `mountpoint` (as /proc/PID/fdinfo names it), if mounted."""
    found = None
    try:
        with open("/proc/self/mountinfo") as lines:
            for line in lines:
                fields = line.split(" ", 5)
                if len(fields) > 4 and _unescape(fields[4]) == mountpoint:
                    found = int(fields[0])
    except OSError:
        return None
    return found


def _fdinfo(pid: int, fd: str) -> dict[str, str]:
    """The `key: value` lines of one descriptor's /proc fdinfo."""
    with open(f"/proc/{pid}/fdinfo/{fd}") as info:
        return dict(line.split(":", 1) for line in info if ":" in line)


class OpenDescriptors:
    """Answers whether a process still has a descriptor on a file of the mount at `mountpoint`."""

    def __init__(self, mountpoint: str) -> None:
        """Probe the mount at `mountpoint`; its id is looked up once the mount exists."""
        self.mountpoint = os.path.realpath(mountpoint)
        self._mount_id: int | None = None

    def holds(self, pid: int, ino: int) -> bool:
        """True when process `pid` has a descriptor open on inode `ino` of this mount.

        False whenever it cannot tell (process gone, /proc unreadable, another mount
        namespace), so a caller that defers work on True never defers on a guess.
        """
        if self._mount_id is None:
            self._mount_id = mount_id(self.mountpoint)
        if self._mount_id is None or pid <= 0:
            return False
        prefix = self.mountpoint.rstrip("/") + "/"
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            return False
        for fd in fds:
            try:
                # readlink first: one syscall that rules out every descriptor outside the mount
                if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith(prefix):
                    continue
                info = _fdinfo(pid, fd)
            except OSError:
                continue
            if info.get("mnt_id", "").strip() == str(self._mount_id) and info.get("ino", "").strip() == str(ino):
                return True
        return False
