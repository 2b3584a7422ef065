"""The cluster's capacity: nodes healthy and not starved, the database's disk not filling (daily); the control
plane supported and the nodes' CPU sized right (monthly).

How each is judged: opschecks/areas/cluster/nodes.py, opschecks/areas/cluster/volumes.py, opschecks/areas/cluster/eks.py, opschecks/areas/cluster/capacity.py.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from kubernetes import client as k8s

from fixtures.report import Report
from opschecks import aws, clock
from opschecks.areas.cluster import capacity, eks, nodes, volumes
from opschecks.config import EnvConfig
from opschecks.findings import fail_on
from opschecks.record.ledger import Record
from opschecks.areas.cluster.settings import ClusterSettings


def _context(env: EnvConfig) -> str:
    return env.kube_context or "(current context)"


@pytest.mark.daily
def test_nodes_healthy(env: EnvConfig, kube_api: k8s.ApiClient, report: Report, ledger_details: dict[str, Any]) -> None:
    states, cluster, server = nodes.assess(kube_api, env.settings(ClusterSettings), clock.now(),
                                           f"{env.name} {_context(env)}")
    report.table(f"{_context(env)}: {len(states)} nodes (control plane {server})", nodes.NODE_COLUMNS,
                 [s.row for s in states])
    ledger_details.update(nodes.summary(states, server))
    fail_on(cluster + [f for s in states for f in s.findings])


@pytest.mark.daily
def test_volumes_not_filling(env: EnvConfig, kube_api: k8s.ApiClient, report: Report,
                             ledger_details: dict[str, Any], past_runs: list[Record]) -> None:
    now = clock.now()
    where = f"{env.name} {_context(env)}/{env.app_namespace}"
    seen = volumes.read(kube_api, env.app_namespace, where)
    rows, findings = volumes.judge(seen, volumes.past_readings(past_runs), env.settings(ClusterSettings), now, where)
    report.table(f"{_context(env)}/{env.app_namespace}: persistent volumes", volumes.VOLUME_COLUMNS, rows)
    ledger_details["volumes"] = {name: r.used for name, r in seen.readings.items()}
    fail_on(findings)


@pytest.mark.monthly
def test_control_plane_supported(env: EnvConfig, aws_session: boto3.Session, report: Report,
                                 ledger_details: dict[str, Any]) -> None:
    verdict = eks.judge(aws.client(aws_session, "eks"), env, clock.now())
    report.table(f"EKS cluster {verdict.subject} ({env.aws_region})", eks.COLUMNS, verdict.rows)
    ledger_details.update(verdict.details)
    fail_on(verdict.findings)


@pytest.mark.monthly
def test_node_cpu_capacity(env: EnvConfig, aws_session: boto3.Session, report: Report,
                           ledger_details: dict[str, Any]) -> None:
    now = clock.now()
    series = capacity.assess(aws.client(aws_session, "ec2"), aws.client(aws_session, "cloudwatch"),
                              eks.cluster_name(env), env.settings(ClusterSettings), now, f"{env.name} {env.aws_region}")
    if series.days:  # in the report's Trends, once per cluster
        report.trend(f"node-cpu {env.aws_region} {series.cluster}",
                     f"{series.cluster}: node CPU, last {env.settings(ClusterSettings).cpu_days} days (CloudWatch AWS/EC2)",
                     capacity.plot(series), capacity.COLUMNS, series.rows)
    else:
        report.table(f"{series.cluster}: node CPU per day (CloudWatch AWS/EC2 CPUUtilization)", capacity.COLUMNS,
                     series.rows)
    ledger_details.update(series.details)
    fail_on(series.findings)
