"""Case modules; `registry.all_cases` imports each one listed here, which registers its cases."""

MODULES = (
    "attrs",
    "concurrency",
    "create",
    "data",
    "io",
    "links",
    "locks",
    "names",
    "open_",
    "owners",
    "paths",
    "perms",
    "rename",
    "stat_",
    "times",
    "xattr",
)
