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
    return {"waiting": {"reason": reason, "message": message} if message else {"reason": reason}}


def terminated_state(reason: str, exit_code: int, started: dt.datetime, finished: dt.datetime) -> dict[str, Any]:
    return {"terminated": {"reason": reason, "exitCode": exit_code, "startedAt": ts(started),
                           "finishedAt": ts(finished), "containerID": f"containerd://{_uid(reason, ts(finished))}"}}


def container_status(name: str, image: str, *, ready: bool = True, restarts: int = 0,
                     state: dict[str, Any] | None = None, last_state: dict[str, Any] | None = None,
                     started: dt.datetime) -> dict[str, Any]:
    state = state or running_state(started)
    status = {
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
    if "waiting" in state and not last_state:
        # A container that never ran (image not pulled, config missing) has no container ID or image digest yet.
        del status["containerID"]
        status["imageID"] = ""
    return status


def pod(name: str, namespace: str, *, now: dt.datetime, age: dt.timedelta = dt.timedelta(days=3),
        containers: list[tuple[str, str]] | None = None, phase: str = "Running",
        statuses: list[dict[str, Any]] | None = None, init_statuses: list[dict[str, Any]] | None = None,
        owner: tuple[str, str] | None = None, labels: dict[str, str] | None = None,
        reason: str | None = None, message: str | None = None,
        deletion: dt.datetime | None = None, node: str = "ip-10-0-1-23.ec2.internal",
        conditions: list[dict[str, Any]] | None = None, claims: list[str] | None = None) -> dict[str, Any]:
    """A pod; by default Running with every container ready. ``owner`` is (kind, name); ``claims`` are the
    PersistentVolumeClaims it mounts.

    ``conditions`` default to what the kubelet reports for the given statuses; a pod
    with no ``node`` was never scheduled and has no container statuses.
    """
    created = now - age
    containers = containers or [(name.rsplit("-", 2)[0], "quay.io/ebi-ait/ingest-core:2.14.0")]
    if statuses is None:
        statuses = [container_status(c, image, started=created + dt.timedelta(seconds=20))
                    for c, image in containers] if node else []
    if conditions is None:
        conditions = _conditions(created, statuses, init_statuses, phase) if node else [_unschedulable(created)]
    metadata: dict[str, Any] = {
        "name": name, "namespace": namespace, "uid": _uid(namespace, name),
        "resourceVersion": "48213", "creationTimestamp": ts(created),
        "labels": labels or {"app": name.rsplit("-", 2)[0]},
    }
    if owner:
        # The owner's uid as its own helper below makes it, so a pod can be matched to its controller by uid.
        api_version, kind_part = {"Job": ("batch/v1", "job"), "StatefulSet": ("apps/v1", "sts"),
                                  "DaemonSet": ("apps/v1", "ds")}.get(owner[0], ("apps/v1", None))
        uid = _uid(namespace, kind_part, owner[1]) if kind_part else _uid(namespace, owner[1])
        metadata["ownerReferences"] = [{"apiVersion": api_version, "kind": owner[0], "name": owner[1],
                                        "uid": uid, "controller": True, "blockOwnerDeletion": True}]
    if deletion:
        metadata["deletionTimestamp"] = ts(deletion)
        metadata["deletionGracePeriodSeconds"] = 30
    status: dict[str, Any] = {"phase": phase, "conditions": conditions, "qosClass": "Burstable"}
    if statuses:
        status["containerStatuses"] = statuses
    if node:
        host_ip = _node_ip(node)
        pod_ip = f"{host_ip.rsplit('.', 1)[0]}.{int(_uid(namespace, name)[:4], 16) % 200 + 30}"
        status.update(hostIP=host_ip, podIP=pod_ip, startTime=ts(created))
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    spec: dict[str, Any] = {"containers": [{"name": c, "image": image, "resources": {}} for c, image in containers],
                            "restartPolicy": "Always", "serviceAccountName": "default"}
    if init_statuses:
        spec["initContainers"] = [{"name": i["name"], "image": i["image"], "resources": {}} for i in init_statuses]
    if claims:
        spec["volumes"] = [{"name": f"data-{i}", "persistentVolumeClaim": {"claimName": c}}
                           for i, c in enumerate(claims)]
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def _conditions(created: dt.datetime, statuses: list[dict[str, Any]], init_statuses: list[dict[str, Any]] | None,
                phase: str) -> list[dict[str, Any]]:
    """The conditions the kubelet sets for a scheduled pod with these container statuses."""
    def condition(kind: str, ok: bool, reason: str, unready: list[str], at: dt.datetime) -> dict[str, Any]:
        cond = {"type": kind, "status": str(ok), "lastProbeTime": None, "lastTransitionTime": ts(at)}
        if not ok:
            cond.update(reason=reason, message=f"containers with {'incomplete' if kind == 'Initialized' else 'unready'} "
                                               f"status: [{' '.join(unready)}]")
        return cond

    started = created + dt.timedelta(seconds=30)
    if phase == "Succeeded":
        # Finished pods keep Initialized, and report not ready with reason PodCompleted.
        done = {"lastProbeTime": None, "lastTransitionTime": ts(started), "reason": "PodCompleted"}
        return [{"type": "Initialized", "status": "True", **done}, {"type": "Ready", "status": "False", **done},
                {"type": "ContainersReady", "status": "False", **done},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": ts(created)}]
    init_incomplete = [s["name"] for s in init_statuses or [] if not s["ready"]]
    unready = [s["name"] for s in statuses if not s["ready"]] or init_incomplete
    return [
        condition("Initialized", not init_incomplete, "ContainersNotInitialized", init_incomplete, created),
        # A pod that never became ready has been not ready since it was created.
        condition("Ready", not unready, "ContainersNotReady", unready, started if not unready else created),
        condition("ContainersReady", not unready, "ContainersNotReady", unready, started if not unready else created),
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": ts(created)},
    ]


def _unschedulable(created: dt.datetime, message: str = "0/3 nodes are available: 3 Insufficient cpu. preemption: "
                   "0/3 nodes are available: 3 No preemption victims found for incoming pod.") -> dict[str, Any]:
    return {"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": ts(created),
            "reason": "Unschedulable", "message": message}


# --- pods in the states the pod check flags, shaped as the kubelet and scheduler report them -------------

_IMAGE = "quay.io/ebi-ait/ingest-core:2.14.0"


def _container(pod_name: str) -> str:
    return pod_name.rsplit("-", 2)[0]


def crash_looping_pod(name: str, namespace: str, *, now: dt.datetime, restarts: int = 14,
                      last_finished: dt.timedelta = dt.timedelta(minutes=2), exit_code: int = 1,
                      **kw: Any) -> dict[str, Any]:
    """Running, its container waiting in CrashLoopBackOff after its last run exited with an error."""
    c = _container(name)
    finished = now - last_finished
    status = container_status(
        c, _IMAGE, ready=False, restarts=restarts, started=finished,
        state=waiting_state("CrashLoopBackOff", f"back-off 5m0s restarting failed container={c} "
                                                f"pod={name}_{namespace}({_uid(namespace, name)})"),
        last_state=terminated_state("Error", exit_code, finished - dt.timedelta(seconds=9), finished))
    return pod(name, namespace, now=now, containers=[(c, _IMAGE)], statuses=[status], **kw)


def image_pull_pod(name: str, namespace: str, *, now: dt.datetime, image: str = "quay.io/ebi-ait/ingest-core:2.99.0",
                   backing_off: bool = True, **kw: Any) -> dict[str, Any]:
    """Pending: the image cannot be pulled (ErrImagePull, then ImagePullBackOff between attempts)."""
    c = _container(name)
    if backing_off:
        state = waiting_state("ImagePullBackOff", f'Back-off pulling image "{image}"')
    else:
        state = waiting_state("ErrImagePull", f'rpc error: code = NotFound desc = failed to pull and unpack image '
                                              f'"{image}": failed to resolve reference "{image}": {image}: not found')
    status = container_status(c, image, ready=False, state=state, started=now)
    return pod(name, namespace, now=now, phase="Pending", containers=[(c, image)], statuses=[status], **kw)


def config_error_pod(name: str, namespace: str, *, now: dt.datetime, secret: str = "ingest-core-secrets",
                     **kw: Any) -> dict[str, Any]:
    """Pending: the container cannot be created because a Secret it references is missing."""
    c = _container(name)
    status = container_status(c, _IMAGE, ready=False, started=now,
                              state=waiting_state("CreateContainerConfigError", f'secret "{secret}" not found'))
    return pod(name, namespace, now=now, phase="Pending", containers=[(c, _IMAGE)], statuses=[status], **kw)


def unready_pod(name: str, namespace: str, *, now: dt.datetime, sidecar: bool = True, **kw: Any) -> dict[str, Any]:
    """Running, but the main container fails its readiness probe (a ready sidecar beside it)."""
    c = _container(name)
    age = kw.pop("age", dt.timedelta(days=1))
    started = now - age + dt.timedelta(seconds=20)
    containers = [(c, _IMAGE)] + ([("envoy", "envoyproxy/envoy:v1.29.1")] if sidecar else [])
    statuses = [container_status(c, _IMAGE, ready=False, started=started)]
    if sidecar:
        statuses.append(container_status("envoy", "envoyproxy/envoy:v1.29.1", started=started))
    return pod(name, namespace, now=now, age=age, containers=containers, statuses=statuses, **kw)


def restarting_pod(name: str, namespace: str, *, now: dt.datetime, restarts: int,
                   last_finished: dt.timedelta, **kw: Any) -> dict[str, Any]:
    """Running and ready again, after ``restarts`` restarts, the last one an OOM kill ``last_finished`` ago."""
    c = _container(name)
    finished = now - last_finished
    status = container_status(c, _IMAGE, restarts=restarts, started=finished + dt.timedelta(seconds=1),
                              last_state=terminated_state("OOMKilled", 137, finished - dt.timedelta(hours=2), finished))
    return pod(name, namespace, now=now, containers=[(c, _IMAGE)], statuses=[status], **kw)


def unschedulable_pod(name: str, namespace: str, *, now: dt.datetime, age: dt.timedelta, **kw: Any) -> dict[str, Any]:
    """Pending: the scheduler finds no node with room for it."""
    return pod(name, namespace, now=now, age=age, phase="Pending", node="", **kw)


def evicted_pod(name: str, namespace: str, *, now: dt.datetime, **kw: Any) -> dict[str, Any]:
    """Failed with reason Evicted: the kubelet evicted it under memory pressure."""
    c = _container(name)
    age = kw.pop("age", dt.timedelta(days=2))
    evicted = now - dt.timedelta(hours=5)
    status = container_status(c, _IMAGE, ready=False, started=now - age,
                              state=terminated_state("ContainerStatusUnknown", 137, now - age, evicted))
    status["state"]["terminated"]["message"] = "The container could not be located when the pod was terminated"
    conditions = [{"type": "DisruptionTarget", "status": "True", "lastProbeTime": None, "lastTransitionTime": ts(evicted),
                   "reason": "TerminationByKubelet", "message": "The node was low on resource: memory."},
                  *_conditions(now - age, [status], None, "Failed")]
    return pod(name, namespace, now=now, age=age, phase="Failed", containers=[(c, _IMAGE)], statuses=[status],
               conditions=conditions, reason="Evicted",
               message=f"The node was low on resource: memory. Threshold quantity: 100Mi, available: 91340Ki. "
                       f"Container {c} was using 1843212Ki, request is 512Mi, has larger consumption of memory. ",
               **kw)


def node_lost_pod(name: str, namespace: str, *, now: dt.datetime, **kw: Any) -> dict[str, Any]:
    """Unknown: the node running it stopped reporting."""
    node = kw.pop("node", "ip-10-0-3-14.ec2.internal")
    return pod(name, namespace, now=now, phase="Unknown", node=node, reason="NodeLost",
               message=f"Node {node} which was running pod {name} is unresponsive", **kw)


def terminating_pod(name: str, namespace: str, *, now: dt.datetime, deleted: dt.timedelta, **kw: Any) -> dict[str, Any]:
    """Being deleted since ``deleted`` ago (deletionTimestamp set) but still there, e.g. held by a finalizer."""
    obj = pod(name, namespace, now=now, deletion=now - deleted, **kw)
    obj["metadata"]["finalizers"] = ["example.com/drain-connections"]
    return obj


def init_failing_pod(name: str, namespace: str, *, now: dt.datetime, init: str = "wait-for-mongo",
                     restarts: int = 6, **kw: Any) -> dict[str, Any]:
    """Pending: its init container keeps failing (Init:CrashLoopBackOff); the app container never starts."""
    c = _container(name)
    finished = now - dt.timedelta(minutes=1)
    init_status = container_status(
        init, "busybox:1.36", ready=False, restarts=restarts, started=finished,
        state=waiting_state("CrashLoopBackOff", f"back-off 2m40s restarting failed container={init} "
                                                f"pod={name}_{namespace}({_uid(namespace, name)})"),
        last_state=terminated_state("Error", 1, finished - dt.timedelta(seconds=30), finished))
    app = container_status(c, _IMAGE, ready=False, started=now, state=waiting_state("PodInitializing"))
    return pod(name, namespace, now=now, phase="Pending", containers=[(c, _IMAGE)], statuses=[app],
               init_statuses=[init_status], **kw)


def readiness_gated_pod(name: str, namespace: str, *, now: dt.datetime, since: dt.timedelta = dt.timedelta(minutes=20),
                        gate: str = "target-health.elbv2.k8s.aws/k8s-ingest-ingestco-5e2f3a9b1c", **kw: Any) -> dict[str, Any]:
    """Running, every container ready, but a readiness gate (the AWS load balancer controller's target health)
    not passed: the kubelet reports ContainersReady True and Ready False (ReadinessGatesNotReady)."""
    obj = pod(name, namespace, now=now, **kw)
    obj["spec"]["readinessGates"] = [{"conditionType": gate}]
    for cond in obj["status"]["conditions"]:
        if cond["type"] == "Ready":
            cond.update(status="False", reason="ReadinessGatesNotReady", lastTransitionTime=ts(now - since),
                        message=f'corresponding condition of pod readiness gate "{gate}" does not exist.')
    return obj


def with_sidecar(obj: dict[str, Any], name: str = "istio-proxy", image: str = "docker.io/istio/proxyv2:1.22.1", *,
                 now: dt.datetime, ready: bool = True, restarts: int = 0,
                 last_finished: dt.timedelta | None = None) -> dict[str, Any]:
    """Add a native sidecar (an init container with restartPolicy Always, Kubernetes 1.28+) to a pod; its status
    is in initContainerStatuses, and the pod's Ready condition counts it as the kubelet does."""
    created = dt.datetime.strptime(obj["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc)
    last = None
    if last_finished is not None:
        last = terminated_state("Error", 1, now - last_finished - dt.timedelta(minutes=3), now - last_finished)
    started = now - last_finished if last_finished is not None else created + dt.timedelta(seconds=5)
    obj["spec"].setdefault("initContainers", []).insert(0, {"name": name, "image": image, "restartPolicy": "Always",
                                                            "resources": {}})
    obj["status"].setdefault("initContainerStatuses", []).insert(0, container_status(
        name, image, ready=ready, restarts=restarts, started=started, last_state=last))
    if not ready:
        for cond in obj["status"]["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond.update(status="False", reason="ContainersNotReady",
                            message=f"containers with unready status: [{name}]", lastTransitionTime=ts(started))
    return obj


def job_pod(job_obj: dict[str, Any], *, now: dt.datetime, attempt: int = 0, phase: str = "Succeeded",
            statuses: list[dict[str, Any]] | None = None, containers: list[tuple[str, str]] | None = None,
            age: dt.timedelta | None = None) -> dict[str, Any]:
    """A pod of ``job_obj`` as the Job controller makes it (owner Job, job-name labels, restartPolicy Never).
    By default the attempt completed; ``phase="Failed"`` with no statuses is an attempt that exited 2."""
    name = job_obj["metadata"]["name"]
    namespace = job_obj["metadata"]["namespace"]
    created = dt.datetime.strptime(job_obj["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc) + dt.timedelta(minutes=10 * attempt)
    spec_containers = job_obj["spec"]["template"]["spec"]["containers"]
    containers = containers or [(c["name"], c["image"]) for c in spec_containers]
    if statuses is None:
        reason, code = ("Completed", 0) if phase == "Succeeded" else ("Error", 2)
        statuses = [container_status(c, image, ready=False, started=created,
                                     state=terminated_state(reason, code, created + dt.timedelta(seconds=5),
                                                            created + dt.timedelta(minutes=7)))
                    for c, image in containers]
    obj = pod(f"{name}-{_suffix(name, str(attempt))}", namespace, now=now, age=age or now - created, phase=phase,
              containers=containers, statuses=statuses, owner=("Job", name),
              labels={"batch.kubernetes.io/job-name": name, "job-name": name,
                      "batch.kubernetes.io/controller-uid": job_obj["metadata"]["uid"],
                      "controller-uid": job_obj["metadata"]["uid"]})
    obj["spec"]["restartPolicy"] = "Never"
    return obj


def running_job(cronjob_name: str, namespace: str, *, scheduled: dt.datetime, failed: int = 0) -> dict[str, Any]:
    """A Job still running (no terminal condition), after ``failed`` failed attempts."""
    obj = job(cronjob_name, namespace, scheduled=scheduled, succeeded=True)
    obj["status"] = {"startTime": ts(scheduled), "active": 1, **({"failed": failed} if failed else {})}
    return obj


def deployment(name: str, namespace: str, *, now: dt.datetime, replicas: int = 1,
               available: int | None = None, image: str = "quay.io/ebi-ait/ingest-core:2.14.0",
               updated: int | None = None, max_unavailable: int | str = "25%",
               changed: dt.timedelta = dt.timedelta(hours=2), stalled: bool = False) -> dict[str, Any]:
    """A Deployment as the controller reports it. ``updated`` below ``replicas`` is a rolling update in progress
    (its last progress ``changed`` ago; ``stalled``: past its progressDeadlineSeconds); ``changed`` is also when
    the Available condition last flipped."""
    available = replicas if available is None else available
    updated = replicas if updated is None else updated
    rolling = updated < replicas
    allowed = replicas * int(max_unavailable[:-1]) // 100 if isinstance(max_unavailable, str) else max_unavailable
    ok = available >= replicas - allowed  # the controller's own rule for the Available condition
    at = ts(now - changed)
    rs = f"{name}-{_suffix(name, str(updated), length=10)}"
    if stalled:
        progressing = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                       "message": f'ReplicaSet "{rs}" has timed out progressing.'}
    elif rolling:
        progressing = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                       "message": f'ReplicaSet "{rs}" is progressing.'}
    else:
        progressing = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                       "message": f'ReplicaSet "{rs}" has successfully progressed.'}
    progressing.update(lastUpdateTime=at, lastTransitionTime=ts(now - dt.timedelta(days=30)) if not stalled else at)
    status: dict[str, Any] = {
        "observedGeneration": 3, "replicas": replicas + (1 if rolling else 0), "updatedReplicas": updated,
        "readyReplicas": available, "availableReplicas": available,
        "conditions": [{"type": "Available", "status": str(ok),
                        "reason": "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
                        "message": "Deployment has minimum availability." if ok
                        else "Deployment does not have minimum availability.",
                        "lastUpdateTime": at, "lastTransitionTime": at}, progressing]}
    if replicas - available > 0:
        status["unavailableReplicas"] = replicas - available
    if not available:
        del status["availableReplicas"], status["readyReplicas"]  # the controller omits zero counts
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "uid": _uid(namespace, "deploy", name),
                         "generation": 3, "creationTimestamp": ts(now - dt.timedelta(days=120)),
                         "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": "25%"}},
                     "progressDeadlineSeconds": 600,
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}}},
            "status": status}


