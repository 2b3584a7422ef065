"""The AWS usage area's settings (``[env.<name>.aws_usage]``), a leaf."""

from __future__ import annotations

from dataclasses import dataclass, field

# BucketSizeBytes' StorageType values as S3 documents them (Amazon S3 User Guide, "Metrics and dimensions").
S3_STORAGE_TYPES = (
    "StandardStorage", "IntelligentTieringFAStorage", "IntelligentTieringIAStorage", "IntelligentTieringAAStorage",
    "IntelligentTieringAIAStorage", "IntelligentTieringDAAStorage", "StandardIAStorage", "StandardIASizeOverhead",
    "StandardIAObjectOverhead", "OneZoneIAStorage", "OneZoneIASizeOverhead", "ReducedRedundancyStorage",
    "GlacierInstantRetrievalStorage", "GlacierInstantRetrievalSizeOverhead", "GlacierStorage",
    "GlacierStagingStorage", "GlacierObjectOverhead", "GlacierS3ObjectOverhead", "DeepArchiveStorage",
    "DeepArchiveObjectOverhead", "DeepArchiveS3ObjectOverhead", "DeepArchiveStagingStorage",
)


@dataclass(frozen=True)
class UsageSettings:
    # Backup bucket growth (CloudWatch AWS/S3).
    window_days: int = 90  # how much daily history to read and plot
    growth_window_days: int = 30
    max_growth_percent: float = 25.0  # over growth_window_days; expiry stopped adds ~33% in 30 days
    stall_days: int = 3
    max_shrink_percent: float = 20.0  # from one day to the next; a plateau loses one night in 90 (~1%)
    max_metric_age_days: float = 3.0  # S3 storage metrics arrive once a day, a day or two late
    # BucketSizeBytes series always asked for, whether or not ListMetrics still lists them.
    storage_types: list[str] = field(default_factory=lambda: list(S3_STORAGE_TYPES))
    # Unused resources (opschecks/areas/aws_usage/unused.py); each rule's threshold.
    volume_unattached_days: int = 7
    snapshot_days: int = 90
    lb_min_age_days: int = 7  # a new load balancer gets its targets a little after it is created
    instance_stopped_days: int = 30
    nat_idle_days: int = 30
    log_idle_days: int = 90
    # The month's bill (opschecks/areas/aws_usage/costs.py).
    cost_rise_percent: float = 20.0  # last full month against the one before
    monthly_budget_usd: float | None = None  # this month's forecast above it fails; None: no budget
    cost_top_services: int = 10
    # python -m opschecks cleanup refuses a plan older than this (opschecks/areas/aws_usage/cleanup.py).
    plan_max_age_days: float = 7.0
    # TOML file of [[waiver]] tables (opschecks/waivers.py); relative paths are relative to the config file.
    waivers_file: str = ""
