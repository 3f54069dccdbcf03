"""`python -m bench.adapters`: the two FUSE adapters, llfuse and mfusepy, side by side on the same `sqlite:` driver.

Run from the repository root, as root (FUSE mounts, and py-spy attaching to
the daemon):

    /opt/cloudfs/bin/python -m bench.adapters [--out FILE] [--rounds N] [--no-profile]

Every measurement gets its own mount (`cloudfs mount ... -o binding=B`, in
the background, unmounted with `cloudfs umount`) on a fresh database file
under a temporary directory on local disk (/var/tmp), so nothing but the
adapter differs. Each round runs every workload with both adapters, the
order alternating from round to round; the report gives the median of the
rounds. The workloads:

- stat: 1,000 files created (untimed), then `os.stat` of all of them 5 times,
  with the default `cache_ttl=1` (the kernel answers most from its cache) and
  with `cache_ttl=0` (every stat reaches the daemon: the per-request cost);
- a 256 MiB file written with 1 MiB writes and fsync, then read back with
  1 MiB reads on a new mount of the same database (cold kernel and daemon
  caches; the database file itself stays in the host's page cache);
- 1,000 files of 4 KiB created with open/write/close;
- `os.stat` of a file at depth 8 (`a/b/c/d/e/f/g/h/file`) 2,000 times with
  `cache_ttl=0`: the kernel looks up every component each time, and the
  path-based mfusepy adapter walks the whole path again for each of them.

The daemon's CPU time (utime + stime from /proc/PID/stat) is read around each
timed part. Every result is checked (inode numbers, sizes, the read-back data,
the small files' contents), and every mount log is scanned for warnings,
errors and tracebacks, which the report lists. Finally, unless `--no-profile`,
py-spy samples each adapter's daemon for 10 s during a `cache_ttl=0` stat loop
and the report lists the frames with the most own time.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from cloudfs.daemon import state_file

RESULTS = Path(__file__).resolve().parent / "results"
CLOUDFS = str(Path(sys.executable).parent / "cloudfs")
PY_SPY = str(Path(sys.executable).parent / "py-spy")
BINDINGS = ("llfuse", "mfusepy")
MIB = 1 << 20
SMALL = 4096
STAT_PASSES = 5
DEEP = "a/b/c/d/e/f/g/h"
DEEP_STATS = 2000
PROFILE_SECONDS = 10
PERF = "perf"
HANDLER = re.compile(r"\((cloudfs|drivers)/|^FUSE\._wrapper \(mfusepy")  # a frame of a request being served
INCLUSIVE = re.compile(r"Operations\.(_walk|getattr|lookup) |FUSE\._wrapper |set_st_attrs ")
TICKS = os.sysconf("SC_CLK_TCK")
STAMP = re.compile(r"^[\d-]+ [\d:,]+ ")  # a log line's date and time
SUSPECT = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Exception|failed", re.IGNORECASE)


@dataclass
class Sample:
    """One timed workload on one adapter in one round: how much work, how long, and the daemon's CPU."""

    work: float
    seconds: float
    cpu: float
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Workload:
    """A row of the report: its key, its label, the unit of its rate, and what one unit of work is (for CPU per op)."""

    key: str
    label: str
    unit: str
    op: str


