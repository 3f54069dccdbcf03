"""The workload, in order: small files in one directory (create, `ls -l`, read, `mv` of the directory), a large file.

The small-file steps are `bench.peers.workloads`'s; `mv` here moves the
directory of small files itself, and the large write ends with an fsync
before close, so every tool has stored the file when the step returns.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.peers import workloads
from bench.peers.data import MIB, Data
from bench.peers.workloads import WrongResult, check_gone

MOVED = "small-moved"


@dataclass
class Step:
    """One timed action on a mount, an untimed check of what it left, and what it is (`key` is short, for tables)."""

    key: str
    title: str
    run: Callable[[Path, Data], None]
    check: Callable[[Path, Data], None] | None = None


def fs_small_mv(mnt: Path, data: Data) -> None:
    """`mv` of the directory of small files."""
    workloads._run("mv", str(mnt / "small"), str(mnt / MOVED))


def check_small_moved(mnt: Path, data: Data) -> None:
    """Every small file is under the new name, with its contents; the old name is gone."""
    names = sorted(os.listdir(mnt / MOVED))
    if names != [data.small_name(i) for i in range(len(data.small))]:
        raise WrongResult(f"after mv: {len(names)} entries, expected {len(data.small)}")
    for i in (0, len(data.small) // 2, len(data.small) - 1):
        if (mnt / MOVED / data.small_name(i)).read_bytes() != data.small[i]:
            raise WrongResult(f"after mv: {data.small_name(i)} differs")
    check_gone("small")(mnt, data)


def fs_big_write_fsync(mnt: Path, data: Data) -> None:
    """Copy the large file in a MiB at a time, fsync, close."""
    with data.big.open("rb") as src, (mnt / "big").open("wb") as dst:
        while block := src.read(MIB):
            dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())


def steps(data: Data) -> list[Step]:
    """The steps for these sizes, in the order they run."""
    n, mib = len(data.small), data.sizes.big_mib
    return [
        Step("create", f"create {n:,} files of 4 KiB in one directory", workloads.fs_small_create),
        Step("ls -l", f"`ls -l` of the {n:,} files", workloads.fs_small_ls),
        Step("read each", f"read the {n:,} files back", workloads.fs_small_read),
        Step("mv dir", f"`mv` of the directory of {n:,} files", fs_small_mv, check_small_moved),
        Step("write big", f"write {mib} MiB sequentially + fsync", fs_big_write_fsync),
        Step("read big", f"read the {mib} MiB sequentially", workloads.fs_big_read),
    ]
