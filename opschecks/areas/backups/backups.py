"""Nightly backups in S3: freshness, size, expiry, and the CronJobs that make them.

The ingest-backup CronJob uploads ``s3://<bucket>/<env>/<YYYY-MM-DDTHH_MM>.tar.gz``
(UTC) and tags it ``auto-delete=true``; a lifecycle rule expires tagged objects.
Every rule here is judged against an injectable ``now`` so tests can pin the
clock (e.g. to 00:10, before tonight's backup exists).

Finding codes:
  BKP001 no backup newer than period + grace
  BKP002 the newest backup is empty
  BKP003 the newest backup is smaller than min_size_fraction of the median of the previous ones
  BKP004 the lifecycle does not delete the newest backup after exactly retention_days (every rule judged;
         on a versioned bucket its noncurrent version and delete marker too)
  BKP005 the newest backup does not carry the auto-delete tag
  BKP006 backups older than retention + slack still exist
  BKP007 a backup CronJob does not exist
  BKP008 a backup CronJob is suspended
  BKP009 a backup CronJob has not succeeded within period + grace
  BKP010 the most recent Job of a backup CronJob failed
"""

from __future__ import annotations

import datetime as dt
import os.path
import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.exceptions
from kubernetes import client as k8s

from opschecks import clock
from opschecks.areas.backups import lifecycle
from opschecks.findings import Finding
from opschecks.verdict import Verdict
from opschecks.kube import list_paginated
from opschecks.areas.backups.settings import BackupSettings

if TYPE_CHECKING:  # opschecks.config imports this module for BackupSettings
    from opschecks.config import EnvConfig

STAMP_FORMAT = "%Y-%m-%dT%H_%M"
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}_\d{2})\.tar\.gz")
KUBE_PAGE_SIZE = 200
BACKUP_COLUMNS = ("env", "newest key", "age", "size (bytes)", "tag")
CRONJOB_COLUMNS = ("env", "namespace", "cronjob", "suspended", "last success", "age", "latest job", "job result")


@dataclass(frozen=True)
class Backup:
    key: str
    taken: dt.datetime  # from the key's name (UTC)
    last_modified: dt.datetime
    size: int

    def age(self, now: dt.datetime) -> dt.timedelta:
        """The older of name and upload counts, so neither a mislabelled key nor a re-uploaded old dump looks fresh."""
        return now - min(self.taken, self.last_modified)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime(STAMP_FORMAT)


def key_prefix(env: EnvConfig) -> str:
    return env.backup_prefix.strip("/") + "/"


def taken_at(key: str, prefix: str) -> dt.datetime | None:
    """The UTC time in a backup key ``<prefix><YYYY-MM-DDTHH_MM>.tar.gz``, or None for any other key."""
    match = _STAMP.fullmatch(key.removeprefix(prefix)) if key.startswith(prefix) else None
    if match is None:
        return None
    try:
        return dt.datetime.strptime(match[1], STAMP_FORMAT).replace(tzinfo=dt.timezone.utc)
    except ValueError:  # e.g. month 13: not a backup the CronJob wrote
        return None


def list_backups(s3: Any, bucket: str, prefix: str, since: dt.datetime | None,
                 until: dt.datetime) -> Iterator[Backup]:
    """Backups taken in [since, until], oldest first.

    Only keys in that date range are listed: the request prefix is the longest
    common prefix of both bounds' keys, StartAfter skips older keys, and the
    listing stops at the first key past ``until``, so unrelated objects in the
    bucket (or under the env prefix) cost nothing.
    """
    low = f"{prefix}{stamp(since)}" if since else prefix
    high = f"{prefix}{stamp(until)}.tar.gz"
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": os.path.commonprefix([low, high])}
    if since:
        params["StartAfter"] = low  # sorts just before "<low>.tar.gz", so a backup taken exactly at since counts
    for page in s3.get_paginator("list_objects_v2").paginate(**params):
        for obj in page.get("Contents", []):
            if obj["Key"] > high:
                return
            taken = taken_at(obj["Key"], prefix)
            if taken is not None and (since is None or taken >= since) and taken <= until:
                yield Backup(obj["Key"], taken, obj["LastModified"], obj["Size"])


def recent_backups(s3: Any, env: EnvConfig, now: dt.datetime) -> list[Backup]:
    return list(list_backups(s3, env.backup_bucket, key_prefix(env), now - env.settings(BackupSettings).lookback, now))


