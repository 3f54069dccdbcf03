"""Case modules; `registry.all_cases` imports each one listed here, which registers its cases."""

MODULES = (
    "attrs",
    "create",
    "io",
    "links",
    "locks",
    "open_",
    "owners",
    "paths",
    "perms",
    "rename",
    "times",
    "xattr",
)
