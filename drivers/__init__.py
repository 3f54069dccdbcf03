"""Storage drivers, installed as `cloudfs.drivers` (one package per driver)."""
