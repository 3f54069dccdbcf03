"""What survives unmount, remount, SIGTERM and kill -9 (sqlite: the store is a local file)."""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

import pytest

from tests.fuse.mounts import Mount
from tests.fuse.trees import make_tree, snapshot


def wait_unmounted(path: Path, timeout: float = 30) -> None:
    """Wait until the kernel no longer shows `path` as a mount point."""
    deadline = time.monotonic() + timeout
    while os.path.ismount(path):
        assert time.monotonic() < deadline, f"{path} still mounted"
        time.sleep(0.05)


def test_remount_keeps_tree_and_inode_numbers(sqlite_mount: Mount, tmp_path: Path) -> None:
    """Everything, inode numbers included, is the same after unmount and mount."""
    (sqlite_mount.path / "t").mkdir()
    make_tree(sqlite_mount.path / "t")
    before = snapshot(sqlite_mount.path / "t")
    inodes = {p.name: p.lstat().st_ino for p in (sqlite_mount.path / "t").iterdir()}
    sqlite_mount.restart()
    assert snapshot(sqlite_mount.path / "t") == before
    assert {p.name: p.lstat().st_ino for p in (sqlite_mount.path / "t").iterdir()} == inodes


def test_inode_number_stable_across_rename(sqlite_mount: Mount) -> None:
    """A renamed file and directory keep their inode numbers, before and after remount."""
    (sqlite_mount.path / "d").mkdir()
    (sqlite_mount.path / "d/f").write_text("x")
    ino_d, ino_f = (sqlite_mount.path / "d").stat().st_ino, (sqlite_mount.path / "d/f").stat().st_ino
    (sqlite_mount.path / "d").rename(sqlite_mount.path / "e")
    (sqlite_mount.path / "e/f").rename(sqlite_mount.path / "g")
    sqlite_mount.restart()
    assert (sqlite_mount.path / "e").stat().st_ino == ino_d
    assert (sqlite_mount.path / "g").stat().st_ino == ino_f


def test_kill_9_keeps_fsynced_data(sqlite_mount: Mount) -> None:
    """After kill -9 of the daemon, data that was fsync'ed is there on the next mount."""
    synced = os.urandom(300_000)
    fd = os.open(sqlite_mount.path / "f", os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, synced)
    os.fsync(fd)
    os.write(fd, b"not synced")
    os.kill(sqlite_mount.pid, signal.SIGKILL)
    with pytest.raises(OSError) as closing:  # the descriptor goes, but its flush cannot reach a dead daemon
        os.close(fd)
    assert closing.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    sqlite_mount.force_unmount()
    wait_unmounted(sqlite_mount.path)
    sqlite_mount.start()
    assert (sqlite_mount.path / "f").read_bytes()[: len(synced)] == synced


def test_sigterm_flushes_open_files_then_unmounts(sqlite_mount: Mount) -> None:
    """SIGTERM with a file still open and written: the data reaches the store and the mount goes."""
    payload = os.urandom(500_000)
    fd = os.open(sqlite_mount.path / "open", os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, payload)
    os.kill(sqlite_mount.pid, signal.SIGTERM)
    wait_unmounted(sqlite_mount.path)
    with pytest.raises(OSError):  # the daemon is gone; what matters is that it flushed first
        os.close(fd)
    sqlite_mount.start()
    assert (sqlite_mount.path / "open").read_bytes() == payload
    assert sqlite_mount.problems() == []


def test_unlinked_open_file_lives_until_close(sqlite_mount: Mount) -> None:
    """An unlinked file stays readable and writable through its descriptor; the name is gone at once."""
    path = sqlite_mount.path / "tmp"
    with open(path, "w+b") as f:
        f.write(b"before")
        f.flush()
        path.unlink()
        assert not path.exists()
        f.write(b" after")
        f.flush()
        f.seek(0)
        assert f.read() == b"before after"
        assert os.fstat(f.fileno()).st_nlink == 0
    assert os.listdir(sqlite_mount.path) == []


def test_umount_waits_for_flush_and_exit(sqlite_mount: Mount) -> None:
    """`cloudfs umount` returns only when the daemon has exited (no process left behind)."""
    (sqlite_mount.path / "f").write_bytes(b"x" * 1_000_000)
    pid = sqlite_mount.pid
    sqlite_mount.stop()
    assert _process_state(pid) in ("gone", "Z")


def _process_state(pid: int) -> str:
    """The process's state letter from /proc, or "gone"; a zombie has exited but waits to be reaped by its parent."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return stat_line.rpartition(")")[2].split()[0]
