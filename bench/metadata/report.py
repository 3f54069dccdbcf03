"""Markdown tables of the results: times and ratios, metadata round trips and ratios, then every step's breakdown."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from bench.metadata.dynamo import is_data
from bench.metadata.runner import Reading, Result
from bench.peers.data import MIB

SQLITE, AWS, S3, JUICEFS = "cloudfs-sqlite", "cloudfs-aws", "cloudfs-s3", "juicefs-redis"
PER_FILE_STEPS = ("create", "ls -l", "read each")


def breakdown(counts: Counter[str]) -> str:
    """Counts by name, most frequent first, e.g. "TransactWriteItems 1000, PutItem 1000"."""
    ops = sorted(((op, n) for op, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{op} {n}" for op, n in ops) or "-"


def ratio(a: float | None, b: float | None) -> str:
    """`a / b` as "3.2x", or "-" when either is missing or `b` is zero."""
    if a is None or not b:
        return "-"
    value = a / b
    return f"{value:.2g}x" if value < 10 else f"{value:.0f}x"


def _by_step(results: Iterable[Result]) -> dict[str, dict[str, Result]]:
    """step key -> tool -> result, in run order."""
    out: dict[str, dict[str, Result]] = {}
    for result in results:
        out.setdefault(result.step.key, {})[result.tool] = result
    return out


def _seconds(result: Result | None) -> str:
    """Seconds, marked when the step failed."""
    if result is None:
        return "-"
    return f"{result.seconds:.2f}" + (" ⚠" if result.error else "")


def _ok(result: Result | None) -> float | None:
    """Seconds of a step that succeeded."""
    return None if result is None or result.error else result.seconds


def _dynamo_split(reading: Reading) -> tuple[int, int, int]:
    """(metadata-table requests, blocks-table requests, heartbeats) of DynamoDB."""
    counts = reading.dynamo.requests
    blocks = sum(n for op, n in counts.items() if is_data(op))
    total = reading.dynamo_requests()
    return total - blocks, blocks, reading.dynamo_requests(background=True) - total


def _per_file(count: int, files: int, key: str) -> str:
    """`count`, with the count per file for the small-file steps."""
    return f"{count} ({count / files:.2g}/file)" if key in PER_FILE_STEPS and files else str(count)


def time_table(results: list[Result]) -> list[str]:
    """Seconds per step for each tool, and aws:'s time as a multiple of each other tool's."""
    names = list(dict.fromkeys(r.tool for r in results))
    others = [t for t in names if t != AWS]
    lines = [
        "| step | " + " | ".join(f"{t}: s" for t in names) + " | " + " | ".join(f"aws ÷ {t}" for t in others) + " |",
        "|---|" + "---:|" * (len(names) + len(others)),
    ]
    for key, tools in _by_step(results).items():
        aws = _ok(tools.get(AWS))
        cells = [_seconds(tools.get(t)) for t in names]
        ratios = [ratio(aws, _ok(tools.get(t))) for t in others]
        lines.append(f"| {key} | " + " | ".join(cells + ratios) + " |")
    return lines


def trips_table(results: list[Result], files: int) -> list[str]:
    """Requests and round trips per step: aws:'s DynamoDB, s3:'s S3, JuiceFS's Redis and S3; aws ÷ JuiceFS.

    JuiceFS's figures are its first run's (the first Redis latency).
    """
    lines = [
        "| step | aws: DynamoDB requests (metadata + blocks) | s3: S3 requests | JuiceFS: Redis round trips "
        "| JuiceFS: Redis commands | JuiceFS: S3 requests | aws ÷ JuiceFS metadata round trips |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, tools in _by_step(results).items():
        aws, s3 = tools.get(AWS), tools.get(S3)
        jfs = next((r for name, r in tools.items() if name.startswith(JUICEFS)), None)
        aws_cell, aws_meta = "-", None
        if aws is not None:
            meta, blocks, _ = _dynamo_split(aws.reading)
            aws_meta = meta
            total = _per_file(meta + blocks, files, key)
            aws_cell = f"{total} = {meta} + {blocks}" if blocks else total
        s3_cell = _per_file(s3.reading.s3_requests(), files, key) if s3 else "-"
        trips = jfs.reading.round_trips if jfs else None
        trips_cell = _per_file(trips, files, key) if trips is not None else "-"
        commands = _per_file(jfs.reading.redis_commands(), files, key) if jfs else "-"
        jfs_s3 = _per_file(jfs.reading.s3_requests(), files, key) if jfs else "-"
        meta_ratio = ratio(aws_meta, trips) if trips else ("∞" if aws_meta else "-")
        lines.append(f"| {key} | {aws_cell} | {s3_cell} | {trips_cell} | {commands} | {jfs_s3} | {meta_ratio} |")
    return lines


def _traffic(reading: Reading) -> str:
    """Body MiB up / down through both proxies."""
    up = reading.dynamo.bytes_up + reading.s3.bytes_up
    down = reading.dynamo.bytes_down + reading.s3.bytes_down
    return f"{up / MIB:.1f} / {down / MIB:.1f}"


def _unmount(reading: Reading) -> str:
    """What the meters saw while the step's mount was unmounted, in one cell."""
    parts = []
    if reading.dynamo.requests:
        parts.append(f"DynamoDB: {breakdown(reading.dynamo.requests)}")
    if reading.s3.requests:
        parts.append(f"S3: {breakdown(reading.s3.requests)}")
    if reading.round_trips or reading.redis:
        parts.append(f"Redis: {reading.round_trips} round trips, {reading.redis_commands()} commands")
    return "; ".join(parts) or "-"


