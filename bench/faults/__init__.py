"""The fault benchmark: a tree copied into S3 through a proxy that fails a share of requests, every file checked."""