def newest_tags(s3: Any, env: EnvConfig, backups: list[Backup]) -> dict[str, str]:
    """The tags of the newest of ``backups`` (none when there is no backup)."""
    if not backups:
        return {}
    tag_set = s3.get_object_tagging(Bucket=env.backup_bucket, Key=backups[-1].key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def check_fresh(s3: Any, env: EnvConfig, now: dt.datetime | None = None) -> Verdict:
    """BKP001: the newest backup is no older than period + grace."""
    now = now or _utcnow()
    settings = env.settings(BackupSettings)
    backups = recent_backups(s3, env, now)
    findings = []
    expected = (f"expected a backup newer than {_hours(settings.window)} "
                f"(period {settings.period_hours:g} h + grace {settings.grace_hours:g} h)")
    if not backups:
        findings.append(_none_found(env, now, expected))
    elif backups[-1].age(now) > settings.window:
        newest = backups[-1]
        findings.append(Finding("BKP001", _where(env, key_prefix(env)),
                                f"{expected}; newest is {newest.key}, taken {_hours(now - newest.taken)} ago, "
                                f"uploaded {_hours(now - newest.last_modified)} ago"))
    return _backup_verdict(env, backups, newest_tags(s3, env, backups), findings, now)


def check_size(s3: Any, env: EnvConfig, now: dt.datetime | None = None) -> Verdict:
    """BKP002/BKP003: the newest backup is not empty, nor much smaller than the ones before it."""
    now = now or _utcnow()
    settings = env.settings(BackupSettings)
    backups = recent_backups(s3, env, now)
    findings = []
    if not backups:
        findings.append(_none_found(env, now, "expected a backup to judge its size"))
    else:
        newest, previous = backups[-1], backups[-1 - settings.size_baseline:-1]
        where = _where(env, newest.key)
        if newest.size == 0:
            findings.append(Finding("BKP002", where, "expected a non-empty backup; found 0 bytes"))
        elif previous:
            median = statistics.median(b.size for b in previous)
            minimum = settings.min_size_fraction * median
            if newest.size < minimum:
                findings.append(Finding("BKP003", where, (
                    f"expected at least {settings.min_size_fraction:.0%} of the median of the previous "
                    f"{len(previous)} backups ({median:,.0f} bytes), i.e. {minimum:,.0f} bytes; "
                    f"found {newest.size:,} bytes")))
    return _backup_verdict(env, backups, newest_tags(s3, env, backups), findings, now)


def check_expiry(s3: Any, env: EnvConfig, now: dt.datetime | None = None) -> Verdict:
    """BKP004-BKP006: the lifecycle expires the newest backup after retention_days, it is tagged, none outlived it."""
    now = now or _utcnow()
    settings = env.settings(BackupSettings)
    prefix = key_prefix(env)
    findings = []
    backups = recent_backups(s3, env, now)
    found = newest_tags(s3, env, backups)
    where = f"{env.name} s3://{env.backup_bucket} lifecycle"
    findings += [Finding("BKP004", where, problem) for problem in lifecycle_problems(s3, env, backups, found, now)]
    if backups and found.get(settings.tag_key) != settings.tag_value:
        shown = ", ".join(f"{k}={v}" for k, v in found.items()) or "no tags"
        findings.append(Finding("BKP005", _where(env, backups[-1].key),
                                f"expected tag {settings.tag_key}={settings.tag_value} so the lifecycle rule "
                                f"expires it; found {shown}"))
    stale = list(list_backups(s3, env.backup_bucket, prefix, None, now - settings.stale_after))
    if stale:
        findings.append(Finding("BKP006", _where(env, prefix), (
            f"expected no backup older than {settings.stale_after.days} days (retention {settings.retention_days} "
            f"+ slack {settings.retention_slack_days}); found {len(stale)}, oldest {stale[0].key} "
            f"({(now - stale[0].taken).days} days)")))
    verdict = _backup_verdict(env, backups, found, findings, now)
    verdict.details["stale_backups"] = len(stale)
    return verdict


def lifecycle_problems(s3: Any, env: EnvConfig, backups: list[Backup], found_tags: dict[str, str],
                       now: dt.datetime) -> list[str]:
    """Why the bucket's lifecycle does not delete the newest backup after exactly retention_days (BKP004).

    The newest backup is judged as S3 would judge it (opschecks/areas/backups/lifecycle.py): its key, its size, and its
    tags plus the backup tag (whose absence is BKP005's finding), over every rule of the bucket; with no
    backup yet, a key the CronJob would write, of unknown size. On a versioned bucket its noncurrent
    version and its delete marker must go too.
    """
    settings = env.settings(BackupSettings)
    expected = (f"expected an enabled lifecycle rule expiring objects tagged {settings.tag_key}={settings.tag_value} "
                f"under {key_prefix(env)} after {settings.retention_days} days")
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=env.backup_bucket)["Rules"]
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise
        return [f"{expected}; found no lifecycle configuration"]
    newest = backups[-1] if backups else None
    obj = lifecycle.S3Object(newest.key if newest else f"{key_prefix(env)}{stamp(now)}.tar.gz",
                             newest.size if newest else None, {**found_tags, settings.tag_key: settings.tag_value})
    created = newest.last_modified if newest else now
    what = f"{obj.key} ({'size unknown' if obj.size is None else f'{obj.size:,} bytes'})"
    covering = [r for r in rules if lifecycle.matches(r, obj)]
    shown = ", ".join(lifecycle.describe(r, created) for r in covering)
    expiring = [(lifecycle.rule_id(r), days) for r in covering if lifecycle.enabled(r)
                and (days := lifecycle.expiry_days(r, created)) is not None]
    problems = []
    if not covering:
        problems.append(f"{expected}; found {len(rules)} rule(s), none covering {what}")
    elif not expiring:
        problems.append(f"{expected}; found {shown}")
    else:
        days = min(d for _, d in expiring)
        by = ", ".join(rule for rule, d in expiring if d == days)
        if days < settings.retention_days:
            problems.append(f"{expected}; {what} expires after {days:g} days by {by}: backups are lost early "
                            f"(rules covering it: {shown})")
        elif days > settings.retention_days:
            problems.append(f"{expected}; {what} expires only after {days:g} days by {by}: backups are kept "
                            f"(and paid for) longer than promised (rules covering it: {shown})")
    versioning = s3.get_bucket_versioning(Bucket=env.backup_bucket).get("Status")
    if versioning in ("Enabled", "Suspended"):
        problems += _versioned_problems(rules, covering, obj, what, shown, versioning, settings)
    return problems