def statefulset(name: str, namespace: str, *, now: dt.datetime, replicas: int = 1, ready: int | None = None,
                image: str = "mongo:4.2.24", updated: int | None = None,
                update_strategy: dict[str, Any] | None = None) -> dict[str, Any]:
    """``updated`` below ``replicas``: a rolling update to a new revision is under way."""
    ready = replicas if ready is None else ready
    updated = replicas if updated is None else updated
    revision = f"{name}-{_suffix(namespace, name, length=10)}"
    rolling = updated < replicas  # pods at the current revision are then the ones not yet updated
    status = {"observedGeneration": 2, "replicas": replicas, "readyReplicas": ready,
              "currentReplicas": replicas - updated if rolling else replicas, "updatedReplicas": updated,
              "availableReplicas": ready, "currentRevision": revision, "collisionCount": 0,
              "updateRevision": f"{name}-{_suffix(namespace, name, 'next', length=10)}" if rolling else revision}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": namespace, "uid": _uid(namespace, "sts", name),
                         "generation": 2, "creationTimestamp": ts(now - dt.timedelta(days=300)),
                         "labels": {"app": name}},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}},
                     "podManagementPolicy": "OrderedReady",
                     "updateStrategy": update_strategy or {"type": "RollingUpdate",
                                                           "rollingUpdate": {"partition": 0}}},
            "status": status}


