"""Contract: calls from several threads at once leave a consistent store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from errno import EEXIST

from cloudfs.driver import ROOT_INO, Driver
from cloudfs.errors import FsError

from .helpers import mkdir, mkfile, names, put

THREADS = 4
FILES = 12
DIRS = 4


def churn(driver: Driver, parent: int, worker: int) -> None:
    """Create files and directories under distinct names, then remove half of each."""
    for i in range(FILES):
        f = mkfile(driver, b"w%d-f%d" % (worker, i), parent=parent)
        put(driver, f.ino, b"%d:%d" % (worker, i))
    for i in range(DIRS):
        mkdir(driver, b"w%d-d%d" % (worker, i), parent=parent)
    for i in range(0, FILES, 2):
        assert driver.unlink(parent, b"w%d-f%d" % (worker, i)).nlink == 0
    for i in range(0, DIRS, 2):
        driver.rmdir(parent, b"w%d-d%d" % (worker, i))


def test_threads_creating_and_removing_in_one_directory(driver: Driver) -> None:
    """Concurrent creates and removes of distinct names leave the exact listing and nlink."""
    shared = mkdir(driver, b"shared")
    with ThreadPoolExecutor(THREADS) as pool:
        for done in [pool.submit(churn, driver, shared.ino, w) for w in range(THREADS)]:
            done.result()
    expected = sorted(
        [b"w%d-f%d" % (w, i) for w in range(THREADS) for i in range(1, FILES, 2)]
        + [b"w%d-d%d" % (w, i) for w in range(THREADS) for i in range(1, DIRS, 2)]
    )
    assert names(driver, shared.ino) == expected
    assert driver.getattr(shared.ino).nlink == 2 + THREADS * (DIRS // 2)
    assert driver.getattr(ROOT_INO).nlink == 3
    f = driver.lookup(shared.ino, b"w2-f5")
    assert driver.read(f.ino, 0, 10) == b"2:5"


def test_threads_racing_for_one_name_let_exactly_one_win(driver: Driver) -> None:
    """Of threads creating one name, one wins and the rest get EEXIST."""

    def attempt(_: int) -> int:
        """0 for the creator, the errno for the others."""
        try:
            mkfile(driver, b"contended")
        except FsError as exc:
            return exc.errno
        return 0

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = sorted(pool.map(attempt, range(THREADS * 2)))
    assert outcomes == [0] + [EEXIST] * (THREADS * 2 - 1)
    assert names(driver) == [b"contended"]
