"""Case modules; importing this package registers every case."""

from posix_tests.cases import attrs, create, links, open_, owners, paths, perms, rename, times  # noqa: F401
