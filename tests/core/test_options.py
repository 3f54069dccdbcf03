"""Mount options: what `-o` gives the driver's `open`, typed once by the CLI's parser."""

from __future__ import annotations

import pytest

from cloudfs.driver import DriverSettings
from cloudfs.drivers.s3 import SPEC as S3
from cloudfs.errors import SourceError
from cloudfs.options import parse_options


def test_generic_options_reach_the_driver_typed_and_its_own_as_text() -> None:
    """`-o uid=1000,umask=027,ro,no_metadata`: uid and umask as ints, ro as a bool, no_metadata left to the driver."""
    settings = parse_options(["uid=1000,umask=027,ro,no_metadata"], S3.options, "s3").driver_settings()
    assert settings == DriverSettings(uid=1000, gid=None, umask=0o027, read_only=True, options={"no_metadata": ""})
    assert (type(settings.uid), type(settings.umask), type(settings.read_only)) == (int, int, bool)


def test_no_options_leave_the_driver_its_defaults() -> None:
    """Without -o the driver gets no owner, no umask, read-write, and none of its own options."""
    assert parse_options([], S3.options, "s3").driver_settings() == DriverSettings()


def test_an_unknown_user_is_refused_before_the_driver_opens() -> None:
    """A uid that names no user is one clear SourceError (exit 2) from the parser; drivers see only ints."""
    with pytest.raises(SourceError) as info:
        parse_options(["uid=no-such-user-here"], frozenset(), "sqlite")
    assert str(info.value) == "bad value for mount option uid: 'no-such-user-here'"
