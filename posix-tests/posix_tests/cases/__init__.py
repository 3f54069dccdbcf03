"""Case modules; importing this package registers every case."""

from posix_tests.cases import attrs, create, io, links, open_, owners, paths, perms, rename, times, xattr  # noqa: F401
