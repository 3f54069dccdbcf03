"""The filesystems compared: cloudfs on `sqlite:`, `aws:` and `s3:`, and JuiceFS with its metadata in Redis.

Mounting, unmounting, peak RSS and cache directories are `bench.peers.tools`'s;
each tool here only says how its foreground daemon is started. `target` is
what the tool stores into (a database name, a table or a bucket) and `url`
the endpoint it talks to (the counting proxy; for JuiceFS the S3 one, its
metadata URL being set on the tool).
"""

from __future__ import annotations

from pathlib import Path

from bench.peers.tools import Cloudfs, Juicefs, Tool

REGION = "us-east-1"


class CloudfsSqlite(Tool):
    """cloudfs's `sqlite:` driver: everything in one local file, no network (the floor)."""

    def command(self, target: str, url: str, mnt: Path, cache: Path) -> list[str]:
        """`cloudfs mount sqlite:WORK/TARGET.db MNT -f`."""
        source = f"sqlite:{self.work / target}.db"
        return [self.exe(), "mount", source, str(mnt), "-f", "-o", f"spool={cache}", "--log-level", "warning"]


class CloudfsAws(Tool):
    """cloudfs's DynamoDB driver (`aws:REGION/TABLE`) through the counting proxy."""

    def command(self, target: str, url: str, mnt: Path, cache: Path) -> list[str]:
        """`cloudfs mount aws:us-east-1/TABLE MNT -f -o endpoint=URL`."""
        source = f"aws:{REGION}/{target}"
        opts = f"endpoint={url},spool={cache}"
        return [self.exe(), "mount", source, str(mnt), "-f", "-o", opts, "--log-level", "warning"]


class JuicefsRedis(Juicefs):
    """JuiceFS with its metadata in Redis (through the round-trip relay) and its chunks in the bucket."""

    meta_url: str = ""
    redis_latency: float = 0.0

    def meta(self) -> str:
        """The Redis metadata URL, set by the runner before `prepare`."""
        return self.meta_url


def metadata_tools(work: Path, redis_latencies_ms: list[float]) -> list[Tool]:
    """The tools in report order, JuiceFS once per Redis latency, each with its own work directory under `work`."""
    tools: list[Tool] = [
        CloudfsSqlite("cloudfs-sqlite", "cloudfs"),
        CloudfsAws("cloudfs-aws", "cloudfs"),
        Cloudfs("cloudfs-s3", "cloudfs"),
    ]
    for ms in redis_latencies_ms:
        tool = JuicefsRedis(f"juicefs-redis-{ms:g}ms" if ms else "juicefs-redis", "juicefs")
        tool.redis_latency = ms / 1000
        tools.append(tool)
    for tool in tools:
        tool.work = work / tool.name
    return tools
