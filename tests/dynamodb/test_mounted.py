"""The DynamoDB driver mounted through FUSE with `cloudfs mount aws:REGION/TABLE`, used by ordinary tools."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudfs.drivers.dynamodb import SPEC
from tests.drivers.helpers import mkdir
from tests.fuse.mounts import Mount, cloudfs
from tests.fuse.test_tools import run
from tests.fuse.trees import make_tree, snapshot
from tests.servers import DynamoCountingProxy, DynamoServer, dynamodb_options

from .helpers import populate
from .mounts import REGION, dynamo_mount, mounted, release, wait_unmounted
from .tables import invariant_problems

DOCS = Path("/usr/share/doc")


@pytest.fixture
def mount(server: DynamoServer, table: str, tmp_path: Path) -> Iterator[Mount]:
    """A mount of this test's table, unmounted afterwards; its log must stay clean."""
    m = dynamo_mount(server.url, table, tmp_path / "mnt")
    m.start()
    yield m
    release(m)
    assert m.problems() == []


def doc_tree(dest: Path, files: int = 150) -> None:
    """A `cp -a` copy of real packages' docs from /usr/share/doc: about `files` files, with their symlinks.

    Whole package directories of up to 60 entries are taken in name order until
    `files` is reached, plus the top-level symlinks (packages that point their
    docs at another's). A few files get other owners and modes, as a real tree has.
    """
    chosen: list[str] = []
    count = 0
    for entry in sorted(DOCS.iterdir()):
        if entry.is_symlink():
            chosen.append(str(entry))
        elif count < files and entry.is_dir():
            inside = sum(1 for _ in entry.rglob("*"))
            if 0 < inside <= 60:
                chosen.append(str(entry))
                count += inside
    dest.mkdir()
    run("cp", "-a", *chosen, str(dest))
    for index, path in enumerate(sorted(p for p in dest.rglob("*") if p.is_file() and not p.is_symlink())):
        if index % 7 == 3:
            os.chown(path, 1234, 5678)
        if index % 5 == 1:
            os.chmod(path, 0o600)


def inode_numbers(root: Path) -> dict[str, int]:
    """st_ino of every path under `root`, by relative path."""
    return {str(p.relative_to(root)): p.lstat().st_ino for p in root.rglob("*")}


def test_cp_a_of_a_real_tree_round_trips_across_remount(mount: Mount, tmp_path: Path, raw: Any, table: str) -> None:
    """cp -a in and out of /usr/share/doc packages: contents, mode, owner, size, mtime, nlink and ino kept."""
    source = tmp_path / "src"
    doc_tree(source)
    files = [p for p in source.rglob("*") if p.is_file() and not p.is_symlink()]
    links = [p for p in source.rglob("*") if p.is_symlink()]
    assert len(files) >= 120 and len(links) >= 5 and len(files) + len(links) >= 150, (len(files), len(links))
    expected = snapshot(source)
    run("cp", "-a", str(source), str(mount.path / "doc"))
    assert snapshot(mount.path / "doc") == expected
    inodes = inode_numbers(mount.path / "doc")
    mount.restart()
    assert snapshot(mount.path / "doc") == expected
    assert inode_numbers(mount.path / "doc") == inodes
    run("cp", "-a", str(mount.path / "doc"), str(tmp_path / "back"))
    assert snapshot(tmp_path / "back") == expected
    assert invariant_problems(raw, table) == []


def test_cp_a_keeps_every_kind_of_inode(mount: Mount, tmp_path: Path) -> None:
    """Hard links, FIFOs, devices, sparse files, odd names and nanosecond times survive cp -a and a remount."""
    source = tmp_path / "src"
    source.mkdir()
    make_tree(source)
    run("cp", "-a", str(source), str(mount.path / "tree"))
    mount.restart()
    assert snapshot(mount.path / "tree") == snapshot(source)


def test_tar_create_and_extract(mount: Mount, tmp_path: Path) -> None:
    """tar (pax, nanosecond times) extracts onto the mount and archives from it identically."""
    source = tmp_path / "src"
    source.mkdir()
    make_tree(source)
    run("tar", "--format=posix", "--sort=name", "-C", str(source), "-cf", str(tmp_path / "in.tar"), ".")
    (mount.path / "x").mkdir()
    run("tar", "-C", str(mount.path / "x"), "--same-owner", "-xpf", str(tmp_path / "in.tar"))
    assert snapshot(mount.path / "x") == snapshot(source)
    run("tar", "--format=posix", "--sort=name", "-C", str(mount.path / "x"), "-cf", str(mount.path / "out.tar"), ".")
    assert run("tar", "-tvf", str(mount.path / "out.tar")) == run("tar", "-tvf", str(tmp_path / "in.tar"))