@dataclass
class Mount:
    """A live cloudfs mount: where, its database, the daemon's pid and log."""

    path: Path
    db: Path
    pid: int
    log: Path

    def cpu(self) -> float:
        """The daemon's CPU seconds so far (user + system, all threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Bench:
    """Where the mounts go, what they are given, and everything seen in their logs and output."""

    work: Path
    big_mib: int
    files: int
    mounts: int = 0
    log_lines: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def fresh_db(self, binding: str) -> Path:
        """A database path no mount has used yet."""
        self.mounts += 1
        return self.work / f"{binding}-{self.mounts}.db"

    @contextmanager
    def mount(self, binding: str, db: Path, ttl: float | None = None) -> Iterator[Mount]:
        """Mount `db` with `binding` (and `cache_ttl=ttl`), yield it, unmount and collect its log lines."""
        self.mounts += 1
        mnt = self.work / f"mnt-{self.mounts}"
        log = self.work / f"{binding}-{self.mounts}.log"
        spool = self.work / f"spool-{self.mounts}"
        spool.mkdir()
        opts = f"binding={binding},spool={spool}" + ("" if ttl is None else f",cache_ttl={ttl:g}")
        cmd = [CLOUDFS, "mount", f"sqlite:{db}", str(mnt), "--mkdir", "--log", str(log), "--log-level", "info"]
        done = subprocess.run([*cmd, "-o", opts], capture_output=True, text=True, timeout=120)
        self._note(binding, "mount output", done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"mount {binding} failed ({done.returncode}): {done.stderr.strip()}")
        mounted = Mount(mnt, db, int(state_file(str(mnt)).read_text()), log)
        try:
            yield mounted
        finally:
            self._unmount(mounted)
            self._note(binding, "log", log.read_text(errors="replace") if log.exists() else "")
            shutil.rmtree(spool, ignore_errors=True)

    def _unmount(self, mounted: Mount) -> None:
        """`cloudfs umount` (which waits for the flush); if that fails, lazily unmount and kill our daemon by pid."""
        done = subprocess.run([CLOUDFS, "umount", str(mounted.path)], capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            return
        self.log_lines["bench"][f"umount {mounted.path}: {done.stderr.strip()}"] += 1
        subprocess.run(["fusermount3", "-u", "-z", str(mounted.path)], capture_output=True, timeout=60)
        with suppress(ProcessLookupError):
            os.kill(mounted.pid, 9)

    def _note(self, binding: str, where: str, text: str) -> None:
        """Keep the suspicious lines of a log or of the mount command's output, timestamps stripped."""
        for line in text.splitlines():
            if line.strip() and (where == "mount output" or SUSPECT.search(line)):
                self.log_lines[binding][f"{where}: {STAMP.sub('', line.strip())}"] += 1


# -- workloads -----------------------------------------------------------------


def timed(mount: Mount, action: Callable[[], float]) -> tuple[float, float, float]:
    """Run `action` (which returns the work it did); its work, wall seconds and the daemon's CPU seconds."""
    cpu = mount.cpu()
    start = time.perf_counter()
    work = action()
    seconds = time.perf_counter() - start
    return work, seconds, mount.cpu() - cpu


def make_files(root: Path, count: int, size: int = 0) -> list[Path]:
    """`count` files of `size` bytes in directory `root` (created)."""
    root.mkdir()
    paths = [root / f"f{i:05d}" for i in range(count)]
    payload = b"x" * size
    for path in paths:
        with open(path, "wb") as f:
            f.write(payload)
    return paths


def stat_all(paths: list[Path], passes: int) -> float:
    """`os.stat` every path `passes` times; the number of stats."""
    for _ in range(passes):
        for path in paths:
            os.stat(path)
    return passes * len(paths)


def check_stats(paths: list[Path], size: int) -> list[str]:
    """What is wrong with the attributes: not a regular file, wrong size or nlink, inode numbers repeated or moving."""
    problems = []
    first = [os.stat(p) for p in paths]
    again = [os.stat(p) for p in paths]
    if len({s.st_ino for s in first}) != len(paths):
        problems.append("inode numbers not distinct")
    if [s.st_ino for s in first] != [s.st_ino for s in again]:
        problems.append("inode numbers changed between two stats")
    for path, st in zip(paths, first, strict=True):
        if not os.path.isfile(path) or st.st_size != size or st.st_nlink != 1:
            problems.append(f"{path.name}: mode {st.st_mode:o} size {st.st_size} nlink {st.st_nlink}")
            break
    return problems


def run_stat(bench: Bench, binding: str, ttl: float | None) -> Sample:
    """Create the files (untimed), then stat them all `STAT_PASSES` times."""
    with bench.mount(binding, bench.fresh_db(binding), ttl) as m:
        paths = make_files(m.path / "s", bench.files)
        os.stat(paths[-1])
        work, seconds, cpu = timed(m, lambda: stat_all(paths, STAT_PASSES))
        return Sample(work, seconds, cpu, check_stats(paths, 0))


