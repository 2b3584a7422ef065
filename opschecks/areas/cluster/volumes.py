"""Daily: the database's disk never fills by surprise, and the database is there to have one.

Every PersistentVolumeClaim in ``<env>-environment`` (MongoDB's first) is read from the kubelets' stats
summaries, through the API server's node proxy (``/api/v1/nodes/<node>/proxy/stats/summary``: each pod's
``volume[]`` with its ``pvcRef``, ``usedBytes`` and ``capacityBytes``):

- VOL001  used above ``volume_max_percent`` of capacity;
- VOL002  the trend (a least-squares line through this check's readings of the last ``volume_trend_days``
          days, from the ledger, and today's) reaches capacity in under ``volume_full_horizon_days``;
- VOL003  a node's summary cannot be read, or does not come within the client's timeouts (that node's
          volumes are unknown: never a pass); each node is judged on its own, so one hung kubelet hides no
          other node's findings. A node deleted between the list and its read (404, and a list by its name
          returns nothing) is not a failure: it has no volumes left to fill;
- VOL004  a claim is not Bound (the database cannot start on it);
- VOL005  a claim a Running pod mounts has no reading (no summary lists it: a CSI driver without volume
          stats, a kubelet in its first minute; or listed without ``usedBytes``: a block volume): its fill
          is not measured, so it is not a pass;
- VOL006  an essential workload is missing: a StatefulSet of ``essential_statefulsets`` not in the
          namespace, or a claim of ``essential_claims`` absent or Bound with no Running pod mounting it
          (a production with no database passes nothing).

A Bound claim no Running pod mounts (and not essential) has no reading: said in the table, not a finding,
since an unmounted volume cannot fill.
What it ignores on purpose: ephemeral volumes (emptyDir, projected), which die with their pod; inode use;
whether the essential StatefulSets' pods are ready (the pods area judges that).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s

from opschecks import kube
from opschecks.findings import Finding
from opschecks.areas.cluster.settings import ClusterSettings
from opschecks.sizes import human_bytes as human

VOLUME_COLUMNS = ("claim", "pod", "node", "used", "capacity", "used %", "full in")
DB_FIRST = ("mongo", "db")  # claims whose names contain these are listed first


@dataclass(frozen=True)
class Reading:
    claim: str
    pod: str
    node: str
    used: int
    capacity: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.capacity if self.capacity else 100.0


@dataclass(frozen=True)
class Mount:
    pod: str
    node: str


@dataclass(frozen=True)
class Observed:
    claims: list[k8s.V1PersistentVolumeClaim]
    readings: dict[str, Reading]  # claim -> its kubelet reading
    mounts: dict[str, Mount]  # claim -> a Running pod that mounts it
    unmeasured: dict[str, str]  # claim -> the node whose summary lists it without usedBytes/capacityBytes
    statefulsets: set[str]
    unreadable: list[Finding]  # VOL003, one per node
    unreadable_nodes: set[str]


def read(api: k8s.ApiClient, namespace: str, where: str, page_size: int = 500) -> Observed:
    """The namespace's claims, which Running pods mount them, its StatefulSets, and each node's readings."""
    core = k8s.CoreV1Api(api)
    claims = list(kube.list_paginated(core.list_namespaced_persistent_volume_claim, page_size, namespace=namespace))
    mounts: dict[str, Mount] = {}
    for pod in kube.list_paginated(core.list_namespaced_pod, page_size, namespace=namespace):
        if pod.status is None or pod.status.phase != "Running" or pod.spec is None:
            continue
        for volume in pod.spec.volumes or []:
            if volume.persistent_volume_claim is not None:
                mounts[volume.persistent_volume_claim.claim_name] = Mount(pod.metadata.name, pod.spec.node_name or "?")
    statefulsets = {s.metadata.name for s in kube.list_paginated(
        k8s.AppsV1Api(api).list_namespaced_stateful_set, page_size, namespace=namespace)}
    readings: dict[str, Reading] = {}
    unmeasured: dict[str, str] = {}
    unreadable: list[Finding] = []
    unreadable_nodes: set[str] = set()
    for node in kube.list_paginated(core.list_node, page_size):
        name = node.metadata.name
        summary, problem = _summary(core, name)
        if problem is not None:
            unreadable.append(Finding("VOL003", f"{where} node/{name}", f"{problem} (its volumes are not judged)"))
            unreadable_nodes.add(name)
        for pod in (summary or {}).get("pods") or []:
            for volume in pod.get("volume") or []:
                ref = volume.get("pvcRef") or {}
                if ref.get("namespace") != namespace or not ref.get("name"):
                    continue
                if "usedBytes" in volume and "capacityBytes" in volume:
                    readings[ref["name"]] = Reading(ref["name"], (pod.get("podRef") or {}).get("name", "?"), name,
                                                    int(volume["usedBytes"]), int(volume["capacityBytes"]))
                else:
                    unmeasured[ref["name"]] = name
    return Observed(claims, readings, mounts, unmeasured, statefulsets, unreadable, unreadable_nodes)


def _summary(core: k8s.CoreV1Api, node: str) -> tuple[dict[str, Any] | None, str | None]:
    """The node's kubelet stats summary, or why there is none; (None, None) for a node deleted since the list."""
    try:
        # The client's timeouts (kube.api_client) apply: a silent kubelet fails this node in seconds.
        raw = core.connect_get_node_proxy_with_path(node, "stats/summary", _preload_content=False)
        return json.loads(raw.data), None
    except k8s.ApiException as exc:
        if exc.status == 404 and _deleted(core, node):
            return None, None
        return None, f"expected the kubelet's stats summary, found HTTP {exc.status} {exc.reason}"
    except urllib3.exceptions.HTTPError as exc:  # timeouts and dropped connections, after the client's retry
        reason = getattr(exc, "reason", None) or exc
        return None, f"expected the kubelet's stats summary, found no answer ({type(reason).__name__})"
    except ValueError:
        return None, "the kubelet's stats summary is not JSON"


