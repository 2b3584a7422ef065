"""The cluster area: nodes, volumes (fake Kubernetes API, real client), the EKS control plane and node CPU (moto)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from opschecks import clock, kube
from opschecks.areas.cluster import capacity, eks, nodes, volumes
from opschecks.config import EnvConfig
from opschecks.record.ledger import Record
from opschecks.areas.cluster.settings import ClusterSettings
from opschecks.sandbox import kube_objects as k
from opschecks.sandbox.seed_cluster import put_node_cpu, seed_cluster_kube

NOW = dt.datetime(2026, 3, 12, 9, 30, tzinfo=dt.timezone.utc)
NS = "dev-environment"
GiB = 2**30


class Cluster:
    def __init__(self, sandbox: Any, name: str, context: str) -> None:
        self.sandbox, self.name, self.context = sandbox, name, context

    def set(self, resource: str, objects: list[dict[str, Any]]) -> None:
        self.sandbox.kube.set_objects(self.name, resource, objects)

    def nodes(self, settings: ClusterSettings = ClusterSettings()) -> tuple[list[nodes.NodeState], list, str]:
        api = kube.api_client(self.context)
        try:
            return nodes.assess(api, settings, NOW, "dev ctx")
        finally:
            api.close()

    def volumes(self, past: list[Record] = (), settings: ClusterSettings = ClusterSettings(),
                read_timeout_s: float = kube.READ_TIMEOUT_S) -> tuple[list, list]:
        api = kube.api_client(self.context, read_timeout_s=read_timeout_s)
        try:
            seen = volumes.read(api, NS, "dev ctx/ns")
        finally:
            api.close()
        return volumes.judge(seen, volumes.past_readings(list(past)), settings, NOW, "dev ctx/ns")


@pytest.fixture
def cluster(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    name = f"cap-{uuid.uuid4().hex[:8]}"
    kubeconfig = sandbox.kube.write_kubeconfig(tmp_path / "kubeconfig", {f"ctx-{name}": name})
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    sandbox.kube.set_version(name, "v1.30.4-eks-a737599")
    return Cluster(sandbox, name, f"ctx-{name}")


def codes(findings: list) -> list[str]:
    return sorted(f.code for f in findings)


# -- nodes ---------------------------------------------------------------------------------------------------
def test_healthy_nodes_pass_with_a_row_each(cluster: Cluster) -> None:
    cluster.set("nodes", [k.node("ip-1", now=NOW), k.node("ip-2", now=NOW, zone="us-east-1b")])
    states, cluster_findings, server = cluster.nodes()
    assert server == "v1.30.4-eks-a737599" and cluster_findings == []
    assert [s.findings for s in states] == [(), ()]
    assert states[1].row == ("ip-2", "m5.xlarge", "us-east-1b", "40d", "Ready", "v1.29.3-eks-ae9a62a")


def test_each_unhealthy_node_fails_with_its_code(cluster: Cluster) -> None:
    cluster.set("nodes", [
        k.node("not-ready", now=NOW, conditions={"Ready": "False"}),
        k.node("disk", now=NOW, conditions={"DiskPressure": "True"}),
        k.node("cordoned-long", now=NOW, cordoned_for=dt.timedelta(days=3)),
        k.node("cordoned-now", now=NOW, cordoned_for=dt.timedelta(hours=1)),
        k.node("old-kubelet", now=NOW, kubelet="v1.26.15-eks-1552ad0"),
        k.node("new-kubelet", now=NOW, kubelet="v1.31.0-eks-1552ad0"),
    ])
    states = {s.name: s for s in cluster.nodes()[0]}
    assert {name: codes(list(s.findings)) for name, s in states.items()} == {
        "not-ready": ["NOD001"], "disk": ["NOD002"], "cordoned-long": ["NOD003"], "cordoned-now": [],
        "old-kubelet": ["NOD004"], "new-kubelet": ["NOD004"]}
    assert states["not-ready"].findings[0].message == "expected Ready, found False (KubeletNotReady), for 25m"
    assert states["disk"].findings[0].message == "DiskPressure is True (KubeletHasDiskPressure), for 25m"
    assert states["cordoned-long"].findings[0].message == "expected a cordon to last at most 24 h, cordoned for 72 h"
    assert "at most 3 minor versions behind the control plane v1.30.4-eks-a737599, found v1.26.15-eks-1552ad0 " \
           "(4 behind)" in states["old-kubelet"].findings[0].message
    assert states["not-ready"].findings[0].where == "dev ctx node/not-ready"


def test_a_ready_node_with_a_stale_heartbeat_is_NOD006(cluster: Cluster) -> None:
    cluster.set("nodes", [k.node("stale", now=NOW, heartbeat_age=dt.timedelta(days=3)),
                          k.node("recent", now=NOW, heartbeat_age=dt.timedelta(minutes=5))])  # one status report ago
    states = {s.name: s for s in cluster.nodes()[0]}
    assert codes(list(states["stale"].findings)) == ["NOD006"] and states["recent"].findings == ()
    assert states["stale"].findings[0].message == ("expected Ready=True refreshed within 15 min, found its last "
                                                   "heartbeat 3d ago: nothing is updating the node's status")
    recent = cluster.nodes(ClusterSettings(max_heartbeat_minutes=2))[0][1]  # the setting is honoured
    assert codes(list(recent.findings)) == ["NOD006"]


def test_a_sandbox_seeded_a_day_ago_still_heartbeats(cluster: Cluster) -> None:
    seed_cluster_kube(cluster.sandbox.kube, cluster.name, "dev", clock.now() - dt.timedelta(days=1))
    api = kube.api_client(cluster.context)
    try:
        states = nodes.assess(api, ClusterSettings(), clock.now(), "dev ctx")[0]
    finally:
        api.close()
    assert len(states) == 2 and [s.findings for s in states] == [(), ()]


def test_the_unschedulable_taint_alone_is_a_cordon(cluster: Cluster) -> None:
    cluster.set("nodes", [k.node("tainted-long", now=NOW, cordoned_for=dt.timedelta(days=5), taint_only=True),
                          k.node("tainted-now", now=NOW, cordoned_for=dt.timedelta(hours=1), taint_only=True)])
    states = {s.name: s for s in cluster.nodes()[0]}
    assert codes(list(states["tainted-long"].findings)) == ["NOD003"] and states["tainted-now"].findings == ()
    assert states["tainted-long"].findings[0].message == (
        "expected a cordon to last at most 24 h, cordoned for 120 h (by the node.kubernetes.io/unschedulable "
        "taint alone)")
    assert states["tainted-now"].row[4] == "SchedulingDisabled"


def _registered(name: str, ago: dt.timedelta) -> dict[str, Any]:
    """A Node object its kubelet has just created, before it posts its first status."""
    node = k.node(name, now=NOW, age=ago)
    node["status"] = {}
    return node


def test_a_new_node_without_status_is_registering_within_the_grace(cluster: Cluster) -> None:
    cluster.set("nodes", [_registered("new", dt.timedelta(seconds=20)), _registered("stuck", dt.timedelta(hours=1))])
    states = {s.name: s for s in cluster.nodes()[0]}
    assert states["new"].findings == ()
    assert states["new"].row[3:] == ("20s", "registering (created 20s ago)", "")
    assert codes(list(states["stuck"].findings)) == ["NOD001", "NOD004"]  # past the grace: judged as any node


def test_a_nodes_age_reads_as_a_pods(cluster: Cluster) -> None:
    cluster.set("nodes", [k.node("young", now=NOW, age=dt.timedelta(hours=36)),
                          k.node("minutes", now=NOW, age=dt.timedelta(minutes=90))])
    assert [s.row[3] for s in cluster.nodes()[0]] == ["36h", "90m"]  # as pods.py shows ages (timefmt.age)


def test_no_nodes_is_NOD005(cluster: Cluster) -> None:
    cluster.set("nodes", [])
    assert codes(cluster.nodes()[1]) == ["NOD005"]


# -- volumes -------------------------------------------------------------------------------------------------
def _volumes(cluster: Cluster, used_gib: float, capacity_gib: int = 100, node_status: int | None = None) -> None:
    cluster.set("nodes", [k.node("n1", now=NOW)])
    cluster.set("persistentvolumeclaims", [k.pvc("datadir-mongo-0", NS, now=NOW, size=f"{capacity_gib}Gi"),
                                           k.pvc("scratch", NS, now=NOW)])
    summary = k.stats_summary("n1", now=NOW, volumes=[
        ("mongo-0", NS, "datadir-mongo-0", int(used_gib * GiB), capacity_gib * GiB),
        ("other", "kube-system", "datadir-mongo-0", 99 * GiB, 100 * GiB)])  # same claim name, other namespace
    cluster.sandbox.kube.set_stats_summary(cluster.name, "n1", node_status or summary)
    # The database as deployed: its StatefulSet, and its Running pod on n1 mounting the claim.
    cluster.set("statefulsets", [k.statefulset("mongo", NS, now=NOW)])
    cluster.set("pods", [k.pod("mongo-0", NS, now=NOW, owner=("StatefulSet", "mongo"), node="n1",
                               claims=["datadir-mongo-0"])])


def test_volume_below_threshold_passes_and_an_unmounted_claim_is_said(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=41)
    rows, findings = cluster.volumes()
    assert findings == []
    assert rows == [("datadir-mongo-0", "mongo-0", "n1", "41.0 GiB", "100.0 GiB", "41.0%", "no trend yet (1 readings)"),
                    ("scratch", "-", "-", "-", "100Gi", "-", "no reading: not mounted by a running pod")]


def test_volume_above_threshold_is_VOL001(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=85)
    findings = cluster.volumes()[1]
    assert codes(findings) == ["VOL001"]
    assert findings[0].message == ("expected at most 80% used, found 85.0% (85.0 GiB of 100.0 GiB, mounted by "
                                   "pod/mongo-0 on n1)")
    assert findings[0].where == "dev ctx/ns pvc/datadir-mongo-0"


def _record(days_ago: float, used_gib: float) -> Record:
    return Record(check="checks/test_cluster.py::test_volumes_not_filling", env="dev", outcome="passed",
                  started=NOW - dt.timedelta(days=days_ago), duration_s=1, runner="ci",
                  details={"volumes": {"datadir-mongo-0": int(used_gib * GiB)}})


def test_volume_filling_within_the_horizon_is_VOL002(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=70)  # 3 GiB a day: full in 10 days
    past = [_record(days, 70 - 3 * days) for days in (1, 2, 3, 5, 8)] + [_record(45, 1)]  # 45 days: out of window
    findings = cluster.volumes(past)[1]
    assert codes(findings) == ["VOL002"]
    assert findings[0].message == ("expected no fill within 30 days, the last 6 readings' trend fills it in 10 days "
                                   "(70.0 GiB of 100.0 GiB now)")


def test_a_steady_volume_has_no_fill_date(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=41)
    rows, findings = cluster.volumes([_record(d, 41) for d in (1, 2, 3)])
    assert findings == [] and rows[0][-1] == "not filling"


def test_an_unreadable_kubelet_is_VOL003_and_a_pending_claim_VOL004(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=41, node_status=502)
    cluster.sandbox.kube.add_objects(cluster.name, "persistentvolumeclaims",
                                     [k.pvc("pending", NS, now=NOW, phase="Pending")])
    findings = cluster.volumes()[1]
    assert codes(findings) == ["VOL003", "VOL004"]
    assert findings[0].where == "dev ctx/ns node/n1"
    assert "found HTTP 502" in findings[0].message
    assert findings[1].message == "expected the claim Bound, found Pending"


def _summary_of(cluster: Cluster, node: str, summary: dict[str, Any], **kw: Any) -> None:
    cluster.sandbox.kube.set_stats_summary(cluster.name, node, summary, **kw)


def test_a_mounted_claim_no_summary_lists_is_VOL005(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=41)  # mongo-0 is Running on n1 and mounts datadir-mongo-0 ...
    _summary_of(cluster, "n1", k.stats_summary("n1", now=NOW, volumes=[]))  # ... but n1's kubelet reports no volume
    rows, findings = cluster.volumes()
    assert codes(findings) == ["VOL005"]
    assert findings[0].where == "dev ctx/ns pvc/datadir-mongo-0"
    assert findings[0].message.startswith("expected a reading of the volume Running pod/mongo-0 on n1 mounts, no "
                                          "kubelet's stats summary lists it")
    assert rows[0] == ("datadir-mongo-0", "mongo-0", "n1", "-", "100Gi", "-", "no reading (VOL005)")
    assert rows[1][-1] == "no reading: not mounted by a running pod"  # scratch: no pod mounts it, still a row


def test_a_mounted_block_volume_without_used_bytes_is_VOL005(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=41)
    summary = k.stats_summary("n1", now=NOW, volumes=[("mongo-0", NS, "datadir-mongo-0", 0, 100 * GiB)])
    summary["pods"][0]["volume"][0] = {"name": "data", "pvcRef": {"name": "datadir-mongo-0", "namespace": NS}}
    _summary_of(cluster, "n1", summary)
    findings = cluster.volumes()[1]
    assert codes(findings) == ["VOL005"]
    assert "the kubelet on n1 lists it without usedBytes/capacityBytes" in findings[0].message


def test_no_database_statefulset_or_claim_is_VOL006(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=41)
    cluster.set("statefulsets", [])
    cluster.set("pods", [])
    cluster.set("persistentvolumeclaims", [k.pvc("scratch", NS, now=NOW)])
    findings = cluster.volumes()[1]
    assert [(f.code, f.where) for f in findings] == [("VOL006", "dev ctx/ns statefulset/mongo"),
                                                     ("VOL006", "dev ctx/ns pvc/datadir-mongo-0")]
    assert "found no such claim" in findings[1].message
    settings = ClusterSettings(essential_statefulsets=[], essential_claims=["scratch"])  # another env's essentials
    assert codes(cluster.volumes(settings=settings)[1]) == ["VOL006"]  # scratch: Bound, nobody mounts it


def test_a_bound_database_claim_no_running_pod_mounts_is_VOL006(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=41)
    cluster.set("pods", [k.pod("mongo-0", NS, now=NOW, owner=("StatefulSet", "mongo"), node="n1", phase="Pending",
                               claims=["datadir-mongo-0"])])
    _summary_of(cluster, "n1", k.stats_summary("n1", now=NOW, volumes=[]))
    rows, findings = cluster.volumes()
    assert codes(findings) == ["VOL006"]
    assert findings[0].message == ("expected the essential claim mounted by a Running pod, found none mounting it "
                                   "(essential_claims)")
    assert rows[0][-1] == "no reading: not mounted by a running pod"


def test_a_hung_kubelet_is_its_own_VOL003_and_other_nodes_are_still_judged(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=41)
    cluster.set("nodes", [k.node("n1", now=NOW), k.node("n2", now=NOW)])
    _summary_of(cluster, "n1", k.stats_summary("n1", now=NOW, volumes=[]), delay_s=3)  # answers after the timeout
    _summary_of(cluster, "n2", k.stats_summary("n2", now=NOW, volumes=[
        ("mongo-0", NS, "datadir-mongo-0", 85 * GiB, 100 * GiB)]))
    cluster.set("pods", [k.pod("mongo-0", NS, now=NOW, owner=("StatefulSet", "mongo"), node="n2",
                               claims=["datadir-mongo-0"])])
    findings = cluster.volumes(read_timeout_s=0.5)[1]
    assert [(f.code, f.where) for f in findings] == [("VOL003", "dev ctx/ns node/n1"),
                                                     ("VOL001", "dev ctx/ns pvc/datadir-mongo-0")]
    assert findings[0].message == ("expected the kubelet's stats summary, found no answer (ReadTimeoutError) "
                                   "(its volumes are not judged)")


def test_a_node_deleted_after_the_list_is_not_a_failure(cluster: Cluster) -> None:
    _volumes(cluster, used_gib=41)
    cluster.set("nodes", [k.node("n1", now=NOW), k.node("gone", now=NOW), k.node("kubelet-404", now=NOW)])
    _summary_of(cluster, "gone", 404, delete_node=True)
    _summary_of(cluster, "kubelet-404", 404)  # the node is still there: its kubelet's 404 is not a deletion
    findings = cluster.volumes()[1]
    assert [(f.code, f.where) for f in findings] == [("VOL003", "dev ctx/ns node/kubelet-404")]


def test_days_until_full() -> None:
    history = [(NOW - dt.timedelta(days=d), 100 - 10 * d) for d in range(5)]
    assert volumes.days_until_full(history, 200, NOW) == pytest.approx(10)
    assert volumes.days_until_full([(NOW - dt.timedelta(days=1), 100), (NOW, 90)], 200, NOW) is None


# -- EKS -----------------------------------------------------------------------------------------------------
def _eks_cluster(sandbox: Any, version: str) -> str:
    name = f"eks-{uuid.uuid4().hex[:8]}"
    subnets = [s["SubnetId"] for s in sandbox.client("ec2").describe_subnets()["Subnets"][:2]]
    sandbox.client("eks").create_cluster(name=name, version=version, roleArn="arn:aws:iam::123456789012:role/eks",
                                         resourcesVpcConfig={"subnetIds": subnets})
    return name


def _env(name: str, **cluster: Any) -> EnvConfig:
    return EnvConfig(name="dev", kube_context=name, area_settings=(ClusterSettings(**cluster),))


def test_supported_control_plane_passes(sandbox: Any) -> None:
    name = _eks_cluster(sandbox, "1.30")
    verdict = eks.judge(sandbox.client("eks"), _env(name), NOW)
    assert verdict.findings == [] and verdict.rows[0][1] == "1.30" and verdict.rows[0][6] == "2 minor"
    assert verdict.rows[0][4] == "STANDARD_SUPPORT (policy STANDARD)"


def test_old_or_missing_control_plane_fails(sandbox: Any) -> None:
    old = eks.judge(sandbox.client("eks"), _env(_eks_cluster(sandbox, "1.27")), NOW)
    assert codes(old.findings) == ["EKS001"]
    assert old.findings[0].message.startswith("expected a Kubernetes version EKS supports, found 1.27: UNSUPPORTED "
                                              "(extended support ended ")
    assert old.findings[0].message.endswith("; upgrade to 1.32 or newer")
    assert ":cluster/eks-" in old.findings[0].where  # the cluster's ARN
    missing = eks.judge(sandbox.client("eks"), _env("no-such-cluster"), NOW)
    assert codes(missing.findings) == ["EKS003"] and "'no-such-cluster'" in missing.findings[0].message


def test_extended_support_is_EKS004_from_what_eks_itself_says(sandbox: Any) -> None:
    """A cluster on a version past standard support (DescribeClusterVersions: versionStatus EXTENDED_SUPPORT) with
    upgradePolicy.supportType EXTENDED is paid extended support, not "0 minor behind"."""
    name = _eks_cluster(sandbox, "1.29")
    sandbox.eks.support_types[name] = "EXTENDED"
    verdict = eks.judge(sandbox.client("eks"), _env(name), NOW)
    assert codes(verdict.findings) == ["EKS004"]
    assert verdict.findings[0].message.startswith("expected 1.29 on standard support, it is in paid extended support "
                                                  "since ")
    assert verdict.rows[0][4] == "EXTENDED_SUPPORT (policy EXTENDED)"


def test_standard_support_ending_soon_is_EKS005_and_min_version_still_applies(sandbox: Any) -> None:
    name = _eks_cluster(sandbox, "1.30")
    soon = [dict(v) for v in sandbox.eks.versions]
    saved, sandbox.eks.versions = sandbox.eks.versions, soon
    try:
        for v in soon:
            if v["clusterVersion"] == "1.30":
                v["endOfStandardSupportDate"] = int((NOW + dt.timedelta(days=20)).timestamp())
        soon_verdict = eks.judge(sandbox.client("eks"), _env(name), NOW)
        assert codes(soon_verdict.findings) == ["EKS005"]
        assert "(in 20 days): EKS then upgrades it itself (upgradePolicy STANDARD)" in soon_verdict.findings[0].message
    finally:
        sandbox.eks.versions = saved
    strict = eks.judge(sandbox.client("eks"), _env(name, min_version="1.31"), NOW)
    assert codes(strict.findings) == ["EKS001"] and "(min_version), found 1.30" in strict.findings[0].message


def test_cluster_name_from_an_eks_context_arn() -> None:
    env = EnvConfig(name="prod", kube_context="arn:aws:eks:us-east-1:123456789012:cluster/ingest-eks-prod")
    assert eks.cluster_name(env) == "ingest-eks-prod"


def test_cluster_name_from_an_eksctl_context() -> None:
    env = EnvConfig(name="qa", kube_context="admin@ingest-eks-qa.us-east-1.eksctl.io")
    assert eks.cluster_name(env) == "ingest-eks-qa"
    sso = EnvConfig(name="qa", kube_context="jane@example.com@ingest_qa-2.eu-west-2.eksctl.io")  # an email identity
    assert eks.cluster_name(sso) == "ingest_qa-2"
    assert eks.cluster_name(EnvConfig(name="qa", kube_context="admin@not-eksctl.example.io")) == \
        "admin@not-eksctl.example.io"  # not eksctl's format: the context's name, as before


def test_the_missing_cluster_message_says_where_its_name_came_from(sandbox: Any) -> None:
    def message(env: EnvConfig) -> str:
        [finding] = eks.judge(sandbox.client("eks"), env, NOW).findings
        return finding.message
    assert message(_env("no-such-cluster")) == (
        "expected the EKS cluster 'no-such-cluster' (the kube context's name, taken as it is; set "
        "[env.dev.cluster] eks_cluster), found none in this account and region")
    assert "'nope' ([env.dev.cluster] eks_cluster)" in message(_env("ctx", eks_cluster="nope"))
    eksctl = _env("admin@gone.us-east-1.eksctl.io")
    assert "'gone' (from the eksctl context admin@gone.us-east-1.eksctl.io)" in message(eksctl)


# -- node CPU ------------------------------------------------------------------------------------------------
def _nodes_with_cpu(sandbox: Any, base: float | None, tag: str = "eks") -> str:
    name = f"cpu-{uuid.uuid4().hex[:8]}"
    ec2 = sandbox.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    key, value = ("eks:cluster-name", name) if tag == "eks" else (f"kubernetes.io/cluster/{name}", "owned")
    ids = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=image, MinCount=2, MaxCount=2,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": key, "Value": value}]}])["Instances"]]
    if base is not None:
        put_node_cpu(sandbox.client("cloudwatch"), ids, NOW, days=4, base=base)  # 3 whole days and more
    return name


def _cpu(sandbox: Any, name: str) -> capacity.Capacity:
    return capacity.assess(sandbox.client("ec2"), sandbox.client("cloudwatch"), name, ClusterSettings(cpu_days=3),
                           NOW, "dev us-east-1")


def test_node_cpu_in_range_passes_with_a_row_per_day(sandbox: Any) -> None:
    verdict = _cpu(sandbox, _nodes_with_cpu(sandbox, base=35, tag="kubernetes.io"))
    assert verdict.findings == []
    assert len(verdict.rows) == 3 and all(row[1] == 2 for row in verdict.rows)
    assert verdict.details["nodes"] == 2 and 20 < verdict.details["median_p95"] < 60
    assert capacity.plot(verdict).startswith(b"\x89PNG")


@pytest.mark.parametrize(("base", "code"), [(75, "CPU001"), (4, "CPU002")])
def test_node_cpu_too_high_or_idle_fails(sandbox: Any, base: float, code: str) -> None:
    verdict = _cpu(sandbox, _nodes_with_cpu(sandbox, base=base))
    assert codes(verdict.findings) == [code]
    assert "over 3 days, 2 node(s)" in verdict.findings[0].message


def test_no_nodes_or_no_datapoints_is_CPU003(sandbox: Any) -> None:
    assert codes(_cpu(sandbox, "no-such-cluster").findings) == ["CPU003"]
    verdict = _cpu(sandbox, _nodes_with_cpu(sandbox, base=None))
    assert codes(verdict.findings) == ["CPU003"]
    assert "CloudWatch has none" in verdict.findings[0].message


def test_p95_of_hourly_averages() -> None:
    day = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    series = {"i-1": [(day + dt.timedelta(hours=h), float(h)) for h in range(24)],
              "i-2": [(day + dt.timedelta(hours=h), 50.0) for h in range(24)]}
    [(date, count, average, p95)] = capacity.daily(series)
    assert (date, count) == (day.date(), 2)
    assert average == pytest.approx((11.5 + 50) / 2) and p95 == pytest.approx((22 + 50) / 2)