def write_big(path: Path, data: memoryview) -> float:
    """Write `data` with 1 MiB writes, fsync, close; the MB written."""
    with open(path, "wb", buffering=0) as f:
        for offset in range(0, len(data), MIB):
            f.write(data[offset : offset + MIB])
        os.fsync(f.fileno())
    return len(data) / 1e6


def read_big(path: Path, into: bytearray) -> float:
    """Read the file into `into` with 1 MiB reads; the MB read."""
    done = 0
    with memoryview(into) as view, open(path, "rb", buffering=0) as f:
        while done < len(into):
            n = f.readinto(view[done : done + MIB])
            if not n:
                break
            done += n
    if done != len(into):
        raise OSError(f"short read: {done} of {len(into)} bytes")
    return done / 1e6


def run_big(bench: Bench, binding: str, data: memoryview, digest: str) -> tuple[Sample, Sample]:
    """The large file written on one mount, then read back on a new mount of the same database."""
    db = bench.fresh_db(binding)
    with bench.mount(binding, db) as m:
        wrote = Sample(*timed(m, lambda: write_big(m.path / "big", data)))
    into = bytearray(len(data))
    with bench.mount(binding, db) as m:
        read = Sample(*timed(m, lambda: read_big(m.path / "big", into)))
        if (size := os.stat(m.path / "big").st_size) != len(data):
            read.problems.append(f"size after remount {size}, not {len(data)}")
    if hashlib.sha256(into).hexdigest() != digest:
        read.problems.append("data read back differs from the data written")
    return wrote, read


def create_small(paths: list[Path], payload: bytes) -> float:
    """Create each file with open/write/close; the number of files."""
    for path in paths:
        with open(path, "wb") as f:
            f.write(payload)
    return len(paths)


def check_contents(paths: list[Path], payload: bytes) -> list[str]:
    """The files whose contents are not `payload`."""
    wrong = [p.name for p in paths if p.read_bytes() != payload]
    return [f"{len(wrong)} files with wrong contents, e.g. {wrong[0]}"] if wrong else []


def run_small(bench: Bench, binding: str) -> Sample:
    """Create the 4 KiB files, timed; check their contents afterwards."""
    payload = os.urandom(SMALL)
    with bench.mount(binding, bench.fresh_db(binding)) as m:
        root = m.path / "small"
        root.mkdir()
        paths = [root / f"f{i:05d}" for i in range(bench.files)]
        sample = Sample(*timed(m, lambda: create_small(paths, payload)))
        sample.problems += check_contents(paths, payload)
        if len(os.listdir(root)) != len(paths):
            sample.problems.append(f"{len(os.listdir(root))} entries listed, not {len(paths)}")
        return sample


def run_deep(bench: Bench, binding: str) -> Sample:
    """Stat one file at depth 8 `DEEP_STATS` times with cache_ttl=0."""
    with bench.mount(binding, bench.fresh_db(binding), ttl=0) as m:
        (m.path / DEEP).mkdir(parents=True)
        target = m.path / DEEP / "file"
        target.write_bytes(b"deep")
        work, seconds, cpu = timed(m, lambda: stat_all([target], DEEP_STATS))
        return Sample(work, seconds, cpu, check_stats([target], 4))


# -- rounds and report -----------------------------------------------------------


def workloads(bench: Bench) -> list[Workload]:
    """The report's rows, in order."""
    n, big = f"{bench.files:,}", f"{bench.big_mib} MiB"
    return [
        Workload("stat", f"stat, cache_ttl=1 ({STAT_PASSES} x {n} files)", "stat/s", "stat"),
        Workload("stat0", f"stat, cache_ttl=0 ({STAT_PASSES} x {n} files)", "stat/s", "stat"),
        Workload("write", f"sequential write {big} (1 MiB writes + fsync)", "MB/s", "MB"),
        Workload("read", f"sequential read {big} (1 MiB reads, new mount)", "MB/s", "MB"),
        Workload("small", f"create {n} x 4 KiB files (open/write/close)", "files/s", "file"),
        Workload("deep", f"stat at depth 8, cache_ttl=0 ({DEEP_STATS:,} x)", "stat/s", "stat"),
    ]


