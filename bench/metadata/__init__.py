"""cloudfs's DynamoDB driver (`aws:`) beside `sqlite:`, `s3:` and JuiceFS with Redis metadata: metadata round trips.

Run from the repository root with the virtualenv's Python: `python -m bench.metadata --help`.
"""
