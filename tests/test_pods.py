"""The pod check against the sandbox's fake Kubernetes API: real client, real HTTP, real pod status shapes."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import yaml

from opschecks import kube
from opschecks.areas.pods import pods
from opschecks.config import parse
from opschecks.errors import describe, from_kubernetes
from opschecks.findings import ChecksFailed, fail_on
from opschecks.areas.pods.settings import PodSettings
from opschecks.record.attention import expiring
from opschecks.schema import ConfigError
from opschecks.waivers import Waiver
from opschecks.sandbox import kube_objects as k
from opschecks.sandbox.seed import seed_kube

pytest_plugins = ["pytester"]

NOW = dt.datetime(2025, 3, 12, 9, 30, tzinfo=dt.timezone.utc)
NS = "dev-environment"


@dataclass
class Cluster:
    """One fake cluster of the shared sandbox, with its own kubeconfig context."""
    sandbox: Any
    name: str
    context: str

    def set(self, resource: str, objects: list[dict[str, Any]]) -> None:
        self.sandbox.kube.set_objects(self.name, resource, objects)

    @property
    def requests(self) -> int:
        return self.sandbox.kube.requests[self.name]

    def assess(self, settings: PodSettings = PodSettings(), namespaces: tuple[str, ...] = (NS,),
               now: dt.datetime = NOW) -> list[pods.NamespaceHealth]:
        api = kube.api_client(self.context)
        try:
            return pods.assess(api, list(namespaces), settings, now)
        finally:
            api.close()


@pytest.fixture
def cluster(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    name = f"pods-{uuid.uuid4().hex[:8]}"
    context = f"ctx-{name}"
    kubeconfig = sandbox.kube.write_kubeconfig(tmp_path / "kubeconfig", {context: name})
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    for resource in ("pods", "deployments", "statefulsets", "daemonsets", "jobs"):
        sandbox.kube.set_objects(name, resource, [])
    return Cluster(sandbox, name, context)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def problems_of(health: list[pods.NamespaceHealth]) -> list[pods.Problem]:
    return [p for ns in health for p in ns.problems]


# --- a healthy cluster ---------------------------------------------------------------------------------

def test_healthy_seeded_cluster_has_no_problems(cluster: Cluster) -> None:
    seed_kube(cluster.sandbox.kube, cluster.name, "dev", NOW)
    health = cluster.assess(namespaces=("default", "kube-system", NS))

    assert problems_of(health) == []
    by_ns = {ns.namespace: ns for ns in health}
    assert len(by_ns["kube-system"].pods) == 6 and len(by_ns[NS].pods) == 15 and by_ns["default"].pods == []
    rows = {row.pod: row for row in by_ns[NS].pods}
    assert rows["mongo-0"] == ("mongo-0", "Running", "1/1", 0, "", "3d")
    assert sum(row.reason == "Completed" and row.phase == "Succeeded" for row in rows.values()) == 6
    # The backup Job's failed first attempt, retried successfully, is shown but judged by its Job.
    assert [row.reason for row in rows.values() if row.phase == "Failed"] == ["Failed (Job Complete)"]
    assert ("StatefulSet", "mongo", 1, 1) in by_ns[NS].workloads
    assert ("Deployment", "coredns", 2, 2) in by_ns["kube-system"].workloads


# --- each unhealthy condition, with its code, reason and message -------------------------------------

CONDITIONS: dict[str, tuple[Callable[[], dict[str, Any]], dict[str, str], list[str]]] = {
    "crash-loop": (lambda: k.crash_looping_pod("ingest-core-7d4b9c-x2x9k", NS, now=NOW, restarts=14),
                   {"POD001": "CrashLoopBackOff", "POD003": "Restarts"},
                   ["container ingest-core waiting: CrashLoopBackOff (back-off 5m0s restarting failed container",
                    "last run exited 1 (Error) at 2025-03-12T09:28:00Z", "restarted 14 times (limit 5)"]),
    "image-pull-backoff": (lambda: k.image_pull_pod("ingest-ui-5f6c8-bq7zt", NS, now=NOW),
                           {"POD001": "ImagePullBackOff"},
                           ['waiting: ImagePullBackOff (Back-off pulling image "quay.io/ebi-ait/ingest-core:2.99.0")']),
    "err-image-pull": (lambda: k.image_pull_pod("ingest-ui-5f6c8-bq7zt", NS, now=NOW, backing_off=False),
                       {"POD001": "ErrImagePull"}, ["ErrImagePull (rpc error: code = NotFound"]),
    "config-error": (lambda: k.config_error_pod("ingest-broker-66d9-kkq2m", NS, now=NOW),
                     {"POD001": "CreateContainerConfigError"},
                     ['CreateContainerConfigError (secret "ingest-core-secrets" not found)']),
    "not-ready": (lambda: k.unready_pod("ingest-validator-84bf-tq5wz", NS, now=NOW),
                  {"POD002": "NotReady"}, ["1/2 containers ready; not ready: ingest-validator"]),
    "restarts": (lambda: k.restarting_pod("ingest-exporter-59c7-h8vvz", NS, now=NOW, restarts=8,
                                          last_finished=dt.timedelta(minutes=20)),
                 {"POD003": "Restarts"},
                 ["container ingest-exporter restarted 8 times (limit 5), the last 20m ago within the 60m window",
                  "exited 137 (OOMKilled)"]),
    "pending": (lambda: k.unschedulable_pod("ingest-core-7d4b9c-zz2lp", NS, now=NOW, age=dt.timedelta(hours=3)),
                {"POD004": "Pending"},
                ["Pending for 3h (grace 10m); not scheduled: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu"]),
    "evicted": (lambda: k.evicted_pod("ingest-core-7d4b9c-p5d8r", NS, now=NOW),
                {"POD005": "Evicted"}, ["phase Failed, reason Evicted: The node was low on resource: memory."]),
    "node-lost": (lambda: k.node_lost_pod("rabbit-1", NS, now=NOW),
                  {"POD005": "NodeLost"},
                  ["phase Unknown, reason NodeLost: Node ip-10-0-3-14.ec2.internal which was running pod rabbit-1 "
                   "is unresponsive"]),
    "failed-job": (lambda: k.pod("ingest-backup-29021760-m6kx4", NS, now=NOW, phase="Failed", statuses=[
                       k.container_status("ingest-backup", "quay.io/ebi-ait/ingest-backup:1.3.0", ready=False,
                                          started=NOW - dt.timedelta(hours=9),
                                          state=k.terminated_state("Error", 2, NOW - dt.timedelta(hours=9),
                                                                   NOW - dt.timedelta(hours=8)))]),
                   {"POD005": "Failed"}, ["phase Failed, reason Failed: container ingest-backup exited 2 (Error)"]),
    "stuck-terminating": (lambda: k.terminating_pod("ingest-broker-66d9-w2c4n", NS, now=NOW,
                                                    deleted=dt.timedelta(minutes=45)),
                          {"POD006": "Terminating"},
                          ["stuck terminating: deletion requested 45m ago (2025-03-12T08:45:00Z), grace 10m; "
                           "finalizers example.com/drain-connections"]),
    "init-failing": (lambda: k.init_failing_pod("ingest-core-7d4b9c-n4jrb", NS, now=NOW),
                     {"POD007": "Init:CrashLoopBackOff"},
                     ["init container wait-for-mongo waiting: CrashLoopBackOff after 6 restarts; "
                      "last run exited 1 (Error)"]),
}


@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_unhealthy_condition_is_flagged_with_its_code_and_reason(cluster: Cluster, condition: str) -> None:
    build, expected, fragments = CONDITIONS[condition]
    bad = build()
    healthy = k.pod("ingest-core-7d4b9c-aaaaa", NS, now=NOW)
    cluster.set("pods", [healthy, bad])

    [ns] = cluster.assess()

    assert {p.code: p.reason for p in ns.problems} == expected
    assert {p.name for p in ns.problems} == {bad["metadata"]["name"]}
    messages = " | ".join(p.message for p in ns.problems)
    for fragment in fragments:
        assert fragment in messages
    rows = {row.pod: row for row in ns.pods}
    assert rows[healthy["metadata"]["name"]].reason == ""
    assert set(rows[bad["metadata"]["name"]].reason.split(", ")) == set(expected.values())


def test_crash_loop_row_shows_ready_and_restarts(cluster: Cluster) -> None:
    cluster.set("pods", [k.crash_looping_pod("ingest-core-7d4b9c-x2x9k", NS, now=NOW, restarts=14)])
    [ns] = cluster.assess()
    assert ns.pods == [("ingest-core-7d4b9c-x2x9k", "Running", "0/1", 14, "CrashLoopBackOff, Restarts", "3d")]


@pytest.mark.parametrize("pod", [
    pytest.param(lambda: k.restarting_pod("a-1-b", NS, now=NOW, restarts=8, last_finished=dt.timedelta(hours=3)),
                 id="restarts-outside-window"),
    pytest.param(lambda: k.restarting_pod("a-1-b", NS, now=NOW, restarts=5, last_finished=dt.timedelta(minutes=1)),
                 id="restarts-at-limit"),
    pytest.param(lambda: k.unschedulable_pod("a-1-b", NS, now=NOW, age=dt.timedelta(minutes=4)), id="pending-in-grace"),
    pytest.param(lambda: k.terminating_pod("a-1-b", NS, now=NOW, deleted=dt.timedelta(minutes=2)),
                 id="terminating-in-grace"),
    pytest.param(lambda: k.pod("a-1-b", NS, now=NOW, phase="Pending", age=dt.timedelta(seconds=30), statuses=[
        k.container_status("a", "busybox:1.36", ready=False, started=NOW, state=k.waiting_state("ContainerCreating"))]),
                 id="container-creating"),
])
def test_within_limits_and_grace_is_healthy(cluster: Cluster, pod: Callable[[], dict[str, Any]]) -> None:
    cluster.set("pods", [pod()])
    assert problems_of(cluster.assess()) == []


def test_limits_and_graces_come_from_settings(cluster: Cluster) -> None:
    cluster.set("pods", [k.restarting_pod("a-1-b", NS, now=NOW, restarts=8, last_finished=dt.timedelta(hours=3)),
                         k.unschedulable_pod("c-1-d", NS, now=NOW, age=dt.timedelta(minutes=4))])
    assert problems_of(cluster.assess(PodSettings(restart_limit=10))) == []
    found = problems_of(cluster.assess(PodSettings(restart_window_minutes=240, pending_grace_minutes=3)))
    assert {(p.name, p.code) for p in found} == {("a-1-b", "POD003"), ("c-1-d", "POD004")}


# --- readiness: the Ready condition and native sidecars ---------------------------------------------

def test_a_pod_whose_ready_condition_is_false_fails_though_its_containers_are_ready(cluster: Cluster) -> None:
    """Readiness gates: the load balancer has not found the pod healthy, so it gets no traffic."""
    cluster.set("pods", [k.readiness_gated_pod("ingest-ui-5f6c8-bq7zt", NS, now=NOW)])
    [ns] = cluster.assess()
    [problem] = ns.problems
    assert (problem.code, problem.reason) == ("POD002", "NotReady")
    assert problem.message.startswith("Ready condition False: ReadinessGatesNotReady (corresponding condition of "
                                      'pod readiness gate "target-health.elbv2.k8s.aws/')
    assert "for 20m (since 2025-03-12T09:10:00Z; grace 2m); all 1 containers ready" in problem.message


def test_native_sidecars_count_for_readiness_and_restarts(cluster: Cluster) -> None:
    unready = k.with_sidecar(k.pod("ingest-core-7d4b9c-aaaaa", NS, now=NOW), now=NOW, ready=False,
                             last_finished=dt.timedelta(minutes=30))
    restarting = k.with_sidecar(k.pod("ingest-broker-66d9-bbbbb", NS, now=NOW), now=NOW, restarts=40,
                                last_finished=dt.timedelta(minutes=5))
    healthy = k.with_sidecar(k.pod("ingest-ui-5f6c8-ccccc", NS, now=NOW), now=NOW)
    cluster.set("pods", [unready, restarting, healthy])

    [ns] = cluster.assess()

    assert {(p.name, p.code): p.message for p in ns.problems} == {
        ("ingest-core-7d4b9c-aaaaa", "POD002"):
            "1/2 containers ready; not ready: istio-proxy for 30m (since 2025-03-12T09:00:00Z; grace 2m)",
        ("ingest-broker-66d9-bbbbb", "POD003"):
            "sidecar container istio-proxy restarted 40 times (limit 5), the last 5m ago within the 60m window: "
            "exited 1 (Error) at 2025-03-12T09:25:00Z",
    }
    rows = {row.pod: row for row in ns.pods}
    assert (rows["ingest-ui-5f6c8-ccccc"].ready, rows["ingest-broker-66d9-bbbbb"].restarts) == ("2/2", 40)


# --- Job-owned pods: judged by their Job ---------------------------------------------------------------

def test_a_failed_attempt_of_a_job_that_succeeded_or_still_retries_is_not_a_problem(cluster: Cluster) -> None:
    scheduled = NOW - dt.timedelta(hours=9)
    succeeded = k.job("ingest-backup", NS, scheduled=scheduled, succeeded=True, failed_attempts=1)
    retrying = k.running_job("ingest-backup-verify", NS, scheduled=NOW - dt.timedelta(minutes=30), failed=1)
    failed = k.job("ingest-export", NS, scheduled=scheduled - dt.timedelta(days=1), succeeded=False)
    cluster.set("jobs", [succeeded, retrying, failed])
    cluster.set("pods", [k.job_pod(succeeded, now=NOW, attempt=0, phase="Failed"),
                         k.job_pod(succeeded, now=NOW, attempt=1),
                         k.job_pod(retrying, now=NOW, attempt=0, phase="Failed", age=dt.timedelta(minutes=25)),
                         k.job_pod(failed, now=NOW, attempt=0, phase="Failed")])

    [ns] = cluster.assess()

    [problem] = ns.problems
    assert (problem.code, problem.name.startswith(failed["metadata"]["name"])) == ("POD005", True)
    assert problem.message.endswith(f"; Job {failed['metadata']['name']} failed: BackoffLimitExceeded: "
                                    "Job has reached the specified backoff limit")
    assert sorted(row.reason for row in ns.pods) == ["Completed", "Failed", "Failed (Job Complete)",
                                                     "Failed (Job retrying)"]


# --- grace windows for the normal churn of a live cluster ----------------------------------------------

def _young_unready(age: dt.timedelta) -> dict[str, Any]:
    return k.unready_pod("ingest-validator-84bf-tq5wz", NS, now=NOW, sidecar=False, age=age)


def _partial_job_pod(done_ago: dt.timedelta) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Job pod whose main container completed ``done_ago`` while its (classic) proxy sidecar still runs."""
    job = k.running_job("ingest-export", NS, scheduled=NOW - dt.timedelta(hours=4))
    image = "quay.io/ebi-ait/ingest-exporter:2.14.0"
    started = NOW - dt.timedelta(hours=4)
    statuses = [k.container_status("ingest-export", image, ready=False, started=started,
                                   state=k.terminated_state("Completed", 0, started, NOW - done_ago)),
                k.container_status("cloud-sql-proxy", "gcr.io/cloud-sql-proxy:2.11", started=started)]
    pod = k.job_pod(job, now=NOW, phase="Running", statuses=statuses,
                    containers=[("ingest-export", image), ("cloud-sql-proxy", "gcr.io/cloud-sql-proxy:2.11")])
    return job, pod