def run_round(bench: Bench, order: tuple[str, ...], data: memoryview, digest: str) -> dict[tuple[str, str], Sample]:
    """Every workload once with each adapter, in `order`."""
    out: dict[tuple[str, str], Sample] = {}
    steps: list[tuple[str, Callable[[str], Sample | tuple[Sample, Sample]]]] = [
        ("stat", lambda b: run_stat(bench, b, None)),
        ("stat0", lambda b: run_stat(bench, b, 0)),
        ("write", lambda b: run_big(bench, b, data, digest)),
        ("small", lambda b: run_small(bench, b)),
        ("deep", lambda b: run_deep(bench, b)),
    ]
    for key, step in steps:
        for binding in order:
            result = step(binding)
            if isinstance(result, tuple):
                out["write", binding], out["read", binding] = result
            else:
                out[key, binding] = result
            log(f"  {key:<6} {binding:<8} " + "  ".join(_brief(out[k, binding]) for k in _keys(key)))
    return out


def _keys(key: str) -> tuple[str, ...]:
    """The result keys a step fills: the large-file step fills two."""
    return ("write", "read") if key == "write" else (key,)


def _brief(sample: Sample) -> str:
    """A progress line's figures for one sample."""
    flag = f" PROBLEMS: {sample.problems}" if sample.problems else ""
    return f"{sample.work / sample.seconds:,.0f}/s ({sample.seconds:.2f} s, cpu {sample.cpu:.2f} s){flag}"


def median_rate(samples: list[Sample]) -> float:
    """The median over rounds of work per second."""
    return statistics.median(s.work / s.seconds for s in samples)


def median_cpu_us(samples: list[Sample]) -> float:
    """The median over rounds of the daemon's CPU microseconds per unit of work."""
    return statistics.median(s.cpu / s.work * 1e6 for s in samples)


def _fmt(value: float) -> str:
    """A figure with about three significant digits."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def rate_table(rows: list[Workload], runs: dict[tuple[str, str], list[Sample]]) -> list[str]:
    """Median rates per adapter and their ratio."""
    lines = ["| workload | llfuse | mfusepy | ratio (mfusepy/llfuse) |", "|---|---:|---:|---:|"]
    for w in rows:
        a, b = (median_rate(runs[w.key, x]) for x in BINDINGS)
        lines.append(f"| {w.label} | {_fmt(a)} {w.unit} | {_fmt(b)} {w.unit} | {b / a:.2f} |")
    return lines


def cpu_table(rows: list[Workload], runs: dict[tuple[str, str], list[Sample]]) -> list[str]:
    """Median daemon CPU time per operation per adapter, and their ratio."""
    lines = ["| workload | llfuse | mfusepy | ratio (mfusepy/llfuse) |", "|---|---:|---:|---:|"]
    for w in rows:
        a, b = (median_cpu_us(runs[w.key, x]) for x in BINDINGS)
        ratio = f"{b / a:.2f}" if a else "-"
        lines.append(f"| {w.label} | {_fmt(a)} µs/{w.op} | {_fmt(b)} µs/{w.op} | {ratio} |")
    return lines


def rounds_table(rows: list[Workload], runs: dict[tuple[str, str], list[Sample]]) -> list[str]:
    """Every round's rate, to show the spread behind the medians."""
    lines = ["| workload | adapter | rounds |", "|---|---|---|"]
    for w in rows:
        for x in BINDINGS:
            rates = ", ".join(_fmt(s.work / s.seconds) for s in runs[w.key, x])
            lines.append(f"| {w.label} | {x} | {rates} {w.unit} |")
    return lines


