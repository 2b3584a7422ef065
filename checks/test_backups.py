"""Checklist: "Ensure backups are up to date" in every environment (how each rule is judged: opschecks/areas/backups/backups.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from kubernetes import client as k8s

from opschecks import aws, clock
from opschecks.areas.backups import backups
from opschecks.record import trends
from opschecks.config import EnvConfig
from opschecks.findings import fail_on
from opschecks.verdict import Verdict

pytestmark = [pytest.mark.daily, pytest.mark.fortnightly]
TREND = dt.timedelta(days=30)  # the report's backup-size plot


@pytest.fixture
def s3(aws_session: boto3.Session) -> Any:
    return aws.client(aws_session, "s3")


def _conclude(verdict: Verdict, title: str, report: Any, ledger_details: dict[str, Any]) -> None:
    report.table(title, verdict.columns, verdict.rows)
    ledger_details.update(verdict.details)
    fail_on(verdict.findings)


def test_backup_is_fresh(env: EnvConfig, s3: Any, report: Any, ledger_details: dict[str, Any]) -> None:
    _conclude(backups.check_fresh(s3, env), "Newest backup", report, ledger_details)


def test_backup_size_is_sane(env: EnvConfig, s3: Any, report: Any, ledger_details: dict[str, Any]) -> None:
    now = clock.now()
    month = list(backups.list_backups(s3, env.backup_bucket, backups.key_prefix(env), now - TREND, now))
    if month:
        title = f"{env.name}: backup size, last {TREND.days} days (s3://{env.backup_bucket}/{backups.key_prefix(env)})"
        report.trend(f"backup-size {env.name}", title, trends.backup_sizes(month, title),
                     ["taken", "key", "size (bytes)"], [[b.taken, b.key, f"{b.size:,}"] for b in reversed(month)])
    _conclude(backups.check_size(s3, env, now), "Newest backup size", report, ledger_details)


def test_backups_expire(env: EnvConfig, s3: Any, report: Any, ledger_details: dict[str, Any]) -> None:
    _conclude(backups.check_expiry(s3, env), "Backup expiry", report, ledger_details)


def test_backup_jobs_healthy(env: EnvConfig, kube_api: k8s.ApiClient, report: Any,
                             ledger_details: dict[str, Any]) -> None:
    _conclude(backups.check_jobs(kube_api, env), "Backup CronJobs", report, ledger_details)
