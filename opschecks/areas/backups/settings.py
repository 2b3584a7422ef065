"""The backups area's settings (``[env.<name>.backups]``), a leaf: it imports nothing of the suite."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

@dataclass(frozen=True)
class BackupSettings:
    period_hours: float = 24.0  # the ingest-backup CronJob runs "0 0 * * *"
    grace_hours: float = 2.0
    min_size_fraction: float = 0.5  # of the median of the previous backups
    size_baseline: int = 7  # how many previous backups form that median
    retention_days: int = 90
    retention_slack_days: int = 7  # S3 lifecycle expiry is asynchronous
    max_noncurrent_days: int = 30  # on a versioned bucket: how long an expired backup may stay as a noncurrent version
    tag_key: str = "auto-delete"
    tag_value: str = "true"
    cronjobs: list[str] = field(default_factory=lambda: ["ingest-backup", "ingest-backup-verify"])
    cronjob_namespace: str | None = None  # default: the env's app namespace

    @property
    def window(self) -> dt.timedelta:
        """How old the newest backup (or last successful run) may be."""
        return dt.timedelta(hours=self.period_hours + self.grace_hours)

    @property
    def lookback(self) -> dt.timedelta:
        """How far back to list: the size baseline twice over, so missed nights still leave a baseline."""
        return dt.timedelta(hours=self.period_hours * 2 * (self.size_baseline + 1))

    @property
    def stale_after(self) -> dt.timedelta:
        return dt.timedelta(days=self.retention_days + self.retention_slack_days)
