"""Backups: tonight's mongodump tarball in S3, its size, its expiry, the backup CronJobs (docs/backups.md)."""
