"""Server-side printing: objects as ``meta.k8s.io/v1`` Tables, the columns ``kubectl get`` shows.

A real API server answers ``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``
with the columns of Kubernetes' own printers (pkg/printers/internalversion),
ages computed on the server; columns of priority 1 are what ``-o wide`` adds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority
_NONE = "<none>"


def table(kind: str, objects: list[Obj], now: dt.datetime, include: str, metadata: Obj) -> Obj:
    """A Table of ``objects`` of ``kind``; ``include`` is the request's includeObject (None, Object, Metadata)."""
    columns, cells = PRINTERS.get(kind, (_DEFAULT, _default_cells))
    rows = []
    for obj in objects:
        row: Obj = {"cells": cells(obj, now)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": [{"name": name, "type": kind_, "format": "name" if name == "Name" else "",
                                   "description": _DESCRIPTIONS.get(name, name), "priority": priority}
                                  for name, kind_, priority in columns],
            "rows": rows}


def human_duration(delta: dt.timedelta) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, as ages are printed."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _since(stamp: str | None, now: dt.datetime) -> str:
    if not stamp:
        return "<unknown>"
    return human_duration(now - _parse(stamp))


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _age(obj: Obj, now: dt.datetime) -> str:
    return _since(obj["metadata"].get("creationTimestamp"), now)


def _labels(labels: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or _NONE


def _selector(selector: Obj | None) -> str:
    """metav1.FormatLabelSelector for matchLabels (matchExpressions as the real printer spells them)."""
    if not selector:
        return _NONE
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr["operator"].lower()
        terms.append(f"{expr['key']} {op} ({','.join(expr.get('values', []))})" if op in ("in", "notin")
                     else expr["key"] if op == "exists" else f"!{expr['key']}")
    return ",".join(terms) or _NONE


def _containers(template_spec: Obj) -> list[str]:
    containers = template_spec.get("containers") or []
    return [",".join(c["name"] for c in containers) or _NONE, ",".join(c["image"] for c in containers) or _NONE]


# --- pods -------------------------------------------------------------------------------------------------

def _pod_cells(pod: Obj, now: dt.datetime) -> list[Any]:
    spec, status = pod.get("spec", {}), pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or ""
    restarts, last_restart = 0, None
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += cs.get("restartCount", 0)
        last_restart = _later(last_restart, cs)
        state = cs.get("state", {})
        if "terminated" in state and state["terminated"].get("exitCode") == 0:
            continue
        if "terminated" in state:
            term = state["terminated"]
            reason = f"Init:{term.get('reason') or 'ExitCode:%d' % term.get('exitCode', 0)}"
        elif "waiting" in state and state["waiting"].get("reason") not in (None, "", "PodInitializing"):
            reason = f"Init:{state['waiting']['reason']}"
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or init_statuses)}"
        initializing = True
        break
    ready = 0
    statuses = status.get("containerStatuses") or []
    if not initializing:
        restarts, running = 0, False
        for cs in reversed(statuses):
            restarts += cs.get("restartCount", 0)
            last_restart = _later(last_restart, cs)
            state = cs.get("state", {})
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated", {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif "terminated" in state:
                reason = f"ExitCode:{state['terminated'].get('exitCode', 0)}"
            elif "running" in state and cs.get("ready"):
                running = True
                ready += 1
        if reason == "Completed" and running:
            ready_condition = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
            reason = "Running" if ready_condition else "NotReady"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    restarts_cell: Any = restarts
    if restarts and last_restart:
        restarts_cell = f"{restarts} ({_since(last_restart, now)} ago)"
    gates = spec.get("readinessGates") or []
    return [pod["metadata"]["name"], f"{ready}/{len(spec.get('containers') or statuses)}", reason, restarts_cell,
            _age(pod, now), status.get("podIP") or _NONE, spec.get("nodeName") or _NONE,
            status.get("nominatedNodeName") or _NONE, f"0/{len(gates)}" if gates else _NONE]


def _later(current: str | None, container_status: Obj) -> str | None:
    finished = container_status.get("lastState", {}).get("terminated", {}).get("finishedAt")
    return finished if finished and (current is None or finished > current) else current


# --- workloads --------------------------------------------------------------------------------------------