def machine() -> str:
    """CPUs, kernel, CPU model, load, Python and the FUSE libraries."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), "?")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in ("llfuse", "mfusepy"))
    fuse3 = next((p.name for p in Path("/usr/lib/x86_64-linux-gnu").glob("libfuse3.so.3.*")), "libfuse3 ?")
    fuse2 = next((p.name for p in Path("/usr/lib/x86_64-linux-gnu").glob("libfuse.so.2.*")), "libfuse2 ?")
    return (
        f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, load average {load}; "
        f"Python {platform.python_version()}, {versions} ({fuse2}, {fuse3})"
    )


def problems_section(runs: dict[tuple[str, str], list[Sample]], bench: Bench) -> list[str]:
    """Wrong results and suspicious log lines, per adapter; says so when there were none."""
    lines = []
    for (key, binding), samples in sorted(runs.items()):
        for i, s in enumerate(samples, 1):
            lines += [f"- {binding}, {key}, round {i}: {p}" for p in s.problems]
    for binding, seen in sorted(bench.log_lines.items()):
        lines += [f"- {binding}: `{line}` ({n}x)" for line, n in seen.most_common()]
    return lines or ["- none: every check passed and no mount log had a warning or an error"]


# -- profile -------------------------------------------------------------------


def serving(stack: list[str]) -> bool:
    """True for a sample of a thread serving a request: through the core or a driver, not the main thread's loop."""
    return not any(f.startswith("serve (cloudfs/") for f in stack) and any(HANDLER.search(f) for f in stack)


