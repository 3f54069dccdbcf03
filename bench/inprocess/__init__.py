"""In-process benchmarks of the core and the drivers (pytest-benchmark); not collected by `pytest tests`."""
