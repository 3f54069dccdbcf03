"""What the AWS drivers (S3, DynamoDB) share: the network faults worth a retry and the no-credentials message."""

from __future__ import annotations

from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

# A request that failed with one of these may be sent again: it never reached the store, or its answer was lost.
NETWORK_ERRORS = (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    ProtocolError,
    ConnectionError,
)

NO_CREDENTIALS = "no AWS credentials found (set AWS_PROFILE, AWS_ACCESS_KEY_ID, or -o profile=)"