def _deployment_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    spec, status = obj["spec"], obj.get("status", {})
    return [obj["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), _age(obj, now),
            *_containers(spec["template"]["spec"]), _selector(spec.get("selector"))]


def _statefulset_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    spec, status = obj["spec"], obj.get("status", {})
    return [obj["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", _age(obj, now),
            *_containers(spec["template"]["spec"])]


def _daemonset_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    spec, status = obj["spec"], obj.get("status", {})
    return [obj["metadata"]["name"], status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            _labels(spec["template"]["spec"].get("nodeSelector")), _age(obj, now),
            *_containers(spec["template"]["spec"]), _selector(spec.get("selector"))]


def _cronjob_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    spec, status = obj["spec"], obj.get("status", {})
    job_spec = spec["jobTemplate"]["spec"]
    last = status.get("lastScheduleTime")
    return [obj["metadata"]["name"], spec["schedule"], spec.get("timeZone") or _NONE,
            str(bool(spec.get("suspend"))), len(status.get("active") or []), _since(last, now) if last else _NONE,
            _age(obj, now), *_containers(job_spec["template"]["spec"]), _selector(job_spec.get("selector"))]


def _job_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    spec, status = obj["spec"], obj.get("status", {})
    conditions = {c["type"] for c in status.get("conditions", []) if c.get("status") == "True"}
    state = next((name for name, cond in (("Complete", "Complete"), ("Failed", "Failed")) if cond in conditions),
                 "Terminating" if obj["metadata"].get("deletionTimestamp") else
                 "Suspended" if "Suspended" in conditions else "Running")
    completions = spec.get("completions")
    done = f"{status.get('succeeded', 0)}/{completions}" if completions is not None else \
        f"{status.get('succeeded', 0)}/1 of {spec.get('parallelism', 1)}"
    started, completed = status.get("startTime"), status.get("completionTime")
    duration = ""
    if started:
        duration = human_duration((_parse(completed) if completed else now) - _parse(started))
    return [obj["metadata"]["name"], state, done, duration, _age(obj, now), *_containers(spec["template"]["spec"]),
            _selector(spec.get("selector"))]


# --- cluster ----------------------------------------------------------------------------------------------

def _node_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    ready = next((c["status"] for c in status.get("conditions", []) if c["type"] == "Ready"), None)
    state = {"True": "Ready", "False": "NotReady"}.get(ready, "Unknown")
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k.removeprefix(prefix) for k in obj["metadata"].get("labels", {}) if k.startswith(prefix))
    addresses = {a["type"]: a["address"] for a in status.get("addresses", [])}
    info = status.get("nodeInfo", {})
    return [obj["metadata"]["name"], state, ",".join(roles) or _NONE, _age(obj, now), info.get("kubeletVersion", ""),
            addresses.get("InternalIP", _NONE), addresses.get("ExternalIP", _NONE), info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]


def _namespace_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    return [obj["metadata"]["name"], obj.get("status", {}).get("phase", ""), _age(obj, now)]


def _event_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    involved = obj.get("involvedObject", {})
    last = obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    return [_since(last, now), obj.get("type", ""), obj.get("reason", ""),
            f"{involved.get('kind', '').lower()}/{involved.get('name', '')}", obj.get("message", "")]


def _pvc_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    modes = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    bound = status.get("phase") == "Bound"
    return [obj["metadata"]["name"], status.get("phase", ""), spec.get("volumeName", ""),
            status.get("capacity", {}).get("storage", "") if bound else "",
            ",".join(modes.get(m, m) for m in status.get("accessModes", [])) if bound else "",
            spec.get("storageClassName", ""), spec.get("volumeAttributesClassName") or "<unset>", _age(obj, now),
            spec.get("volumeMode", "Filesystem")]


def _default_cells(obj: Obj, now: dt.datetime) -> list[Any]:
    return [obj["metadata"]["name"], _age(obj, now)]


_S, _I = "string", "integer"
_WORKLOAD_WIDE = [("Containers", _S, 1), ("Images", _S, 1)]
_DEFAULT: list[Column] = [("Name", _S, 0), ("Age", _S, 0)]
PRINTERS: dict[str, tuple[list[Column], Callable[[Obj, dt.datetime], list[Any]]]] = {
    "Pod": ([("Name", _S, 0), ("Ready", _S, 0), ("Status", _S, 0), ("Restarts", _S, 0), ("Age", _S, 0),
             ("IP", _S, 1), ("Node", _S, 1), ("Nominated Node", _S, 1), ("Readiness Gates", _S, 1)], _pod_cells),
    "Deployment": ([("Name", _S, 0), ("Ready", _S, 0), ("Up-to-date", _I, 0), ("Available", _I, 0), ("Age", _S, 0),
                    *_WORKLOAD_WIDE, ("Selector", _S, 1)], _deployment_cells),
    "StatefulSet": ([("Name", _S, 0), ("Ready", _S, 0), ("Age", _S, 0), *_WORKLOAD_WIDE], _statefulset_cells),
    "DaemonSet": ([("Name", _S, 0), ("Desired", _I, 0), ("Current", _I, 0), ("Ready", _I, 0), ("Up-to-date", _I, 0),
                   ("Available", _I, 0), ("Node Selector", _S, 0), ("Age", _S, 0), *_WORKLOAD_WIDE,
                   ("Selector", _S, 1)], _daemonset_cells),
    "CronJob": ([("Name", _S, 0), ("Schedule", _S, 0), ("Timezone", _S, 0), ("Suspend", "boolean", 0),
                 ("Active", _I, 0), ("Last Schedule", _S, 0), ("Age", _S, 0), *_WORKLOAD_WIDE, ("Selector", _S, 1)],
                _cronjob_cells),
    "Job": ([("Name", _S, 0), ("Status", _S, 0), ("Completions", _S, 0), ("Duration", _S, 0), ("Age", _S, 0),
             *_WORKLOAD_WIDE, ("Selector", _S, 1)], _job_cells),
    "Node": ([("Name", _S, 0), ("Status", _S, 0), ("Roles", _S, 0), ("Age", _S, 0), ("Version", _S, 0),
              ("Internal-IP", _S, 1), ("External-IP", _S, 1), ("OS-Image", _S, 1), ("Kernel-Version", _S, 1),
              ("Container-Runtime", _S, 1)], _node_cells),
    "Namespace": ([("Name", _S, 0), ("Status", _S, 0), ("Age", _S, 0)], _namespace_cells),
    "Event": ([("Last Seen", _S, 0), ("Type", _S, 0), ("Reason", _S, 0), ("Object", _S, 0), ("Message", _S, 0)],
              _event_cells),
    "PersistentVolumeClaim": ([("Name", _S, 0), ("Status", _S, 0), ("Volume", _S, 0), ("Capacity", _S, 0),
                               ("Access Modes", _S, 0), ("StorageClass", _S, 0), ("VolumeAttributesClass", _S, 0),
                               ("Age", _S, 0), ("VolumeMode", _S, 1)], _pvc_cells),
}
_DESCRIPTIONS = {
    "Name": "Name must be unique within a namespace. Is required when creating resources, although some resources "
            "may allow a client to request the generation of an appropriate name automatically.",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was created.",
}
