"""Parsing of `aws:REGION/TABLE` and `dynamodb://REGION/TABLE` sources (layer: sources → dynamodb driver).

Only names are checked here, against DynamoDB's rules, before any I/O: the
tables themselves may be missing, since the first mount creates them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cloudfs.errors import SourceError

EXAMPLE = "aws:us-east-1/MyTable"
BLOCKS_SUFFIX = "Blocks"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


@dataclass(frozen=True, slots=True)
class TableLocation:
    """A parsed DynamoDB source: the region and the metadata table (blocks go to `TABLE` + "Blocks")."""

    region: str
    table: str

    @property
    def blocks_table(self) -> str:
        """The name of the table that holds file blocks."""
        return self.table + BLOCKS_SUFFIX


def parse(location: str) -> TableLocation:
    """Turn `REGION/TABLE` (or `//REGION/TABLE`) into a location; SourceError names what is wrong."""
    text = location[2:] if location.startswith("//") else location
    region, sep, table = text.partition("/")
    if not sep or not region or not table:
        raise SourceError(f"DynamoDB source needs a region and a table, e.g. {EXAMPLE}")
    if not _REGION.match(region):
        raise SourceError(f"invalid AWS region {region!r}: expected a name like us-east-1")
    if not _TABLE.match(table):
        raise SourceError(f"invalid DynamoDB table name {table!r}: 3-255 letters, digits, '_', '.' or '-'")
    if len(table) + len(BLOCKS_SUFFIX) > 255:
        raise SourceError(f"DynamoDB table name {table[:20]}… is too long: {table}{BLOCKS_SUFFIX} must fit 255")
    return TableLocation(region, table)
