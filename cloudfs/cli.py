"""The `cloudfs` command: mount, umount, and the `cloudfs SOURCE DIR -o ...` form mount.fuse3 uses.

Exit codes: 0 done, 1 the store or the mount failed, 2 bad input (usage,
source, option, mount point). Every failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys

from cloudfs import __version__
from cloudfs.core.context import MountSettings
from cloudfs.daemon import Reporter, record_pid, run_in_background, wait_for_exit
from cloudfs.errors import SourceError, StoreError
from cloudfs.logs import default_target, setup_logging
from cloudfs.options import MountOptions, parse_options
from cloudfs.sources import Source, parse_source

log = logging.getLogger("cloudfs")

EXAMPLES = """\
sources:
  sqlite:PATH               a filesystem in one SQLite file (created on first mount)
  s3:BUCKET[/PREFIX]        an S3 bucket in the s3fs-fuse layout (also s3://BUCKET/PREFIX)
  aws:REGION/TABLE          a POSIX filesystem in DynamoDB tables TABLE and TABLEBlocks

examples:
  cloudfs mount sqlite:/var/tmp/demo.db /mnt/demo --mkdir
  cloudfs umount /mnt/demo
  cloudfs gc aws:us-east-1/Team
  mount -t fuse.cloudfs sqlite:/var/tmp/demo.db /mnt/demo
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="cloudfs",
        description="Mount cloud storage as a POSIX filesystem.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cloudfs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    mount = commands.add_parser("mount", help="mount SOURCE on MOUNTPOINT", epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    mount.add_argument("source", metavar="SOURCE", help="what to mount, e.g. sqlite:/var/tmp/demo.db")
    mount.add_argument("mountpoint", metavar="MOUNTPOINT", help="an existing empty directory")
    mount.add_argument("-o", dest="options", action="append", default=[], metavar="OPT[,OPT...]",
                       help="mount options: ro, noatime, nonempty, allow_other, nodefault_permissions, uid=, gid=, "
                            "umask=, cache_ttl=SECONDS, workers=N, spool=DIR, and the driver's own")  # fmt: skip
    mount.add_argument("-f", "--foreground", action="store_true", help="stay in the foreground")
    mount.add_argument("-d", "--debug", action="store_true", help="foreground, debug logs and FUSE tracing")
    mount.add_argument("--mkdir", action="store_true", help="create MOUNTPOINT if it is missing")
    mount.add_argument("--log", metavar="stderr|syslog|FILE", help="where logs go (default: stderr in the "
                       "foreground, else syslog)")  # fmt: skip
    mount.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    umount = commands.add_parser("umount", aliases=["unmount"], help="flush and unmount MOUNTPOINT")
    umount.add_argument("mountpoint", metavar="MOUNTPOINT")
    umount.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the flush")
    gc = commands.add_parser("gc", help="delete orphaned inodes that crashed mounts left in SOURCE")
    gc.add_argument("source", metavar="SOURCE")
    gc.add_argument("-o", dest="options", action="append", default=[], metavar="OPT[,OPT...]",
                    help="the driver's options, as for mount (e.g. endpoint=URL)")  # fmt: skip
    return parser


def normalise_argv(argv: list[str]) -> list[str]:
    """Turn mount.fuse3's `SOURCE DIR -o OPTS` form into `mount SOURCE DIR -o OPTS`."""
    if argv and argv[0] not in ("mount", "umount", "unmount", "gc") and not argv[0].startswith("-"):
        return ["mount", *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `cloudfs` command."""
    args = build_parser().parse_args(normalise_argv(sys.argv[1:] if argv is None else argv))
    if args.command == "mount":
        return mount_command(args)
    if args.command == "gc":
        return gc_command(args.source, args.options)
    return umount_command(args.mountpoint, args.timeout)


def gc_command(text: str, option_texts: list[str]) -> int:
    """Open SOURCE without mounting and collect what crashed mounts left; live mounts' files are kept."""
    setup_logging("stderr", "warning")
    try:
        source = parse_source(text)
        options = parse_options(option_texts, source.spec.options, source.spec.scheme)
        driver = source.spec.open(source.settings, options.driver_settings())
    except SourceError as exc:
        print(f"cloudfs: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"cloudfs: {exc}", file=sys.stderr)
        return 1
    try:
        collect = getattr(driver, "collect_orphans", None)
        count = collect() if collect is not None else 0
    finally:
        driver.close()
    print(f"cloudfs: collected {count} orphaned inodes from {text}")
    return 0


def mount_command(args: argparse.Namespace) -> int:
    """Check the input, then mount in the foreground or the background."""
    try:
        source = parse_source(args.source)
        options = parse_options(args.options, source.spec.options, source.spec.scheme)
        mountpoint = check_mountpoint(args.mountpoint, args.mkdir, options.nonempty)
    except SourceError as exc:
        print(f"cloudfs: {exc}", file=sys.stderr)
        return 2
    foreground = args.foreground or args.debug
    level = "debug" if args.debug else args.log_level
    target = args.log or default_target(foreground)

    def serve_mount(reporter: Reporter) -> int:
        setup_logging(target, level)
        return run_mount(source, options, mountpoint, reporter, debug=args.debug)

    if foreground:
        return serve_mount(Reporter(None))
    return run_in_background(serve_mount)


def check_mountpoint(path: str, create: bool, nonempty: bool) -> str:
    """The mount point as an absolute path: an empty directory (created with --mkdir; -o nonempty allows files)."""
    absolute = os.path.abspath(path)
    if create:
        os.makedirs(absolute, exist_ok=True)
    if not os.path.exists(absolute):
        raise SourceError(f"mount point {absolute} does not exist (create it, or pass --mkdir)")
    if not os.path.isdir(absolute):
        raise SourceError(f"mount point {absolute} is not a directory")
    if os.path.ismount(absolute):
        raise SourceError(f"{absolute} is already a mount point")
    if not nonempty and any(os.scandir(absolute)):
        raise SourceError(f"mount point {absolute} is not empty (-o nonempty mounts over its files)")
    return absolute


def run_mount(source: Source, options: MountOptions, mountpoint: str, reporter: Reporter, debug: bool) -> int:
    """Open the driver and serve the mount; failures before mounting go to `reporter`."""
    # Imported here so `cloudfs --help` and bad input never need llfuse loaded.
    from cloudfs.binding import FuseSettings, choose, serve
    from cloudfs.core.filesystem import Filesystem

    try:
        driver = source.spec.open(source.settings, options.driver_settings())
    except SourceError as exc:
        reporter.failed(2, str(exc))
        return 2
    except StoreError as exc:
        reporter.failed(1, str(exc))
        return 1
    settings = MountSettings(
        read_only=options.read_only, noatime=options.noatime, uid=options.uid, gid=options.gid, umask=options.umask,
        check_permissions=not options.default_permissions, cache_ttl=options.cache_ttl, spool_dir=options.spool,
    )  # fmt: skip
    fuse = FuseSettings(
        fsname=source.text, allow_other=options.allow_other, default_permissions=options.default_permissions,
        read_only=options.read_only, nonempty=options.nonempty, workers=options.workers, debug=debug,
    )  # fmt: skip
    fs = Filesystem(driver, settings)
    try:
        pid_file = record_pid(mountpoint)
        failed = serve(choose(options.binding, driver.capabilities), fs, mountpoint, fuse, reporter.ready)
    except RuntimeError as exc:
        driver.close()
        reporter.failed(1, f"cannot mount on {mountpoint}: {exc}")
        return 1
    pid_file.unlink(missing_ok=True)
    return 1 if failed else 0


def umount_command(mountpoint: str, timeout: float) -> int:
    """Unmount (the kernel flushes open files first) and wait until the daemon has written everything."""
    absolute = os.path.abspath(mountpoint)
    if not os.path.ismount(absolute):
        print(f"cloudfs: {absolute} is not mounted", file=sys.stderr)
        return 2
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    command = [tool, "-u", absolute] if tool else ["umount", absolute]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        print(f"cloudfs: cannot unmount {absolute}: {reason}", file=sys.stderr)
        return 1
    if not wait_for_exit(absolute, timeout):
        print(f"cloudfs: unmounted {absolute}, but its process is still flushing after {timeout:.0f} s",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
