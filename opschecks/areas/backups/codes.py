"""The backups area's finding codes: severity and what to do first (docs/codes.md, docs/backups.md)."""

from opschecks.code import codes

CODES = codes([
    ("BKP001", "critical", "no backup newer than period + grace",
     "Read the backup CronJob's last Job (BKP009/BKP010 say more): is mongodump still writing tonight's key?"),
    ("BKP002", "critical", "the newest backup is empty (0 bytes)",
     "Read the backup Job's log: mongodump or the upload failed after creating the key."),
    ("BKP003", "critical", "the newest backup is much smaller than the median of the previous ones",
     "Compare the dump's collections with the database: a collection skipped or a dump of the wrong database."),
    ("BKP004", "warning", "the lifecycle does not delete the newest backup after exactly retention_days",
     "Fix the bucket's lifecycle rule (the message names the rule and its days)."),
    ("BKP005", "warning", "the newest backup lacks the auto-delete=true tag",
     "Check the upload step of the backup Job: it must tag the object."),
    ("BKP006", "warning", "backups older than retention + slack still exist",
     "The lifecycle is not expiring them: check the rule's filter and status."),
    ("BKP007", "critical", "a backup CronJob does not exist in the namespace",
     "Re-apply the backup CronJob's manifest in that namespace."),
    ("BKP008", "critical", "a backup CronJob is suspended",
     "Unsuspend it (kubectl patch cronjob ... -p '{\"spec\":{\"suspend\":false}}') if nobody paused it on purpose."),
    ("BKP009", "critical", "a backup CronJob has not succeeded within period + grace",
     "kubectl get jobs in the namespace: read the last Job's pods and events."),
    ("BKP010", "warning", "the most recent Job of a backup CronJob failed",
     "Read the failed Job's pod log; the next run may pass, BKP001 says whether a backup is missing."),
])
