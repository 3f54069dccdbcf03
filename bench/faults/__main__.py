"""`python -m bench.faults`: a tree copied into S3 through a fault-injecting proxy at several fault rates.

One SeaweedFS server on 127.0.0.1. For each tool and fault rate: a fresh bucket,
a FlakyProxy (tests/servers.py) in front of the server, a mount through it with
no faults while mounting, then faults at the rate (each request fails with that
probability, the kind drawn by a seeded RNG) and `cp -a` of the tree into the
mount, timed until the tool has stored everything. After unmounting, every file
is checked against its SHA-256: read from the bucket by a client straight to the
server for tools that store one object per file, read back through a fresh
mount without faults for JuiceFS (chunks).
"""

from __future__ import annotations

import argparse
import datetime
import http.server
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.faults.data import MIB, compare, make_tree, on_disk, stored
from bench.peers.proxy import classify
from bench.peers.tools import Cloudfs, Juicefs, Rclone, Tool
from tests.servers import FlakyProxy, S3Server, dummy_credentials, seaweedfs_server

RESULTS = Path(__file__).resolve().parent.parent / "results"
KINDS = ("503", "500", "slowdown", "reset", "reset-mid-body", "stall", "truncate")
# rclone mount cannot chmod or chown (cp -a fails on every file), so it copies keeping only the times.
CP_FLAGS = {"rclone": ["-r", "--preserve=timestamps"]}
log = logging.getLogger("bench.faults")


class NamingProxy(FlakyProxy):
    """A FlakyProxy counting requests by S3 operation (PUT, HEAD, LIST, part, …) rather than by method."""

    def operation(self, handler: http.server.BaseHTTPRequestHandler) -> str:
        """The request's S3 operation, as the peers benchmark names it."""
        return classify(handler.command, handler.path, handler.headers)


@dataclass
class Run:
    """One copy of the tree by one tool at one fault rate."""

    tool: str
    rate: float
    round: int
    seconds: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    corrupt: int = 0
    overlapping: int = 0  # requests sent while an identical one was in hand: hedges, mostly
    retries: int | None = None  # from cloudfs's log (its warnings); None for other tools
    logged_errors: int | None = None
    first_errors: list[str] = field(default_factory=list)  # the first ERROR lines of cloudfs's log
    error: str = ""


def tools(names: list[str], work: Path) -> list[Tool]:
    """The chosen tools, each with a work directory of its own."""
    known: dict[str, Tool] = {
        "cloudfs": Cloudfs("cloudfs", "cloudfs"),
        "rclone": Rclone("rclone", "rclone"),
        "juicefs": Juicefs("juicefs", "juicefs"),
    }
    chosen = [known[n] for n in names]
    for tool in chosen:
        tool.work = work / tool.name
        tool.work.mkdir(parents=True)
    return chosen


def copy(
    tool: Tool, server: S3Server, src: Path, wanted: dict[str, str], rate: float, index: int, args: argparse.Namespace
) -> Run:
    """Copy `src` with `tool` into a fresh bucket at fault rate `rate` (round `index`), then check every file."""
    run = Run(tool.name, rate, index)
    bucket = f"faults-{tool.name}-{tool.mounts + 1}"
    direct = server.client()
    direct.create_bucket(Bucket=bucket)
    with NamingProxy(server.url) as proxy:
        proxy.stall = args.stall
        tool.prepare(bucket, proxy.url)
        log_path = tool.work / f"{tool.name}-{tool.mounts + 1}.log"
        with tool.mount(bucket, proxy.url) as mounted:
            proxy.operations.clear()
            proxy.injected.clear()
            proxy.overlapping = 0
            proxy.randomly(rate, KINDS, seed=args.seed)
            start = time.perf_counter()
            cmd = ["cp", *CP_FLAGS.get(tool.name, ["-a"]), str(src), str(mounted.path / "tree")]
            try:
                try:
                    subprocess.run(cmd, check=True, capture_output=True, timeout=args.timeout)
                finally:
                    tool.settle(mounted, wrote=True)  # unmounting would drop rclone's pending uploads
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, TimeoutError) as exc:
                stderr = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip().splitlines()
                run.error = f"{type(exc).__name__}: {stderr[0][:300] if stderr else ''}"
            run.seconds = time.perf_counter() - start
            run.requests, run.faults = Counter(proxy.operations), Counter(proxy.injected)
            run.overlapping = proxy.overlapping
        if tool.name == "cloudfs":
            text = log_path.read_text(errors="replace")
            run.retries = text.count("), retrying:")
            errors = [line for line in text.splitlines() if " ERROR " in line]
            run.logged_errors, run.first_errors = len(errors), errors[:3]
        proxy.randomly(0.0)
        if isinstance(tool, Juicefs):
            with tool.mount(bucket, proxy.url) as mounted:
                got = on_disk(mounted.path / "tree")
        else:
            got = stored(direct, bucket, "tree/")
    run.lost, run.corrupt = compare(wanted, got)
    log.info("%s at %g%%: %.1f s, %d requests, %d faults, %d lost, %d corrupt %s", tool.name, rate * 100,
             run.seconds, run.requests.total(), run.faults.total(), run.lost, run.corrupt, run.error)  # fmt: skip
    return run