def _deleted(core: k8s.CoreV1Api, node: str) -> bool:
    """True when the node itself is gone (a 404 of its proxy alone may be the kubelet's). Listed by name, not
    read: the shipped ClusterRole grants ``list nodes``, not ``get``."""
    try:
        return not core.list_node(field_selector=f"metadata.name={node}").items
    except (k8s.ApiException, urllib3.exceptions.HTTPError):
        return False  # not known to be gone: the 404 stays that node's VOL003


def days_until_full(history: list[tuple[dt.datetime, int]], capacity: int, now: dt.datetime) -> float | None:
    """Days from ``now`` until a least-squares line through (time, used bytes) reaches ``capacity``;
    None when it is flat or shrinking (never full at this rate)."""
    xs = [(t - now).total_seconds() / 86400 for t, _ in history]
    ys = [float(u) for _, u in history]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread  # bytes per day
    if slope <= 0:
        return None
    used_now = mean_y + slope * (0 - mean_x)
    return max(0.0, (capacity - used_now) / slope)


def judge(seen: Observed, past: dict[str, list[tuple[dt.datetime, int]]], settings: ClusterSettings,
          now: dt.datetime, where: str) -> tuple[list[tuple], list[Finding]]:
    """Rows for the table and findings; ``past`` holds each claim's earlier (time, used bytes) readings."""
    rows, findings = [], list(seen.unreadable) + _essentials(seen, settings, where)
    ordered = sorted(seen.claims, key=lambda c: (not any(k in c.metadata.name for k in DB_FIRST), c.metadata.name))
    for claim in ordered:
        name = claim.metadata.name
        here = f"{where} pvc/{name}"
        phase = claim.status.phase if claim.status else None
        if phase != "Bound":
            findings.append(Finding("VOL004", here, f"expected the claim Bound, found {phase or 'no phase'}"))
            rows.append((name, "-", "-", "-", "-", "-", f"not Bound ({phase})"))
            continue
        reading = seen.readings.get(name)
        mount = seen.mounts.get(name)
        if reading is None and mount is None:
            rows.append((name, "-", "-", "-", _requested(claim), "-", "no reading: not mounted by a running pod"))
            continue
        if reading is None:
            rows.append((name, mount.pod, mount.node, "-", _requested(claim), "-", "no reading (VOL005)"))
            if mount.node not in seen.unreadable_nodes:  # else VOL003 already says that node is unread
                findings.append(Finding("VOL005", here, _unmeasured(mount, seen.unmeasured.get(name))))
            continue
        cutoff = now - dt.timedelta(days=settings.volume_trend_days)
        history = [(t, u) for t, u in past.get(name, []) if cutoff <= t < now] + [(now, reading.used)]
        full_in = days_until_full(history, reading.capacity, now) if len(history) >= settings.volume_min_readings \
            else None
        trend = (f"{full_in:.0f} days" if full_in is not None else "not filling") \
            if len(history) >= settings.volume_min_readings else f"no trend yet ({len(history)} readings)"
        rows.append((name, reading.pod, reading.node, human(reading.used), human(reading.capacity),
                     f"{reading.percent:.1f}%", trend))
        if reading.percent > settings.volume_max_percent:
            findings.append(Finding("VOL001", here, f"expected at most {settings.volume_max_percent:g}% used, found "
                                    f"{reading.percent:.1f}% ({human(reading.used)} of {human(reading.capacity)}, "
                                    f"mounted by pod/{reading.pod} on {reading.node})"))
        if full_in is not None and full_in < settings.volume_full_horizon_days:
            findings.append(Finding("VOL002", here, f"expected no fill within {settings.volume_full_horizon_days:g} "
                                    f"days, the last {len(history)} readings' trend fills it in {full_in:.0f} days "
                                    f"({human(reading.used)} of {human(reading.capacity)} now)"))
    return rows, findings


