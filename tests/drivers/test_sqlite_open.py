"""sqlite driver: source parsing, opening and refusing files, the single-mount lock, pragmas."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cloudfs.driver import ROOT_INO, DriverSettings
from cloudfs.drivers.sqlite import SPEC, SqliteDriver
from cloudfs.drivers.sqlite.source import SqliteSettings
from cloudfs.errors import SourceError, StoreError
from cloudfs.sources import parse_source

from .helpers import fails_with, mkfile
from .staging import Staged


def open_at(path: Path, read_only: bool = False) -> SqliteDriver:
    """Open the driver on `path` the way the CLI does: parse, then open."""
    driver = SPEC.open(SPEC.parse(str(path)), DriverSettings(read_only=read_only))
    assert isinstance(driver, SqliteDriver)
    return driver


def test_registered_under_its_scheme(tmp_path: Path) -> None:
    """The `sqlite:` scheme resolves through the entry point to SPEC, with no driver options."""
    source = parse_source(f"sqlite:{tmp_path}/fs.db")
    assert source.spec is SPEC
    assert source.settings == SqliteSettings(path=tmp_path / "fs.db")
    assert SPEC.options == frozenset()


def test_relative_path_resolves_against_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative path becomes absolute against the current directory."""
    monkeypatch.chdir(tmp_path)
    assert SPEC.parse("sub/../fs.db") == SqliteSettings(path=tmp_path / "fs.db")


def test_empty_path_is_refused() -> None:
    """`sqlite:` alone names no file: the message shows an example."""
    with pytest.raises(SourceError) as info:
        SPEC.parse("")
    assert str(info.value) == "sqlite: source needs a file path, e.g. sqlite:/var/tmp/cloudfs.db"


def test_missing_parent_directory_is_named(tmp_path: Path) -> None:
    """A path whose directory is missing is refused, naming that directory."""
    with pytest.raises(SourceError) as info:
        SPEC.parse(f"{tmp_path}/nowhere/fs.db")
    assert str(info.value) == f"sqlite: directory {tmp_path}/nowhere does not exist"


def test_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """A path below a regular file is refused."""
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(SourceError, match=r"plain is not a directory$"):
        SPEC.parse(f"{tmp_path}/plain/fs.db")


def test_directory_is_refused(tmp_path: Path) -> None:
    """A directory is no database file."""
    with pytest.raises(SourceError) as info:
        SPEC.parse(str(tmp_path))
    assert str(info.value) == f"sqlite: {tmp_path} is a directory, not a database file"


def test_missing_file_is_created_with_root(tmp_path: Path) -> None:
    """Parsing creates nothing; the first open creates the file, root owned by the uid/gid options."""
    path = tmp_path / "new.db"
    settings = SPEC.parse(str(path))
    assert not path.exists(), "parse must not create anything"
    driver = SPEC.open(settings, DriverSettings(uid=1000, gid=100))
    try:
        root = driver.getattr(ROOT_INO)
        assert (root.mode, root.nlink, root.uid, root.gid, root.size) == (stat.S_IFDIR | 0o755, 2, 1000, 100, 0)
        assert list(driver.readdir(ROOT_INO)) == []
        assert driver.capabilities.block_size == 128 * 1024
        assert driver.capabilities.hard_links and driver.capabilities.persistent_inodes
    finally:
        driver.close()
    assert path.stat().st_mode & 0o777 == 0o600


def test_text_file_is_not_a_database(tmp_path: Path) -> None:
    """A non-SQLite file is refused and left untouched."""
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not SQLite\n")
    with pytest.raises(SourceError) as info:
        open_at(path)
    assert str(info.value).startswith(f"{path} is not a cloudfs database")
    assert path.read_text() == "hello, this is not SQLite\n"


def test_damaged_sqlite_file_is_not_a_database(tmp_path: Path) -> None:
    """A file with the SQLite header but garbage after it is refused as not ours."""
    path = tmp_path / "damaged.db"
    path.write_bytes(b"SQLite format 3\0" + b"\xff" * 4000)
    with pytest.raises(SourceError) as info:
        open_at(path)
    assert str(info.value).startswith(f"{path} is not a cloudfs database (")


