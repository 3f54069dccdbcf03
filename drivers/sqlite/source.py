"""Parsing of `sqlite:PATH` mount sources (layer: sources → sqlite driver).

Parsing only checks paths: the database file itself may be missing, because
the first mount of a new path creates the filesystem.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cloudfs.errors import SourceError

log = logging.getLogger(__name__)

EXAMPLE = "sqlite:/var/tmp/cloudfs.db"


@dataclass(frozen=True, slots=True)
class SqliteSettings:
    """A parsed `sqlite:` source: the absolute path of the database file."""

    path: Path


def parse(location: str) -> SqliteSettings:
    """Turn the text after `sqlite:` into settings; SourceError names what is wrong."""
    if not location:
        raise SourceError(f"sqlite: source needs a file path, e.g. {EXAMPLE}")
    if "\0" in location:
        raise SourceError("sqlite: file path contains a NUL byte")
    path = Path(os.path.abspath(os.path.expanduser(location)))
    parent = path.parent
    if not parent.exists():
        raise SourceError(f"sqlite: directory {parent} does not exist")
    if not parent.is_dir():
        raise SourceError(f"sqlite: {parent} is not a directory")
    if path.is_dir():
        raise SourceError(f"sqlite: {path} is a directory, not a database file")
    log.debug("sqlite source %r parsed as %s", location, path)
    return SqliteSettings(path=path)
