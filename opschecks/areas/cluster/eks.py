"""Monthly: the control plane runs a version EKS supports, on standard (not paid extended) support.

Two reads: ``eks:DescribeCluster`` (version, status, ``upgradePolicy.supportType``) and
``eks:DescribeClusterVersions`` with ``includeAll`` (every version's ``versionStatus`` and end of standard and
extended support): the support facts are AWS's own, never dates or version numbers written in our code.

- EKS001  the version is not supported any more (UNSUPPORTED, or absent from EKS's catalog), or older than the
          team's own ``min_version`` when one is set;
- EKS002  the cluster is not ACTIVE (UPDATING and friends say an upgrade is under way or stuck);
- EKS003  the cluster cannot be found under its name in the env's account and region;
- EKS004  the version is past standard support, in (paid) extended support;
- EKS005  standard support ends within ``support_warning_days`` (with ``upgradePolicy`` EXTENDED the cluster
          then enters paid extended support; with STANDARD, EKS upgrades it itself).

The table says how many minor versions it is behind the newest version in standard support.
Kubelet skew against the control plane is judged daily, with the nodes (opschecks/areas/cluster/nodes.py).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from opschecks.findings import Finding
from opschecks.verdict import Verdict
from opschecks.areas.cluster.nodes import minor
from opschecks.areas.cluster.settings import ClusterSettings

if TYPE_CHECKING:
    from opschecks.config import EnvConfig

COLUMNS = ("cluster", "version", "platform", "status", "support", "standard support ends", "behind newest")
# eksctl names its contexts <IAM identity>@<cluster>.<region>.eksctl.io; an EKS cluster name has no dots.
EKSCTL_CONTEXT = re.compile(r"^.+@(?P<name>[0-9A-Za-z][0-9A-Za-z_-]*)"
                            r"\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.eksctl\.io$")


def cluster_name(env: EnvConfig) -> str:
    return cluster_source(env)[0]


def cluster_source(env: EnvConfig) -> tuple[str, str]:
    """The EKS cluster's name and where it came from: ``[env.<name>.cluster] eks_cluster``, else the name in
    an EKS context ARN or an eksctl context, else the context's name as it is (said so: it may not be one)."""
    if env.settings(ClusterSettings).eks_cluster:
        return env.settings(ClusterSettings).eks_cluster, f"[env.{env.name}.cluster] eks_cluster"
    context = env.kube_context or ""
    if context.startswith("arn:aws:eks:"):
        return context.rsplit("cluster/", 1)[-1], f"from the EKS context ARN {context}"
    eksctl = EKSCTL_CONTEXT.match(context)
    if eksctl:
        return eksctl["name"], f"from the eksctl context {context}"
    return context, f"the kube context's name, taken as it is; set [env.{env.name}.cluster] eks_cluster"


def judge(eks: Any, env: EnvConfig, now: dt.datetime) -> Verdict:
    name, source = cluster_source(env)
    where = f"{env.name} eks {name or '(no name)'} ({env.aws_region})"
    verdict = Verdict(subject=name)
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
    versions = {v["clusterVersion"]: v for page in eks.get_paginator("describe_cluster_versions").paginate(
        includeAll=True) for v in page.get("clusterVersions", [])}
    version, status = cluster.get("version", "?"), cluster.get("status", "?")
    policy = (cluster.get("upgradePolicy") or {}).get("supportType", "?")
    info = versions.get(version, {})
    support = info.get("versionStatus", "not in EKS's catalog")
    ends = info.get("endOfStandardSupportDate")
    standard = [v for v, i in versions.items() if i.get("versionStatus") == "STANDARD_SUPPORT" and minor(v)]
    newest = max(standard, key=minor, default=None)
    current = minor(version)
    behind = (minor(newest)[1] - current[1]) if newest and current and current[0] == minor(newest)[0] else None
    verdict.rows.append((name, version, cluster.get("platformVersion", "?"), status, f"{support} (policy {policy})",
                         _day(ends) if ends else "?", "?" if behind is None else f"{max(behind, 0)} minor"))
    verdict.details.update(version=version, platform=cluster.get("platformVersion"), status=status,
                           support=support, upgrade_policy=policy, standard_support_ends=_day(ends) if ends else None)
    arn_where = f"{where} {cluster.get('arn', '')}".rstrip()
    upgrade = f"upgrade to {newest} or newer" if newest else "upgrade"
    if support == "UNSUPPORTED" or not info:
        over = f" (extended support ended {_day(info['endOfExtendedSupportDate'])})" \
            if info.get("endOfExtendedSupportDate") else ""
        verdict.findings.append(Finding("EKS001", arn_where, f"expected a Kubernetes version EKS supports, found "
                                        f"{version}: {support}{over}; {upgrade}"))
    elif support == "EXTENDED_SUPPORT":
        verdict.findings.append(Finding("EKS004", arn_where, f"expected {version} on standard support, it is in paid "
                                        f"extended support since {_day(ends)} (until "
                                        f"{_day(info.get('endOfExtendedSupportDate'))}); {upgrade}"))
    elif ends is not None:
        left = (_moment(ends) - now).total_seconds() / 86400
        if left <= env.settings(ClusterSettings).support_warning_days:
            after = ("it then enters paid extended support (upgradePolicy EXTENDED)" if policy == "EXTENDED"
                     else "EKS then upgrades it itself (upgradePolicy STANDARD)")
            verdict.findings.append(Finding("EKS005", arn_where, f"expected more than "
                                            f"{env.settings(ClusterSettings).support_warning_days:g} days of standard support left for "
                                            f"{version}, it ends on {_day(ends)} (in {max(left, 0):.0f} days): "
                                            f"{after}; {upgrade}"))
    oldest = minor(env.settings(ClusterSettings).min_version) if env.settings(ClusterSettings).min_version else None
    if oldest is not None and (current is None or current < oldest) and support in ("STANDARD_SUPPORT",
                                                                                      "EXTENDED_SUPPORT"):
        verdict.findings.append(Finding("EKS001", arn_where, f"expected Kubernetes {env.settings(ClusterSettings).min_version} or newer "
                                        f"(min_version), found {version}"))
    if status != "ACTIVE":
        verdict.findings.append(Finding("EKS002", where, f"expected the cluster ACTIVE, found {status}"))
    return verdict


def _moment(value: Any) -> dt.datetime:
    """boto3 parses rest-json timestamps into aware datetimes; a stand-in's raw epoch seconds are read the same."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromtimestamp(float(value), dt.timezone.utc)


def _day(value: Any) -> str:
    return _moment(value).date().isoformat() if value is not None else "?"