def test_foreign_sqlite_file_is_not_a_database(tmp_path: Path) -> None:
    """An SQLite file without our format marker is refused."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE songs (title TEXT)")
    db.close()
    with pytest.raises(SourceError) as info:
        open_at(path)
    assert str(info.value) == f"{path} is not a cloudfs database (no cloudfs format marker)"


def test_newer_format_is_a_store_error_and_releases_the_lock(tmp_path: Path) -> None:
    """A newer format is a StoreError, and the failed open leaves the file lockable."""
    path = tmp_path / "fs.db"
    open_at(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 99 WHERE key = 'version'")
    db.close()
    with pytest.raises(StoreError, match="format version 99"):
        open_at(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 1 WHERE key = 'version'")
    db.close()
    open_at(path).close()


def test_second_open_in_same_process_is_refused(tmp_path: Path) -> None:
    """A second open in one process fails without disturbing the first mount."""
    path = tmp_path / "fs.db"
    first = open_at(path)
    try:
        with pytest.raises(StoreError) as info:
            open_at(path)
        assert str(info.value) == f"{path} is already mounted by another cloudfs process"
        # The refused attempt must leave the first mount fully working.
        mkfile(first, b"still-works")
    finally:
        first.close()
    again = open_at(path)
    assert [name for name, _ in again.readdir(ROOT_INO)] == [b"still-works"]
    again.close()


CHILD_OPEN = """
import sys
from cloudfs.driver import DriverSettings
from cloudfs.drivers.sqlite import SPEC
try:
    SPEC.open(SPEC.parse(sys.argv[1]), DriverSettings()).close()
except Exception as exc:
    print(type(exc).__name__, exc)
else:
    print("opened")
"""


def open_in_child(path: Path) -> str:
    """Try to open `path` from another process; its one-line report."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD_OPEN, str(path)], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_second_open_from_another_process_is_refused(tmp_path: Path) -> None:
    """Another process cannot open a held file, and can once it is closed."""
    path = tmp_path / "fs.db"
    first = open_at(path)
    try:
        assert open_in_child(path) == f"StoreError {path} is already mounted by another cloudfs process"
    finally:
        first.close()
    assert open_in_child(path) == "opened"


def test_durability_pragmas_are_in_force(tmp_path: Path) -> None:
    """WAL, synchronous=FULL, foreign keys, a busy timeout and a WAL size cap are set."""
    driver = open_at(tmp_path / "fs.db")
    try:
        pragmas = driver.database.pragmas()
    finally:
        driver.close()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["synchronous"] == 2, "2 is FULL"
    assert pragmas["foreign_keys"] == 1
    assert pragmas["busy_timeout"] > 0
    assert pragmas["journal_size_limit"] > 0


def test_read_only_mount_reads_and_refuses_writes(tmp_path: Path) -> None:
    """With `ro`, reads work and every change fails with EROFS."""
    path = tmp_path / "fs.db"
    writer = open_at(path)
    ino = mkfile(writer, b"kept").ino
    writer.setxattr(ino, b"user.k", b"v", 0)
    writer.close()
    reader = open_at(path, read_only=True)
    try:
        assert reader.lookup(ROOT_INO, b"kept").ino == ino
        assert reader.getxattr(ino, b"user.k") == b"v"
        with fails_with(errno.EROFS):
            mkfile(reader, b"new")
        with fails_with(errno.EROFS):
            reader.setxattr(ino, b"user.k", b"w", 0)
    finally:
        reader.close()


def test_read_only_mount_cannot_create(tmp_path: Path) -> None:
    """A read-only open of a missing file fails and creates nothing."""
    path = tmp_path / "absent.db"
    with pytest.raises(SourceError, match="read-only mount cannot create it"):
        open_at(path, read_only=True)
    assert not os.path.exists(path)


def test_statfs_reports_the_host_filesystem_and_inode_count(tmp_path: Path) -> None:
    """statfs reports the host's size in our block unit and counts used inodes exactly."""
    driver = open_at(tmp_path / "fs.db")
    try:
        for name in (b"a", b"b", b"c"):
            mkfile(driver, name)
        figures = driver.statfs()
    finally:
        driver.close()
    host = os.statvfs(tmp_path)
    assert figures.block_size == 128 * 1024
    assert figures.blocks == host.f_blocks * host.f_frsize // figures.block_size
    assert 0 < figures.blocks_free <= figures.blocks
    assert figures.files - figures.files_free == 4, "root and three files"
    assert figures.name_max == 255


def test_statfs_free_space_follows_writes_and_deletes(tmp_path: Path) -> None:
    """Written data takes free space at once, and a purged file gives it back (SQLite keeps the pages)."""
    driver = open_at(tmp_path / "fs.db")
    try:
        empty = driver.statfs().blocks_free
        f = mkfile(driver, b"big")
        driver.write(f.ino, Staged().write(0, os.urandom(8 << 20)), 1)
        full = driver.statfs().blocks_free
        driver.unlink(ROOT_INO, b"big")
        driver.purge(f.ino)
        freed = driver.statfs().blocks_free
    finally:
        driver.close()
    # Margins of half the data keep other activity on the host filesystem from deciding the outcome.
    assert empty - full >= 32, "8 MiB written must take at least 4 MiB (32 blocks)"
    assert freed - full >= 32, "8 MiB purged must give at least 4 MiB back"
