"""The backup checks (opschecks/areas/backups/backups.py) against the sandbox's moto server and fake Kubernetes API.

Each test seeds its own bucket (real tarballs through boto3) or cluster and pins
"now", so the 00:10-before-tonight's-job case and the 26 h boundary are exact.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from kubernetes.client.exceptions import ApiException
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from opschecks import kube
from opschecks.areas.backups import backups
from opschecks.areas.backups.settings import BackupSettings
from opschecks.config import EnvConfig
from opschecks.errors import describe
from opschecks.sandbox import kube_objects as k
from opschecks.areas.backups.backups import stamp
from opschecks.sandbox.dumps import backup_tarball
from opschecks.sandbox.seed import LIFECYCLE, backup_counts, seed_kube
from opschecks.verdict import Verdict

pytest_plugins = ["pytester"]

MIDNIGHT = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
AT_0010 = MIDNIGHT + dt.timedelta(minutes=10)  # tonight's ingest-backup has not finished yet
_names = itertools.count()


def unique(kind: str) -> str:
    return f"bkp-{kind}-{next(_names)}"


def seed_bucket(s3: Any, *, newest: dt.datetime, nights: int = 10, prefix: str = "dev",
                tagged: bool = True, lifecycle: dict[str, Any] | None = LIFECYCLE,
                newest_body: bytes | None = None) -> str:
    """A new bucket with ``nights`` nightly backups ending at ``newest``; returns its name."""
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    if lifecycle:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle)
    for day in range(nights):
        taken = newest - dt.timedelta(days=nights - 1 - day)
        body = backup_tarball(stamp(taken), backup_counts(day))
        if day == nights - 1 and newest_body is not None:
            body = newest_body
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{stamp(taken)}.tar.gz", Body=body,
                      **({"Tagging": "auto-delete=true"} if tagged else {}))
    return bucket


def env_for(bucket: str = "unused", context: str | None = None, **settings: Any) -> EnvConfig:
    return EnvConfig(name="dev", backup_bucket=bucket, backup_prefix="dev", kube_context=context, area_settings=(BackupSettings(**settings),))


def codes(verdict: Verdict) -> list[str]:
    return [f.code for f in verdict.findings]


# --- fresh -------------------------------------------------------------------

def test_healthy_bucket_passes_every_s3_check_at_0010_before_tonights_backup(sandbox: Any) -> None:
    s3 = sandbox.s3()
    env = env_for(seed_bucket(s3, newest=MIDNIGHT - dt.timedelta(days=1)))
    for check in (backups.check_fresh, backups.check_size, backups.check_expiry):
        verdict = check(s3, env, now=AT_0010)
        assert verdict.findings == [], check.__name__
    key = f"dev/{stamp(MIDNIGHT - dt.timedelta(days=1))}.tar.gz"
    assert verdict.rows == [("dev", key, "24.2 h", verdict.rows[0][3], "auto-delete=true")]
    assert verdict.details["newest"] == key


def test_missing_night_fails_naming_env_newest_key_and_age(sandbox: Any) -> None:
    s3 = sandbox.s3()
    two_nights_ago = MIDNIGHT - dt.timedelta(days=2)
    env = env_for(seed_bucket(s3, newest=two_nights_ago))
    verdict = backups.check_fresh(s3, env, now=AT_0010)
    assert codes(verdict) == ["BKP001"]
    finding = verdict.findings[0]
    assert finding.where == f"dev s3://{env.backup_bucket}/dev/"
    assert finding.message.startswith(
        "expected a backup newer than 26.0 h (period 24 h + grace 2 h); "
        f"newest is dev/{stamp(two_nights_ago)}.tar.gz, taken 48.2 h ago")


@pytest.mark.parametrize(("at", "expected"), [(dt.timedelta(hours=1, minutes=59), []),
                                              (dt.timedelta(hours=2, minutes=1), ["BKP001"])])
def test_grace_window_ends_two_hours_after_a_missed_run(sandbox: Any, at: dt.timedelta,
                                                        expected: list[str]) -> None:
    s3 = sandbox.s3()
    env = env_for(seed_bucket(s3, newest=MIDNIGHT - dt.timedelta(days=1), nights=2))
    assert codes(backups.check_fresh(s3, env, now=MIDNIGHT + at)) == expected


def test_grace_is_configurable(sandbox: Any) -> None:
    s3 = sandbox.s3()
    env = env_for(seed_bucket(s3, newest=MIDNIGHT - dt.timedelta(days=1), nights=2), grace_hours=0.1)
    verdict = backups.check_fresh(s3, env, now=AT_0010)
    assert codes(verdict) == ["BKP001"]
    assert "newer than 24.1 h (period 24 h + grace 0.1 h)" in verdict.findings[0].message


def test_no_backup_at_all_fails_saying_how_far_it_searched(sandbox: Any) -> None:
    s3 = sandbox.s3()
    env = env_for(seed_bucket(s3, newest=MIDNIGHT, nights=0))
    verdict = backups.check_fresh(s3, env, now=AT_0010)
    assert codes(verdict) == ["BKP001"]
    assert verdict.findings[0].message.endswith(
        f"found no *.tar.gz backup taken since {(AT_0010 - dt.timedelta(days=16)):%Y-%m-%dT%H:%MZ} "
        "(16 days searched)")
    assert verdict.rows == [("dev", None, None, None, None)]


def test_fresh_name_on_an_old_upload_is_not_fresh(sandbox: Any) -> None:
    s3 = sandbox.s3()
    env = env_for(seed_bucket(s3, newest=MIDNIGHT))
    # LastModified cannot be set through the S3 API; moto's server shares this process's backend.
    key = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object(env.backup_bucket, f"dev/{stamp(MIDNIGHT)}.tar.gz")
    key.last_modified = (MIDNIGHT - dt.timedelta(days=3)).replace(tzinfo=None)
    verdict = backups.check_fresh(s3, env, now=AT_0010)
    assert codes(verdict) == ["BKP001"]
    assert f"newest is dev/{stamp(MIDNIGHT)}.tar.gz, taken 0.2 h ago, uploaded 72.2 h ago" in \
        verdict.findings[0].message


def test_other_envs_and_unrelated_keys_do_not_count(sandbox: Any) -> None:
    s3 = sandbox.s3()
    bucket = seed_bucket(s3, newest=MIDNIGHT - dt.timedelta(days=3))
    for key in (f"dev/{stamp(MIDNIGHT)}.tar.gz.partial", f"dev/{stamp(MIDNIGHT)}/dump.tar.gz",
                f"devel/{stamp(MIDNIGHT)}.tar.gz", f"staging/{stamp(MIDNIGHT)}.tar.gz", "dev/notes.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    verdict = backups.check_fresh(s3, env_for(bucket), now=AT_0010)
    assert codes(verdict) == ["BKP001"]
    assert f"newest is dev/{stamp(MIDNIGHT - dt.timedelta(days=3))}.tar.gz" in verdict.findings[0].message


def test_listing_is_date_bounded_not_the_whole_prefix(sandbox: Any) -> None:
    s3 = sandbox.s3()
    bucket = seed_bucket(s3, newest=MIDNIGHT - dt.timedelta(days=1), nights=3)
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for i in range(2500):  # more than two pages of 1000 under the env prefix itself
        backend.put_object(bucket, f"dev/oplog/{i:05d}.bson", b"")
    requests = []
    s3.meta.events.register("before-send.s3.ListObjectsV2", lambda request, **_: requests.append(request.url))
    found = backups.recent_backups(s3, env_for(bucket), AT_0010)
    assert [b.key for b in found] == [f"dev/{stamp(MIDNIGHT - dt.timedelta(days=d))}.tar.gz" for d in (3, 2, 1)]
    assert len(requests) == 1
    assert f"prefix=dev%2F{MIDNIGHT:%Y}" in requests[0] and "start-after=" in requests[0]
    stale = list(backups.list_backups(s3, bucket, "dev/", None, AT_0010 - dt.timedelta(days=97)))
    assert stale == [] and len(requests) == 2


def test_missing_bucket_raises_an_error_the_suite_turns_into_one_line(sandbox: Any) -> None:
    with pytest.raises(ClientError) as info:
        backups.check_fresh(sandbox.s3(), env_for(unique("absent")), now=AT_0010)
    assert describe(info.value).startswith("AWS ListObjectsV2 refused: NoSuchBucket")


# --- size --------------------------------------------------------------------

def test_empty_newest_backup_fails(sandbox: Any) -> None:
    s3 = sandbox.s3()
    env = env_for(seed_bucket(s3, newest=MIDNIGHT, newest_body=b""))
    verdict = backups.check_size(s3, env, now=AT_0010)
    assert codes(verdict) == ["BKP002"]
    assert str(verdict.findings[0]) == (f"[BKP002] dev s3://{env.backup_bucket}/dev/{stamp(MIDNIGHT)}.tar.gz: "
                                        "expected a non-empty backup; found 0 bytes")


def test_shrunken_newest_backup_fails_naming_both_sizes(sandbox: Any) -> None:
    s3 = sandbox.s3()
    small = backup_tarball(stamp(MIDNIGHT), {"submissionEnvelope": 5})
    env = env_for(seed_bucket(s3, newest=MIDNIGHT, newest_body=small))
    sizes = [len(backup_tarball(stamp(MIDNIGHT - dt.timedelta(days=d)), backup_counts(9 - d))) for d in range(1, 8)]
    median = sorted(sizes)[3]
    verdict = backups.check_size(s3, env, now=AT_0010)
    assert codes(verdict) == ["BKP003"]
    assert verdict.findings[0].message == (
        f"expected at least 50% of the median of the previous 7 backups ({median:,} bytes), "
        f"i.e. {median / 2:,.0f} bytes; found {len(small):,} bytes")


def test_size_fraction_is_configurable(sandbox: Any) -> None:
    s3 = sandbox.s3()
    small = backup_tarball(stamp(MIDNIGHT), {"submissionEnvelope": 5})
    env = env_for(seed_bucket(s3, newest=MIDNIGHT, newest_body=small), min_size_fraction=0.01)
    assert codes(backups.check_size(s3, env, now=AT_0010)) == []


# --- expiry ------------------------------------------------------------------

def test_untagged_newest_backup_fails(sandbox: Any) -> None:
    s3 = sandbox.s3()
    bucket = seed_bucket(s3, newest=MIDNIGHT - dt.timedelta(days=1))
    # What the upload script does when its tagging call silently fails: the object stays, untagged.
    s3.put_object(Bucket=bucket, Key=f"dev/{stamp(MIDNIGHT)}.tar.gz",
                  Body=backup_tarball(stamp(MIDNIGHT), backup_counts(10)))
    verdict = backups.check_expiry(s3, env_for(bucket), now=AT_0010)
    assert codes(verdict) == ["BKP005"]
    assert str(verdict.findings[0]) == (
        f"[BKP005] dev s3://{bucket}/dev/{stamp(MIDNIGHT)}.tar.gz: expected tag auto-delete=true so the "
        "lifecycle rule expires it; found no tags")
    assert verdict.rows[0][4] == "missing"


def test_no_lifecycle_rule_fails(sandbox: Any) -> None:
    s3 = sandbox.s3()
    env = env_for(seed_bucket(s3, newest=MIDNIGHT, lifecycle=None))
    verdict = backups.check_expiry(s3, env, now=AT_0010)
    assert codes(verdict) == ["BKP004"]
    assert str(verdict.findings[0]) == (
        f"[BKP004] dev s3://{env.backup_bucket} lifecycle: expected an enabled lifecycle rule expiring objects "
        "tagged auto-delete=true under dev/ after 90 days; found no lifecycle configuration")


@pytest.mark.parametrize(("change", "found"), [
    ({"Status": "Disabled"}, "found expire-auto-delete-backups (Disabled, expires after 90 days)"),
    ({"Expiration": {"Days": 30}}, "expires after 30 days by expire-auto-delete-backups: backups are lost early"),
    ({"Expiration": {"Days": 120}}, "expires only after 120 days by expire-auto-delete-backups: backups are kept"),
    ({"Filter": {"Tag": {"Key": "auto-delete", "Value": "false"}}}, "found 1 rule(s), none covering dev/"),
    ({"Filter": {"Prefix": "prod/"}}, "found 1 rule(s), none covering dev/"),
])
def test_lifecycle_rule_that_does_not_keep_the_promise_fails(sandbox: Any, change: dict[str, Any],
                                                            found: str) -> None:
    s3 = sandbox.s3()
    lifecycle = {"Rules": [{**LIFECYCLE["Rules"][0], **change}]}
    env = env_for(seed_bucket(s3, newest=MIDNIGHT, lifecycle=lifecycle))
    verdict = backups.check_expiry(s3, env, now=AT_0010)
    assert codes(verdict) == ["BKP004"]
    assert found in verdict.findings[0].message


def test_rule_combining_prefix_and_tag_passes(sandbox: Any) -> None:
    s3 = sandbox.s3()
    lifecycle = {"Rules": [{"ID": "dev-backups", "Status": "Enabled", "Expiration": {"Days": 90},
                            "Filter": {"And": {"Prefix": "dev/",
                                               "Tags": [{"Key": "auto-delete", "Value": "true"}]}}}]}
    env = env_for(seed_bucket(s3, newest=MIDNIGHT, lifecycle=lifecycle))
    assert codes(backups.check_expiry(s3, env, now=AT_0010)) == []


EXPIRE_90 = LIFECYCLE["Rules"][0]


def _rule(rule_id: str, days: int | None = None, **fields: Any) -> dict[str, Any]:
    return {"ID": rule_id, "Status": "Enabled", **({"Expiration": {"Days": days}} if days else {}), **fields}


@pytest.mark.parametrize(("second", "expired_by"), [
    (_rule("tmp-cleanup", 3, Filter={}), "tmp-cleanup"),  # every object
    (_rule("dev-short", 3, Filter={"Prefix": "dev/"}), "dev-short"),
    (_rule("legacy", 3, Prefix="dev/"), "legacy"),  # the deprecated top-level Prefix
    (_rule("tagged", 3, Filter={"And": {"Prefix": "de", "Tags": [{"Key": "auto-delete", "Value": "true"}]}}),
     "tagged"),
])
def test_a_second_rule_expiring_backups_early_fails(sandbox: Any, second: dict[str, Any], expired_by: str) -> None:
    """A correct 90-day rule beside another enabled rule that expires the same objects after 3 days."""
    s3 = sandbox.s3()
    env = env_for(seed_bucket(s3, newest=MIDNIGHT, lifecycle={"Rules": [EXPIRE_90, second]}))
    verdict = backups.check_expiry(s3, env, now=AT_0010)
    assert codes(verdict) == ["BKP004"]
    assert f"expires after 3 days by {expired_by}: backups are lost early" in verdict.findings[0].message
    assert "expire-auto-delete-backups (Enabled, expires after 90 days)" in verdict.findings[0].message


@pytest.mark.parametrize("second", [
    _rule("disabled", 3, Filter={}, Status="Disabled"),
    _rule("other-prefix", 3, Filter={"Prefix": "tmp/"}),
    _rule("legacy-other-prefix", 3, Prefix="prod/"),
    _rule("other-tag", 3, Filter={"Tag": {"Key": "scratch", "Value": "true"}}),
    _rule("only-uploads", Filter={}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}),
])
def test_rules_that_do_not_expire_the_backups_earlier_pass(sandbox: Any, second: dict[str, Any]) -> None:
    s3 = sandbox.s3()
    env = env_for(seed_bucket(s3, newest=MIDNIGHT, lifecycle={"Rules": [EXPIRE_90, second]}))
    assert codes(backups.check_expiry(s3, env, now=AT_0010)) == []


class _LifecycleAnswer:
    """moto for every call but GetBucketLifecycleConfiguration, which a botocore Stubber on a real client answers
    with the documented response shape: moto drops ObjectSizeGreaterThan/LessThan and NewerNoncurrentVersions."""

    def __init__(self, s3: Any, bucket: str, rules: list[dict[str, Any]]) -> None:
        self.s3 = s3
        self.stubbed = botocore.session.get_session().create_client(
            "s3", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub")
        stubber = Stubber(self.stubbed)
        stubber.add_response("get_bucket_lifecycle_configuration", {"Rules": rules}, {"Bucket": bucket})
        stubber.activate()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def get_bucket_lifecycle_configuration(self, **kwargs: Any) -> dict[str, Any]:
        return self.stubbed.get_bucket_lifecycle_configuration(**kwargs)


@pytest.mark.parametrize(("size_filter", "early"), [
    ({"ObjectSizeLessThan": 1024}, False),  # small objects only: not the backup
    ({"ObjectSizeGreaterThan": 1024}, True),
    ({"And": {"Prefix": "dev/", "ObjectSizeGreaterThan": 1024, "ObjectSizeLessThan": 10**12}}, True),
    ({"And": {"Prefix": "dev/", "ObjectSizeGreaterThan": 10**12}}, False),
    ({"And": {"Prefix": "dev/", "ObjectSizeLessThan": "size"}}, False),  # exactly the backup's size: strict bound
])
def test_size_filters_are_judged_as_s3_judges_them(sandbox: Any, size_filter: dict[str, Any], early: bool) -> None:
    s3 = sandbox.s3()
    bucket = seed_bucket(s3, newest=MIDNIGHT)
    size = s3.head_object(Bucket=bucket, Key=f"dev/{stamp(MIDNIGHT)}.tar.gz")["ContentLength"]
    assert size > 1024
    if "And" in size_filter and size_filter["And"].get("ObjectSizeLessThan") == "size":
        size_filter = {"And": {"Prefix": "dev/", "ObjectSizeLessThan": size}}
    rules = [EXPIRE_90, _rule("sized", 3, Filter=size_filter)]
    verdict = backups.check_expiry(_LifecycleAnswer(s3, bucket, rules), env_for(bucket), now=AT_0010)
    assert codes(verdict) == (["BKP004"] if early else [])
    if early:
        assert f"({size:,} bytes) expires after 3 days by sized" in verdict.findings[0].message


def _versioned_bucket(s3: Any, rules: list[dict[str, Any]]) -> str:
    bucket = seed_bucket(s3, newest=MIDNIGHT, lifecycle={"Rules": rules})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_versioned_bucket_with_only_current_version_expiry_fails(sandbox: Any) -> None:
    s3 = sandbox.s3()
    bucket = _versioned_bucket(s3, [EXPIRE_90])
    verdict = backups.check_expiry(s3, env_for(bucket), now=AT_0010)
    assert codes(verdict) == ["BKP004", "BKP004"]
    noncurrent, marker = (f.message for f in verdict.findings)
    assert "expected an enabled rule with NoncurrentVersionExpiration" in noncurrent
    assert "the bucket's versioning is Enabled" in noncurrent and "every backup is kept for ever" in noncurrent
    assert "removes expired delete markers" in marker


def test_versioned_bucket_expiring_noncurrent_versions_and_delete_markers_passes(sandbox: Any) -> None:
    s3 = sandbox.s3()
    rules = [{**EXPIRE_90, "NoncurrentVersionExpiration": {"NoncurrentDays": 7}},
             _rule("delete-markers", Filter={"Prefix": "dev/"}, Expiration={"ExpiredObjectDeleteMarker": True})]
    bucket = _versioned_bucket(s3, rules)
    assert codes(backups.check_expiry(s3, env_for(bucket), now=AT_0010)) == []


def test_a_tag_filtered_rule_cannot_remove_delete_markers(sandbox: Any) -> None:
    s3 = sandbox.s3()
    rules = [{**EXPIRE_90, "NoncurrentVersionExpiration": {"NoncurrentDays": 7}},
             _rule("markers", Filter={"Tag": {"Key": "auto-delete", "Value": "true"}},
                   Expiration={"ExpiredObjectDeleteMarker": True})]
    verdict = backups.check_expiry(s3, env_for(_versioned_bucket(s3, rules)), now=AT_0010)
    assert codes(verdict) == ["BKP004"] and "delete markers" in verdict.findings[0].message


@pytest.mark.parametrize(("noncurrent", "message"), [
    ({"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}, "every backup is kept for ever"),
    ({"NoncurrentDays": 400}, "which is removed only 400 days later"),
])
def test_noncurrent_versions_kept_too_long_fail(sandbox: Any, noncurrent: dict[str, Any], message: str) -> None:
    s3 = sandbox.s3()
    rules = [{**EXPIRE_90, "NoncurrentVersionExpiration": noncurrent},
             _rule("delete-markers", Filter={}, Expiration={"ExpiredObjectDeleteMarker": True})]
    bucket = _versioned_bucket(s3, rules)
    verdict = backups.check_expiry(_LifecycleAnswer(s3, bucket, rules), env_for(bucket), now=AT_0010)
    assert codes(verdict) == ["BKP004"]
    assert message in verdict.findings[0].message


def test_backups_outliving_retention_are_flagged(sandbox: Any) -> None:
    s3 = sandbox.s3()
    bucket = seed_bucket(s3, newest=MIDNIGHT, nights=3)
    body = backup_tarball("old", backup_counts(0))
    for days in (96, 98, 120):  # 96 is within retention 90 + slack 7
        old = MIDNIGHT - dt.timedelta(days=days)
        s3.put_object(Bucket=bucket, Key=f"dev/{stamp(old)}.tar.gz", Body=body, Tagging="auto-delete=true")
    verdict = backups.check_expiry(s3, env_for(bucket), now=AT_0010)
    assert codes(verdict) == ["BKP006"]
    assert verdict.findings[0].message == (
        "expected no backup older than 97 days (retention 90 + slack 7); found 2, "
        f"oldest dev/{stamp(MIDNIGHT - dt.timedelta(days=120))}.tar.gz (120 days)")
    assert verdict.details["stale_backups"] == 2


# --- CronJobs ----------------------------------------------------------------

@pytest.fixture
def cluster(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A healthy cluster of its own, seeded as at 00:10; returns (cluster, kube context)."""
    name = unique("cluster")
    seed_kube(sandbox.kube, name, "dev", AT_0010)
    config = sandbox.kube.write_kubeconfig(tmp_path / "kubeconfig", {f"ctx-{name}": name})
    monkeypatch.setenv("KUBECONFIG", str(config))
    return name, f"ctx-{name}"


