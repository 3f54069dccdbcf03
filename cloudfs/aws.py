"""What the AWS drivers (S3, DynamoDB) share: the network faults worth a retry and the no-credentials message."""

from __future__ import annotations

from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

# A request that failed with one of these may be sent again: it never reached the store, or its answer was lost
# (IncompleteReadError: a streamed body that ended before its Content-Length).
NETWORK_ERRORS = (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
    ProtocolError,
    ConnectionError,
)

# Of those, the ones that only lost the answer on its way (the connection dropped, the body cut short): they say
# nothing about the store's load, so a first retry need not back off.
LOST_ANSWERS = (ConnectionClosedError, IncompleteReadError, ResponseStreamingError, ProtocolError)

NO_CREDENTIALS = "no AWS credentials found (set AWS_PROFILE, AWS_ACCESS_KEY_ID, or -o profile=)"
