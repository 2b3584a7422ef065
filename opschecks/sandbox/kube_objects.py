"""Realistic Kubernetes object JSON (shaped as a real API server returns it) for the sandbox and tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any


def ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.md5("/".join(parts).encode()).hexdigest()))


def _suffix(*parts: str, length: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.sha1("/".join(parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def running_state(started: dt.datetime) -> dict[str, Any]:
    return {"running": {"startedAt": ts(started)}}


def waiting_state(reason: str, message: str = "") -> dict[str, Any]:
    return {"waiting": {"reason": reason, "message": message}}


def terminated_state(reason: str, exit_code: int, started: dt.datetime, finished: dt.datetime) -> dict[str, Any]:
    return {"terminated": {"reason": reason, "exitCode": exit_code, "startedAt": ts(started),
                           "finishedAt": ts(finished), "containerID": f"containerd://{_uid(reason, ts(finished))}"}}


def container_status(name: str, image: str, *, ready: bool = True, restarts: int = 0,
                     state: dict[str, Any] | None = None, last_state: dict[str, Any] | None = None,
                     started: dt.datetime) -> dict[str, Any]:
    state = state or running_state(started)
    return {
        "name": name,
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
        "containerID": f"containerd://{hashlib.sha256((name + image).encode()).hexdigest()}",
        "ready": ready,
        "started": "running" in state,
        "restartCount": restarts,
        "state": state,
        "lastState": last_state or {},
    }


def pod(name: str, namespace: str, *, now: dt.datetime, age: dt.timedelta = dt.timedelta(days=3),
        containers: list[tuple[str, str]] | None = None, phase: str = "Running",
        statuses: list[dict[str, Any]] | None = None, init_statuses: list[dict[str, Any]] | None = None,
        owner: tuple[str, str] | None = None, labels: dict[str, str] | None = None,
        reason: str | None = None, message: str | None = None,
        deletion: dt.datetime | None = None, node: str = "ip-10-0-1-23.ec2.internal") -> dict[str, Any]:
    """A pod; by default Running with every container ready. ``owner`` is (kind, name)."""
    created = now - age
    containers = containers or [(name.rsplit("-", 2)[0], "quay.io/ebi-ait/ingest-core:2.14.0")]
    if statuses is None:
        statuses = [container_status(c, image, started=created + dt.timedelta(seconds=20)) for c, image in containers]
    all_ready = phase == "Running" and all(s["ready"] for s in statuses)
    conditions = [
        {"type": "Initialized", "status": "True", "lastTransitionTime": ts(created)},
        {"type": "Ready", "status": str(all_ready), "lastTransitionTime": ts(created + dt.timedelta(seconds=30))},
        {"type": "ContainersReady", "status": str(all_ready), "lastTransitionTime": ts(created + dt.timedelta(seconds=30))},
        {"type": "PodScheduled", "status": "True" if node else "False", "lastTransitionTime": ts(created)},
    ]
    metadata: dict[str, Any] = {
        "name": name, "namespace": namespace, "uid": _uid(namespace, name),
        "resourceVersion": "48213", "creationTimestamp": ts(created),
        "labels": labels or {"app": name.rsplit("-", 2)[0]},
    }
    if owner:
        metadata["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                        "uid": _uid(namespace, owner[1]), "controller": True,
                                        "blockOwnerDeletion": True}]
    if deletion:
        metadata["deletionTimestamp"] = ts(deletion)
        metadata["deletionGracePeriodSeconds"] = 30
    status: dict[str, Any] = {"phase": phase, "conditions": conditions, "qosClass": "Burstable",
                              "containerStatuses": statuses}
    if node:
        status.update(hostIP="10.0.1.23", podIP="10.0.1.87", startTime=ts(created))
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    spec: dict[str, Any] = {"containers": [{"name": c, "image": image, "resources": {}} for c, image in containers],
                            "restartPolicy": "Always", "serviceAccountName": "default"}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def deployment(name: str, namespace: str, *, now: dt.datetime, replicas: int = 1,
               available: int | None = None, image: str = "quay.io/ebi-ait/ingest-core:2.14.0") -> dict[str, Any]:
    available = replicas if available is None else available
    status: dict[str, Any] = {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas,
                              "readyReplicas": available, "availableReplicas": available,
                              "conditions": [{"type": "Available", "status": str(available >= replicas),
                                              "reason": "MinimumReplicasAvailable",
                                              "lastUpdateTime": ts(now), "lastTransitionTime": ts(now)}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "uid": _uid(namespace, "deploy", name),
                         "generation": 3, "creationTimestamp": ts(now - dt.timedelta(days=120)),
                         "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}}},
            "status": status}


def statefulset(name: str, namespace: str, *, now: dt.datetime, replicas: int = 1, ready: int | None = None,
                image: str = "mongo:4.2.24") -> dict[str, Any]:
    ready = replicas if ready is None else ready
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": namespace, "uid": _uid(namespace, "sts", name),
                         "generation": 2, "creationTimestamp": ts(now - dt.timedelta(days=300)),
                         "labels": {"app": name}},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}}},
            "status": {"observedGeneration": 2, "replicas": replicas, "readyReplicas": ready,
                       "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": ready}}


def cronjob(name: str, namespace: str, *, schedule: str, now: dt.datetime, last_schedule: dt.datetime | None,
            last_success: dt.datetime | None, suspend: bool = False) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if last_schedule:
        status["lastScheduleTime"] = ts(last_schedule)
    if last_success:
        status["lastSuccessfulTime"] = ts(last_success)
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": namespace, "uid": _uid(namespace, "cronjob", name),
                         "creationTimestamp": ts(now - dt.timedelta(days=400)), "labels": {"app": name}},
            "spec": {"schedule": schedule, "suspend": suspend, "concurrencyPolicy": "Forbid",
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"spec": {"backoffLimit": 2, "template": {"spec": {
                         "restartPolicy": "Never",
                         "containers": [{"name": name, "image": "quay.io/ebi-ait/ingest-backup:1.3.0"}]}}}}},
            "status": status}


def job(cronjob_name: str, namespace: str, *, scheduled: dt.datetime, succeeded: bool,
        duration: dt.timedelta = dt.timedelta(minutes=7)) -> dict[str, Any]:
    """A Job the CronJob controller created (named <cronjob>-<unix minutes>), finished."""
    name = f"{cronjob_name}-{int(scheduled.timestamp() // 60)}"
    finished = scheduled + duration
    if succeeded:
        status = {"startTime": ts(scheduled), "completionTime": ts(finished), "succeeded": 1,
                  "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": ts(finished),
                                  "lastTransitionTime": ts(finished)}]}
    else:
        status = {"startTime": ts(scheduled), "failed": 3,
                  "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                  "message": "Job has reached the specified backoff limit",
                                  "lastProbeTime": ts(finished), "lastTransitionTime": ts(finished)}]}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "uid": _uid(namespace, "job", name),
                         "creationTimestamp": ts(scheduled), "labels": {"job-name": name},
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": cronjob_name,
                                              "uid": _uid(namespace, "cronjob", cronjob_name),
                                              "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"backoffLimit": 2, "completions": 1, "parallelism": 1,
                     "template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": cronjob_name,
                                                           "image": "quay.io/ebi-ait/ingest-backup:1.3.0"}]}}},
            "status": status}


def namespace(name: str, *, now: dt.datetime) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "uid": _uid("ns", name), "creationTimestamp": ts(now - dt.timedelta(days=500)),
                         "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def replica_pod_name(workload: str, index: int) -> str:
    """Name a Deployment's pod as the ReplicaSet controller does: <deploy>-<rs hash>-<5 chars>."""
    return f"{workload}-{_suffix(workload, length=9)[:9]}-{_suffix(workload, str(index))}"
