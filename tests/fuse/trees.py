"""Build a tree with every kind of inode, and compare two trees byte for byte and stat for stat."""

from __future__ import annotations

import hashlib
import os
import random
import stat
from pathlib import Path

BLOCK = 128 * 1024


def make_tree(root: Path) -> None:
    """Files of many sizes (across block boundaries), sparse files, links, FIFOs, devices, odd names, times."""
    rng = random.Random(7)
    (root / "dir/sub/deeper").mkdir(parents=True)
    (root / "empty-dir").mkdir()
    for size in (0, 1, 4095, 4096, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17, 2 * 1024 * 1024 + 5):
        (root / f"dir/file-{size}").write_bytes(rng.randbytes(size))
    with open(root / "dir/sparse", "wb") as f:
        f.seek(5 * BLOCK + 3)
        f.write(b"end")
    (root / "dir/sub/deeper/note.txt").write_text("deep\n")
    (root / "name with spaces").write_text("spaces\n")
    (root / "ünïcødé-名前").write_text("utf8\n")
    os.symlink("dir/file-1", root / "link-to-file")
    os.symlink("/nonexistent/target", root / "dangling")
    os.link(root / "dir/file-4096", root / "hardlink")
    os.mkfifo(root / "fifo", 0o640)
    os.mknod(root / "chardev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.mknod(root / "blockdev", stat.S_IFBLK | 0o600, os.makedev(7, 0))
    os.chmod(root / "dir/file-1", 0o4755)
    os.chmod(root / "dir/sub", 0o2775)
    os.chmod(root / "empty-dir", 0o1777)
    os.chown(root / "dir/file-0", 1234, 5678)
    os.lchown(root / "dangling", 42, 43)
    for index, path in enumerate(sorted(root.rglob("*"))):
        os.utime(path, ns=(1_600_000_000_123_456_789 + index, 1_500_000_000_987_654_321 + index), follow_symlinks=False)


def snapshot(root: Path) -> dict[str, tuple]:
    """Everything a user can observe about a tree, keyed by relative path (inode numbers as link groups)."""
    result: dict[str, tuple] = {}
    groups: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            st = path.lstat()
            content: object = None
            if stat.S_ISREG(st.st_mode):
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            is_dir = stat.S_ISDIR(st.st_mode)
            link_group = None if is_dir else groups.setdefault(st.st_ino, rel)
            size = st.st_size if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode) else None
            result[rel] = (
                stat.filemode(st.st_mode), st.st_uid, st.st_gid, st.st_nlink, size, st.st_mtime_ns, st.st_rdev,
                content, link_group,
            )  # fmt: skip
    return result
