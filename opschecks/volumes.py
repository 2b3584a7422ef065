"""Daily: the database's disk never fills by surprise.

Every PersistentVolumeClaim in ``<env>-environment`` (MongoDB's first) is read from the kubelets' stats
summaries, through the API server's node proxy (``/api/v1/nodes/<node>/proxy/stats/summary``: each pod's
``volume[]`` with its ``pvcRef``, ``usedBytes`` and ``capacityBytes``):

- VOL001  used above ``volume_max_percent`` of capacity;
- VOL002  the trend (a least-squares line through this check's readings of the last ``volume_trend_days``
          days, from the ledger, and today's) reaches capacity in under ``volume_full_horizon_days``;
- VOL003  a node's summary cannot be read (its volumes are unknown: never a pass);
- VOL004  a Bound claim that no running pod mounts has no reading: said in the table, not a finding,
          since an unmounted volume cannot fill; a claim that is not Bound is VOL004 (the database
          cannot start on it).

What it ignores on purpose: ephemeral volumes (emptyDir, projected), which die with their pod; inode use.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

from opschecks import kube
from opschecks.findings import Finding
from opschecks.nodes import ClusterSettings
from opschecks.usage import human_bytes as human

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


def read(api: k8s.ApiClient, namespace: str, where: str, page_size: int = 500
         ) -> tuple[list[k8s.V1PersistentVolumeClaim], dict[str, Reading], list[Finding]]:
    """The namespace's claims, each claim's reading (by name), and the nodes that could not be read."""
    core = k8s.CoreV1Api(api)
    claims = list(kube.list_paginated(core.list_namespaced_persistent_volume_claim, page_size, namespace=namespace))
    readings: dict[str, Reading] = {}
    unreadable = []
    for node in kube.list_paginated(core.list_node, page_size):
        name = node.metadata.name
        try:
            # The client's timeouts (kube.api_client) apply: a silent kubelet fails in seconds.
            raw = core.connect_get_node_proxy_with_path(name, "stats/summary", _preload_content=False)
            summary = json.loads(raw.data)
        except k8s.ApiException as exc:
            unreadable.append(Finding("VOL003", f"{where} node/{name}", f"expected the kubelet's stats summary, "
                                      f"found HTTP {exc.status} {exc.reason} (its volumes are not judged)"))
            continue
        except ValueError:
            unreadable.append(Finding("VOL003", f"{where} node/{name}", "the kubelet's stats summary is not JSON "
                                      "(its volumes are not judged)"))
            continue
        for pod in summary.get("pods") or []:
            for volume in pod.get("volume") or []:
                ref = volume.get("pvcRef") or {}
                if ref.get("namespace") == namespace and "usedBytes" in volume and "capacityBytes" in volume:
                    readings[ref["name"]] = Reading(ref["name"], (pod.get("podRef") or {}).get("name", "?"), name,
                                                    int(volume["usedBytes"]), int(volume["capacityBytes"]))
    return claims, readings, unreadable


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


def judge(claims: list[k8s.V1PersistentVolumeClaim], readings: dict[str, Reading],
          past: dict[str, list[tuple[dt.datetime, int]]], settings: ClusterSettings, now: dt.datetime,
          where: str) -> tuple[list[tuple], list[Finding]]:
    """Rows for the table and findings; ``past`` holds each claim's earlier (time, used bytes) readings."""
    rows, findings = [], []
    ordered = sorted(claims, key=lambda c: (not any(k in c.metadata.name for k in DB_FIRST), c.metadata.name))
    for claim in ordered:
        name = claim.metadata.name
        here = f"{where} pvc/{name}"
        phase = claim.status.phase if claim.status else None
        if phase != "Bound":
            findings.append(Finding("VOL004", here, f"expected the claim Bound, found {phase or 'no phase'}"))
            rows.append((name, "-", "-", "-", "-", "-", f"not Bound ({phase})"))
            continue
        reading = readings.get(name)
        if reading is None:
            rows.append((name, "-", "-", "-", _requested(claim), "-", "no reading: not mounted by a running pod"))
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


def _requested(claim: k8s.V1PersistentVolumeClaim) -> str:
    return ((claim.status.capacity or {}) if claim.status else {}).get("storage", "?")