def past_readings(records: list[Any]) -> dict[str, list[tuple[dt.datetime, int]]]:
    """Each claim's (time, used bytes) from this check's earlier ledger records (their ``volumes`` detail)."""
    past: dict[str, list[tuple[dt.datetime, int]]] = {}
    for record in records:
        for claim, used in (record.details.get("volumes") or {}).items():
            if isinstance(used, int):
                past.setdefault(claim, []).append((record.started, used))
    return past


def _unmeasured(mount: Mount, listed_on: str | None) -> str:
    said = f"expected a reading of the volume Running pod/{mount.pod} on {mount.node} mounts, "
    if listed_on is not None:
        return said + (f"the kubelet on {listed_on} lists it without usedBytes/capacityBytes (a block volume, or "
                       "a CSI driver that reports no volume stats): its fill is not measured")
    return said + ("no kubelet's stats summary lists it (a CSI driver without volume stats, or a kubelet in its "
                   "first minute): its fill is not measured")


def _essentials(seen: Observed, settings: ClusterSettings, where: str) -> list[Finding]:
    """VOL006 for each essential StatefulSet or claim the environment lacks (a claim not Bound is VOL004)."""
    findings = [Finding("VOL006", f"{where} statefulset/{name}", f"expected the essential StatefulSet {name}, "
                        "found none in the namespace (essential_statefulsets)")
                for name in settings.essential_statefulsets if name not in seen.statefulsets]
    phases = {c.metadata.name: c.status.phase if c.status else None for c in seen.claims}
    for name in settings.essential_claims:
        if name not in phases:
            findings.append(Finding("VOL006", f"{where} pvc/{name}", "expected the essential claim, found no such "
                                    "claim in the namespace (essential_claims)"))
        elif phases[name] == "Bound" and name not in seen.mounts:
            findings.append(Finding("VOL006", f"{where} pvc/{name}", "expected the essential claim mounted by a "
                                    "Running pod, found none mounting it (essential_claims)"))
    return findings


def _requested(claim: k8s.V1PersistentVolumeClaim) -> str:
    return ((claim.status.capacity or {}) if claim.status else {}).get("storage", "?")

