"""The DynamoDB side: moto served atomically (`tests/moto_server.py`), and request names refined from their bodies.

The counting proxy names a DynamoDB request by its `X-Amz-Target` operation;
`refine` adds what the body says about it, so the report can tell metadata
from file data and the mount's background work from the step's:

- `… blocks`: a request on the blocks table (file contents past 4 KiB);
- `PutItem session`: the mount's heartbeat (every 20 s, whatever the step does);
- `UpdateItem counter`: a new range of 256 inode numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import HOST, _stop, _wait_listening, free_port

REPO = Path(__file__).resolve().parents[2]
BLOCKS_SUFFIX = "Blocks"
SESSIONS_ID = "-2"
META_ID = "0"
BACKGROUND = ("PutItem session",)


def refine(operation: str, body: bytes) -> str:
    """`operation` with the table or item kind its JSON body names, when that matters (see the module docstring)."""
    if not body or not body.startswith(b"{"):
        return operation
    try:
        request = json.loads(body)
    except ValueError:
        return operation
    tables = [request.get("TableName", ""), *request.get("RequestItems", {})]
    if any(str(t).endswith(BLOCKS_SUFFIX) for t in tables):
        return f"{operation} blocks"
    if operation == "PutItem" and request.get("Item", {}).get("id", {}).get("N") == SESSIONS_ID:
        return "PutItem session"
    if operation == "UpdateItem" and request.get("Key", {}).get("id", {}).get("N") == META_ID:
        return "UpdateItem counter"
    return operation


def is_data(operation: str) -> bool:
    """A request on the blocks table."""
    return operation.endswith(" blocks")


@dataclass
class MotoServer:
    """A running moto DynamoDB endpoint and its process."""

    url: str
    pid: int


@contextmanager
def moto_dynamodb() -> Iterator[MotoServer]:
    """`python -m tests.moto_server` on a free loopback port (one request at a time)."""
    port = free_port()
    cmd = [sys.executable, "-m", "tests.moto_server", HOST, str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        yield MotoServer(f"http://{HOST}:{port}", proc.pid)
    finally:
        _stop(proc)
