"""The `sqlite:PATH` driver: a fully POSIX filesystem in one local SQLite file (the embedded default).

Modules: `source` parses the mount source, `database` owns the file (lock,
schema, transactions), `blocks` stores file contents, `driver` implements the
driver protocol on top.
"""

from __future__ import annotations

from cloudfs.driver import DriverSpec

from .driver import SqliteDriver, open_driver
from .source import SqliteSettings, parse

SPEC = DriverSpec(
    scheme="sqlite",
    summary="a POSIX filesystem in one SQLite file (created on first mount)",
    parse=parse,
    open=open_driver,
)

__all__ = ["SPEC", "SqliteDriver", "SqliteSettings", "open_driver", "parse"]
