"""How the backup checks' S3 listing scales: 100,000 unrelated objects beside the backups.

The checks list only the date range they judge (opschecks.areas.backups.backups.list_backups),
so their request count should stay flat however full the bucket is; a plain
listing of the env prefix is recorded beside it for comparison.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import FakeKey, s3_backends

from opschecks.areas.backups import backups
from opschecks.config import EnvConfig
from opschecks.sandbox import stack
from opschecks.areas.backups.backups import stamp
from opschecks.sandbox.dumps import backup_tarball
from opschecks.sandbox.seed import BACKUP_DAYS, LIFECYCLE, backup_counts

BUCKET = "bkp-bench-listing"
UNRELATED = {"prod/oplog/": 40_000, "staging/exports/": 30_000, "scratch/": 30_000}  # 100,000 objects


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """A moto server whose bucket holds 95 nightly prod backups and 100,000 unrelated objects."""
    with stack.running(seed=False) as sandbox:
        client = sandbox.s3()
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration=LIFECYCLE)
        midnight = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        body = backup_tarball("bench", backup_counts(0))
        for day in range(BACKUP_DAYS):
            key = f"prod/{stamp(midnight - dt.timedelta(days=day))}.tar.gz"
            client.put_object(Bucket=BUCKET, Key=key, Body=body, Tagging="auto-delete=true")
        # Seeding 100,000 objects over HTTP would take minutes; moto's server shares this process's backend.
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        for prefix, count in UNRELATED.items():
            for i in range(count):
                backend.put_object(BUCKET, f"{prefix}{i:06d}.json", b"{}")
        try:
            yield client
        finally:
            # moto keeps every object (and tracks every key) for the life of the process: free these 100,000.
            for key in backend.buckets.pop(BUCKET).keys.values():
                key.dispose()
            FakeKey.instances_tracked[:] = [k for k in FakeKey.instances_tracked if k.bucket_name != BUCKET]


def test_backup_checks_listing_with_100k_unrelated_objects(benchmark: Any, s3: Any) -> None:
    env = EnvConfig(name="prod", backup_bucket=BUCKET, backup_prefix="prod")
    requests: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        requests[event_name.rsplit(".", 1)[-1]] += 1

    s3.meta.events.register("before-send.s3", count)

    def run_checks() -> list[str]:
        return [f.code for check in (backups.check_fresh, backups.check_size, backups.check_expiry)
                for f in check(s3, env).findings]

    requests.clear()
    findings = benchmark.pedantic(run_checks, rounds=5, iterations=1)
    per_run = {op: n // 5 for op, n in requests.items()}
    requests.clear()
    started = time.perf_counter()
    listed = sum(len(page.get("Contents", []))
                 for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="prod/"))
    whole_prefix_seconds = time.perf_counter() - started
    benchmark.extra_info.update({
        "unrelated_objects": sum(UNRELATED.values()),
        "backups": BACKUP_DAYS,
        "s3_requests_per_run": sum(per_run.values()),
        "s3_requests_by_operation": per_run,
        "whole_prefix_listing_requests": requests["ListObjectsV2"],
        "whole_prefix_listing_keys": listed,
        "whole_prefix_listing_seconds": round(whole_prefix_seconds, 2),
    })
    assert findings == []
