"""The input data of every workload, generated once per run from a seed.

A large random file (written to local disk once, hashed), 100 random 4 KiB
offsets in it, the small files' contents, and a generated tree of nested
directories with files of varied sizes (no symlinks, which rclone mount lacks).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20


@dataclass
class Sizes:
    """Workload sizes, from the command line."""

    big_mib: int = 256
    random_reads: int = 100
    read_size: int = 4096
    small_files: int = 1000
    small_size: int = 4096
    tree_files: int = 300


@dataclass
class Data:
    """Everything the workloads write and check against."""

    sizes: Sizes
    big: Path
    big_sha256: str
    offsets: list[int]
    small: list[bytes]
    tree: Path

    def small_name(self, i: int) -> str:
        """The name of small file `i`."""
        return f"f{i:05d}"


def make_data(work: Path, sizes: Sizes, seed: int = 1) -> Data:
    """Generate the inputs under `work`."""
    rng = random.Random(seed)
    big = work / "big.src"
    digest = hashlib.sha256()
    with big.open("wb") as f:
        for _ in range(sizes.big_mib):
            block = rng.randbytes(MIB)
            digest.update(block)
            f.write(block)
    span = max(sizes.big_mib * MIB - sizes.read_size, 1)
    offsets = [rng.randrange(span) for _ in range(sizes.random_reads)]
    small = [rng.randbytes(sizes.small_size) for _ in range(sizes.small_files)]
    tree = work / "tree.src"
    _make_tree(tree, sizes.tree_files, rng)
    return Data(sizes, big, digest.hexdigest(), offsets, small, tree)


def _make_tree(top: Path, files: int, rng: random.Random) -> None:
    """`files` files spread over 3 levels of directories, sizes log-uniform between 100 B and 256 KiB."""
    dirs = [top / f"d{a}" / f"s{b}" / ("deep" if c else "") for a in range(6) for b in range(4) for c in range(2)]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        size = int(100 * 2 ** rng.uniform(0, 11.4))
        (dirs[i % len(dirs)] / f"file{i:04d}.dat").write_bytes(rng.randbytes(size))


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read a MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MIB):
            digest.update(block)
    return digest.hexdigest()
