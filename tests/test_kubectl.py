"""The real kubectl against the sandbox's fake Kubernetes API: a client no one here wrote proves its shape.

kubectl (1.32, on the machine image) is required: without it these tests fail, they never skip.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from opschecks import kube
from opschecks.sandbox import kube_objects as k
from opschecks.sandbox.kubeapi import FakeKubeAPI
from opschecks.sandbox.seed import seed_kube
from opschecks.sandbox.seed_cluster import KUBELET, seed_cluster_kube

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeKubeAPI, dict[str, str]]]:
    """Two seeded clusters (dev, prod) behind one kubeconfig; the environment kubectl runs in."""
    assert shutil.which("kubectl"), "kubectl is not on PATH: it is part of the machine image (install kubectl 1.32)"
    home = tmp_path_factory.mktemp("kubectl-home")
    api = FakeKubeAPI()
    api.start()
    try:
        for env in ("dev", "prod"):
            seed_kube(api, env, env, NOW)
            seed_cluster_kube(api, env, env, NOW)
            # The machine's kubectl is a dispatcher that runs the client of the server's minor version:
            # answer as 1.32 so that kubectl 1.32 is the one exercised.
            api.set_version(env, "v1.32.3-eks-4096722")
        crashing = k.crash_looping_pod("ingest-core-5d9c7b6f4-x2x7q", "prod-environment", now=NOW,
                                       owner=("ReplicaSet", "ingest-core"), labels={"app": "ingest-core", "tier": "api"})
        api.add_objects("prod", "pods", [crashing])
        api.add_objects("prod", "events", [
            k.event(crashing, "BackOff", "Back-off restarting failed container ingest-core in pod "
                                         "ingest-core-5d9c7b6f4-x2x7q_prod-environment",
                    at=NOW - dt.timedelta(minutes=2), first=NOW - dt.timedelta(minutes=47), kind="Warning",
                    count=14)])
        kubeconfig = api.write_kubeconfig(home / "kubeconfig", {"sandbox-dev": "dev", "sandbox-prod": "prod"})
        # HOME and the cache dir: kubectl caches discovery per server; keep it out of the real home.
        yield api, {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home),
                    "KUBECACHEDIR": str(home / "cache")}
    finally:
        api.stop()


def kubectl(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=60)
    if ok:
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        assert "Unhandled Error" not in result.stderr and "couldn't get" not in result.stderr, result.stderr
    return result


def rows(output: str) -> list[list[str]]:
    """kubectl's table output, split on its column gaps (two or more spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]


def test_kubectl_is_the_1_32_client_and_sees_the_eks_server_version(cluster) -> None:
    _, env = cluster
    version = json.loads(kubectl(env, "version", "-o", "json").stdout)
    assert version["clientVersion"]["minor"].startswith("32")
    assert version["serverVersion"]["gitVersion"].startswith("v1.32.") and "eks" in version["serverVersion"]["gitVersion"]


