"""Side-by-side benchmark of cloudfs's S3 driver against s3fs-fuse, rclone mount, JuiceFS and raw boto3.

Run from the repository root with the virtualenv's Python: `python -m bench.peers --help`.
"""