def daemonset(name: str, namespace: str, *, now: dt.datetime, nodes: int = 2, available: int | None = None,
              image: str = "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v1.29.0",
              updated: int | None = None, update_strategy: dict[str, Any] | None = None) -> dict[str, Any]:
    """``updated`` below ``nodes``: a rolling update is under way."""
    available = nodes if available is None else available
    status: dict[str, Any] = {"observedGeneration": 1, "desiredNumberScheduled": nodes, "currentNumberScheduled": nodes,
                              "updatedNumberScheduled": nodes if updated is None else updated,
                              "numberMisscheduled": 0, "numberReady": available}
    # The controller omits numberAvailable/numberUnavailable when they are zero.
    if available:
        status["numberAvailable"] = available
    if nodes - available:
        status["numberUnavailable"] = nodes - available
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace, "uid": _uid(namespace, "ds", name),
                         "generation": 1, "creationTimestamp": ts(now - dt.timedelta(days=200)),
                         "labels": {"k8s-app": name}},
            "spec": {"selector": {"matchLabels": {"k8s-app": name}},
                     "template": {"metadata": {"labels": {"k8s-app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}},
                     "updateStrategy": update_strategy or {"type": "RollingUpdate",
                                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
            "status": status}


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
        duration: dt.timedelta = dt.timedelta(minutes=7), failed_attempts: int = 0) -> dict[str, Any]:
    """A Job the CronJob controller created (named <cronjob>-<unix minutes>), finished (a succeeded one
    possibly after ``failed_attempts`` failed pods, within its backoffLimit)."""
    name = f"{cronjob_name}-{int(scheduled.timestamp() // 60)}"
    finished = scheduled + duration
    if succeeded:
        status = {"startTime": ts(scheduled), "completionTime": ts(finished), "succeeded": 1,
                  **({"failed": failed_attempts} if failed_attempts else {}),
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


def node(name: str, *, now: dt.datetime, age: dt.timedelta = dt.timedelta(days=40), kubelet: str = "v1.29.3-eks-ae9a62a",
         instance_type: str = "m5.xlarge", zone: str = "us-east-1a", cluster: str = "ingest-eks",
         conditions: dict[str, str] | None = None, cordoned_for: dt.timedelta | None = None,
         taint_only: bool = False, heartbeat_age: dt.timedelta = dt.timedelta(seconds=30)) -> dict[str, Any]:
    """An EKS worker node as ``kubectl get node -o json`` shows it; ``conditions`` overrides type -> status;
    ``taint_only`` cordons by the unschedulable taint without ``spec.unschedulable``."""
    created = now - age
    healthy = {"MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False", "Ready": "True"}
    reasons = {"MemoryPressure": ("KubeletHasSufficientMemory", "KubeletHasInsufficientMemory"),
               "DiskPressure": ("KubeletHasNoDiskPressure", "KubeletHasDiskPressure"),
               "PIDPressure": ("KubeletHasSufficientPID", "KubeletHasInsufficientPID"),
               "Ready": ("KubeletNotReady", "KubeletReady"),
               "NetworkUnavailable": ("RouteCreated", "NoRouteCreated")}
    statuses = {**healthy, **(conditions or {})}
    changed = now - dt.timedelta(minutes=25)
    spec: dict[str, Any] = {"providerID": f"aws:///{zone}/i-{_uid(name)[:17].replace('-', '')}"}
    if cordoned_for is not None:
        if not taint_only:
            spec["unschedulable"] = True
        spec["taints"] = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                           "timeAdded": ts(now - cordoned_for)}]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": _uid("node", name), "creationTimestamp": ts(created),
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "node.kubernetes.io/instance-type": instance_type,
                                "topology.kubernetes.io/zone": zone, "eks.amazonaws.com/nodegroup": f"{cluster}-ng",
                                "alpha.eksctl.io/cluster-name": cluster}},
        "spec": spec,
        "status": {
            "conditions": [{"type": t, "status": st, "reason": reasons[t][st == "True"],
                            "lastHeartbeatTime": ts(now - heartbeat_age),
                            "lastTransitionTime": ts(changed if st != healthy.get(t, "False") else created)}
                           for t, st in statuses.items()],
            "nodeInfo": {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet, "osImage": "Amazon Linux 2",
                         "containerRuntimeVersion": "containerd://1.7.11", "architecture": "amd64",
                         "operatingSystem": "linux", "kernelVersion": "5.10.210-201.852.amzn2.x86_64",
                         "machineID": _uid("machine", name).replace("-", ""), "systemUUID": _uid("sys", name),
                         "bootID": _uid("boot", name)},
            "addresses": [{"type": "InternalIP", "address": _node_ip(name)}, {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "4", "memory": "15918668Ki", "pods": "58"},
            "allocatable": {"cpu": "3920m", "memory": "14904908Ki", "pods": "58"},
        },
    }


