"""Markdown tables of the results: one per step (tool x seconds x ratio to boto3 x requests), then a summary."""

from __future__ import annotations

from collections import defaultdict

from bench.peers.runner import BOTO3, Result

MIB = 1 << 20


def _breakdown(result: Result) -> str:
    """Requests by operation, most frequent first, e.g. "PUT 1000, LIST 1"."""
    ops = sorted(result.tally.requests.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{op} {n}" for op, n in ops) or "-"


def _ratio(seconds: float, limit: float | None) -> str:
    """`seconds` as a multiple of the boto3 time."""
    return f"{seconds / limit:.1f}x" if limit else "-"


def _row(result: Result, limit: float | None) -> str:
    """One table row."""
    tally = result.tally
    seconds = f"{result.seconds:.2f}" + (" ⚠" if result.error else "")
    traffic = f"{tally.bytes_up / MIB:.1f} / {tally.bytes_down / MIB:.1f}"
    total = sum(tally.requests.values())
    ratio = _ratio(result.seconds, limit)
    rss = f"{result.peak_rss_kib / 1024:.0f}" if result.peak_rss_kib else "-"
    return f"| {result.tool} | {seconds} | {ratio} | {total} | {_breakdown(result)} | {traffic} | {rss} |"


def step_tables(results: list[Result]) -> list[str]:
    """A table per step, rows in tool order, with the errors listed under it."""
    by_step: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_step[f"{result.step.group}: {result.step.name}"].append(result)
    lines = []
    for title, rows in by_step.items():
        limit = next((r.seconds for r in rows if r.tool == BOTO3 and not r.error), None)
        head = "| tool | seconds | x boto3 | requests | by operation | MiB up / down | RSS MiB |"
        lines += [f"### {title}", "", head]
        lines += ["|---|---:|---:|---:|---|---:|---:|"]
        lines += [_row(r, limit) for r in rows]
        errors = [f"- ⚠ {r.tool}: {r.error}" for r in rows if r.error]
        lines += ["", *errors, ""] if errors else [""]
    return lines


def summary_table(results: list[Result]) -> list[str]:
    """Per tool: seconds and requests per workload group, and the daemon's peak RSS."""
    groups = list(dict.fromkeys(r.step.group for r in results))
    tools = list(dict.fromkeys(r.tool for r in results))
    head = "| tool | " + " | ".join(f"{g}: s / requests" for g in groups) + " | peak RSS (MiB) | failed steps |"
    lines = [head, "|---|" + "---:|" * len(groups) + "---:|---:|"]
    for tool in tools:
        mine = [r for r in results if r.tool == tool]
        cells = []
        for group in groups:
            part = [r for r in mine if r.step.group == group]
            requests = sum(sum(r.tally.requests.values()) for r in part)
            cells.append(f"{sum(r.seconds for r in part):.1f} / {requests}")
        rss = max(r.peak_rss_kib for r in mine) / 1024
        rss_cell = f"{rss:.0f}" if rss else "-"
        failed = sum(1 for r in mine if r.error)
        lines.append(f"| {tool} | " + " | ".join(cells) + f" | {rss_cell} | {failed} |")
    return lines
