"""Case modules; importing this package registers every case."""

from posix_tests.cases import create, open_, paths  # noqa: F401
