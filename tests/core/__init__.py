"""Unit tests of the core (`cloudfs/core/`) against the memory driver, without a mount."""
