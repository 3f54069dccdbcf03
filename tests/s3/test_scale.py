"""Past 1000 keys: listings paginate and batch deletes split, with exact request counts (moto only, for speed)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cloudfs.driver import ROOT_INO
from cloudfs.drivers.s3 import SPEC
from tests.servers import BUCKET, RequestCounter, S3Server, fresh_prefix, s3_options


def test_1001_entries_cost_two_listings_and_two_batch_deletes_to_move(moto_s3: S3Server) -> None:
    prefix = fresh_prefix("scale")
    raw = moto_s3.client()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: raw.put_object(Bucket=BUCKET, Key=f"{prefix}/big/f{i:04d}", Body=b""), range(1001)))
    driver = SPEC.open(SPEC.parse(f"{BUCKET}/{prefix}"), s3_options(moto_s3))
    try:
        counter = RequestCounter().attach(driver.store.client)
        # A miss on the file "big", a probe finding the directory, then one page of its
        # listing: more than 1000 entries, so nlink is "unknown" (1) rather than all pages.
        big = driver.lookup(ROOT_INO, b"big")
        assert big.nlink == 1
        assert counter.take() == {"HeadObject": 1, "ListObjectsV2": 2}
        entries = driver.readdir(big.ino)
        assert len(entries) == 1001
        assert counter.take() == {"ListObjectsV2": 2}
        driver.readdir(ROOT_INO)
        counter.take()
        driver.rename(ROOT_INO, b"big", ROOT_INO, b"moved")
        assert counter.take() == {"ListObjectsV2": 2, "CopyObject": 1001, "PutObject": 1, "DeleteObjects": 2}
        left = raw.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/big/").get("KeyCount")
        moved = raw.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/moved/")
        assert (left, moved["KeyCount"], moved["IsTruncated"]) == (0, 1000, True)
    finally:
        driver.close()
