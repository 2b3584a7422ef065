"""The cluster area's settings (``[env.<name>.cluster]``), for its nodes, volumes, EKS and CPU rules; a leaf."""

from __future__ import annotations

from dataclasses import dataclass, field

@dataclass(frozen=True)
class ClusterSettings:
    max_cordon_hours: float = 24.0
    max_heartbeat_minutes: float = 15.0  # Ready=True older than this is stale (NOD006); see the module doc
    new_node_grace_minutes: float = 10.0  # a new node without status yet is registering, not failing
    max_kubelet_skew: int = 3  # minor versions behind the control plane (n-3 since Kubernetes 1.28)
    # Persistent volumes (opschecks/areas/cluster/volumes.py).
    volume_max_percent: float = 80.0
    volume_full_horizon_days: float = 30.0  # fail when the trend says full sooner than this
    volume_trend_days: int = 30  # readings (from the ledger) the trend is fitted on
    volume_min_readings: int = 3  # fewer readings than this: no trend, said so in the table
    # What the environment cannot run without (VOL006): Ingest's database, as the sandbox seeds it.
    essential_statefulsets: list[str] = field(default_factory=lambda: ["mongo"])
    essential_claims: list[str] = field(default_factory=lambda: ["datadir-mongo-0"])
    # The control plane (opschecks/areas/cluster/eks.py): EKS cluster name, default the kube context's name.
    eks_cluster: str | None = None
    # Support facts come from EKS itself (DescribeClusterVersions); these only add the team's own rules.
    min_version: str | None = None  # older than this fails, even while EKS still supports it
    support_warning_days: float = 60.0  # warn this long before the version's standard support ends
    # Node CPU over the month (opschecks/areas/cluster/capacity.py).
    cpu_days: int = 30
    cpu_high_percent: float = 80.0  # median of the daily p95 above this: the cluster is too small
    cpu_low_percent: float = 10.0  # median of the daily p95 below this: paying for idle nodes
