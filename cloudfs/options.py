"""Mount options (`-o a,b=c`): generic mount(8) ones, the core's, and the driver's own.

mount(8) and mount.fuse3 pass their generic options through to us, so those
are accepted silently; anything we do not know is one clear error, never a
silently ignored typo.
"""

from __future__ import annotations

import grp
import pwd
from dataclasses import dataclass, field

from cloudfs.driver import DriverSettings
from cloudfs.errors import SourceError

# Handled by mount(8), the kernel or systemd, or meaningless for FUSE: accepted and ignored.
GENERIC_OPTIONS = frozenset(
    {
        "rw", "defaults", "auto", "noauto", "user", "users", "nouser", "owner", "group", "_netdev",
        "nofail", "dev", "nodev", "suid", "nosuid", "exec", "noexec", "async", "sync", "dirsync",
        "atime", "relatime", "norelatime", "strictatime", "nostrictatime", "lazytime",
        "nolazytime", "diratime", "nodiratime", "iversion", "noiversion", "mand", "nomand",
        "loud", "silent", "nosymfollow", "symfollow", "bg", "fg",
    }
)  # fmt: skip
GENERIC_PREFIXES = ("x-", "comment=", "helper=")

CORE_FLAGS = frozenset(
    {"ro", "noatime", "nonempty", "allow_other", "allow_root", "default_permissions", "nodefault_permissions"}
)
CORE_VALUES = frozenset({"uid", "gid", "umask", "cache_ttl", "workers", "spool", "binding"})
BINDINGS = ("llfuse", "mfusepy")


@dataclass(frozen=True)
class MountOptions:
    """Parsed `-o` options: core settings plus driver-specific values."""

    read_only: bool = False
    noatime: bool = False
    nonempty: bool = False
    allow_other: bool = False
    default_permissions: bool = True
    uid: int | None = None
    gid: int | None = None
    umask: int | None = None
    cache_ttl: float = 1.0
    workers: int = 8
    spool: str | None = None
    binding: str | None = None
    driver: dict[str, str] = field(default_factory=dict)

    def driver_settings(self) -> DriverSettings:
        """What the driver's `open` receives: the generic uid/gid/umask/ro as parsed, and its own options."""
        return DriverSettings(
            uid=self.uid, gid=self.gid, umask=self.umask, read_only=self.read_only, options=dict(self.driver)
        )


def split_options(texts: list[str]) -> list[tuple[str, str | None]]:
    """`["a,b=c", "d"]` → `[("a", None), ("b", "c"), ("d", None)]`."""
    pairs: list[tuple[str, str | None]] = []
    for text in texts:
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, value = item.partition("=")
            pairs.append((name, value if sep else None))
    return pairs


def parse_options(texts: list[str], driver_options: frozenset[str], scheme: str) -> MountOptions:
    """Parse every `-o` argument; SourceError names the first bad option."""
    values: dict = {"driver": {}}
    for name, value in split_options(texts):
        if name in GENERIC_OPTIONS or name.startswith(GENERIC_PREFIXES):
            continue
        if name in CORE_FLAGS:
            _no_value(name, value)
            _apply_flag(values, name)
        elif name in CORE_VALUES:
            values[name] = _core_value(name, _need_value(name, value))
        elif name in driver_options:
            values["driver"][name] = "" if value is None else value
        else:
            known = ", ".join(sorted(driver_options)) or "none"
            raise SourceError(f"unknown mount option {name!r} (options of the {scheme}: driver: {known})")
    return MountOptions(**values)


def _apply_flag(values: dict, name: str) -> None:
    if name == "ro":
        values["read_only"] = True
    elif name in ("noatime", "nonempty"):
        values[name] = True
    elif name in ("allow_other", "allow_root"):
        values["allow_other"] = True
    else:
        values["default_permissions"] = name == "default_permissions"


def _no_value(name: str, value: str | None) -> None:
    if value is not None:
        raise SourceError(f"mount option {name!r} takes no value")


def _need_value(name: str, value: str | None) -> str:
    if not value:
        raise SourceError(f"mount option {name!r} needs a value ({name}=...)")
    return value


def _core_value(name: str, value: str) -> object:
    try:
        if name == "uid":
            return int(value) if value.isdigit() else pwd.getpwnam(value).pw_uid
        if name == "gid":
            return int(value) if value.isdigit() else grp.getgrnam(value).gr_gid
        if name == "umask":
            umask = int(value, 8)
            if not 0 <= umask <= 0o777:
                raise ValueError(value)
            return umask
        if name == "cache_ttl":
            ttl = float(value)
            if ttl < 0:
                raise ValueError(value)
            return ttl
        if name == "binding":
            if value not in BINDINGS:
                raise ValueError(value)
            return value
        if name == "workers":
            workers = int(value)
            if workers < 1:
                raise ValueError(value)
            return workers
        return value
    except (ValueError, KeyError):
        raise SourceError(f"bad value for mount option {name}: {value!r}") from None
