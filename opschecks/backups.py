"""Nightly backups in S3: freshness, size, expiry, and the CronJobs that make them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BackupSettings:
    period_hours: float = 24.0  # the ingest-backup CronJob runs "0 0 * * *"
    grace_hours: float = 2.0
    min_size_fraction: float = 0.5  # of the median of the previous backups
    size_baseline: int = 7  # how many previous backups form that median
    retention_days: int = 90
    retention_slack_days: int = 7  # S3 lifecycle expiry is asynchronous
    tag_key: str = "auto-delete"
    tag_value: str = "true"
    cronjobs: list[str] = field(default_factory=lambda: ["ingest-backup", "ingest-backup-verify"])
    cronjob_namespace: str | None = None  # default: the env's app namespace