def test_churn_within_its_grace_window_is_healthy(cluster: Cluster) -> None:
    job, partial = _partial_job_pod(dt.timedelta(minutes=5))
    cluster.set("jobs", [job])
    cluster.set("pods", [_young_unready(dt.timedelta(seconds=15)), partial])
    cluster.set("deployments", [k.deployment("ingest-core", NS, now=NOW, replicas=4, available=3, updated=2,
                                             changed=dt.timedelta(minutes=2))])
    assert problems_of(cluster.assess()) == []


def test_churn_past_its_grace_window_fails_saying_how_long_it_lasted(cluster: Cluster) -> None:
    job, partial = _partial_job_pod(dt.timedelta(hours=3))
    cluster.set("jobs", [job])
    cluster.set("pods", [_young_unready(dt.timedelta(minutes=10)), partial])
    cluster.set("deployments", [
        k.deployment("ingest-core", NS, now=NOW, replicas=4, available=3, updated=2, changed=dt.timedelta(minutes=30)),
        k.deployment("ingest-ui", NS, now=NOW, replicas=4, available=3, updated=2, stalled=True,
                     changed=dt.timedelta(minutes=12)),
        k.deployment("ingest-broker", NS, now=NOW, replicas=4, available=2, updated=2, changed=dt.timedelta(minutes=1)),
    ])

    found = {p.name: (p.code, p.message) for p in problems_of(cluster.assess())}

    assert found["ingest-validator-84bf-tq5wz"] == (
        "POD002", "0/1 containers ready; not ready: ingest-validator for 10m (since 2025-03-12T09:20:00Z; grace 2m)")
    assert found[partial["metadata"]["name"]] == (
        "POD002", "container(s) ingest-export completed 3h ago (2025-03-12T06:30:00Z) while cloud-sql-proxy "
                  "still run(s) (grace 60m): a container that never exits keeps the Job from completing")
    assert found["ingest-core"] == ("WKL001", "Deployment has 3/4 desired replicas available (rolling update: "
                                              "2/4 updated, maxUnavailable 1; no progress for 30m since "
                                              "2025-03-12T09:00:00Z, grace 10m)")
    assert found["ingest-ui"][1].endswith("; stalled: ProgressDeadlineExceeded: ReplicaSet "
                                          f'"{found["ingest-ui"][1].split(chr(34))[1]}" has timed out progressing.)')
    assert found["ingest-broker"] == ("WKL001", "Deployment has 2/4 desired replicas available (rolling update: "
                                                "2/4 updated, maxUnavailable 1: more unavailable than it allows)")


