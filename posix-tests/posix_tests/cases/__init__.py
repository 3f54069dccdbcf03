"""Case modules; importing this package registers every case."""

from posix_tests.cases import paths  # noqa: F401
