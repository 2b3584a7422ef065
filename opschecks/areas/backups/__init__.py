"""Backups: tonight's mongodump tarball in S3, its size, its expiry, the backup CronJobs (docs/backups.md)."""

from opschecks.areas.area import Area
from opschecks.areas.backups.codes import CODES
from opschecks.areas.backups.settings import BackupSettings

AREA = Area("backups", BackupSettings, CODES)