def _cpu(reading: Reading) -> tuple[str, str]:
    """(the daemon's CPU seconds, each server's) over a reading."""
    daemon = reading.cpu.get("daemon")
    servers = ", ".join(f"{name} {sec:.1f}" for name, sec in reading.cpu.items() if name != "daemon" and sec >= 0.05)
    return ("-" if daemon is None else f"{daemon:.1f}"), servers or "-"


def _server_ms(reading: Reading) -> str:
    """Mean time a request spent past the proxy (on the server, the added latency not included), in ms."""
    requests = sum(reading.dynamo.requests.values()) + reading.s3_requests()
    seconds = reading.dynamo.server_seconds + reading.s3.server_seconds
    return f"{1000 * seconds / requests:.1f}" if requests else "-"


def step_tables(results: list[Result]) -> list[str]:
    """For each step: every tool's requests by operation, Redis commands, bytes, CPU, unmount, RSS."""
    lines: list[str] = []
    for key, tools in _by_step(results).items():
        first = next(iter(tools.values()))
        lines += [
            f"### {key}: {first.step.title}",
            "",
            "| tool | s | requests by operation (DynamoDB or S3) | server ms / request | Redis round trips "
            "| Redis commands by command | MiB up / down | daemon CPU s | server CPU s | at unmount | RSS MiB |",
            "|---|---:|---|---:|---:|---|---:|---:|---|---|---:|",
        ]
        for tool, r in tools.items():
            ops = breakdown(r.reading.dynamo.requests + r.reading.s3.requests)
            redis = breakdown(r.reading.redis) if tool.startswith(JUICEFS) else "-"
            trips = str(r.reading.round_trips) if tool.startswith(JUICEFS) else "-"
            rss = f"{r.peak_rss_kib / 1024:.0f}" if r.peak_rss_kib else "-"
            daemon, servers = _cpu(r.reading)
            row = [tool, _seconds(r), ops, _server_ms(r.reading), trips, redis, _traffic(r.reading), daemon, servers,
                   _unmount(r.unmount), rss]  # fmt: skip
            lines.append("| " + " | ".join(row) + " |")
        errors = [f"- ⚠ {r.tool}: {r.error}" for r in tools.values() if r.error]
        lines += ["", *errors, ""] if errors else [""]
    return lines
