"""moto's server made atomic per request, and TransactWriteItems rolling back only the items it touched.

DynamoDB applies each request atomically; moto's backends are plain Python
objects that threads change under each other, so requests are served one at
a time here (with a threaded server, so slow clients do not block accept).

moto 5 deep-copies every table a transaction names before it applies the
transaction (for rollback on failure), once per item in it, so each
transaction costs time in proportion to the table's size: 100 ms at 1,300
items, seconds at tens of thousands. That makes a filesystem test on moto
quadratic in the tree it writes. The semantics are unchanged: the same checks
(item count, one operation per item, conditions in order), and a cancelled
transaction leaves every touched item as it was.

Run as `python -m tests.moto_server HOST PORT`.
"""

from __future__ import annotations

import copy
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

Snapshot = tuple[str, dict[str, Any], Any]


def _key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    """The primary key an operation of a transaction names."""
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _apply(backend: DynamoDBBackend, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    """Check one operation's condition, then carry it out."""
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    condition = op.get("ConditionExpression")
    current = backend.get_item(op["TableName"], key)
    if condition is not None and not get_filter_expression(condition, names, values).expr(current):
        old = current.to_json()["Attributes"] if current and op.get("ReturnValuesOnConditionCheckFailure") else None
        raise ConditionalCheckFailed(item=old)
    args = {"expression_attribute_names": names, "expression_attribute_values": values}
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"], **args)
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key, **args)
    elif op_type == "Update":
        backend.update_item(op["TableName"], key, update_expression=op["UpdateExpression"], **args)


def _roll_back(backend: DynamoDBBackend, snapshots: list[Snapshot]) -> None:
    """Put every touched item back as it was, last touched first."""
    for table_name, key, old in reversed(snapshots):
        if old is None:
            if backend.get_item(table_name, key) is not None:
                backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, old)


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """TransactWriteItems with item-level rollback (see the module docstring)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    snapshots: list[Snapshot] = []
    errors: list[tuple[str | None, str | None, Any]] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        try:
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            key = _key(self, op_type, op)
            ident = (str(op["TableName"]), str(dict(sorted(key.items()))))
            if ident in seen:
                raise MultipleTransactionsException()
            seen.add(ident)
            current = self.get_item(op["TableName"], key)
            old = None if current is None else copy.deepcopy(current.to_json()["Attributes"])
            snapshots.append((op["TableName"], key, old))
            _apply(self, op_type, op, key)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            _roll_back(self, snapshots)
            raise
        except ConditionalCheckFailed as exc:
            errors.append(("ConditionalCheckFailed", str(exc.message), None))
        except Exception as exc:
            errors.append((type(exc).__name__, str(exc), None))
    if any(code is not None for code, _, _ in errors):
        _roll_back(self, snapshots)
        raise TransactionCanceledException(errors)


def serve(host: str, port: int) -> None:
    """Serve every moto backend on `host:port`, one request at a time."""
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    run_simple(host, port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