def test_git_repository_on_the_mount(mount: Mount) -> None:
    """git init, add, commit, log and fsck work on the mount, and after a remount."""
    repo = mount.path / "repo"
    who = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
    run("git", "init", "-q", "--template=", str(repo))  # no sample hooks: only what git needs
    for index in range(3):
        (repo / f"f{index}.txt").write_text(f"version {index}\n" * 100)
        run("git", *who, "add", ".", cwd=repo)
        run("git", *who, "commit", "-qm", f"commit {index}", cwd=repo)
    mount.restart()
    assert run("git", "log", "--format=%s", cwd=repo).splitlines() == ["commit 2", "commit 1", "commit 0"]
    run("git", "fsck", "--strict", cwd=repo)
    assert run("git", "status", "--porcelain", cwd=repo) == ""


def test_sqlite_database_survives_remount(mount: Mount) -> None:
    """An SQLite database (rollback journal) on the mount: transactions commit, and it reopens intact."""
    path = mount.path / "app.db"
    db = sqlite3.connect(path)
    db.execute("create table t (k integer primary key, v text)")
    for batch in range(4):
        db.executemany("insert into t (v) values (?)", [(f"row {batch}-{i} " * 10,) for i in range(300)])
        db.commit()
    db.execute("delete from t where k % 4 = 0")
    db.commit()
    db.close()
    mount.restart()
    db = sqlite3.connect(path)
    try:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        assert db.execute("select count(*) from t").fetchone() == (1200 - 300,)
    finally:
        db.close()
    assert not (mount.path / "app.db-journal").exists()


def test_kill_9_keeps_fsynced_data(mount: Mount) -> None:
    """After kill -9 of the daemon and a forced unmount, what was fsync'ed is there on the next mount."""
    synced = os.urandom(300_000)
    fd = os.open(mount.path / "f", os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, synced)
    os.fsync(fd)
    os.write(fd, b"not synced")
    os.kill(mount.pid, signal.SIGKILL)
    with pytest.raises(OSError) as closing:
        os.close(fd)
    assert closing.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    mount.force_unmount()
    wait_unmounted(mount.path)
    mount.start()
    assert (mount.path / "f").read_bytes()[: len(synced)] == synced


def test_mount_t_fuse_cloudfs(server: DynamoServer, table: str, tmp_path: Path) -> None:
    """`mount -t fuse.cloudfs aws:REGION/TABLE DIR -o endpoint=URL` mounts as `cloudfs mount` does."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    source = f"aws:{REGION}/{table}"
    done = subprocess.run(
        ["mount", "-t", "fuse.cloudfs", source, str(mnt), "-o", f"endpoint={server.url}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    try:
        (mnt / "f").write_text("via mount(8)")
    finally:
        assert cloudfs("umount", str(mnt)).returncode == 0
    with mounted(server.url, table, tmp_path / "again") as m:
        assert (m.path / "f").read_text() == "via mount(8)"


def test_mv_of_a_directory_of_1000_files_costs_at_most_three_requests(
    server: DynamoServer, table: str, tmp_path: Path, raw: Any
) -> None:
    """rename(2) of a directory of 1,000 files, caches warm from a listing: ≤ 3 requests, 1 TransactWriteItems.

    Counted at a proxy in front of moto, as the delta around the os.rename alone.
    """
    driver = SPEC.open(SPEC.parse(f"{REGION}/{table}"), dynamodb_options(server))
    try:
        src, dst = mkdir(driver, b"src"), mkdir(driver, b"dst")
        big = mkdir(driver, b"big", parent=src.ino)
        names = populate(driver, big.ino, 1000)
    finally:
        driver.close()
    with DynamoCountingProxy(server.url) as proxy, mounted(proxy.url, table, tmp_path / "mnt", "cache_ttl=30") as m:
        assert sorted(os.listdir(m.path)) == ["dst", "src"]
        assert os.listdir(m.path / "src") == ["big"] and os.listdir(m.path / "dst") == []
        assert ((m.path / "src/big").stat().st_ino, (m.path / "dst").stat().st_ino) == (big.ino, dst.ino)
        proxy.take()
        os.rename(m.path / "src/big", m.path / "dst/moved")
        counts = proxy.take()
        assert counts.get("TransactWriteItems") == 1, counts
        assert sum(counts.values()) <= 3, counts
        assert sorted(os.listdir(m.path / "dst/moved")) == [n.decode() for n in names]
        assert os.listdir(m.path / "src") == []
        assert ((m.path / "src").stat().st_nlink, (m.path / "dst").stat().st_nlink) == (2, 3)
    assert invariant_problems(raw, table) == []