def _counts(counter: Counter[str]) -> str:
    """ "PUT 510, HEAD 3", most frequent first."""
    return ", ".join(f"{k} {n}" for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) or "-"


def _optional(value: int | None) -> str:
    """A count, or "-" where the tool does not report it."""
    return "-" if value is None else str(value)


def _ratio(run: Run, runs: list[Run]) -> float | None:
    """`run`'s time as a multiple of the fault-free copy by the same tool in the same round."""
    base = next((r.seconds for r in runs if (r.tool, r.round, r.rate) == (run.tool, run.round, 0) and not r.error), 0)
    return run.seconds / base if base else None


def summary(runs: list[Run]) -> list[str]:
    """One row per tool and rate: the median time over the rounds (and its range), the median ratio, losses."""
    lines = [
        "| tool | fault rate | seconds: median (min to max) | x fault-free: median | files lost | files corrupt "
        "| failed copies |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for tool, rate in dict.fromkeys((r.tool, r.rate) for r in runs):
        group = [r for r in runs if (r.tool, r.rate) == (tool, rate)]
        times = [r.seconds for r in group]
        ratios = [x for x in (_ratio(r, runs) for r in group) if x is not None]
        ratio = f"{statistics.median(ratios):.2f}x" if ratios else "-"
        lines.append(
            f"| {tool} | {rate:.0%} | {statistics.median(times):.1f} ({min(times):.1f} to {max(times):.1f}) | {ratio} "
            f"| {sum(r.lost for r in group)} | {sum(r.corrupt for r in group)} | {sum(bool(r.error) for r in group)} |"
        )
    return lines


def render(runs: list[Run], notes: list[str]) -> str:
    """The report as markdown: the summary, every run, then the faults and requests of each run."""
    lines = [
        *summary(runs),
        "",
        "Every run:",
        "",
        "| round | tool | fault rate | seconds | x fault-free | requests seen | faults injected | overlapping "
        "| retries | errors logged | lost | corrupt |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        ratio = _ratio(r, runs)
        seconds = f"{r.seconds:.1f}" + (" ⚠" if r.error else "")
        lines.append(
            f"| {r.round} | {r.tool} | {r.rate:.0%} | {seconds} | {'-' if ratio is None else f'{ratio:.2f}x'} "
            f"| {r.requests.total()} | {r.faults.total()} | {r.overlapping} | {_optional(r.retries)} "
            f"| {_optional(r.logged_errors)} | {r.lost} | {r.corrupt} |"
        )
    lines += ["", "| round | tool | fault rate | faults by kind | requests by operation |", "|---:|---|---:|---|---|"]
    lines += [f"| {r.round} | {r.tool} | {r.rate:.0%} | {_counts(r.faults)} | {_counts(r.requests)} |" for r in runs]
    failed = [f"- ⚠ round {r.round}, {r.tool} at {r.rate:.0%}: {r.error}" for r in runs if r.error]
    failed += [f"- round {r.round}, {r.tool} at {r.rate:.0%} logged: `{x[:300]}`" for r in runs for x in r.first_errors]
    return "\n".join([*notes, "", *lines, *(["", *failed] if failed else [])])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The tree, the fault rates and the tools from the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--files", type=int, default=503, help="files in the tree")
    parser.add_argument("--mib", type=float, default=84, help="their total size (MiB), sizes 1 KiB to 2 MiB")
    parser.add_argument("--rates", default="0,5,30", help="fault rates in percent, comma-separated; 0 is the base")
    parser.add_argument("--stall", type=float, default=5.0, help="seconds a stalled request is held")
    parser.add_argument("--seed", type=int, default=1, help="seeds the tree and the faults")
    parser.add_argument("--rounds", type=int, default=1, help="times every tool copies at every rate")
    parser.add_argument("--tools", default="cloudfs", help="comma-separated: cloudfs, rclone, juicefs")
    parser.add_argument("--timeout", type=int, default=900, help="seconds before a copy is abandoned")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (mount logs) and say where")
    parser.add_argument("--out", type=Path, help="report file (default bench/results/faults-<UTC date>.md)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every tool at every rate, print the report and write it under bench/results/."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    os.environ.update(dummy_credentials())
    rates = [float(r) / 100 for r in args.rates.split(",")]
    work = Path(tempfile.mkdtemp(prefix="cloudfs-faults-"))
    try:
        src = work / "tree"
        wanted = make_tree(src, args.files, int(args.mib * MIB), args.seed)
        total = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
        chosen = tools(args.tools.split(","), work)
        runs: list[Run] = []
        notes = [
            f"# cloudfs fault benchmark, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"`{' '.join(['python -m bench.faults', *(sys.argv[1:] if argv is None else argv)])}`",
            "",
            " ".join(
                [
                    f"A copy of {len(wanted)} files ({total / MIB:.1f} MiB, 1 KiB to 2 MiB log-uniform, in 32 leaf",
                    f"directories, seed {args.seed}) into a fresh bucket on SeaweedFS through a FlakyProxy",
                    f"(`tests/servers.py`), all on 127.0.0.1; {os.cpu_count()} CPUs, load average",
                    f"{os.getloadavg()[0]:.1f} at the start (other jobs share the machine),",
                    f"Python {platform.python_version()}. The mount is made with no faults; then each request",
                    f"fails with the given probability, the kind drawn with equal odds from {', '.join(KINDS)}",
                    f"by an RNG seeded with the seed (a stall holds its request {args.stall:g} s, then forwards",
                    "it; reset-mid-body and truncate forward it and cut the answer). The time runs from the start",
                    "of the copy until the tool has stored everything (`cp` returns; rclone: its upload queue is",
                    "empty), with faults on until the unmount. Every file is then checked by SHA-256: read straight",
                    "from the server for cloudfs and rclone (one object per file), through a fresh mount without",
                    "faults for JuiceFS (chunks). *requests seen*: every attempt at the proxy; *overlapping*:",
                    "requests that came while an identical one (method and target) was still in hand, that is",
                    "hedges (or a retry while an abandoned attempt is held); *retries* and *errors logged*:",
                    "cloudfs's warnings and errors. cloudfs and JuiceFS copy with `cp -a`, rclone with",
                    "`cp -r --preserve=timestamps` (its mount refuses chmod and chown); rclone runs",
                    "`mount --vfs-cache-mode writes` with its defaults, JuiceFS its defaults with a local SQLite",
                    "metadata file (bench/peers/tools.py).",
                ]
            ),
        ]
        for tool in chosen:
            if reason := tool.missing():
                notes.append(f"\n{tool.name}: skipped, {reason}")
        present = [tool for tool in chosen if not tool.missing()]
        with seaweedfs_server() as server:
            for index in range(1, args.rounds + 1):
                for tool in present:
                    runs += [copy(tool, server, src, wanted, rate, index, args) for rate in rates]
    finally:
        if args.keep:
            log.info("work directory kept: %s", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report = render(runs, notes)
    out = args.out or RESULTS / f"faults-{datetime.datetime.now(datetime.UTC):%Y-%m-%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    print(report)
    return 1 if any(r.lost or r.corrupt or r.error for r in runs if r.tool == "cloudfs") else 0


if __name__ == "__main__":
    sys.exit(main())
