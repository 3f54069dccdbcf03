"""cloudfs: POSIX filesystems on cloud storage, mounted with FUSE."""

__version__ = "0.1.0"
