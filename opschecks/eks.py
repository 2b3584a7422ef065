"""Monthly: the control plane runs a supported Kubernetes version (``eks:DescribeCluster``).

- EKS001  the cluster's version is older than ``min_version``;
- EKS002  the cluster is not ACTIVE (UPDATING and friends say an upgrade is under way or stuck);
- EKS003  the cluster cannot be found under its name in the env's account and region.

The table says how many minor versions it is behind ``newest_version`` (the newest the team tracks: EKS
ends standard support about 14 months after a release, so falling behind is a cost, then a forced upgrade).
Kubelet skew against the control plane is judged daily, with the nodes (opschecks/nodes.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from opschecks.findings import Finding
from opschecks.nodes import minor

if TYPE_CHECKING:
    from opschecks.config import EnvConfig

COLUMNS = ("cluster", "version", "platform", "status", "behind newest")
# eksctl names its contexts <IAM identity>@<cluster>.<region>.eksctl.io; an EKS cluster name has no dots.
EKSCTL_CONTEXT = re.compile(r"^.+@(?P<name>[0-9A-Za-z][0-9A-Za-z_-]*)"
                            r"\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.eksctl\.io$")


@dataclass
class Verdict:
    cluster: str
    rows: list[tuple] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def cluster_name(env: EnvConfig) -> str:
    return cluster_source(env)[0]


def cluster_source(env: EnvConfig) -> tuple[str, str]:
    """The EKS cluster's name and where it came from: ``[env.<name>.cluster] eks_cluster``, else the name in
    an EKS context ARN or an eksctl context, else the context's name as it is (said so: it may not be one)."""
    if env.cluster.eks_cluster:
        return env.cluster.eks_cluster, f"[env.{env.name}.cluster] eks_cluster"
    context = env.kube_context or ""
    if context.startswith("arn:aws:eks:"):
        return context.rsplit("cluster/", 1)[-1], f"from the EKS context ARN {context}"
    eksctl = EKSCTL_CONTEXT.match(context)
    if eksctl:
        return eksctl["name"], f"from the eksctl context {context}"
    return context, f"the kube context's name, taken as it is; set [env.{env.name}.cluster] eks_cluster"


def judge(eks: Any, env: EnvConfig) -> Verdict:
    name, source = cluster_source(env)
    where = f"{env.name} eks {name or '(no name)'} ({env.aws_region})"
    verdict = Verdict(cluster=name)
    if not name:
        verdict.findings.append(Finding("EKS003", where, f"no EKS cluster name: set [env.{env.name}.cluster] "
                                        "eks_cluster (or kube_context)"))
        return verdict
    try:
        cluster = eks.describe_cluster(name=name)["cluster"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        verdict.findings.append(Finding("EKS003", where, f"expected the EKS cluster {name!r} ({source}), found "
                                        "none in this account and region"))
        return verdict
    version, status = cluster.get("version", "?"), cluster.get("status", "?")
    settings = env.cluster
    current, oldest, newest = minor(version), minor(settings.min_version), minor(settings.newest_version)
    behind = newest[1] - current[1] if current and newest and current[0] == newest[0] else None
    verdict.rows.append((name, version, cluster.get("platformVersion", "?"), status,
                         "?" if behind is None else f"{max(behind, 0)} minor"))
    verdict.details.update(version=version, platform=cluster.get("platformVersion"), status=status)
    if current is None or oldest is None or current < oldest:
        verdict.findings.append(Finding("EKS001", f"{where} {cluster.get('arn', '')}".rstrip(),
                                        f"expected Kubernetes {settings.min_version} or newer, found {version}"
                                        + (f" ({behind} minor versions behind {settings.newest_version})"
                                           if behind is not None else "")))
    if status != "ACTIVE":
        verdict.findings.append(Finding("EKS002", where, f"expected the cluster ACTIVE, found {status}"))
    return verdict
