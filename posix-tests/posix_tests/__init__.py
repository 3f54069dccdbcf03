"""POSIX conformance suite for cloudfs: errno-exact cases run through syscalls against any directory.

The suite never looks inside the filesystem under test; every case only uses syscalls on paths below
the target directory, so the same cases prove themselves on tmpfs and then judge each cloudfs driver.
"""
