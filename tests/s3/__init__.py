"""Tests of the S3 driver against real servers on 127.0.0.1."""
