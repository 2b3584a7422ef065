"""Backups: tonight's mongodump tarball in S3, its size, its expiry, the backup CronJobs (docs/backups.md)."""

from opschecks.areas.area import Area
from opschecks.areas.backups.codes import CODES

AREA = Area("backups", CODES)
