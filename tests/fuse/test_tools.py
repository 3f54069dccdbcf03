"""Ordinary tools on a mounted cloudfs: what they write must read back exactly."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from tests.fuse.mounts import Mount
from tests.fuse.trees import make_tree, snapshot


def run(*args: str, cwd: Path | None = None) -> str:
    """Run a command, fail the test on a non-zero exit, return its stdout."""
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def test_cp_a_round_trip_keeps_everything(mount: Mount, tmp_path: Path) -> None:
    """cp -a in and out: bytes, modes, owners, nanosecond times, symlinks, hard links, FIFOs, devices."""
    source = tmp_path / "src"
    source.mkdir()
    make_tree(source)
    run("cp", "-a", str(source), str(mount.path / "tree"))
    assert snapshot(mount.path / "tree") == snapshot(source)
    run("cp", "-a", str(mount.path / "tree"), str(tmp_path / "back"))
    assert snapshot(tmp_path / "back") == snapshot(source)


def test_tar_create_and_extract(mount: Mount, tmp_path: Path) -> None:
    """tar (pax format, nanosecond times) extracts onto the mount and archives from it identically."""
    source = tmp_path / "src"
    source.mkdir()
    make_tree(source)
    run("tar", "--format=posix", "--sort=name", "-C", str(source), "-cf", str(tmp_path / "in.tar"), ".")
    (mount.path / "x").mkdir()
    run("tar", "-C", str(mount.path / "x"), "--same-owner", "-xpf", str(tmp_path / "in.tar"))
    assert snapshot(mount.path / "x") == snapshot(source)
    run("tar", "--format=posix", "--sort=name", "-C", str(mount.path / "x"), "-cf", str(mount.path / "out.tar"), ".")
    listing_in = run("tar", "-tvf", str(tmp_path / "in.tar"))
    listing_out = run("tar", "-tvf", str(mount.path / "out.tar"))
    assert listing_out == listing_in


def test_git_repository_on_the_mount(mount: Mount) -> None:
    """git init, commit, branch, log and fsck work on the mount."""
    repo = mount.path / "repo"
    env_args = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
    run("git", "init", "-q", str(repo))
    for index in range(3):
        (repo / f"f{index}.txt").write_text(f"version {index}\n" * 100)
        run("git", *env_args, "add", ".", cwd=repo)
        run("git", *env_args, "commit", "-qm", f"commit {index}", cwd=repo)
    run("git", "checkout", "-qb", "side", cwd=repo)
    run("git", "mv", "f0.txt", "renamed.txt", cwd=repo)
    run("git", *env_args, "commit", "-qm", "rename", cwd=repo)
    assert run("git", "log", "--format=%s", cwd=repo).split() == ["rename", "commit", "2", "commit", "1", "commit", "0"]
    run("git", "fsck", "--strict", cwd=repo)
    run("git", "gc", "-q", cwd=repo)
    assert run("git", "show", "HEAD~1:f2.txt", cwd=repo) == "version 2\n" * 100


def test_sqlite_database_on_the_mount(mount: Mount) -> None:
    """SQLite (rollback journal and WAL) keeps a consistent database on the mount."""
    for mode in ("delete", "wal"):
        path = mount.path / f"{mode}.db"
        db = sqlite3.connect(path)
        db.execute(f"pragma journal_mode={mode}")
        db.execute("create table t (k integer primary key, v text)")
        for batch in range(5):
            db.executemany("insert into t (v) values (?)", [(f"row {batch}-{i}" * 20,) for i in range(500)])
            db.commit()
        db.execute("delete from t where k % 3 = 0")
        db.commit()
        db.close()
        db = sqlite3.connect(path)
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        assert db.execute("select count(*) from t").fetchone() == (2500 - 833,)
        db.close()


def test_mv_and_rm_r(mount: Mount, tmp_path: Path) -> None:
    """mv of a directory tree keeps its contents; rm -r leaves nothing behind."""
    (mount.path / "a").mkdir()
    make_tree(mount.path / "a")
    before = snapshot(mount.path / "a")
    (mount.path / "b").mkdir()
    run("mv", str(mount.path / "a"), str(mount.path / "b" / "moved"))
    assert snapshot(mount.path / "b" / "moved") == before
    run("rm", "-r", str(mount.path / "b"))
    assert os.listdir(mount.path) == []
    assert shutil.disk_usage(mount.path).total > 0
