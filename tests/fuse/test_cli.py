"""The cloudfs command as a user meets it: help, bad input, mount(8) and fstab."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cloudfs import __version__
from tests.fuse.mounts import CLOUDFS, Mount, cloudfs


def test_version_and_help() -> None:
    """--version names the version; --help lists the commands and the source syntax."""
    assert cloudfs("--version").stdout.strip() == f"cloudfs {__version__}"
    shown = cloudfs("mount", "--help")
    assert shown.returncode == 0
    assert "sqlite:PATH" in shown.stdout and "s3:BUCKET" in shown.stdout and "-o OPT" in shown.stdout


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nosuchscheme:x", "unknown mount source scheme 'nosuchscheme:'"),
        ("/just/a/path", "has no scheme"),
        ("sqlite:", "needs a file path"),
        ("sqlite:/nonexistent-dir/fs.db", "/nonexistent-dir"),
    ],
)
def test_bad_source_is_one_line_exit_2_and_nothing_mounted(tmp_path: Path, source: str, message: str) -> None:
    """A bad source: exit 2, one line naming the problem, nothing mounted, no file created."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = cloudfs("mount", source, str(mnt))
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not os.path.ismount(mnt)
    assert not Path("/nonexistent-dir").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("nosuchoption", "unknown mount option 'nosuchoption'"),
        ("umask=999", "bad value for mount option umask"),
        ("uid", "needs a value"),
        ("ro=1", "takes no value"),
        ("uid=no-such-user-here", "bad value for mount option uid"),
        ("binding=fusepy", "bad value for mount option binding"),
    ],
)
def test_bad_option_is_one_line_exit_2(tmp_path: Path, options: str, message: str) -> None:
    """A bad -o option: exit 2, one line, and the database file is not created."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = cloudfs("mount", f"sqlite:{tmp_path}/fs.db", str(mnt), "-o", options)
    assert (done.returncode, len(done.stderr.strip().splitlines())) == (2, 1)
    assert message in done.stderr
    assert not (tmp_path / "fs.db").exists()


def test_missing_mountpoint_is_exit_2_unless_mkdir(tmp_path: Path) -> None:
    """A missing mount point is refused (exit 2) and created by --mkdir."""
    done = cloudfs("mount", f"sqlite:{tmp_path}/fs.db", str(tmp_path / "nope"))
    assert done.returncode == 2 and "does not exist" in done.stderr
    assert not (tmp_path / "fs.db").exists()
    mount = Mount(f"sqlite:{tmp_path}/fs.db", tmp_path / "made", tmp_path / "log")
    done = cloudfs("mount", mount.source, str(mount.path), "--mkdir", "--log", str(mount.log))
    assert done.returncode == 0, done.stderr
    mount.stop()


def test_mountpoint_that_is_a_file_is_exit_2(tmp_path: Path) -> None:
    """A file as mount point: exit 2, one line."""
    (tmp_path / "file").write_text("x")
    done = cloudfs("mount", f"sqlite:{tmp_path}/fs.db", str(tmp_path / "file"))
    assert done.returncode == 2 and "is not a directory" in done.stderr


def test_not_a_database_is_refused(tmp_path: Path) -> None:
    """An existing file that is no cloudfs database is left alone and named in one line."""
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "mnt").mkdir()
    done = cloudfs("mount", f"sqlite:{tmp_path}/notes.txt", str(tmp_path / "mnt"))
    assert done.returncode == 2
    assert "not a cloudfs database" in done.stderr
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"
    assert not os.path.ismount(tmp_path / "mnt")


def test_second_mount_of_one_database_is_refused(sqlite_mount: Mount, tmp_path: Path) -> None:
    """The same database mounted twice: the second is refused with exit 1 and a clear line."""
    other = tmp_path / "other"
    other.mkdir()
    done = cloudfs("mount", sqlite_mount.source, str(other))
    assert done.returncode == 1
    assert "already mounted" in done.stderr
    assert not os.path.ismount(other)


def test_umount_of_a_plain_directory_is_exit_2(tmp_path: Path) -> None:
    """cloudfs umount on something that is not mounted says so."""
    done = cloudfs("umount", str(tmp_path))
    assert done.returncode == 2 and "is not mounted" in done.stderr


def test_mount_fuse3_argument_form(tmp_path: Path) -> None:
    """mount.fuse3 (what mount -t fuse.cloudfs runs) passes SOURCE DIR -o OPTS; generic options are accepted."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = dict(os.environ, PATH=f"{Path(CLOUDFS[0]).parent}:{os.environ['PATH']}")
    done = subprocess.run(
        ["mount.fuse3", f"sqlite:{tmp_path}/fs.db", str(mnt), "-t", "cloudfs", "-o", "rw,_netdev,noatime,nofail"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (mnt / "f").write_text("via mount.fuse3")
    assert cloudfs("umount", str(mnt)).returncode == 0
    assert not (mnt / "f").exists()


def test_fstab_line_through_mount_8(tmp_path: Path) -> None:
    """An fstab line with fuse.cloudfs mounts through mount(8), which finds cloudfs on the standard PATH."""
    assert shutil.which("cloudfs", path="/usr/local/bin:/usr/bin:/bin"), "scripts/install links cloudfs there"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    fstab = tmp_path / "fstab"
    fstab.write_text(f"sqlite:{tmp_path}/fs.db {mnt} fuse.cloudfs defaults,_netdev,nofail,x-systemd.automount 0 0\n")
    done = subprocess.run(["mount", "-T", str(fstab), str(mnt)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (mnt / "f").write_text("via fstab")
    assert subprocess.run(["umount", str(mnt)], capture_output=True).returncode == 0
    done = subprocess.run(["mount", "-T", str(fstab), str(mnt)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (mnt / "f").read_text() == "via fstab"
    assert cloudfs("umount", str(mnt)).returncode == 0


def test_nonempty_mountpoint_needs_the_nonempty_option(tmp_path: Path) -> None:
    """A mount point with files is refused (exit 2, one line) unless -o nonempty is given."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (mnt / "underneath").write_text("x")
    done = cloudfs("mount", f"sqlite:{tmp_path}/fs.db", str(mnt))
    assert (done.returncode, done.stderr.count("\n")) == (2, 1)
    assert "is not empty" in done.stderr
    mount = Mount(f"sqlite:{tmp_path}/fs.db", mnt, tmp_path / "log", ("nonempty",))
    mount.start()
    assert os.listdir(mnt) == []
    mount.stop()
    assert os.listdir(mnt) == ["underneath"]


def test_umount_of_a_foreground_mount_that_is_our_child(tmp_path: Path) -> None:
    """cloudfs umount returns once a `mount -f` daemon exits, even before its parent has reaped it."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    daemon = subprocess.Popen([*CLOUDFS, "mount", "-f", "memory:child", str(mnt), "--log", str(tmp_path / "log")])
    try:
        deadline = time.monotonic() + 30
        while not os.path.ismount(mnt):
            assert time.monotonic() < deadline and daemon.poll() is None, "the foreground mount did not come up"
            time.sleep(0.05)
        done = cloudfs("umount", str(mnt), "--timeout", "20")
        assert (done.returncode, done.stderr) == (0, "")
    finally:
        assert daemon.wait(timeout=30) == 0


def test_debug_log_names_data_by_size_and_callers_by_ids(tmp_path: Path) -> None:
    """`--log-level debug` logs each request in one short line: a 1 MiB write must not be dumped into the log."""
    mount = Mount("memory:debug", tmp_path / "mnt", tmp_path / "cloudfs.log")
    mount.start()
    (mount.path / "big").write_bytes(os.urandom(1024 * 1024))
    mount.stop()
    lines = mount.log.read_text(errors="replace").splitlines()
    writes = [line for line in lines if " write(" in line]
    assert writes, "no write request was logged"
    assert all(" bytes>" in line for line in writes)
    assert any(f"<uid={os.getuid()} gid={os.getgid()} pid=" in line for line in lines)
    assert max(len(line) for line in lines) < 1000