def check_jobs(context: str, **settings: Any) -> Verdict:
    api = kube.api_client(context)
    try:
        return backups.check_jobs(api, env_for(context=context, **settings), now=AT_0010)
    finally:
        api.close()


def edit_cronjob(sandbox: Any, cluster: str, name: str, **changes: Any) -> None:
    cronjobs = sandbox.kube.objects(cluster, "cronjobs")
    for cronjob in cronjobs:
        if cronjob["metadata"]["name"] == name:
            for path, value in changes.items():
                section, field = path.split("__")
                cronjob[section][field] = value
    sandbox.kube.set_objects(cluster, "cronjobs", cronjobs)


def test_healthy_cronjobs_pass(cluster: tuple[str, str]) -> None:
    verdict = check_jobs(cluster[1])
    assert verdict.findings == []
    assert [(r[2], r[3], r[5], r[7]) for r in verdict.rows] == [
        ("ingest-backup", False, "0.1 h", "succeeded"), ("ingest-backup-verify", False, "23.6 h", "succeeded")]


def test_job_still_running_at_0010_is_not_a_failure(sandbox: Any, cluster: tuple[str, str]) -> None:
    running = k.job("ingest-backup", "dev-environment", scheduled=MIDNIGHT + dt.timedelta(minutes=9), succeeded=True)
    running["status"] = {"startTime": k.ts(MIDNIGHT + dt.timedelta(minutes=9)), "active": 1}
    sandbox.kube.add_objects(cluster[0], "jobs", [running])
    verdict = check_jobs(cluster[1])
    assert verdict.findings == []
    assert verdict.rows[0][6:] == (running["metadata"]["name"], "running")