def _versioned_problems(rules: list[dict[str, Any]], covering: list[dict[str, Any]], obj: lifecycle.S3Object,
                        what: str, shown: str, versioning: str, settings: BackupSettings) -> list[str]:
    """On a versioned bucket, an expired backup's noncurrent version and then its delete marker must go too."""
    problems = []
    where = f"the bucket's versioning is {versioning}, so expiring {what} only hides it behind a delete marker"
    noncurrent = [d for r in covering if lifecycle.enabled(r) and (d := lifecycle.noncurrent_days(r)) is not None]
    if not noncurrent:
        problems.append(f"expected an enabled rule with NoncurrentVersionExpiration (NoncurrentDays at most "
                        f"{settings.max_noncurrent_days}, no NewerNoncurrentVersions) covering it: {where}, and "
                        "none removes that noncurrent version, so every backup is kept for ever"
                        + (f" (rules covering it: {shown})" if covering else ""))
    elif min(noncurrent) > settings.max_noncurrent_days:
        problems.append(f"expected noncurrent backups removed within {settings.max_noncurrent_days} days: {where}, "
                        f"which is removed only {min(noncurrent)} days later")
    marker = lifecycle.S3Object(obj.key, None, {})
    if not any(lifecycle.enabled(r) and lifecycle.matches(r, marker) and lifecycle.removes_delete_marker(r)
               for r in rules):
        problems.append(f"expected an enabled rule without tag or size filters covering {obj.key} that removes "
                        f"expired delete markers (ExpiredObjectDeleteMarker, or expiring current versions): {where}, "
                        "and that marker stays for ever once the version is gone")
    return problems


