"""The tree the fault benchmark copies, generated from a seed, and the check of what reached the bucket."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

KIB = 1 << 10
MIB = 1 << 20


def sizes(files: int, total: int, rng: random.Random, low: int = KIB, high: int = 2 * MIB) -> list[int]:
    """`files` sizes log-uniform in [low, high], scaled (and clamped again) until they add up to about `total`."""
    out = [low * 2 ** rng.uniform(0, (high // low).bit_length() - 1) for _ in range(files)]
    for _ in range(8):
        scale = total / sum(out)
        out = [min(high, max(low, s * scale)) for s in out]
    return [int(s) for s in out]


def make_tree(top: Path, files: int, total: int, seed: int) -> dict[str, str]:
    """`files` random files over 2 levels of 32 directories under `top`; returns their SHA-256 by relative path."""
    rng = random.Random(seed)
    dirs = [Path(f"d{a}") / f"s{b}" for a in range(8) for b in range(4)]
    hashes = {}
    for i, size in enumerate(sizes(files, total, rng)):
        rel = dirs[i % len(dirs)] / f"file{i:04d}.dat"
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        body = rng.randbytes(size)
        (top / rel).write_bytes(body)
        hashes[str(rel)] = hashlib.sha256(body).hexdigest()
    return hashes


def stored(client: Any, bucket: str, prefix: str) -> dict[str, str]:
    """SHA-256 of every object under `prefix` (directory markers left out), by key relative to the prefix."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/"):
                continue
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len(prefix) :]] = hashlib.sha256(body).hexdigest()
    return out


def on_disk(top: Path) -> dict[str, str]:
    """SHA-256 of every file under `top` (a mount, for a tool whose objects are not files), by relative path."""
    return {str(p.relative_to(top)): hashlib.sha256(p.read_bytes()).hexdigest() for p in top.rglob("*") if p.is_file()}


def compare(wanted: dict[str, str], got: dict[str, str]) -> tuple[int, int]:
    """Files lost (not there) and corrupt (other contents)."""
    lost = sum(1 for rel in wanted if rel not in got)
    corrupt = sum(1 for rel, digest in wanted.items() if rel in got and got[rel] != digest)
    return lost, corrupt
