"""Daily: every pod that should run is running and ready, and every Deployment/StatefulSet/DaemonSet
has its replicas.

Replaces ``kubectl get pods`` / ``kubectl get pods -n kube-system`` by eye; how a pod
is judged, and the finding codes, are in opschecks/areas/pods/pods.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from kubernetes import client as k8s

from fixtures.report import Report
from opschecks import clock, waivers
from opschecks.areas.pods import pods
from opschecks.config import Config, EnvConfig
from opschecks.findings import fail_on
from opschecks.areas.pods.settings import PodSettings

pytestmark = pytest.mark.daily


def test_pods_healthy(env: EnvConfig, kube_api: k8s.ApiClient, report: Report, ledger_details: dict[str, Any],
                      ops_config: Config) -> None:
    # Inline waivers and the waivers file's, one model (a bad file fails the check in one line naming it).
    settings = replace(env.settings(PodSettings), waivers=[*env.settings(PodSettings).waivers,
                                          *waivers.configured(env.settings(PodSettings).waivers_file, ops_config.path)])
    health = pods.assess(kube_api, env.namespaces, settings, clock.now())
    context = env.kube_context or "(current context)"
    for ns in health:
        report.table(f"{context}/{ns.namespace}: {len(ns.pods)} pods", pods.POD_COLUMNS, ns.pods)
    report.table(f"{context}: Deployments, StatefulSets and DaemonSets", ("namespace", *pods.WORKLOAD_COLUMNS),
                 [(ns.namespace, *w) for ns in health for w in ns.workloads])
    waived = [(p.namespace, p.name, p.code, p.reason, w.expires, w.justification, w.who)
              for ns in health for p, w in ns.waived]
    if waived:
        report.table(f"{context}: waived", ("namespace", "name", "code", "reason", "expires", "justification", "who"),
                     waived)
    ledger_details.update(pods.summary(health))
    fail_on(pods.findings(env.name, env.kube_context, health))
