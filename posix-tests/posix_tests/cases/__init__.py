"""Case modules; importing this package registers every case."""

from posix_tests.cases import create, links, open_, paths, rename  # noqa: F401