def test_get_pods_all_namespaces_shows_kubectls_columns(cluster) -> None:
    _, env = cluster
    table = rows(kubectl(env, "--context", "sandbox-prod", "get", "pods", "-A").stdout)
    assert table[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    by_name = {r[1]: r for r in table[1:]}
    assert by_name["mongo-0"][0] == "prod-environment" and by_name["mongo-0"][2:5] == ["1/1", "Running", "0"]
    assert by_name["mongo-0"][5] == "3d"
    assert {r[0] for r in table[1:]} == {"prod-environment", "kube-system"}
    crashing = by_name["ingest-core-5d9c7b6f4-x2x7q"]
    # Ages are the server's, by its clock: the module may have been imported minutes before this test.
    assert crashing[2:4] == ["0/1", "CrashLoopBackOff"] and re.fullmatch(r"14 \(\d+m(\d+s)? ago\)", crashing[4])
    completed = [r for r in table[1:] if r[1].startswith("ingest-backup-")]
    assert completed and all(r[2] == "0/1" and r[3] in ("Completed", "Error") for r in completed)
    assert any(r[3] == "Completed" for r in completed)  # the seed keeps an earlier failed attempt too


def test_get_pods_wide_adds_ip_and_node(cluster) -> None:
    _, env = cluster
    table = rows(kubectl(env, "get", "pods", "-n", "kube-system", "-o", "wide").stdout)
    assert table[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    nodes = {r[6] for r in table[1:]}
    assert nodes == {"ip-10-0-1-23.ec2.internal", "ip-10-0-2-57.ec2.internal"}
    assert all(r[5].startswith("10.0.") for r in table[1:])


def test_get_pod_yaml_is_the_object_and_a_missing_pod_is_not_found(cluster) -> None:
    _, env = cluster
    pod = yaml.safe_load(kubectl(env, "get", "pod", "mongo-0", "-n", "dev-environment", "-o", "yaml").stdout)
    assert pod["kind"] == "Pod" and pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    listed = yaml.safe_load(kubectl(env, "get", "pods", "-n", "dev-environment", "-o", "yaml").stdout)
    assert listed["kind"] == "List" and "mongo-0" in {p["metadata"]["name"] for p in listed["items"]}
    missing = kubectl(env, "get", "pod", "nope", "-n", "dev-environment", ok=False)
    assert missing.returncode == 1 and 'Error from server (NotFound): pods "nope" not found' in missing.stderr


def test_describe_pod_lists_its_events(cluster) -> None:
    _, env = cluster
    out = kubectl(env, "--context", "sandbox-prod", "describe", "pod", "ingest-core-5d9c7b6f4-x2x7q",
                  "-n", "prod-environment").stdout
    assert re.search(r"Controlled By:\s+ReplicaSet/ingest-core\n", out)
    assert re.search(r"State:\s+Waiting\n\s+Reason:\s+CrashLoopBackOff\n", out)
    assert re.search(r"Restart Count:\s+14\n", out)
    events = rows(out.split("Events:", 1)[1])
    assert events[0] == ["Type", "Reason", "Age", "From", "Message"]
    assert events[2][:2] == ["Warning", "BackOff"] and re.fullmatch(r"\d+m(\d+s)? \(x14 over \d+m\)", events[2][2])
    assert events[2][3:] == ["kubelet", "Back-off restarting failed container ingest-core in pod "
                                        "ingest-core-5d9c7b6f4-x2x7q_prod-environment"]
    quiet = kubectl(env, "describe", "pod", "mongo-0", "-n", "dev-environment").stdout
    assert re.search(r"Events:\s+<none>", quiet)


def test_label_and_field_selectors(cluster) -> None:
    _, env = cluster
    names = kubectl(env, "get", "pods", "-A", "-l", "app in (mongo,redis)", "-o", "name").stdout.split()
    assert names == ["pod/mongo-0", "pod/redis-0"]
    names = kubectl(env, "--context", "sandbox-prod", "get", "pods", "-A", "-l", "app=ingest-core,tier",
                    "-o", "name").stdout.split()
    assert names == ["pod/ingest-core-5d9c7b6f4-x2x7q"]
    names = kubectl(env, "get", "pods", "-n", "kube-system", "-l", "k8s-app!=kube-proxy,k8s-app notin (aws-node)",
                    "-o", "name").stdout.split()
    assert names and all(n.startswith("pod/coredns-") for n in names)
    succeeded = kubectl(env, "get", "pods", "-A", "--field-selector", "status.phase=Succeeded", "-o", "name").stdout
    assert succeeded.split() and all("ingest-backup" in n for n in succeeded.split())
    bad = kubectl(env, "get", "pods", "-A", "--field-selector", "spec.foo=x", ok=False)
    assert bad.returncode == 1 and "field label not supported: spec.foo" in bad.stderr


def test_get_workloads_nodes_and_jobs(cluster) -> None:
    _, env = cluster
    out = kubectl(env, "get", "deployments,statefulsets,daemonsets", "-A").stdout
    assert "deployment.apps/ingest-core" in out and "statefulset.apps/mongo" in out
    assert "daemonset.apps/kube-proxy" in out
    table = rows(kubectl(env, "get", "cronjobs", "-n", "dev-environment").stdout)
    assert table[0] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"]
    assert table[1][:4] == ["ingest-backup", "0 0 * * *", "<none>", "False"]
    jobs = rows(kubectl(env, "get", "jobs", "-n", "dev-environment").stdout)
    assert jobs[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert len(jobs) == 7 and all(r[1:4] == ["Complete", "1/1", "7m"] for r in jobs[1:])
    nodes = rows(kubectl(env, "get", "nodes", "-o", "wide").stdout)
    assert nodes[0][:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"] and "INTERNAL-IP" in nodes[0]
    assert [r[:2] for r in nodes[1:]] == [["ip-10-0-1-23.ec2.internal", "Ready"], ["ip-10-0-2-57.ec2.internal", "Ready"]]
    assert all(r[4] == KUBELET for r in nodes[1:])


def test_api_resources_come_from_discovery(cluster) -> None:
    _, env = cluster
    out = kubectl(env, "api-resources").stdout
    assert {"pods", "deployments", "cronjobs", "nodes", "events"} <= {r[0] for r in rows(out)[1:]}
    assert rows(kubectl(env, "get", "deploy", "-n", "kube-system").stdout)[1][0] == "coredns"  # short name


def test_the_python_client_reads_legacy_discovery_and_nodes(cluster) -> None:
    api, _ = cluster
    cfg = client.Configuration()
    cfg.host = api.url("dev")
    api_client = client.ApiClient(cfg)
    assert client.CoreApi(api_client).get_api_versions().versions == ["v1"]
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert groups == {"apps", "batch", "coordination.k8s.io"}
    assert {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources} >= {"pods", "nodes"}
    nodes = client.CoreV1Api(api_client).list_node().items
    assert {c.type: c.status for c in nodes[0].status.conditions} == {
        "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False", "Ready": "True"}
    assert nodes[0].status.node_info.kubelet_version == KUBELET
    assert list(kube.list_paginated(client.CoreV1Api(api_client).list_node, 1))[1].metadata.name == nodes[1].metadata.name


def test_pvcs_and_each_nodes_stats_summary_through_the_node_proxy(cluster) -> None:
    """Issue 19's sandbox side, read by kubectl and the client: PVCs in <env>-environment, nodes with their
    zone and instance type, and the kubelet's volume usage with pvcRef through the node proxy."""
    api, env = cluster
    claims = rows(kubectl(env, "get", "pvc", "-n", "dev-environment").stdout)
    assert claims[0][:6] == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS"]
    assert {r[0]: (r[1], r[3], r[4]) for r in claims[1:]}["datadir-mongo-0"] == ("Bound", "100Gi", "RWO")
    labelled = rows(kubectl(env, "get", "nodes", "-L", "topology.kubernetes.io/zone,node.kubernetes.io/instance-type")
                    .stdout)
    assert labelled[0][-2:] == ["ZONE", "INSTANCE-TYPE"] and {r[-2] for r in labelled[1:]} == {"us-east-1a", "us-east-1b"}
    cfg = client.Configuration()
    cfg.host = api.url("dev")
    core = client.CoreV1Api(client.ApiClient(cfg))
    node = "ip-10-0-1-23.ec2.internal"
    # The client deserializes a proxied answer into a str of the Python dict: read the raw body instead.
    summary = json.loads(core.connect_get_node_proxy_with_path(node, "stats/summary", _preload_content=False).data)
    assert summary["node"]["nodeName"] == node
    volumes = {v["pvcRef"]["name"]: v for p in summary["pods"] for v in p["volume"] if "pvcRef" in v}
    mongo = volumes["datadir-mongo-0"]
    assert mongo["pvcRef"]["namespace"] == "dev-environment" and mongo["capacityBytes"] == 100 * 2**30
    assert mongo["availableBytes"] == mongo["capacityBytes"] - mongo["usedBytes"]
    raw = kubectl(env, "get", "--raw", f"/dev/api/v1/nodes/{node}/proxy/stats/summary").stdout
    assert json.loads(raw) == summary
    missing = kubectl(env, "get", "--raw", "/dev/api/v1/nodes/ip-10-0-9-9.ec2.internal/proxy/stats/summary", ok=False)
    assert 'nodes "ip-10-0-9-9.ec2.internal" not found' in missing.stderr


def test_a_node_whose_kubelet_does_not_answer_is_a_503_and_pressure_shows_in_describe(cluster) -> None:
    _, env = cluster
    api = FakeKubeAPI()
    api.start()
    try:
        sick = k.node("ip-10-0-3-14.ec2.internal", now=NOW, conditions={"DiskPressure": "True"},
                      cordoned_for=dt.timedelta(hours=3))
        api.set_objects("c", "nodes", [sick])
        cfg = client.Configuration()
        cfg.host = api.url("c")
        core = client.CoreV1Api(client.ApiClient(cfg))
        with pytest.raises(client.ApiException) as err:
            core.connect_get_node_proxy_with_path(sick["metadata"]["name"], "stats/summary")
        assert err.value.status == 503 and "error trying to reach service" in json.loads(err.value.body)["message"]
        kubeconfig = api.write_kubeconfig(Path(env["HOME"]) / "sick-kubeconfig", {"sick": "c"})
        nodes = rows(kubectl({**env, "KUBECONFIG": str(kubeconfig)}, "get", "nodes").stdout)
        assert nodes[1][:2] == ["ip-10-0-3-14.ec2.internal", "Ready,SchedulingDisabled"]
        described = kubectl({**env, "KUBECONFIG": str(kubeconfig)}, "describe", "node", "ip-10-0-3-14.ec2.internal").stdout
        assert re.search(r"DiskPressure\s+True\s.*KubeletHasDiskPressure", described)
        assert re.search(r"Unschedulable:\s+true", described)
    finally:
        api.stop()