def own_time(raw: Path, top: int = 8) -> tuple[int, list[tuple[str, int]], Counter[str]]:
    """From py-spy's raw output: serving samples, the leaf frames with the most of them, and inclusive counts."""
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        if not count.isdigit() or not serving(frames):
            continue
        total += int(count)
        leaves[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    return total, leaves.most_common(top), inclusive


def stat_until(paths: list[Path], stop: threading.Event) -> None:
    """Stat the paths over and over until `stop` is set: the load the profilers sample."""
    while not stop.is_set():
        stat_all(paths, 1)


def py_spy(pid: int, raw: Path) -> list[str]:
    """py-spy's view of the daemon: the Python frames with the most own time while serving requests."""
    cmd = [PY_SPY, "record", "-p", str(pid), "-r", "250", "-d", str(PROFILE_SECONDS), "-o", str(raw), "-f", "raw"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=PROFILE_SECONDS + 60)
    if done.returncode != 0 or not raw.exists():
        return [f"- py-spy failed: {done.stderr.strip()[-300:]}"]
    total, top, inclusive = own_time(raw)
    if not total:
        return ["- py-spy saw no sample of a thread serving a request"]
    lines = [f"py-spy, {total:,} samples of threads serving a request; own time:", ""]
    lines += [f"- {n / total:.1%} `{frame}`" for frame, n in top]
    ours = sorted(((f, n) for f, n in inclusive.items() if INCLUSIVE.match(f)), key=lambda x: -x[1])
    lines += ["", "Inclusive: " + "; ".join(f"`{f}` {n / total:.0%}" for f, n in ours)]
    return lines


def perf_report(data: Path, sort: str, top: int) -> list[tuple[float, str]]:
    """`perf report` of a recording, sorted by `sort` (dso or sym): the top shares and their names."""
    cmd = [PERF, "report", "-i", str(data), "--stdio", "--no-children", "-g", "none", "--sort", sort]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    rows = [(float(m[1]), m[2].strip()) for m in re.finditer(r"^\s+([\d.]+)%\s+(.+)$", done.stdout, re.M)]
    return rows[:top]


def perf(pid: int, data: Path) -> list[str]:
    """perf's view of the daemon (C and kernel included, which py-spy cannot see): CPU by library and by symbol."""
    cmd = [PERF, "record", "-F", "499", "-p", str(pid), "-o", str(data), "--", "sleep", str(PROFILE_SECONDS)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=PROFILE_SECONDS + 60)
    if done.returncode != 0:
        return [f"- perf failed: {done.stderr.strip()[-300:]}"]
    samples = re.search(r"\((\d+) samples\)", done.stderr)
    cpus = int(samples[1]) / 499 / PROFILE_SECONDS if samples else 0.0
    lines = [f"perf, {cpus:.2f} CPUs busy on average; by library:", ""]
    lines += [f"- {share:.1f}% {name}" for share, name in perf_report(data, "dso", 6)]
    lines += ["", "by symbol: " + "; ".join(f"{name} {share:.1f}%" for share, name in perf_report(data, "sym", 8))]
    return lines


def profile(bench: Bench, binding: str) -> list[str]:
    """py-spy, then perf, on the daemon while this process stats files with cache_ttl=0; their summaries."""
    with bench.mount(binding, bench.fresh_db(binding), ttl=0) as m:
        paths = make_files(m.path / "s", bench.files)
        stop = threading.Event()
        loop = threading.Thread(target=stat_until, args=(paths, stop), daemon=True)
        loop.start()
        try:
            raw = bench.work / f"py-spy-{binding}.txt"
            lines = [f"### {binding}", "", *py_spy(m.pid, raw), ""]
            if shutil.which(PERF):
                lines += [*perf(m.pid, bench.work / f"perf-{binding}.data"), ""]
        finally:
            stop.set()
            loop.join()
    if raw.exists():
        shutil.copy(raw, Path(tempfile.gettempdir()) / f"adapters-py-spy-{binding}.txt")
    return lines


# -- main ------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Rounds, sizes and the output file from the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.adapters", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the report gives their median")
    parser.add_argument("--big-mib", type=int, default=256, help="size of the large file (MiB)")
    parser.add_argument("--files", type=int, default=1000, help="files in the stat and create workloads")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy runs")
    parser.add_argument("--out", type=Path, help="report file (default bench/results/adapters-<date>.md)")
    return parser.parse_args(argv)


def render(bench: Bench, runs: dict[tuple[str, str], list[Sample]], rounds: int, profiles: list[str]) -> str:
    """The whole report as Markdown."""
    rows = workloads(bench)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# cloudfs FUSE adapters, llfuse and mfusepy, on sqlite:, {now}", "",
        f"Machine: {machine()}.", "",
        f"Median of {rounds} rounds, adapters alternating first; a fresh database per mount under /var/tmp. "
        "Ratios below 1 in the first table mean mfusepy is slower; above 1 in the second, that it spends more CPU.",
        "", "## Rates", "", *rate_table(rows, runs), "",
        "## Daemon CPU time per operation", "", *cpu_table(rows, runs), "",
        "## Every round", "", *rounds_table(rows, runs), "",
        "## Problems seen (wrong results, mount logs and output)", "", *problems_section(runs, bench), "",
    ]  # fmt: skip
    if profiles:
        lines += [f"## Profile: {PROFILE_SECONDS} s of the stat loop with cache_ttl=0", "", *profiles, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the rounds (and the profiles), print the report and write it."""
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench.adapters: run as root (FUSE mounts, py-spy)", file=sys.stderr)
        return 2
    bench = Bench(Path(tempfile.mkdtemp(prefix="cloudfs-adapters-", dir="/var/tmp")), args.big_mib, args.files)
    data = memoryview(os.urandom(args.big_mib * MIB))
    digest = hashlib.sha256(data).hexdigest()
    runs: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    profiles: list[str] = []
    try:
        for r in range(args.rounds):
            order = BINDINGS if r % 2 == 0 else BINDINGS[::-1]
            log(f"round {r + 1} of {args.rounds}: {', '.join(order)}")
            for key, sample in run_round(bench, order, data, digest).items():
                runs[key].append(sample)
        if not args.no_profile and Path(PY_SPY).exists():
            for binding in BINDINGS:
                log(f"profile {binding}")
                profiles += profile(bench, binding)
    finally:
        shutil.rmtree(bench.work, ignore_errors=True)
    report = render(bench, runs, args.rounds, profiles)
    out = args.out or RESULTS / f"adapters-{datetime.datetime.now(datetime.UTC):%Y-%m-%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    print(report)
    return 1 if any(s.problems for samples in runs.values() for s in samples) else 0


if __name__ == "__main__":
    sys.exit(main())