def test_suspended_cronjob_fails(sandbox: Any, cluster: tuple[str, str]) -> None:
    edit_cronjob(sandbox, cluster[0], "ingest-backup", spec__suspend=True)
    verdict = check_jobs(cluster[1])
    assert codes(verdict) == ["BKP008"]
    assert str(verdict.findings[0]) == (f"[BKP008] dev context {cluster[1]} namespace dev-environment "
                                        "cronjob/ingest-backup: expected spec.suspend false; found true")


def test_failed_last_job_fails_with_its_reason(sandbox: Any, cluster: tuple[str, str]) -> None:
    failed = k.job("ingest-backup-verify", "dev-environment", scheduled=MIDNIGHT - dt.timedelta(minutes=5),
                   succeeded=False)
    sandbox.kube.add_objects(cluster[0], "jobs", [failed])
    verdict = check_jobs(cluster[1])
    assert codes(verdict) == ["BKP010"]
    assert str(verdict.findings[0]) == (
        f"[BKP010] dev context {cluster[1]} namespace dev-environment job/{failed['metadata']['name']}: "
        "expected the most recent Job of ingest-backup-verify to succeed; it failed: "
        "BackoffLimitExceeded: Job has reached the specified backoff limit")


def test_missing_cronjob_fails(sandbox: Any, cluster: tuple[str, str]) -> None:
    sandbox.kube.set_objects(cluster[0], "cronjobs", [c for c in sandbox.kube.objects(cluster[0], "cronjobs")
                                                      if c["metadata"]["name"] != "ingest-backup-verify"])
    verdict = check_jobs(cluster[1])
    assert codes(verdict) == ["BKP007"]
    assert verdict.findings[0].message == "expected CronJob ingest-backup-verify; not found (found: ingest-backup)"


