"""Command line: `python -m posix_tests DIR --target NAME [--expect FILE] [-k SUBSTRING] [--list] [-v]`."""

import argparse
import os
import sys
from pathlib import Path

from posix_tests.helpers import U1, as_user, errname
from posix_tests.registry import all_cases
from posix_tests.runner import Result, Runner, match_expectation, parse_expectations, run_all

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser; the flags mirror the CI invocation."""
    p = argparse.ArgumentParser(prog="posix_tests", description=__doc__)
    p.add_argument("dir", nargs="?", type=Path, help="directory on the filesystem under test")
    p.add_argument("--target", default="local", help="name shown in the summary line")
    p.add_argument("--expect", type=Path, help="expectations file (default: expectations/TARGET.txt)")
    p.add_argument("-k", dest="substring", default="", help="only run cases whose id contains this")
    p.add_argument("--list", action="store_true", help="print the selected case ids and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="print every result")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before a case is killed and failed")
    return p


def _expect_file(args: argparse.Namespace) -> Path | None:
    """The explicit expectations file, else the target's default one if it exists."""
    if args.expect is not None:
        return args.expect
    default = EXPECTATIONS_DIR / f"{args.target}.txt"
    return default if default.exists() else None


def _report(result: Result, verbose: bool) -> None:
    """Print one result line when verbose, or when it is unexpected."""
    if result.unexpected:
        if result.passed:
            print(
                f"UNEXPECTED PASS {result.case_id}: excluded by line {result.excluded_by.line}"
                f" ({result.excluded_by.reason}) but passed",
                flush=True,
            )
        else:
            print(f"FAIL {result.case_id}: {result.reason}", flush=True)
    elif verbose:
        tag = "PASS" if result.passed else "EXCLUDED"
        print(f"{tag} {result.case_id}{': ' + result.reason if result.reason else ''}", flush=True)


def _user_access_problem(root: Path) -> str:
    """Why non-root children could not work under `root`, or "" when they can."""
    got = as_user(lambda: os.listdir(root))
    if not got.err:
        return ""
    return (
        f"uid {U1} cannot list {root} ({errname(got.err)}): every directory above DIR must be searchable"
        " by others, and a FUSE target must be mounted with -o allow_other"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the suite; exit 0 only with no unexpected failure and no unexpected pass, 2 on usage errors."""
    args = _parser().parse_args(argv)
    cases = [c for c in all_cases() if args.substring in c.id]
    if args.list:
        print("\n".join(c.id for c in cases))
        return 0
    if args.dir is None or not args.dir.is_dir():
        print("posix-tests: DIR must be an existing directory", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("posix-tests: must run as root (permission cases switch users)", file=sys.stderr)
        return 2
    expect = _expect_file(args)
    try:
        entries = parse_expectations(expect) if expect else []
    except (OSError, ValueError) as e:
        print(f"posix-tests: {e}", file=sys.stderr)
        return 2
    stale = [e for e in entries if not any(match_expectation(c.id, [e]) for c in all_cases())]
    for e in stale:
        print(f"posix-tests: {expect}:{e.line}: {e.pattern!r} matches no case", file=sys.stderr)
    if stale:
        return 2
    with Runner(args.dir.resolve(), args.timeout) as runner:
        problem = _user_access_problem(runner.root)
        if problem:
            print(f"posix-tests: {problem}", file=sys.stderr)
            return 2
        summary = run_all(cases, runner, entries, lambda r: _report(r, args.verbose))
    print(f"posix-tests: {args.target} passed={summary.passed} failed={summary.failed} excluded={summary.excluded}")
    return 1 if summary.failed else 0
