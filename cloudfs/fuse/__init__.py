"""The llfuse binding: the only package that imports llfuse."""