def test_stale_or_never_successful_cronjob_fails(sandbox: Any, cluster: tuple[str, str]) -> None:
    two_days_ago = MIDNIGHT - dt.timedelta(days=2)
    edit_cronjob(sandbox, cluster[0], "ingest-backup", status__lastSuccessfulTime=k.ts(two_days_ago))
    edit_cronjob(sandbox, cluster[0], "ingest-backup-verify", status__lastSuccessfulTime=None)
    verdict = check_jobs(cluster[1])
    assert codes(verdict) == ["BKP009", "BKP009"]
    assert verdict.findings[0].message == (
        f"expected a successful run within 26.0 h; last one 48.2 h ago ({two_days_ago:%Y-%m-%dT%H:%MZ})")
    assert verdict.findings[1].message == ("expected a successful run within 26.0 h; "
                                           "found none (status.lastSuccessfulTime unset)")


def test_cronjobs_are_looked_up_in_the_configured_namespace(cluster: tuple[str, str]) -> None:
    verdict = check_jobs(cluster[1], cronjob_namespace="backups")
    assert codes(verdict) == ["BKP007", "BKP007"]
    assert "namespace backups cronjob/ingest-backup" in verdict.findings[0].where


def test_forbidden_cluster_raises_an_error_the_suite_turns_into_one_line(sandbox: Any,
                                                                         cluster: tuple[str, str]) -> None:
    sandbox.kube.fail_cluster(cluster[0], 403)
    with pytest.raises(ApiException) as info:
        check_jobs(cluster[1])
    assert describe(info.value) == ('Kubernetes API forbidden (403): RBAC denies it: '
                                    'cronjobs is forbidden: User "sandbox-user" cannot list resource "cronjobs"')