def test_grace_windows_come_from_settings(cluster: Cluster) -> None:
    job, partial = _partial_job_pod(dt.timedelta(minutes=5))
    cluster.set("jobs", [job])
    cluster.set("pods", [_young_unready(dt.timedelta(seconds=15)), partial])
    cluster.set("deployments", [k.deployment("ingest-core", NS, now=NOW, replicas=4, available=3, updated=2,
                                             changed=dt.timedelta(minutes=2))])
    strict = PodSettings(ready_grace_seconds=5, partial_completion_grace_minutes=1, rollout_grace_minutes=1)
    assert {p.code for p in problems_of(cluster.assess(strict))} == {"POD002", "WKL001"}
    assert len(problems_of(cluster.assess(strict))) == 3


def _owned(kind: str, owner: str, names: list[str], newest: dt.timedelta) -> list[dict[str, Any]]:
    """Ready pods of a StatefulSet or DaemonSet; the last one created ``newest`` ago, the others long before."""
    return [k.pod(name, NS, now=NOW, owner=(kind, owner), age=newest if i == len(names) - 1 else dt.timedelta(days=9))
            for i, name in enumerate(names)]


def test_statefulset_and_daemonset_rollouts_within_their_grace_are_healthy(cluster: Cluster) -> None:
    cluster.set("statefulsets", [k.statefulset("mongo", NS, now=NOW, replicas=3, ready=2, updated=1)])
    cluster.set("daemonsets", [
        k.daemonset("aws-node", NS, now=NOW, nodes=3, available=2, updated=1),
        k.daemonset("ebs-csi-node", NS, now=NOW, nodes=3, available=1, updated=1,
                    update_strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%"}}),
    ])
    cluster.set("pods", _owned("StatefulSet", "mongo", ["mongo-1", "mongo-2"], dt.timedelta(minutes=3))
                + _owned("DaemonSet", "aws-node", ["aws-node-b4x2k", "aws-node-q9z7m"], dt.timedelta(minutes=4))
                + _owned("DaemonSet", "ebs-csi-node", ["ebs-csi-node-7mk2p"], dt.timedelta(minutes=1)))
    assert problems_of(cluster.assess()) == []  # 50% of 3 rounds up to 2 for a DaemonSet


def test_statefulset_and_daemonset_rollouts_past_their_grace_fail_saying_why(cluster: Cluster) -> None:
    cluster.set("statefulsets", [
        k.statefulset("mongo", NS, now=NOW, replicas=3, ready=2, updated=1),
        k.statefulset("rabbit", NS, now=NOW, replicas=3, ready=1, updated=1),
        k.statefulset("redis", NS, now=NOW, replicas=2, ready=1, updated=1, update_strategy={"type": "OnDelete"}),
    ])
    cluster.set("daemonsets", [k.daemonset("aws-node", NS, now=NOW, nodes=3, available=2, updated=1)])
    cluster.set("pods", _owned("StatefulSet", "mongo", ["mongo-0", "mongo-1"], dt.timedelta(minutes=30))
                + _owned("StatefulSet", "rabbit", ["rabbit-1"], dt.timedelta(minutes=1))
                + _owned("StatefulSet", "redis", ["redis-1"], dt.timedelta(minutes=1)))

    found = {p.name: (p.code, p.message) for p in problems_of(cluster.assess())}

    assert found == {
        "mongo": ("WKL001", "StatefulSet has 2/3 desired replicas available (rolling update: 1/3 updated, "
                            "maxUnavailable 1; no new pod for 30m since 2025-03-12T09:00:00Z, grace 10m)"),
        "rabbit": ("WKL001", "StatefulSet has 1/3 desired replicas available (rolling update: 1/3 updated, "
                             "maxUnavailable 1: more unavailable than it allows)"),
        "redis": ("WKL001", "StatefulSet has 1/2 desired replicas available"),  # OnDelete: no rollout to wait for
        "aws-node": ("WKL001", "DaemonSet has 2/3 desired pods available (1 node(s) without a working aws-node pod) "
                               "(rolling update: 1/3 updated, maxUnavailable 1; none of its pods exists)"),
    }


# --- workloads -----------------------------------------------------------------------------------------

def test_workloads_without_their_replicas_are_flagged_even_with_no_pods(cluster: Cluster) -> None:
    cluster.set("deployments", [k.deployment("ingest-core", NS, now=NOW, replicas=2),
                                k.deployment("ingest-broker", NS, now=NOW, replicas=2, available=0),
                                k.deployment("ingest-ui", NS, now=NOW, replicas=0)])
    cluster.set("statefulsets", [k.statefulset("mongo", NS, now=NOW, replicas=3, ready=1)])
    cluster.set("daemonsets", [k.daemonset("kube-proxy", NS, now=NOW, nodes=3),
                               k.daemonset("aws-node", NS, now=NOW, nodes=3, available=1),
                               k.daemonset("ebs-csi-node", NS, now=NOW, nodes=3, available=0),
                               k.daemonset("gpu-plugin", NS, now=NOW, nodes=0)])

    [ns] = cluster.assess()

    assert ns.pods == []
    assert {(p.kind, p.name, p.code, p.reason, p.message) for p in ns.problems} == {
        ("deployment", "ingest-broker", "WKL001", "Unavailable", "Deployment has 0/2 desired replicas available "
         "(Available False for 2h, since 2025-03-12T07:30:00Z)"),
        ("deployment", "ingest-ui", "WKL002", "ScaledToZero",
         "Deployment scaled to 0 replicas: nothing runs it (waive it if that is intended)"),
        ("statefulset", "mongo", "WKL001", "Unavailable", "StatefulSet has 1/3 desired replicas available"),
        ("daemonset", "aws-node", "WKL001", "Unavailable",
         "DaemonSet has 1/3 desired pods available (2 node(s) without a working aws-node pod)"),
        ("daemonset", "ebs-csi-node", "WKL001", "Unavailable",
         "DaemonSet has 0/3 desired pods available (3 node(s) without a working ebs-csi-node pod)"),
    }
    assert ("StatefulSet", "mongo", 3, 1) in ns.workloads
    assert {("DaemonSet", "kube-proxy", 3, 3), ("DaemonSet", "gpu-plugin", 0, 0)} <= set(ns.workloads)


# --- waivers -------------------------------------------------------------------------------------------

def test_waivers_waive_until_they_expire_and_then_say_so(cluster: Cluster) -> None:
    cluster.set("pods", [k.crash_looping_pod("flaky-exporter-7d4b9c-x2x9k", NS, now=NOW, restarts=3),
                         k.evicted_pod("ingest-core-7d4b9c-p5d8r", NS, now=NOW),
                         k.unready_pod("ingest-ui-5f6c8-bq7zt", NS, now=NOW)])
    cluster.set("deployments", [k.deployment("ingest-ui", NS, now=NOW, replicas=0)])
    settings = PodSettings(waivers=[  # the one model (opschecks/waivers.py), as AWS usage's
        Waiver("upstream bug INGEST-812", dt.date(2025, 3, 12), resource="flaky-exporter-*", rules=["CrashLoopBackOff"]),
        Waiver("node pool resize, INGEST-790", dt.date(2025, 3, 1), resource=f"{NS}/ingest-core-*", rules=["POD005"]),
        Waiver("reason does not match: waives nothing", dt.date(2026, 1, 1), resource="ingest-ui*",
               rules=["ImagePullBackOff"]),
        Waiver("UI switched off until the redesign ships", dt.date(2026, 1, 1), resource="ingest-ui"),
    ])

    [ns] = cluster.assess(settings)

    assert {(p.name, p.code) for p, _ in ns.waived} == {("flaky-exporter-7d4b9c-x2x9k", "POD001"),
                                                       ("ingest-ui", "WKL002")}
    assert {(p.name, p.code) for p in ns.problems} == {("ingest-core-7d4b9c-p5d8r", "POD005"),
                                                       ("ingest-ui-5f6c8-bq7zt", "POD002")}
    evicted = next(p for p in ns.problems if p.code == "POD005")
    assert evicted.message.endswith("[waiver for resource dev-environment/ingest-core-* (POD005) expired 2025-03-01, "
                                    "no longer waived: node pool resize, INGEST-790]")
    assert {row.pod: row.reason for row in ns.pods}["flaky-exporter-7d4b9c-x2x9k"] == "CrashLoopBackOff (waived)"
    # The day after its expiry date, the first waiver stops waiving too.
    [later] = cluster.assess(settings, now=NOW + dt.timedelta(days=1))
    assert "expired 2025-03-12" in next(p.message for p in later.problems if p.code == "POD001")


def test_waivers_are_read_from_the_config_in_the_one_model(tmp_path: Path) -> None:
    import tomllib
    config = parse(tomllib.loads("""
        [env.dev]
        kube_context = "ingest-eks-dev"
        [env.dev.pods]
        restart_limit = 3
        [[env.dev.pods.waivers]]
        resource = "flaky-exporter-*"
        rules = ["CrashLoopBackOff"]
        expires = 2025-06-30
        justification = "upstream bug INGEST-812"
        who = "jane@ingest"
    """), tmp_path / "opschecks.toml")
    dev = config.envs["dev"]
    assert dev.settings(PodSettings).restart_limit == 3
    assert dev.settings(PodSettings).waivers == [Waiver("upstream bug INGEST-812", dt.date(2025, 6, 30), resource="flaky-exporter-*",
                                       rules=["CrashLoopBackOff"], who="jane@ingest")]
    assert dev.namespaces == ["default", "kube-system", "dev-environment"]
    assert config.notes == ()


def test_old_pod_waiver_keys_are_read_with_a_one_line_note(tmp_path: Path) -> None:
    import tomllib
    config = parse(tomllib.loads("""
        [[env.dev.pods.waivers]]
        pattern = "flaky-exporter-*"
        reason = "CrashLoopBackOff"
        expires = 2025-06-30
        justification = "upstream bug INGEST-812"
        [[env.dev.pods.waivers]]
        pattern = "ingest-ui"
        reason = "*"
        expires = 2025-06-30
        justification = "switched off"
    """), tmp_path / "opschecks.toml")
    assert config.envs["dev"].settings(PodSettings).waivers == [
        Waiver("upstream bug INGEST-812", dt.date(2025, 6, 30), resource="flaky-exporter-*", rules=["CrashLoopBackOff"]),
        Waiver("switched off", dt.date(2025, 6, 30), resource="ingest-ui")]
    [note, _] = config.notes
    assert note == (f"{tmp_path / 'opschecks.toml'}: env.dev.pods.waivers[0]: 'pattern'/'reason' are the old waiver "
                    "keys, read as resource = 'flaky-exporter-*', rules = ['CrashLoopBackOff']; write those instead "
                    "(docs/pods.md)")


def test_a_pod_waiver_without_a_justification_is_one_config_line(tmp_path: Path) -> None:
    import tomllib
    with pytest.raises(ConfigError, match=r"env.dev.pods.waivers\[0\]: 'justification' must say why"):
        parse(tomllib.loads("""
            [[env.dev.pods.waivers]]
            resource = "x"
            expires = 2025-06-30
            justification = " "
        """), tmp_path / "opschecks.toml")


def test_every_areas_waivers_count_for_needs_attention(tmp_path: Path) -> None:
    """A pod waiver (inline or in the pods' waivers file) is among an env's waivers, as AWS usage's are."""
    import tomllib
    (tmp_path / "pod-waivers.toml").write_text(
        '[[waiver]]\nresource = "mongo-*"\nrules = ["POD003"]\nexpires = 2026-12-14\njustification = "INGEST-9"\n')
    (tmp_path / "aws-waivers.toml").write_text(
        '[[waiver]]\nresource = "vol-1"\nexpires = 2027-01-01\njustification = "scratch"\n')
    config = parse(tomllib.loads("""
        [env.dev.aws_usage]
        waivers_file = "aws-waivers.toml"
        [env.dev.pods]
        waivers_file = "pod-waivers.toml"
        [[env.dev.pods.waivers]]
        resource = "ingest-ui"
        expires = 2026-12-10
        justification = "switched off"
    """), tmp_path / "opschecks.toml")
    found = config.envs["dev"].all_waivers(config.path)
    assert sorted(w.resource for w in found) == ["ingest-ui", "mongo-*", "vol-1"]
    soon = expiring(found, dt.date(2026, 12, 4))  # within 14 days: the two pod waivers
    assert sorted(w.resource for w in soon) == ["ingest-ui", "mongo-*"]


# --- listing -------------------------------------------------------------------------------------------

def test_lists_page_by_page(cluster: Cluster) -> None:
    cluster.set("pods", [k.pod(k.replica_pod_name("ingest-core", i), NS, now=NOW) for i in range(23)]
                + [k.pod(k.replica_pod_name("coredns", i), "kube-system", now=NOW) for i in range(4)])
    before = cluster.requests

    health = cluster.assess(PodSettings(page_size=5), namespaces=(NS, "kube-system"))

    assert [len(ns.pods) for ns in health] == [23, 4]
    assert len({row.pod for row in health[0].pods}) == 23
    # dev-environment: 5 pages of pods; kube-system: 1; plus one Deployment, StatefulSet, DaemonSet and Job list each.
    assert cluster.requests - before == 5 + 1 + 2 * 4


def test_unreachable_cluster_is_one_line(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The line the suite fails with (the plugin adds env and context; see test_check_end_to_end)."""
    port = closed_port()
    path = sandbox.kube.write_kubeconfig(tmp_path / "kubeconfig", {"ingest-eks-gone": "gone"})
    config = yaml.safe_load(path.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(path))

    api = kube.api_client("ingest-eks-gone")
    with pytest.raises(Exception) as caught:
        pods.assess(api, [NS], PodSettings(), NOW)
    assert from_kubernetes(caught.value)
    assert describe(caught.value) == f"cannot reach https://127.0.0.1:{port}: NewConnectionError"


@pytest.mark.parametrize(("status", "says"), [(403, "forbidden (403): RBAC denies it"),
                                              (401, "unauthorized (401): credentials rejected")])
def test_refused_cluster_is_one_line(cluster: Cluster, status: int, says: str) -> None:
    cluster.sandbox.kube.fail_cluster(cluster.name, status)
    try:
        with pytest.raises(Exception) as caught:
            cluster.assess()
    finally:
        cluster.sandbox.kube.fail_cluster(cluster.name, None)
    assert from_kubernetes(caught.value)
    line = describe(caught.value)
    assert line.startswith(f"Kubernetes API {says}: ")
    assert 'User "sandbox-user" cannot list resource "pods"' in line
    assert "\n" not in line


def test_failure_lists_every_unhealthy_pod(cluster: Cluster) -> None:
    cluster.set("pods", [k.crash_looping_pod("ingest-core-7d4b9c-x2x9k", NS, now=NOW, restarts=2),
                         k.image_pull_pod("ingest-ui-5f6c8-bq7zt", NS, now=NOW),
                         k.evicted_pod("ingest-core-7d4b9c-p5d8r", "kube-system", now=NOW)])
    health = cluster.assess(namespaces=(NS, "kube-system"))
    with pytest.raises(ChecksFailed) as caught:
        fail_on(pods.findings("dev", cluster.context, health))
    lines = str(caught.value).splitlines()
    assert lines[0] == "3 findings:"
    assert lines[1].startswith(f"  [POD001] dev {cluster.context}/{NS} pod/ingest-core-7d4b9c-x2x9k: container ")
    assert lines[2].startswith(f"  [POD001] dev {cluster.context}/{NS} pod/ingest-ui-5f6c8-bq7zt: ")
    assert lines[3].startswith(f"  [POD005] dev {cluster.context}/kube-system pod/ingest-core-7d4b9c-p5d8r: ")


# --- end to end: the real check, run by pytest -------------------------------------------------------

def test_check_end_to_end(checklist: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    run = uuid.uuid4().hex[:8]
    clusters = {env: f"e2e-{env}-{run}" for env in ("good", "bad", "denied")}
    seed_kube(sandbox.kube, clusters["good"], "good", now)
    seed_kube(sandbox.kube, clusters["bad"], "bad", now)
    sandbox.kube.set_objects(clusters["bad"], "pods", [
        k.crash_looping_pod("ingest-core-7d4b9c-x2x9k", "bad-environment", now=now, restarts=2),
        k.init_failing_pod("ingest-broker-66d9-kkq2m", "bad-environment", now=now),
        k.evicted_pod("coredns-5d78c9-p5d8r", "kube-system", now=now),
        k.pod("mongo-0", "bad-environment", now=now),
    ])
    sandbox.kube.set_objects(clusters["bad"], "deployments", [
        k.deployment("ingest-core", "bad-environment", now=now, replicas=1, available=0)])
    sandbox.kube.set_objects(clusters["bad"], "daemonsets", [
        k.daemonset("kube-proxy", "kube-system", now=now, nodes=2),
        k.daemonset("aws-node", "kube-system", now=now, nodes=2, available=1)])
    sandbox.kube.set_objects(clusters["denied"], "pods", [])
    sandbox.kube.fail_cluster(clusters["denied"], 403)
    kubeconfig = sandbox.kube.write_kubeconfig(checklist.path / "kubeconfig",
                                              {f"ctx-{env}": cluster for env, cluster in clusters.items()})
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    checklist.check("pods")
    checklist.config("[ledger]\npath = \"ledger.sqlite\"\n" + "".join(
        f'[env.{env}]\nkube_context = "ctx-{env}"\n' for env in clusters))

    try:
        result = checklist.run("checks/test_pods.py")
    finally:
        sandbox.kube.fail_cluster(clusters["denied"], None)

    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*[[]bad[]] 5 findings:*",
        "*[[]POD005[]] bad ctx-bad/kube-system pod/coredns-5d78c9-p5d8r: phase Failed, reason Evicted*",
        "*[[]WKL001[]] bad ctx-bad/kube-system daemonset/aws-node: DaemonSet has 1/2 desired pods available*",
        "*[[]POD001[]] bad ctx-bad/bad-environment pod/ingest-core-7d4b9c-x2x9k: container ingest-core waiting: "
        "CrashLoopBackOff*",
        "*[[]POD007[]] bad ctx-bad/bad-environment pod/ingest-broker-66d9-kkq2m: init container wait-for-mongo*",
        "*[[]WKL001[]] bad ctx-bad/bad-environment deployment/ingest-core: Deployment has 0/1 desired replicas*",
    ])
    result.stdout.fnmatch_lines(["*[[]denied[]] Kubernetes context ctx-denied: Kubernetes API forbidden (403)*"])
    assert "Traceback" not in out and "ApiException" not in out
    html = checklist.report_html()
    for table in ("ctx-good/default: 0 pods", "ctx-good/kube-system: 6 pods", "ctx-good/good-environment: 15 pods",
                  "ctx-bad/bad-environment: 3 pods", "ctx-good: Deployments, StatefulSets and DaemonSets"):
        assert table in html
    # The tables sit html-escaped in pytest-html's JSON blob.
    assert "<td>kube-system</td><td>DaemonSet</td><td>aws-node</td><td>2</td><td>1</td>" in unescape(html)


def test_a_failed_job_a_later_job_of_its_cronjob_completed_after_is_history(cluster: Cluster) -> None:
    """The CronJob keeps a failed Job (failedJobsHistoryLimit) and its pod: once a later night's Job of the same
    CronJob completed, the failure is history (BKP010 judges the CronJob), not POD005 every day."""
    three_nights_ago = NOW - dt.timedelta(days=3, hours=9)
    failed = k.job("ingest-backup", NS, scheduled=three_nights_ago, succeeded=False)
    later = k.job("ingest-backup", NS, scheduled=NOW - dt.timedelta(hours=9), succeeded=True)
    other = k.job("ingest-export", NS, scheduled=three_nights_ago, succeeded=False)  # nothing after it succeeded
    cluster.set("jobs", [failed, later, other])
    cluster.set("pods", [k.job_pod(failed, now=NOW, attempt=0, phase="Failed"),
                         k.job_pod(later, now=NOW, attempt=0), k.job_pod(other, now=NOW, attempt=0, phase="Failed")])

    [ns] = cluster.assess()

    assert [(p.code, p.name.startswith(other["metadata"]["name"])) for p in ns.problems] == [("POD005", True)]
    assert f"Failed (Job Failed, superseded by {later['metadata']['name']} Complete)" in {r.reason for r in ns.pods}


def test_a_failed_job_after_the_last_success_still_fails(cluster: Cluster) -> None:
    earlier = k.job("ingest-backup", NS, scheduled=NOW - dt.timedelta(days=1, hours=9), succeeded=True)
    failed = k.job("ingest-backup", NS, scheduled=NOW - dt.timedelta(hours=9), succeeded=False)
    cluster.set("jobs", [earlier, failed])
    cluster.set("pods", [k.job_pod(earlier, now=NOW, attempt=0), k.job_pod(failed, now=NOW, attempt=0, phase="Failed")])

    [ns] = cluster.assess()

    assert [p.code for p in ns.problems] == ["POD005"]
