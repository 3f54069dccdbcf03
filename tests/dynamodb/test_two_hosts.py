"""Two hosts on one table: two mounts of the same `aws:` source working at once, then checked from the tables.

Both mounts use `-o cache_ttl=0.2`, so what one host did shows on the other
after SETTLE seconds (attribute and entry caches, the kernel's included).
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import pytest

from cloudfs.driver import ROOT_INO
from cloudfs.drivers.dynamodb import SPEC
from tests.drivers.helpers import mkfile
from tests.fuse.mounts import Mount
from tests.servers import DynamoCountingProxy, DynamoServer, dynamodb_options, fresh_table

from .mounts import REGION, two_hosts
from .tables import BLOCK_KEYS, BLOCKS, MAIN_KEYS, create_table, invariant_problems, load

TTL = 0.2
SETTLE = 5 * TTL
CREATES = 100  # per host, in one directory
RACED = 100  # directory names both hosts mkdir
RENAMED = 60  # files, half renamed by each host
CHUNK = 64 * 1024
CHUNKS = 16  # of the preallocated file, alternating between the hosts


@pytest.fixture
def hosts(server: DynamoServer, table: str, tmp_path: Path) -> Iterator[tuple[Mount, Mount]]:
    """Host "a" and host "b": two mounts of this test's table; unmounted afterwards, their logs clean."""
    with two_hosts(server.url, table, tmp_path, f"cache_ttl={TTL}") as pair:
        yield pair