# --- end to end --------------------------------------------------------------

def test_check_module_end_to_end_fails_in_one_line_per_problem(sandbox_env: Any, checklist: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The real checks/test_backups.py, run by pytest against the sandbox, with today's real clock."""
    s3 = sandbox_env.s3()
    now = dt.datetime.now(dt.timezone.utc)
    newest = now.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=3)
    bucket = seed_bucket(s3, newest=newest)  # three nights missing
    healthy, broken = unique("cluster"), unique("cluster")
    for name in (healthy, broken):
        seed_kube(sandbox_env.kube, name, "dev", now)
    sandbox_env.kube.fail_cluster(broken, 403)
    kubeconfig = sandbox_env.kube.write_kubeconfig(checklist.path / "kubeconfig",
                                                   {"ctx-healthy": healthy, "ctx-broken": broken})
    checklist.check("backups")
    config = checklist.config(f"""
        [env.dev]
        backup_bucket = "{bucket}"
        kube_context = "ctx-healthy"

        [env.staging]
        backup_bucket = "{bucket}"
        backup_prefix = "dev"
        kube_context = "ctx-broken"

        [ledger]
        path = "{checklist.path / 'ledger.sqlite'}"
    """)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    result = checklist.run("--config", str(config), "-m", "daily", subprocess=True)
    result.assert_outcomes(passed=5, failed=3)
    result.stdout.fnmatch_lines([
        "*_ test_backup_is_fresh[[]dev[]] _*",
        "[[]dev[]] 1 finding:",
        f"  [[]BKP001[]] dev s3://{bucket}/dev/: expected a backup newer than 26.0 h (period 24 h + grace 2 h); "
        f"newest is dev/{stamp(newest)}.tar.gz, taken * h ago, uploaded * h ago",
        "*_ test_backup_jobs_healthy[[]staging[]] _*",
        '[[]staging[]] Kubernetes context ctx-broken: Kubernetes API forbidden (403): RBAC denies it: '
        'cronjobs is forbidden: User "sandbox-user" cannot list resource "cronjobs"',
    ])
    assert "Traceback" not in result.stdout.str()
