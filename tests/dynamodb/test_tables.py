"""The table auditor other tests rely on (`invariant_problems`): silent on a healthy store, loud on each breakage."""

from __future__ import annotations

from typing import Any

from tests.drivers.helpers import mkdir, mkfile, put

from .conftest import DriverFactory
from .tables import BLOCKS, INODE, invariant_problems


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def test_each_broken_invariant_is_reported(make_driver: DriverFactory, raw: Any, table: str) -> None:
    """A tree the driver made passes; then each corruption made behind its back is named, and nothing else."""
    driver, _ = make_driver()
    d = mkdir(driver, b"d")
    sub = mkdir(driver, b"sub", parent=d.ino)
    f = mkfile(driver, b"f", parent=d.ino)
    put(driver, f.ino, bytes(200_000))
    lonely = mkfile(driver, b"lonely")
    assert invariant_problems(raw, table) == []

    def update(ino: int, expression: str, value: int) -> None:
        raw.update_item(
            TableName=table,
            Key={"id": _n(ino), "name": {"B": INODE}},
            UpdateExpression=expression,
            ExpressionAttributeValues={":v": _n(value)},
        )

    raw.put_item(TableName=table, Item={"id": _n(d.ino), "name": {"B": b"ghost"}, "ino": _n(999_999)})
    update(f.ino, "SET nlink = :v", 3)
    update(d.ino, "SET nlink = :v", 7)
    update(sub.ino, "SET parent = :v", sub.ino)
    raw.put_item(TableName=table + BLOCKS, Item={"blockId": _n(f.ino), "blockNum": _n(50), "data": {"B": b"x"}})
    raw.delete_item(TableName=table, Key={"id": _n(1), "name": {"B": b"lonely"}})
    problems = invariant_problems(raw, table)
    expected = [
        f"entry {d.ino}/b'ghost' names inode 999999, which has no inode item",
        f"inode {f.ino} has nlink 3, but 1 entries name it",
        f"directory {d.ino} has nlink 7, but 1 subdirectories",
        f"directory {sub.ino} has parent {sub.ino}, but is named in [{d.ino}]",
        f"block 50 of inode {f.ino} lies past its size 200000",
        f"inode {lonely.ino} has nlink 1, but 0 entries name it",
        f"inode {lonely.ino} has nlink 1 and no entry",
    ]
    assert sorted(problems) == sorted(expected)
