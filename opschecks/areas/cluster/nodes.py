"""Daily: every node is Ready, not starved, not cordoned for long, and its kubelet within the supported skew.

A node is judged healthy when:

- its ``Ready`` condition is True (NOD001, saying since when it is not);
- that True is fresh: its ``lastHeartbeatTime`` is at most ``max_heartbeat_minutes`` old (NOD006). The
  node-lifecycle controller turns Ready Unknown about 40 s after the kubelet stops renewing its lease, so
  a True that old means nothing is updating the node's status and the True proves nothing. The kubelet
  rewrites an unchanged status only every 5 minutes (``nodeStatusReportFrequency``), hence the default 15;
- none of ``MemoryPressure``, ``DiskPressure``, ``PIDPressure``, ``NetworkUnavailable`` is True (NOD002);
- it is not cordoned (``spec.unschedulable``, or the ``node.kubernetes.io/unschedulable`` taint alone:
  the scheduler obeys the taint either way) for longer than ``max_cordon_hours`` (NOD003): a drain
  is normal, a node forgotten cordoned is paid-for capacity nobody can use;
- its kubelet is not newer than the control plane, nor more than ``max_kubelet_skew`` minor versions
  older (NOD004; Kubernetes supports n-3 since 1.28, n-2 before).

A node registered less than ``new_node_grace_minutes`` ago that reports no Ready condition or no kubelet
version yet is registering (its row says so), not NOD001/NOD004: the kubelet posts its first status
seconds after creating the Node object. Past the grace, or once it reports, it is judged as any node.
No nodes at all is NOD005: a cluster that lists none cannot be judged healthy.
Cluster-level settings (this module and opschecks/areas/cluster/volumes.py) live in ``ClusterSettings``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

from opschecks import kube
from opschecks.findings import Finding
from opschecks.timefmt import age
from opschecks.areas.cluster.settings import ClusterSettings

PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
NODE_COLUMNS = ("node", "instance type", "zone", "age", "conditions", "kubelet")
CORDON_TAINT = "node.kubernetes.io/unschedulable"


@dataclass(frozen=True)
class NodeState:
    name: str
    row: tuple[str, ...]
    findings: tuple[Finding, ...]
    kubelet: str


def minor(version: str) -> tuple[int, int] | None:
    """(1, 29) of "v1.29.3-eks-ae9a62a", "1.29" or "v1.29+"; None when it is not a version."""
    match = re.match(r"v?(\d+)\.(\d+)", version or "")
    return (int(match[1]), int(match[2])) if match else None


def control_plane_version(api: k8s.ApiClient) -> str:
    return k8s.VersionApi(api).get_code().git_version  # within the client's timeouts (kube.api_client)


def assess(api: k8s.ApiClient, settings: ClusterSettings, now: dt.datetime, where: str,
           page_size: int = 500) -> tuple[list[NodeState], list[Finding], str]:
    """Every node's state, cluster-wide findings, and the control plane's version."""
    server = control_plane_version(api)
    nodes = list(kube.list_paginated(k8s.CoreV1Api(api).list_node, page_size))
    states = [judge(n, settings, now, where, server) for n in nodes]
    cluster = [] if nodes else [Finding("NOD005", where, "expected worker nodes, the API lists none")]
    return states, cluster, server


def judge(node: k8s.V1Node, settings: ClusterSettings, now: dt.datetime, where: str, server: str) -> NodeState:
    name = node.metadata.name
    labels = node.metadata.labels or {}
    here = f"{where} node/{name}"
    status = node.status or k8s.V1NodeStatus()  # a node just registered may have no status at all
    conditions = {c.type: c for c in status.conditions or []}
    kubelet = status.node_info.kubelet_version if status.node_info else ""
    created = node.metadata.creation_timestamp
    new = created is not None and (now - created).total_seconds() < settings.new_node_grace_minutes * 60
    registering = new and ("Ready" not in conditions or not kubelet)
    findings = []
    ready = conditions.get("Ready")
    if ready is None and registering:
        pass  # its kubelet has not posted a status yet
    elif ready is None or ready.status != "True":
        since = _since(ready.last_transition_time, now) if ready is not None else "no Ready condition reported"
        reason = f" ({ready.reason}: {ready.message})" if ready is not None and ready.message else \
            f" ({ready.reason})" if ready is not None and ready.reason else ""
        findings.append(Finding("NOD001", here, f"expected Ready, found {ready.status if ready else 'Unknown'}"
                                f"{reason}, {since}"))
    else:
        findings += _stale(ready, settings, now, here)
    for kind in PRESSURE:
        condition = conditions.get(kind)
        if condition is not None and condition.status == "True":
            findings.append(Finding("NOD002", here, f"{kind} is True ({condition.reason}), "
                                    f"{_since(condition.last_transition_time, now)}"))
    spec = node.spec or k8s.V1NodeSpec()
    taint = next((t for t in spec.taints or [] if t.key == CORDON_TAINT), None)
    cordoned = bool(spec.unschedulable) or taint is not None
    if cordoned:
        added = taint.time_added if taint is not None else None
        hours = (now - added).total_seconds() / 3600 if added else None
        if hours is None or hours > settings.max_cordon_hours:
            found = f"cordoned for {hours:.0f} h" if hours is not None else "cordoned since an unknown time"
            how = "" if spec.unschedulable else f" (by the {CORDON_TAINT} taint alone)"
            findings.append(Finding("NOD003", here, f"expected a cordon to last at most "
                                    f"{settings.max_cordon_hours:g} h, {found}{how}"))
    if not (registering and not kubelet):
        findings += _skew(kubelet, server, settings, here)
    shown = [f"{t}={c.status}" for t, c in conditions.items() if (c.status == "True") != (t == "Ready")]
    shown += ["SchedulingDisabled"] if cordoned else []
    shown += [f"registering (created {_age(created, now)} ago)"] if registering else []
    row = (name, labels.get("node.kubernetes.io/instance-type", "?"), labels.get("topology.kubernetes.io/zone", "?"),
           _age(created, now), ", ".join(shown) or "Ready", kubelet)
    return NodeState(name, row, tuple(findings), kubelet)


def _stale(ready: k8s.V1NodeCondition, settings: ClusterSettings, now: dt.datetime, here: str) -> list[Finding]:
    """NOD006 when a True Ready is older than anything updating it would let it be (fail closed: none given)."""
    beat = ready.last_heartbeat_time
    if beat is not None and (now - beat).total_seconds() <= settings.max_heartbeat_minutes * 60:
        return []
    found = f"its last heartbeat {_age(beat, now)} ago" if beat is not None else "no lastHeartbeatTime"
    return [Finding("NOD006", here, f"expected Ready=True refreshed within {settings.max_heartbeat_minutes:g} min, "
                                    f"found {found}: nothing is updating the node's status")]


def _skew(kubelet: str, server: str, settings: ClusterSettings, here: str) -> list[Finding]:
    node_v, server_v = minor(kubelet), minor(server)
    if node_v is None or server_v is None:
        return [Finding("NOD004", here, f"expected comparable versions, found kubelet {kubelet!r} and "
                                        f"control plane {server!r}")]
    if node_v > server_v:
        return [Finding("NOD004", here, f"kubelet {kubelet} is newer than the control plane {server} "
                                        "(never supported)")]
    behind = server_v[1] - node_v[1] if node_v[0] == server_v[0] else 99
    if behind > settings.max_kubelet_skew:
        return [Finding("NOD004", here, f"expected a kubelet at most {settings.max_kubelet_skew} minor versions "
                                        f"behind the control plane {server}, found {kubelet} ({behind} behind)")]
    return []


def _since(moment: dt.datetime | None, now: dt.datetime) -> str:
    return f"for {_age(moment, now)}" if moment else "since an unknown time"


def _age(moment: dt.datetime | None, now: dt.datetime) -> str:
    return "?" if moment is None else age(now - moment)  # the pods' format (opschecks/timefmt.py)


def summary(states: list[NodeState], server: str) -> dict[str, Any]:
    return {"nodes": len(states), "unhealthy": sorted(s.name for s in states if s.findings),
            "control_plane": server, "kubelets": sorted({s.kubelet for s in states})}
