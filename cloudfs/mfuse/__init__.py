"""The mfusepy adapter (libfuse 3, high-level API): the only place that imports mfusepy."""
