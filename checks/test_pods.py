"""Daily: every pod that should run is running and ready, and every Deployment/StatefulSet/DaemonSet
has its replicas.

Replaces ``kubectl get pods`` / ``kubectl get pods -n kube-system`` by eye; how a pod
is judged, and the finding codes, are in opschecks/areas/pods/pods.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s

from fixtures.report import Report
from opschecks import clock
from opschecks.areas.pods import pods
from opschecks.config import EnvConfig
from opschecks.findings import fail_on

pytestmark = pytest.mark.daily


def test_pods_healthy(env: EnvConfig, kube_api: k8s.ApiClient, report: Report, ledger_details: dict[str, Any]) -> None:
    health = pods.assess(kube_api, env.namespaces, env.pods, clock.now())
    context = env.kube_context or "(current context)"
    for ns in health:
        report.table(f"{context}/{ns.namespace}: {len(ns.pods)} pods", pods.POD_COLUMNS, ns.pods)
    report.table(f"{context}: Deployments, StatefulSets and DaemonSets", ("namespace", *pods.WORKLOAD_COLUMNS),
                 [(ns.namespace, *w) for ns in health for w in ns.workloads])
    waived = [(p.namespace, p.name, p.code, p.reason, w.expires, w.justification) for ns in health for p, w in ns.waived]
    if waived:
        report.table(f"{context}: waived", ("namespace", "name", "code", "reason", "expires", "justification"), waived)
    ledger_details.update(pods.summary(health))
    fail_on(pods.findings(env.name, env.kube_context, health))
