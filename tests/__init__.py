"""cloudfs test suites, by layer."""