def check_jobs(api: k8s.ApiClient, env: EnvConfig, now: dt.datetime | None = None) -> Verdict:
    """BKP007-BKP010: the backup CronJobs exist, run, succeed recently, and their latest Job did not fail."""
    now = now or _utcnow()
    settings = env.settings(BackupSettings)
    namespace = settings.cronjob_namespace or env.app_namespace
    where = f"{env.name} context {env.kube_context or '(current)'} namespace {namespace}"
    batch = k8s.BatchV1Api(api)
    cronjobs = {c.metadata.name: c for c in list_paginated(batch.list_namespaced_cron_job, KUBE_PAGE_SIZE,
                                                            namespace=namespace)}
    jobs = list(list_paginated(batch.list_namespaced_job, KUBE_PAGE_SIZE, namespace=namespace))
    findings, rows = [], []
    for name in settings.cronjobs:
        cronjob = cronjobs.get(name)
        here = f"{where} cronjob/{name}"
        if cronjob is None:
            findings.append(Finding("BKP007", here, f"expected CronJob {name}; not found "
                                                    f"(found: {', '.join(sorted(cronjobs)) or 'none'})"))
            rows.append((env.name, namespace, name, None, None, None, None, "missing"))
            continue
        suspended = bool(cronjob.spec.suspend)
        if suspended:
            findings.append(Finding("BKP008", here, "expected spec.suspend false; found true"))
        last_ok = cronjob.status.last_successful_time if cronjob.status else None
        if last_ok is None:
            findings.append(Finding("BKP009", here, f"expected a successful run within {_hours(settings.window)}; "
                                                    "found none (status.lastSuccessfulTime unset)"))
        elif now - last_ok > settings.window:
            findings.append(Finding("BKP009", here, f"expected a successful run within {_hours(settings.window)}; "
                                                    f"last one {_hours(now - last_ok)} ago ({_iso(last_ok)})"))
        latest = _latest_job(jobs, name)
        failure = _job_failure(latest) if latest else None
        if failure:
            findings.append(Finding("BKP010", f"{where} job/{latest.metadata.name}",
                                    f"expected the most recent Job of {name} to succeed; it failed: {failure}"))
        rows.append((env.name, namespace, name, suspended, _iso(last_ok) if last_ok else None,
                     _hours(now - last_ok) if last_ok else None, latest.metadata.name if latest else None,
                     _job_result(latest, failure)))
    return Verdict(findings, rows, CRONJOB_COLUMNS,
                   {"namespace": namespace, "findings": [f.code for f in findings]})


def _latest_job(jobs: list[k8s.V1Job], cronjob: str) -> k8s.V1Job | None:
    owned = [j for j in jobs
             if any(o.kind == "CronJob" and o.name == cronjob for o in j.metadata.owner_references or [])]
    return max(owned, key=lambda j: j.metadata.creation_timestamp, default=None)


def _job_failure(job: k8s.V1Job) -> str | None:
    for cond in (job.status.conditions if job.status else None) or []:
        if cond.type == "Failed" and cond.status == "True":
            return ": ".join(filter(None, [cond.reason, cond.message])) or "Failed"
    return None


def _job_result(job: k8s.V1Job | None, failure: str | None) -> str | None:
    if job is None:
        return None
    if failure:
        return "failed"
    return "succeeded" if job.status and job.status.succeeded else "running"


def _backup_verdict(env: EnvConfig, backups: list[Backup], found_tags: dict[str, str],
                    findings: list[Finding], now: dt.datetime) -> Verdict:
    """The verdict with the report row every backup check shows: env, newest key, age, size, tag."""
    if not backups:
        return Verdict(findings, [(env.name, None, None, None, None)], BACKUP_COLUMNS,
                       {"newest": None, "findings": [f.code for f in findings]})
    newest = backups[-1]
    tag = found_tags.get(env.settings(BackupSettings).tag_key)
    tag_cell = f"{env.settings(BackupSettings).tag_key}={tag}" if tag is not None else "missing"
    row = (env.name, newest.key, _hours(newest.age(now)), f"{newest.size:,}", tag_cell)
    return Verdict(findings, [row], BACKUP_COLUMNS, {
        "newest": newest.key, "age_hours": round(newest.age(now).total_seconds() / 3600, 2),
        "size": newest.size, "findings": [f.code for f in findings],
    })


def _none_found(env: EnvConfig, now: dt.datetime, expected: str) -> Finding:
    since = now - env.settings(BackupSettings).lookback
    return Finding("BKP001", _where(env, key_prefix(env)),
                   f"{expected}; found no *.tar.gz backup taken since {_iso(since)} "
                   f"({env.settings(BackupSettings).lookback.days} days searched)")


def _where(env: EnvConfig, key: str) -> str:
    return f"{env.name} s3://{env.backup_bucket}/{key}"


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def _utcnow() -> dt.datetime:
    return clock.now()
