"""Entry point for `python -m posix_tests DIR --target NAME`."""

import sys

from posix_tests.cli import main

sys.exit(main())
