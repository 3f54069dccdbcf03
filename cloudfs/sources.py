"""Mount sources: turn `scheme:location` into a driver spec and its parsed settings.

Drivers register under the entry-point group `cloudfs.drivers` (name = scheme,
value = a `DriverSpec`), so a third-party driver plugs in by being installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import entry_points

from cloudfs.driver import DriverSpec
from cloudfs.errors import SourceError

ENTRY_POINT_GROUP = "cloudfs.drivers"
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Source:
    """A parsed mount source: the driver spec and the settings its `parse` returned."""

    text: str
    spec: DriverSpec
    settings: object


def registered_specs() -> dict[str, DriverSpec]:
    """All installed driver specs by scheme."""
    specs: dict[str, DriverSpec] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = ep.load()
        if not isinstance(spec, DriverSpec) or spec.scheme != ep.name:
            raise SourceError(f"driver entry point {ep.name!r} ({ep.value}) is not a DriverSpec for its scheme")
        specs[ep.name] = spec
    return specs


def parse_source(text: str) -> Source:
    """Parse a mount source; SourceError names the problem in one line."""
    match = _SCHEME.match(text)
    specs = registered_specs()
    known = ", ".join(f"{s}:" for s in sorted(specs))
    if not match:
        raise SourceError(f"mount source {text!r} has no scheme; expected one of {known}")
    scheme, location = match.groups()
    spec = specs.get(scheme)
    if spec is None:
        raise SourceError(f"unknown mount source scheme {scheme + ':'!r}; expected one of {known}")
    return Source(text=text, spec=spec, settings=spec.parse(location))
