"""Mounting cloudfs for tests exactly as a user does: through the `cloudfs` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cloudfs.daemon import state_file

CLOUDFS = [str(Path(sys.executable).with_name("cloudfs"))]


def cloudfs(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the `cloudfs` command and capture its output."""
    return subprocess.run([*CLOUDFS, *args], capture_output=True, text=True, timeout=timeout, env=env)


class Mount:
    """One cloudfs mount of `source` on `path`, logging to `log`."""

    def __init__(self, source: str, path: Path, log: Path, options: tuple[str, ...] = ()) -> None:
        self.source = source
        self.path = path
        self.log = log
        self.options = options

    def start(self) -> None:
        """Mount in the background; the command returns once the mount works."""
        self.path.mkdir(parents=True, exist_ok=True)
        opts = ["-o", ",".join(self.options)] if self.options else []
        done = cloudfs("mount", self.source, str(self.path), *opts, "--log", str(self.log), "--log-level", "debug")
        assert done.returncode == 0, done.stderr
        assert os.path.ismount(self.path)

    def stop(self) -> None:
        """Unmount with `cloudfs umount`, which waits for the daemon to flush and exit."""
        done = cloudfs("umount", str(self.path))
        assert done.returncode == 0, done.stderr
        assert not os.path.ismount(self.path)

    def restart(self) -> None:
        """Unmount and mount the same source again."""
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        """The daemon serving this mount."""
        return int(state_file(str(self.path)).read_text())

    def problems(self) -> list[str]:
        """Log lines at WARNING or above, and tracebacks: a healthy mount has none."""
        if not self.log.exists():
            return []
        return [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if " WARNING " in line or " ERROR " in line or " CRITICAL " in line or "Traceback" in line
        ]

    def force_unmount(self) -> None:
        """Detach a mount whose daemon is gone (after kill -9)."""
        subprocess.run(["fusermount3", "-u", "-z", str(self.path)], capture_output=True)
