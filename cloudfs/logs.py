"""Logging set-up for the daemon: stderr, syslog or a file, one format everywhere."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def default_target(foreground: bool) -> str:
    """stderr in the foreground; syslog in the background, or a state file where there is no syslog."""
    if foreground:
        return "stderr"
    if Path("/dev/log").exists():
        return "syslog"
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local/state")
    return str(state / "cloudfs" / "cloudfs.log")


def setup_logging(target: str, level: str) -> None:
    """Send all cloudfs logs to `target` (stderr, syslog or a file path) at `level`."""
    if target == "stderr":
        handler: logging.Handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
    elif target == "syslog":
        handler = logging.handlers.SysLogHandler(address="/dev/log")
        handler.setFormatter(logging.Formatter("cloudfs[%(process)d]: %(levelname)s %(name)s: %(message)s"))
    else:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party request logs would drown ours and can carry signed URLs.
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