def pvc(name: str, namespace: str, *, now: dt.datetime, size: str = "100Gi", phase: str = "Bound",
        age: dt.timedelta = dt.timedelta(days=200)) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace, "uid": _uid("pvc", namespace, name),
                     "creationTimestamp": ts(now - age)},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}},
                 "storageClassName": "gp2", "volumeMode": "Filesystem", "volumeName": f"pvc-{_uid('pv', name)}"},
        "status": {"phase": phase, "accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}},
    }


def stats_summary(node_name: str, *, now: dt.datetime,
                  volumes: list[tuple[str, str, str, int, int]]) -> dict[str, Any]:
    """The kubelet's ``/stats/summary`` (trimmed to what matters): ``volumes`` are
    (pod, namespace, pvc, usedBytes, capacityBytes), each mounted by that pod on this node."""
    pods: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for pod_name, namespace, claim, used, capacity in volumes:
        pods.setdefault((pod_name, namespace), []).append({
            "time": ts(now), "availableBytes": capacity - used, "capacityBytes": capacity, "usedBytes": used,
            "inodesFree": 6_000_000, "inodes": 6_553_600, "inodesUsed": 553_600, "name": "data",
            "pvcRef": {"name": claim, "namespace": namespace}})
    return {
        "node": {"nodeName": node_name, "startTime": ts(now - dt.timedelta(days=40)),
                 "cpu": {"time": ts(now), "usageNanoCores": 412_000_000},
                 "memory": {"time": ts(now), "workingSetBytes": 5_368_709_120},
                 "fs": {"time": ts(now), "availableBytes": 60_000_000_000, "capacityBytes": 85_886_742_528,
                        "usedBytes": 25_886_742_528}},
        "pods": [{"podRef": {"name": p, "namespace": ns, "uid": _uid("pod", ns, p)}, "startTime": ts(now),
                  "containers": [], "volume": vols} for (p, ns), vols in pods.items()],
    }


