"""`python -m bench.peers`: one SeaweedFS server, a counting proxy, every tool on its own bucket, a report."""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.peers.data import Data, Sizes, make_data
from bench.peers.proxy import CountingProxy
from bench.peers.report import step_tables, summary_table
from bench.peers.runner import BOTO3, Result, run_boto3, run_tool
from bench.peers.tools import Tool, all_tools
from tests.servers import dummy_credentials, seaweedfs_server

RESULTS = Path(__file__).resolve().parent.parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Sizes, tools and output file from the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--big-mib", type=int, default=256, help="size of the large file (MiB)")
    parser.add_argument("--random-reads", type=int, default=100, help="random 4 KiB reads of the large file")
    parser.add_argument("--small-files", type=int, default=1000, help="number of 4 KiB files in one directory")
    parser.add_argument("--tree-files", type=int, default=300, help="files in the generated tree")
    parser.add_argument("--tools", default="boto3,cloudfs,s3fs,rclone,juicefs", help="comma-separated subset")
    parser.add_argument("--latency-ms", type=float, default=0, help="added to every request, as a WAN round trip")
    parser.add_argument("--step-timeout", type=int, default=300, help="seconds before a step is abandoned")
    parser.add_argument("--out", type=Path, help="report file (default bench/results/<UTC date>.md)")
    return parser.parse_args(argv)


def versions(tools: list[Tool]) -> list[str]:
    """One line per tool: the first line of its version output."""
    flags = {"cloudfs": "--version", "s3fs": "--version", "rclone": "version", "juicefs": "version"}
    lines = [f"- boto3 {__import__('boto3').__version__}, Python {platform.python_version()}"]
    for tool in tools:
        done = subprocess.run([tool.exe(), flags[tool.name]], capture_output=True, text=True, timeout=30)
        first = (done.stdout or done.stderr).strip().splitlines()
        lines.append(f"- {tool.name}: {first[0] if first else '?'}")
    return lines


def run_all(
    names: list[str], data: Data, work: Path, timeout: int, latency: float = 0.0
) -> tuple[list[Result], list[str]]:
    """Start the server and proxy (adding `latency` s per request), run each chosen tool on its own bucket."""
    tools = [t for t in all_tools(work) if t.name in names]
    results: list[Result] = []
    notes = versions(tools)
    with seaweedfs_server() as server, CountingProxy(server.url, latency) as proxy:
        direct = server.client()
        if "boto3" in names:
            direct.create_bucket(Bucket="bench-boto3")
            results += run_boto3("bench-boto3", proxy, data, timeout)
        for tool in tools:
            if reason := tool.missing():
                notes.append(f"- {tool.name}: skipped, {reason}")
                continue
            direct.create_bucket(Bucket=f"bench-{tool.name}")
            results += run_tool(tool, f"bench-{tool.name}", proxy, data, timeout)
    return results, notes


def render(results: list[Result], notes: list[str], sizes: Sizes, latency_ms: float = 0) -> str:
    """The whole report as markdown."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        f"# cloudfs S3 peers benchmark, {now}", "",
        f"SeaweedFS behind a counting proxy, all on 127.0.0.1; {os.cpu_count()} CPUs; {latency_ms:g} ms added to "
        f"each request. Sizes: large file "
        f"{sizes.big_mib} MiB, {sizes.random_reads} random reads of {sizes.read_size} B, {sizes.small_files} "
        f"files of {sizes.small_size} B, a tree of {sizes.tree_files} files. Every filesystem step runs on a fresh "
        f"mount (cold caches). ⚠ marks a step that failed (listed under its table).", "",
        *notes, "", "## Summary", "", *summary_table(results), "", "## Per step", "",
    ]  # fmt: skip
    return "\n".join(head + step_tables(results))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report and write it under bench/results/."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    os.environ.update(dummy_credentials())
    sizes = Sizes(big_mib=args.big_mib, random_reads=args.random_reads, small_files=args.small_files)
    sizes.tree_files = args.tree_files
    work = Path(tempfile.mkdtemp(prefix="cloudfs-bench-"))
    try:
        data = make_data(work, sizes)
        results, notes = run_all(args.tools.split(","), data, work, args.step_timeout, args.latency_ms / 1000)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = render(results, notes, sizes, args.latency_ms)
    out = args.out or RESULTS / f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    print(report)
    return 1 if any(r.error for r in results if r.tool == BOTO3) else 0


if __name__ == "__main__":
    sys.exit(main())
