"""How long the pod check takes, and how many API requests it makes, on a cluster with 5,000 pods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from opschecks import kube
from opschecks.areas.pods import pods
from opschecks.areas.pods.settings import PodSettings
from opschecks.sandbox import kube_objects as k
from opschecks.sandbox.kubeapi import FakeKubeAPI

NOW = dt.datetime(2025, 3, 12, 9, 30, tzinfo=dt.timezone.utc)
NAMESPACES = ["default", "kube-system", "prod-environment"]
PODS = 5_000
CRASH_LOOPING = 50  # one pod in a hundred, so the rules that flag run too


@pytest.fixture(scope="module")
def big_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeKubeAPI]:
    api = FakeKubeAPI()
    api.start()
    try:
        objects = []
        for i in range(PODS):
            ns = NAMESPACES[i % len(NAMESPACES)]
            name = k.replica_pod_name(f"worker-{i // 100}", i)
            objects.append(k.crash_looping_pod(name, ns, now=NOW) if i % (PODS // CRASH_LOOPING) == 0
                           else k.pod(name, ns, now=NOW))
        api.set_objects("big", "pods", objects)
        api.set_objects("big", "deployments", [k.deployment(f"worker-{d}", NAMESPACES[d % len(NAMESPACES)], now=NOW)
                                               for d in range(PODS // 100)])
        api.set_objects("big", "statefulsets", [])
        api.set_objects("big", "daemonsets", [])
        path = api.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig", {"big": "big"})
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("KUBECONFIG", str(path))
            yield api
    finally:
        api.stop()


def test_pods_5000_in_3_namespaces(benchmark, big_cluster: FakeKubeAPI) -> None:  # noqa: ANN001 (pytest-benchmark)
    settings = PodSettings()
    client = kube.api_client("big")

    def run() -> list[pods.NamespaceHealth]:
        return pods.assess(client, NAMESPACES, settings, NOW)

    before = big_cluster.requests["big"]
    health = benchmark.pedantic(run, rounds=3, iterations=1)
    client.close()
    requests_per_run = (big_cluster.requests["big"] - before) // 3

    assert sum(len(ns.pods) for ns in health) == PODS
    assert sum(p.code == "POD001" for ns in health for p in ns.problems) == CRASH_LOOPING
    benchmark.extra_info.update({
        "pods": PODS,
        "namespaces": len(NAMESPACES),
        "page_size": settings.page_size,
        "requests_per_run": requests_per_run,
        "mean_seconds": round(benchmark.stats.stats.mean, 3),
        "pods_per_second": round(PODS / benchmark.stats.stats.mean),
    })