def event(obj: dict[str, Any], reason: str, message: str, *, at: dt.datetime, kind: str = "Normal",
          component: str = "kubelet", count: int = 1, first: dt.datetime | None = None) -> dict[str, Any]:
    """A core/v1 Event about ``obj`` (what ``kubectl describe`` lists under Events): seen ``count`` times,
    first at ``first`` (default ``at``), last at ``at``."""
    meta = obj["metadata"]
    name = f"{meta['name']}.{int(at.timestamp() * 1e6):x}"[:63]
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": meta.get("namespace", "default"), "uid": _uid("event", name),
                         "creationTimestamp": ts(at)},
            "involvedObject": {"kind": obj["kind"], "namespace": meta.get("namespace"), "name": meta["name"],
                               "uid": meta["uid"], "apiVersion": obj["apiVersion"]},
            "reason": reason, "message": message, "source": {"component": component},
            "firstTimestamp": ts(first or at), "lastTimestamp": ts(at), "count": count, "type": kind,
            "eventTime": None, "reportingComponent": component, "reportingInstance": ""}


def lease(node_name: str, *, now: dt.datetime) -> dict[str, Any]:
    """The node's heartbeat Lease in kube-node-lease (what ``kubectl describe node`` shows under Lease)."""
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node_name, "namespace": "kube-node-lease", "uid": _uid("lease", node_name),
                         "resourceVersion": "48213", "creationTimestamp": ts(now - dt.timedelta(days=40)),
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name,
                                              "uid": _uid("node", node_name)}]},
            "spec": {"holderIdentity": node_name, "leaseDurationSeconds": 40,
                     "renewTime": (now - dt.timedelta(seconds=7)).astimezone(dt.timezone.utc)
                     .strftime("%Y-%m-%dT%H:%M:%S.000000Z")}}


def _node_ip(node_name: str) -> str:
    """The private IP an EC2 node's name spells (ip-10-0-1-23.ec2.internal -> 10.0.1.23)."""
    octets = node_name.split(".")[0].removeprefix("ip-").split("-")
    return ".".join(octets) if len(octets) == 4 and all(o.isdigit() for o in octets) else "10.0.1.23"
