"""The DynamoDB driver's mount sources: `aws:REGION/TABLE` (dynamo-fuse's syntax) and `dynamodb://REGION/TABLE`.

Modules: `source` parses the source, `tables` creates and checks the tables,
`client` sends the requests, `items` is the item layout, `transaction` and
`store` run the shared inode-store model on them, `data` keeps file contents.
"""

from __future__ import annotations

import dataclasses

from cloudfs.driver import DriverSpec

from .driver import DynamoDriver, open_driver
from .source import TableLocation, parse

SPEC = DriverSpec(
    scheme="aws",
    summary="a POSIX filesystem in DynamoDB, shared by several hosts (aws:REGION/TABLE)",
    parse=parse,
    open=open_driver,
    options=frozenset({"endpoint", "profile", "lock_lease"}),
)

DYNAMODB_SPEC = dataclasses.replace(SPEC, scheme="dynamodb", summary="the same as aws: (dynamodb://REGION/TABLE)")

__all__ = ["DYNAMODB_SPEC", "SPEC", "DynamoDriver", "TableLocation", "open_driver", "parse"]
