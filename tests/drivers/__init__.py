"""The driver contract suite: every test runs against every registered driver."""