def chunk(index: int, host: str) -> bytes:
    """What `host` writes into chunk `index` of the shared file."""
    return hashlib.sha256(f"{host}{index}".encode()).digest() * (CHUNK // 32)


def _creates(root: Path, host: str) -> None:
    """CREATES new files in shared/, each holding its own name."""
    for i in range(CREATES):
        (root / "shared" / f"{host}-{i:03d}").write_bytes(f"{host} {i}\n".encode())


def _mkdirs(root: Path, host: str, outcome: dict[str, str]) -> None:
    """mkdir race/dNNN for every name, in the same order as the other host; records won or EEXIST."""
    for i in range(RACED):
        name = f"d{i:03d}"
        try:
            os.mkdir(root / "race" / name)
            outcome[name] = "won"
        except FileExistsError:
            outcome[name] = "EEXIST"


def _renames(root: Path, host: str) -> None:
    """Rename this host's half of ren/: host a within ren/, host b into elsewhere/."""
    for i in range(0 if host == "a" else 1, RENAMED, 2):
        target = root / "ren" / f"moved-{i:03d}" if host == "a" else root / "elsewhere" / f"r{i:03d}"
        os.rename(root / "ren" / f"r{i:03d}", target)


def _blocks(root: Path, host: str) -> None:
    """Write this host's chunks of blocks.bin in place, fsync after each."""
    fd = os.open(root / "blocks.bin", os.O_RDWR)
    try:
        for index in range(0 if host == "a" else 1, CHUNKS, 2):
            assert os.pwrite(fd, chunk(index, host), index * CHUNK) == CHUNK
            os.fsync(fd)
    finally:
        os.close(fd)


def tree(root: Path) -> dict[str, tuple[int, int | None, int, int]]:
    """What a host shows of its mount: per path, type, size (files), inode number and link count.

    Each directory's entries are stat'ed right after it is listed, while the
    listing's attributes are still cached (as `ls -l` does).
    """
    shown: dict[str, tuple[int, int | None, int, int]] = {}
    pending = [root]
    while pending:
        directory = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                size = st.st_size if stat.S_ISREG(st.st_mode) else None
                shown[os.path.relpath(entry.path, root)] = (stat.S_IFMT(st.st_mode), size, st.st_ino, st.st_nlink)
                if stat.S_ISDIR(st.st_mode):
                    pending.append(Path(entry.path))
    return shown


def contents(directory: Path) -> dict[str, bytes]:
    """Every file of `directory` by name, read 8 at a time."""
    names = os.listdir(directory)
    with ThreadPoolExecutor(8) as pool:
        return dict(zip(names, pool.map(lambda name: (directory / name).read_bytes(), names), strict=True))


def test_two_hosts_working_at_once_agree_and_leave_a_consistent_store(
    hosts: tuple[Mount, Mount], raw: Any, table: str
) -> None:
    """Creates, a mkdir race, renames and in-place block writes from both hosts at once; then both agree.

    Exactly one host wins each raced name (the other gets EEXIST); nothing
    either host wrote is missing on either (each reads every file); both show
    the same inode numbers, sizes and link counts; every invariant holds in the tables.
    """
    a, b = hosts
    for name in ("shared", "race", "ren", "elsewhere"):
        (a.path / name).mkdir()
    for i in range(RENAMED):
        (a.path / "ren" / f"r{i:03d}").write_bytes(b"renamed %d\n" % i)
    with open(a.path / "blocks.bin", "wb") as f:
        f.truncate(CHUNKS * CHUNK)
        os.fsync(f.fileno())
    time.sleep(SETTLE)
    assert sorted(os.listdir(b.path)) == ["blocks.bin", "elsewhere", "race", "ren", "shared"]

    outcomes: dict[str, dict[str, str]] = {"a": {}, "b": {}}
    work: list[Callable[[], None]] = []
    for host, mount in (("a", a), ("b", b)):
        root = mount.path
        work += [
            lambda root=root, host=host: _creates(root, host),
            lambda root=root, host=host: _mkdirs(root, host, outcomes[host]),
            lambda root=root, host=host: _renames(root, host),
            lambda root=root, host=host: _blocks(root, host),
        ]
    with ThreadPoolExecutor(len(work)) as pool:
        for done in [pool.submit(job) for job in work]:
            done.result()
    time.sleep(SETTLE)

    for i in range(RACED):
        name = f"d{i:03d}"
        assert sorted((outcomes["a"][name], outcomes["b"][name])) == ["EEXIST", "won"], name
    shared = {f"{h}-{i:03d}": f"{h} {i}\n".encode() for h in "ab" for i in range(CREATES)}
    renamed = {(f"moved-{i:03d}" if i % 2 == 0 else f"r{i:03d}"): b"renamed %d\n" % i for i in range(RENAMED)}
    blocks = b"".join(chunk(index, "ab"[index % 2]) for index in range(CHUNKS))
    for mount in (a, b):
        root = mount.path
        assert contents(root / "shared") == shared
        assert sorted(os.listdir(root / "race")) == [f"d{i:03d}" for i in range(RACED)]
        assert (root / "race").stat().st_nlink == 2 + RACED
        assert sorted(os.listdir(root / "ren")) == [f"moved-{i:03d}" for i in range(0, RENAMED, 2)]
        assert sorted(os.listdir(root / "elsewhere")) == [f"r{i:03d}" for i in range(1, RENAMED, 2)]
        assert {**contents(root / "ren"), **contents(root / "elsewhere")} == renamed
        assert (root / "blocks.bin").read_bytes() == blocks
    assert tree(a.path) == tree(b.path)
    assert invariant_problems(raw, table) == []


def test_two_hosts_opening_a_new_table_at_once_share_one_filesystem(server: DynamoServer, raw: Any) -> None:
    """Two first opens racing to create and format the same tables both succeed, on one root."""
    table = fresh_table("race-open")
    settings = SPEC.parse(f"{REGION}/{table}")
    barrier = threading.Barrier(2)

    def open_one() -> Any:
        barrier.wait()
        return SPEC.open(settings, dynamodb_options(server))

    with ThreadPoolExecutor(2) as pool:
        first, second = (job.result() for job in [pool.submit(open_one), pool.submit(open_one)])
    try:
        f = mkfile(first, b"from-first")
        assert second.lookup(ROOT_INO, b"from-first").ino == f.ino
        assert [name for name, _ in second.readdir(ROOT_INO)] == [b"from-first"]
    finally:
        first.close()
        second.close()
    assert len(load(raw, table).inodes) == 2  # the root and the file
    assert invariant_problems(raw, table) == []


def test_two_hosts_adopting_one_empty_table_at_once_both_succeed(server: DynamoServer, raw: Any, table: str) -> None:
    """Host b finds the tables empty and unformatted, host a formats them, then b goes on: b adopts a's filesystem.

    The interleaving is forced at a proxy in front of host b, which holds b's
    Scan (its check that the table is empty) until host a has opened.
    """
    create_table(raw, table, MAIN_KEYS)
    create_table(raw, table + BLOCKS, BLOCK_KEYS)
    settings = SPEC.parse(f"{REGION}/{table}")
    with ExitStack() as opened:
        with DynamoCountingProxy(server.url) as proxy, ThreadPoolExecutor(1) as pool:
            proxy.hold("Scan")
            late = pool.submit(SPEC.open, settings, dynamodb_options(server, endpoint=proxy.url))
            try:
                assert proxy.arrived("Scan", timeout=30), "host b opened without a Scan: this test needs another hold"
                first = opened.enter_context(closing(SPEC.open(settings, dynamodb_options(server))))
            finally:
                proxy.release("Scan")
            second = opened.enter_context(closing(late.result(timeout=60)))
        f = mkfile(first, b"from-a")
        assert second.lookup(ROOT_INO, b"from-a").ino == f.ino
    assert invariant_problems(raw, table) == []
