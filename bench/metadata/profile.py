"""Where the daemon's time goes: a summary of a `py-spy record --idle --threads --format raw` recording.

Each line of the recording is a thread's stack (thread first, leaf last) and
how many samples saw it. A FUSE worker's sample counts as *serving* when its
stack passes through `Operations.<op>`; the rest of its samples it waits in
llfuse for the kernel's next request. Serving samples are split by what the
leaf frame is doing: waiting on the socket for DynamoDB's answer (or
sending), or running Python in botocore/urllib3, tenacity, the core or the
driver.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.metadata.runner import Profile

RATE = 100  # samples a second, as recorded
CATEGORIES = (
    ("waiting for the answer (socket read)", re.compile(r"\((socket|ssl|selectors)\.py")),
    ("sending the request (socket write)", re.compile(r"^HTTPConnection\.send \(http/client\.py")),
    ("botocore, urllib3, http.client (build, sign, parse)", re.compile(r"\((botocore|urllib3|http|email|json)/")),
    ("tenacity (the retry wrapper)", re.compile(r"\(tenacity/")),
    ("cloudfs core and FUSE glue", re.compile(r"\(cloudfs/")),
    ("the DynamoDB driver and inode-store model", re.compile(r"\(drivers/")),
)
# Phases of a botocore call, by the function that runs each (inclusive; the hooks include signing).
PHASES = (
    ("HTTP request and response (urllib3, http.client)", "HTTPConnectionPool.urlopen (urllib3/connectionpool.py)"),
    ("botocore event hooks (signing included)", "HierarchicalEmitter.emit (botocore/hooks.py)"),
    ("SigV4 signing", "RequestSigner.sign (botocore/signers.py)"),
    ("building the request (validate, serialize)", "BaseClient._convert_to_request_dict (botocore/client.py)"),
    ("parsing the answer", "ResponseParser.parse (botocore/parsers.py)"),
)
OPERATION = re.compile(r"^Operations\.(\w+) ")
CALL = re.compile(r"^Dynamo\.call \(drivers/dynamodb/client\.py")
OURS = re.compile(r"\((cloudfs|drivers)/")


def _function(frame: str) -> str:
    """A frame without its line number: "Dynamo.call (drivers/dynamodb/client.py)"."""
    return re.sub(r":\d+\)$", ")", frame)


def _category(leaf: str) -> str:
    """What a serving sample's leaf frame is doing."""
    return next((name for name, pattern in CATEGORIES if pattern.search(leaf)), "other")


@dataclass
class Samples:
    """Counts from one recording."""

    total: int = 0
    workers: Counter[str] = field(default_factory=Counter)
    serving: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    running: Counter[str] = field(default_factory=Counter)
    running_inclusive: Counter[str] = field(default_factory=Counter)
    other_threads: Counter[str] = field(default_factory=Counter)


def read_samples(raw: Path) -> Samples:
    """Tally a raw recording."""
    out = Samples()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        thread, *frames = stack.split(";")
        name = thread.rpartition(": ")[2]
        out.total += n
        if not name.startswith("fuse-worker"):
            out.other_threads[name] += n
            continue
        out.workers[name] += n
        ops = [m.group(1) for f in frames if (m := OPERATION.match(f))]
        if not ops:
            continue
        out.serving += n
        out.operations[ops[0]] += n
        call = next((i for i, f in enumerate(frames) if CALL.match(f)), None)
        out.requests[frames[call - 1].partition(" ")[0] if call else "(no DynamoDB request)"] += n
        category = _category(frames[-1])
        out.categories[category] += n
        for function in dict.fromkeys(_function(f) for f in frames if OURS.search(f)):
            out.inclusive[function] += n
        if not category.startswith(("waiting", "sending")):
            out.running[_function(frames[-1])] += n
            for function in dict.fromkeys(_function(f) for f in frames):
                out.running_inclusive[function] += n
    return out


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


def summarise(profile: Profile, files: int) -> list[str]:
    """Markdown: how the recorded step went, then the serving time by operation, request, activity and function."""
    if profile.error and not profile.raw.exists():
        return [f"Not profiled: {profile.error}"]
    s = read_samples(profile.raw)
    serving_s = s.serving / RATE
    lines = [
        f"One more create of {files:,} files on a fresh mount of the same table, with py-spy sampling the daemon "
        f"({RATE} Hz, `--idle --threads --nonblocking`): {profile.seconds:.1f} s under the profiler"
        + (f" (⚠ {profile.error})" if profile.error else "")
        + f". FUSE workers were serving a request for {serving_s:.1f} s of it "
        f"({1000 * serving_s / files:.1f} ms a file); other threads: "
        + (", ".join(f"{name} {n / RATE:.1f} s" for name, n in s.other_threads.most_common()) or "none")
        + ".",
        "",
        "| serving time by FUSE operation | share | | by the driver call that sent a request | share |",
        "|---|---:|---|---|---:|",
    ]
    ops, requests = s.operations.most_common(), s.requests.most_common()
    for i in range(max(len(ops), len(requests))):
        op = f"{ops[i][0]} | {_pct(ops[i][1], s.serving)}" if i < len(ops) else " | "
        req = f"{requests[i][0]} | {_pct(requests[i][1], s.serving)}" if i < len(requests) else " | "
        lines.append(f"| {op} | | {req} |")
    lines += ["", "| serving time by what the leaf frame does | share |", "|---|---:|"]
    lines += [f"| {name} | {_pct(n, s.serving)} |" for name, n in s.categories.most_common()]
    lines += ["", "cloudfs and driver functions by inclusive share of serving time (top 15):", ""]
    lines += [f"- {_pct(n, s.serving)} `{name}`" for name, n in s.inclusive.most_common(15)]
    running = sum(s.running.values())
    lines += ["", f"The {running / RATE:.1f} s of serving time not spent on the socket (Python running), by phase of "
              "the botocore call (inclusive, nested):", ""]  # fmt: skip
    lines += [f"- {_pct(s.running_inclusive[fn], running)} {name} (`{fn}`)" for name, fn in PHASES]
    lines += ["", "… and by leaf function (top 10):", ""]
    lines += [f"- {_pct(n, running)} `{name}`" for name, n in s.running.most_common(10)]
    return lines
