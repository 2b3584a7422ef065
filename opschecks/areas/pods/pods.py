"""How a pod, Deployment, StatefulSet or DaemonSet is judged healthy.

A pod is healthy when it is Running with every container ready and its ``Ready``
condition True (readiness gates count), or Succeeded (a finished Job's pod).
Phase alone is not enough: a pod in CrashLoopBackOff is usually Running with its
container waiting. Native sidecars (init containers with ``restartPolicy: Always``,
Kubernetes 1.28+) are judged like containers. A pod owned by a Job is judged by
its Job: a failed attempt of a Job that then succeeded, or that is still within
its ``backoffLimit``, is not a problem. The normal churn of a live cluster has
grace windows (settings): a pod not ready for less than ``ready_grace_seconds``,
a Job pod with some containers done and others running for less than
``partial_completion_grace_minutes``, a Deployment, StatefulSet or DaemonSet
rolling out within its ``maxUnavailable`` that progressed within
``rollout_grace_minutes`` (a Deployment by its Progressing condition, the others,
which have none, by the newest pod they created). Every rule has a stable code:

- POD001 a container is waiting for a reason other than starting up (CrashLoopBackOff, ImagePullBackOff,
  ErrImagePull, CreateContainerConfigError, ...)
- POD002 a Running pod has containers that are not ready (ready/total)
- POD003 a container restarted more than ``restart_limit`` times and last restarted within the window
- POD004 Pending longer than ``pending_grace_minutes`` (with no more specific cause above)
- POD005 phase Failed (Evicted, Error, ...) or Unknown (node lost)
- POD006 stuck terminating: deletionTimestamp older than ``terminating_grace_minutes``
- POD007 an init container is failing (crash-looping, image not pulled, exited non-zero)
- WKL001 a Deployment or StatefulSet has fewer replicas available than desired, or a DaemonSet has
  fewer pods available than the nodes it should run on (a node without kube-proxy or aws-node is broken)
- WKL002 a Deployment or StatefulSet is scaled to zero (nothing runs it and no pod shows it)

Waivers (config) silence known noise until their expiry date; once expired they stop
waiving and the finding says which waiver expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from collections.abc import Sequence
from typing import Any, NamedTuple

from kubernetes import client as k8s

from opschecks import kube
from opschecks.findings import Finding
from opschecks.timefmt import age
from opschecks.waivers import Waiver
from opschecks.areas.pods.settings import PodSettings

# Waiting reasons of a container that is merely starting; every other waiting reason is a problem.
STARTING = frozenset({"ContainerCreating", "PodInitializing"})


@dataclass(frozen=True)
class Problem:
    code: str
    kind: str  # "pod", "deployment", "statefulset", "daemonset"
    namespace: str
    name: str
    reason: str  # short, as kubectl shows it (CrashLoopBackOff, NotReady, Evicted); what waivers match
    message: str  # what was expected and what was found


class PodRow(NamedTuple):
    pod: str
    phase: str
    ready: str
    restarts: int
    reason: str
    age: str


POD_COLUMNS = PodRow._fields


class WorkloadRow(NamedTuple):
    kind: str
    name: str
    desired: int
    available: int


WORKLOAD_COLUMNS = WorkloadRow._fields


@dataclass
class NamespaceHealth:
    namespace: str
    pods: list[PodRow]
    workloads: list[WorkloadRow]
    problems: list[Problem]  # still failing, after waivers
    waived: list[tuple[Problem, Waiver]]


def assess(api: k8s.ApiClient, namespaces: list[str], settings: PodSettings,
           now: dt.datetime) -> list[NamespaceHealth]:
    """List every pod, Deployment, StatefulSet and DaemonSet of each namespace and judge them as of ``now``."""
    core, apps, batch = k8s.CoreV1Api(api), k8s.AppsV1Api(api), k8s.BatchV1Api(api)
    return [_namespace(core, apps, batch, ns, settings, now) for ns in namespaces]


def _namespace(core: k8s.CoreV1Api, apps: k8s.AppsV1Api, batch: k8s.BatchV1Api, namespace: str,
               settings: PodSettings, now: dt.datetime) -> NamespaceHealth:
    page = settings.page_size
    pods = list(kube.list_paginated(core.list_namespaced_pod, page, namespace=namespace))
    workloads = [*kube.list_paginated(apps.list_namespaced_deployment, page, namespace=namespace),
                 *kube.list_paginated(apps.list_namespaced_stateful_set, page, namespace=namespace),
                 *kube.list_paginated(apps.list_namespaced_daemon_set, page, namespace=namespace)]
    jobs = {j.metadata.uid: j for j in kube.list_paginated(batch.list_namespaced_job, page, namespace=namespace)}
    owning = {p.metadata.name: owner_job(p, jobs) for p in pods}
    later = superseding_jobs(list(jobs.values()))
    superseded = {name: later.get(job.metadata.uid) if job else None for name, job in owning.items()}
    per_pod = {p.metadata.name: pod_problems(p, settings, now, owning[p.metadata.name], superseded[p.metadata.name])
               for p in pods}
    problems = [pr for found in per_pod.values() for pr in found]
    owned: dict[str, list[k8s.V1Pod]] = {}
    for p in pods:
        for ref in p.metadata.owner_references or []:
            owned.setdefault(ref.uid, []).append(p)
    problems += [pr for w in workloads for pr in workload_problems(w, settings, now, owned.get(w.metadata.uid, []))]
    active, waived = apply_waivers(problems, settings.waivers, now.date())
    waived_keys = {(p.kind, p.name, p.code) for p, _ in waived}
    rows = [pod_row(p, per_pod[p.metadata.name], waived_keys, now, owning[p.metadata.name], superseded[p.metadata.name])
            for p in pods]
    return NamespaceHealth(namespace, rows, [workload_row(w) for w in workloads], active, waived)


# --- pods ------------------------------------------------------------------------------------------

def pod_problems(pod: k8s.V1Pod, settings: PodSettings, now: dt.datetime,
                 job: k8s.V1Job | None = None, superseded_by: k8s.V1Job | None = None) -> list[Problem]:
    """Everything wrong with one pod as of ``now`` (empty when healthy); ``job`` is the Job that owns it, if any,
    ``superseded_by`` a later Job of the same CronJob that completed (see superseding_jobs)."""
    meta, status = pod.metadata, pod.status

    def problem(code: str, reason: str, message: str) -> Problem:
        return Problem(code, "pod", meta.namespace, meta.name, reason, message)

    if meta.deletion_timestamp is not None:
        # A pod being deleted is judged only on whether it goes away in time.
        overdue = now - meta.deletion_timestamp
        if overdue <= _minutes(settings.terminating_grace_minutes):
            return []
        holders = f"; finalizers {', '.join(meta.finalizers)}" if meta.finalizers else ""
        return [problem("POD006", "Terminating",
                        f"stuck terminating: deletion requested {age(overdue)} ago ({_ts(meta.deletion_timestamp)}), "
                        f"grace {age(_minutes(settings.terminating_grace_minutes))}{holders}")]
    phase = status.phase
    if phase == "Succeeded":
        return []
    if phase == "Failed" and job is not None and (job_outcome(job) != "Failed" or superseded_by is not None):
        # One attempt of a Job that then succeeded, or that is still retrying within its backoffLimit: the
        # Job's outcome is the verdict (the failed-jobs history keeps such pods long after). A failed Job that a
        # later Job of the same CronJob completed after is history too: the CronJob is judged as a whole
        # (BKP010 for the backups), not by each night it kept.
        return []
    if phase in ("Failed", "Unknown"):
        why = status.reason or phase
        detail = status.message.strip() if status.message else _terminations(status.container_statuses)
        failed_job = f"; Job {job.metadata.name} failed{_job_failure(job)}" if job is not None else ""
        return [problem("POD005", why, f"phase {phase}, reason {why}" + (f": {detail}" if detail else "")
                        + failed_job)]

    sidecars = _sidecar_names(pod)
    init_statuses = status.init_container_statuses or []
    found = [problem("POD007", f"Init:{reason}", message)
             for reason, message in _init_failures([c for c in init_statuses if c.name not in sidecars])]
    statuses = _statuses(pod)
    stuck = set()  # containers already flagged as waiting: not reported again as not ready
    for c in statuses:
        waiting = c.state.waiting if c.state else None
        if waiting is not None and waiting.reason not in STARTING:
            stuck.add(c.name)
            last = _last_exit(c)
            found.append(problem("POD001", waiting.reason or "Waiting",
                                 f"{_what(c, sidecars)} {c.name} waiting: {waiting.reason}"
                                 + (f" ({waiting.message})" if waiting.message else "")
                                 + (f"; last run {last}" if last else "")))
    if phase == "Running":
        found += [problem("POD002", "NotReady", message) for message in _readiness(pod, stuck, settings, now)]
    limit, window = settings.restart_limit, _minutes(settings.restart_window_minutes)
    for c in statuses:
        last = c.last_state.terminated if c.last_state else None
        if c.restart_count > limit and last is not None and last.finished_at and now - last.finished_at <= window:
            found.append(problem("POD003", "Restarts",
                                 f"{_what(c, sidecars)} {c.name} restarted {c.restart_count} times (limit {limit}), "
                                 f"the last {age(now - last.finished_at)} ago within the {age(window)} window: "
                                 f"{_exit(last)}"))
    if phase == "Pending" and not found:
        pending = now - meta.creation_timestamp
        if pending > _minutes(settings.pending_grace_minutes):
            found.append(problem("POD004", "Pending",
                                 f"Pending for {age(pending)} (grace {age(_minutes(settings.pending_grace_minutes))})"
                                 + _unscheduled(status.conditions)))
    return found


def _sidecar_names(pod: k8s.V1Pod) -> set[str]:
    """Native sidecars: init containers with restartPolicy Always, which run beside the containers."""
    return {c.name for c in pod.spec.init_containers or [] if c.restart_policy == "Always"}


def _statuses(pod: k8s.V1Pod) -> list[k8s.V1ContainerStatus]:
    """The statuses judged as containers: the native sidecars' and the containers'."""
    sidecars = _sidecar_names(pod)
    return ([c for c in pod.status.init_container_statuses or [] if c.name in sidecars]
            + list(pod.status.container_statuses or []))


def _what(c: k8s.V1ContainerStatus, sidecars: set[str]) -> str:
    return "sidecar container" if c.name in sidecars else "container"


def _readiness(pod: k8s.V1Pod, stuck: set[str], settings: PodSettings, now: dt.datetime) -> list[str]:
    """Why a Running pod is not ready (empty when it is, or when it is within a grace window)."""
    status, sidecars = pod.status, _sidecar_names(pod)
    statuses = _statuses(pod)
    total = len(pod.spec.containers) + len(sidecars)
    ready = sum(1 for c in statuses if c.ready)
    # A Job's pod (restartPolicy Never/OnFailure) whose container exited 0 is done, not unready.
    done = {c.name: c.state.terminated for c in statuses
            if pod.spec.restart_policy in ("Never", "OnFailure") and c.name not in sidecars
            and c.state and c.state.terminated and c.state.terminated.exit_code == 0}
    unready = [c.name for c in statuses if not c.ready and c.name not in stuck and c.name not in done]
    condition = _condition(status.conditions, "Ready")
    since = (condition.last_transition_time if condition is not None and condition.status != "True"
             and condition.last_transition_time else status.start_time or pod.metadata.creation_timestamp)
    lasted = now - since
    grace = dt.timedelta(seconds=settings.ready_grace_seconds)
    how_long = f"for {age(lasted)} (since {_ts(since)}; grace {age(grace)})"
    if unready or not statuses:
        if lasted <= grace:
            return []  # starting, or just restarted: its readiness probe has not passed yet
        return [f"{ready}/{total} containers ready; not ready: {', '.join(unready) or 'all'} {how_long}"]
    if done:
        running = [c.name for c in statuses if c.name not in done]
        finished = max((t.finished_at for t in done.values() if t.finished_at), default=since)
        partial = now - finished
        limit = _minutes(settings.partial_completion_grace_minutes)
        if running and partial > limit:
            return [f"container(s) {', '.join(done)} completed {age(partial)} ago ({_ts(finished)}) while "
                    f"{', '.join(running)} still run(s) (grace {age(limit)}): a container that never exits keeps "
                    "the Job from completing"]
        return []
    if condition is not None and condition.status != "True" and not stuck:
        if lasted <= grace:
            return []
        # Every container is ready, yet the pod is not: a readiness gate (e.g. the load balancer's target health).
        return [f"Ready condition {condition.status}: {condition.reason or '-'}"
                + (f" ({condition.message})" if condition.message else "") + f", {how_long}; "
                f"all {total} containers ready"]
    return []


def _condition(conditions: list[Any] | None, kind: str) -> Any:
    return next((c for c in conditions or [] if c.type == kind), None)


def owner_job(pod: k8s.V1Pod, jobs: dict[str, k8s.V1Job]) -> k8s.V1Job | None:
    """The Job that controls ``pod``, when it is still there."""
    for ref in pod.metadata.owner_references or []:
        if ref.kind == "Job" and ref.controller:
            return jobs.get(ref.uid)
    return None


def superseding_jobs(jobs: list[k8s.V1Job]) -> dict[str, k8s.V1Job]:
    """Failed Job uid -> the newest later Job of the same owner (a CronJob) that completed: the night after a
    failed backup succeeded, so the failure is history. A Job without an owner is never superseded."""
    by_owner: dict[str, list[k8s.V1Job]] = {}
    for job in jobs:
        owner = next((r.uid for r in job.metadata.owner_references or [] if r.controller), None)
        if owner is not None:
            by_owner.setdefault(owner, []).append(job)
    superseded: dict[str, k8s.V1Job] = {}
    for siblings in by_owner.values():
        completed = sorted((j for j in siblings if job_outcome(j) == "Complete"),
                           key=lambda j: j.metadata.creation_timestamp)
        for job in siblings:
            if job_outcome(job) == "Failed" and completed and \
                    completed[-1].metadata.creation_timestamp > job.metadata.creation_timestamp:
                superseded[job.metadata.uid] = completed[-1]
    return superseded


def job_outcome(job: k8s.V1Job) -> str:
    """``Complete``, ``Failed``, or ``""`` while it runs (or retries within its backoffLimit)."""
    terminal = {"Complete": "Complete", "SuccessCriteriaMet": "Complete", "Failed": "Failed", "FailureTarget": "Failed"}
    for cond in (job.status.conditions if job.status else None) or []:
        if cond.type in terminal and cond.status == "True":
            return terminal[cond.type]
    return ""


def _job_failure(job: k8s.V1Job) -> str:
    cond = next((c for c in job.status.conditions or [] if c.type == "Failed" and c.status == "True"), None)
    return f": {cond.reason}: {cond.message}" if cond is not None and cond.reason else ""


def _init_failures(statuses: list[k8s.V1ContainerStatus] | None) -> list[tuple[str, str]]:
    failures = []
    for c in statuses or []:
        waiting = c.state.waiting if c.state else None
        done = c.state.terminated if c.state else None
        if waiting is not None and waiting.reason not in STARTING:
            last = _last_exit(c)
            failures.append((waiting.reason or "Waiting",
                             f"init container {c.name} waiting: {waiting.reason} after {c.restart_count} restarts"
                             + (f"; last run {last}" if last else "")))
        elif done is not None and done.exit_code != 0:
            failures.append((done.reason or "Error", f"init container {c.name} {_exit(done)}"))
    return failures


def _last_exit(c: k8s.V1ContainerStatus) -> str:
    last = c.last_state.terminated if c.last_state else None
    return _exit(last) if last is not None else ""


def _exit(term: k8s.V1ContainerStateTerminated) -> str:
    when = f" at {_ts(term.finished_at)}" if term.finished_at else ""
    return f"exited {term.exit_code} ({term.reason or 'Error'}){when}"


def _terminations(statuses: list[k8s.V1ContainerStatus] | None) -> str:
    ended = [(c.name, c.state.terminated) for c in statuses or [] if c.state and c.state.terminated]
    return "; ".join(f"container {name} {_exit(term)}" for name, term in ended)


def _unscheduled(conditions: list[k8s.V1PodCondition] | None) -> str:
    for cond in conditions or []:
        if cond.type == "PodScheduled" and cond.status == "False":
            return f"; not scheduled: {cond.reason}: {cond.message}"
    return "; scheduled, containers not started"


def pod_row(pod: k8s.V1Pod, problems: list[Problem], waived: set[tuple[str, str, str]], now: dt.datetime,
            job: k8s.V1Job | None = None, superseded_by: k8s.V1Job | None = None) -> PodRow:
    """One line of the report, as ``kubectl get pods`` would show it (native sidecars count as containers)."""
    statuses = _statuses(pod)
    reasons = [p.reason + (" (waived)" if (p.kind, p.name, p.code) in waived else "") for p in problems]
    if not reasons:
        if pod.metadata.deletion_timestamp is not None:
            reasons = ["Terminating"]
        elif pod.status.phase == "Succeeded":
            reasons = ["Completed"]
        elif pod.status.phase == "Failed" and job is not None:
            outcome = job_outcome(job) or "retrying"
            if superseded_by is not None and outcome == "Failed":
                outcome = f"Failed, superseded by {superseded_by.metadata.name} Complete"
            reasons = [f"{pod.status.reason or 'Failed'} (Job {outcome})"]
    return PodRow(
        pod=pod.metadata.name,
        phase=pod.status.phase,
        ready=f"{sum(1 for c in statuses if c.ready)}/{len(pod.spec.containers) + len(_sidecar_names(pod))}",
        restarts=sum(c.restart_count for c in statuses),
        reason=", ".join(dict.fromkeys(reasons)),
        age=age(now - pod.metadata.creation_timestamp),
    )


# --- workloads ---------------------------------------------------------------------------------------

Workload = k8s.V1Deployment | k8s.V1StatefulSet | k8s.V1DaemonSet


def _replicas(obj: Workload) -> tuple[int, int]:
    """(desired, available); a StatefulSet without availableReplicas (old API servers) counts ready ones.

    A DaemonSet's desired count is the number of nodes it should run on, which the controller reports.
    """
    status = obj.status
    if isinstance(obj, k8s.V1DaemonSet):
        return (status.desired_number_scheduled, status.number_available or 0) if status else (0, 0)
    desired = 1 if obj.spec.replicas is None else obj.spec.replicas
    available = status.available_replicas if status and status.available_replicas is not None else None
    if available is None and isinstance(obj, k8s.V1StatefulSet) and status is not None:
        available = status.ready_replicas
    return desired, available or 0


def workload_problems(obj: Workload, settings: PodSettings = PodSettings(), now: dt.datetime | None = None,
                      pods: Sequence[k8s.V1Pod] = ()) -> list[Problem]:
    """``pods``: the pods ``obj`` owns (by ownerReferences uid), which time a StatefulSet's or DaemonSet's rollout."""
    kind = _kind(obj)
    desired, available = _replicas(obj)
    where = (kind.lower(), obj.metadata.namespace, obj.metadata.name)
    if desired == 0 and isinstance(obj, k8s.V1DaemonSet):
        return []  # no node matches its selector: a scheduling choice, not an outage
    if desired == 0:
        return [Problem("WKL002", *where, "ScaledToZero",
                        f"{kind} scaled to 0 replicas: nothing runs it (waive it if that is intended)")]
    if available >= desired:
        return []
    if isinstance(obj, k8s.V1Deployment):
        rollout = _rollout(obj, desired, available, settings, now)
    else:
        rollout = _pod_by_pod_rollout(obj, desired, available, pods, settings, now)
    if rollout == "":
        return []  # an ordinary rolling update, within maxUnavailable and still progressing
    detail = f" {rollout}" if rollout else ""
    if isinstance(obj, k8s.V1DaemonSet):
        return [Problem("WKL001", *where, "Unavailable",
                        f"DaemonSet has {available}/{desired} desired pods available "
                        f"({desired - available} node(s) without a working {obj.metadata.name} pod){detail}")]
    return [Problem("WKL001", *where, "Unavailable", f"{kind} has {available}/{desired} desired replicas available"
                    + (detail or _unavailable_since(obj, now)))]


def _rollout(dep: k8s.V1Deployment, desired: int, available: int, settings: PodSettings,
             now: dt.datetime | None) -> str | None:
    """None when no rolling update is under way; "" when it is within maxUnavailable and progressed within
    ``rollout_grace_minutes``; else what is wrong with it."""
    status, spec = dep.status, dep.spec
    updating = ((status.updated_replicas or 0) < desired or (status.replicas or 0) > desired
                or (status.observed_generation or 0) < (dep.metadata.generation or 0))
    strategy = spec.strategy
    if not updating or now is None or (strategy is not None and strategy.type == "Recreate"):
        return None
    rolling = strategy.rolling_update if strategy is not None else None
    max_unavailable = _scaled(rolling.max_unavailable if rolling is not None else None, desired)
    progressing = _condition(status.conditions, "Progressing")
    updated = f"rolling update: {status.updated_replicas or 0}/{desired} updated, maxUnavailable {max_unavailable}"
    if progressing is not None and progressing.status == "False":
        return f"({updated}; stalled: {progressing.reason}: {progressing.message})"
    last = progressing.last_update_time if progressing is not None else None
    grace = _minutes(settings.rollout_grace_minutes)
    if desired - available > max_unavailable:
        return f"({updated}: more unavailable than it allows)"
    if last is not None and now - last > grace:
        return f"({updated}; no progress for {age(now - last)} since {_ts(last)}, grace {age(grace)})"
    return ""


def _pod_by_pod_rollout(obj: k8s.V1StatefulSet | k8s.V1DaemonSet, desired: int, available: int,
                        pods: Sequence[k8s.V1Pod], settings: PodSettings, now: dt.datetime | None) -> str | None:
    """As ``_rollout``, for the controllers that replace pods one by one and report no Progressing condition.

    Each step of their rollout creates a pod, so the newest pod they own says when it last progressed: no pod
    created within ``rollout_grace_minutes`` (or none at all) is a rollout standing still.
    """
    status, strategy = obj.status, obj.spec.update_strategy
    if now is None or status is None or (strategy is not None and strategy.type == "OnDelete"):
        return None  # OnDelete: the controller replaces nothing by itself; unavailable is unavailable
    if isinstance(obj, k8s.V1DaemonSet):
        updated = status.updated_number_scheduled or 0
        new_revision = False
    else:
        updated = status.updated_replicas or 0
        new_revision = bool(status.update_revision) and status.update_revision != status.current_revision
    if not (updated < desired or new_revision or (status.observed_generation or 0) < (obj.metadata.generation or 0)):
        return None
    rolling = strategy.rolling_update if strategy is not None else None
    # Both default to 1 and round a percentage up (apps/v1 API reference), unlike a Deployment's.
    max_unavailable = _scaled(getattr(rolling, "max_unavailable", None), desired, default=1, round_up=True)
    text = f"rolling update: {updated}/{desired} updated, maxUnavailable {max_unavailable}"
    if desired - available > max_unavailable:
        return f"({text}: more unavailable than it allows)"
    newest = max((p.metadata.creation_timestamp for p in pods), default=None)
    grace = _minutes(settings.rollout_grace_minutes)
    if newest is None:
        return f"({text}; none of its pods exists)"
    if now - newest > grace:
        return f"({text}; no new pod for {age(now - newest)} since {_ts(newest)}, grace {age(grace)})"
    return ""


def _scaled(value: int | str | None, desired: int, default: int | str = "25%", round_up: bool = False) -> int:
    """maxUnavailable as a count: an int, or a percentage of the replicas (a Deployment's rounded down)."""
    value = default if value is None else value
    if isinstance(value, str) and value.endswith("%"):
        share = desired * int(value[:-1])
        return -(-share // 100) if round_up else share // 100
    return int(value)


def _unavailable_since(obj: Workload, now: dt.datetime | None) -> str:
    available = _condition(obj.status.conditions if obj.status else None, "Available")
    if now is None or available is None or available.status == "True" or not available.last_transition_time:
        return ""
    since = available.last_transition_time
    return f" (Available False for {age(now - since)}, since {_ts(since)})"


def workload_row(obj: Workload) -> WorkloadRow:
    return WorkloadRow(_kind(obj), obj.metadata.name, *_replicas(obj))


def _kind(obj: Workload) -> str:
    # List responses leave kind empty on their items; the model's class says it.
    return obj.kind or type(obj).__name__.removeprefix("V1")


# --- waivers and findings ----------------------------------------------------------------------------

def apply_waivers(problems: list[Problem], waivers: list[Waiver],
                  today: dt.date) -> tuple[list[Problem], list[tuple[Problem, Waiver]]]:
    """(problems still failing, problems waived with their waiver); an expired waiver's problem says so."""
    active, waived = [], []
    for problem in problems:
        matching = [w for w in waivers if w.matches(problem.code, [problem.name, f"{problem.namespace}/{problem.name}"],
                                                    {}, problem.reason)]
        current = next((w for w in matching if w.expires >= today), None)
        if current is not None:
            waived.append((problem, current))
            continue
        if matching:
            w = max(matching, key=lambda w: w.expires)
            problem = replace(problem, message=f"{problem.message} [waiver for {w.subject} expired "
                                                f"{w.expires.isoformat()}, no longer waived: {w.justification}]")
        active.append(problem)
    return active, waived


def findings(env: str, context: str | None, health: list[NamespaceHealth]) -> list[Finding]:
    return [Finding(p.code, f"{env} {context or '(current context)'}/{p.namespace} {p.kind}/{p.name}", p.message)
            for ns in health for p in ns.problems]


def summary(health: list[NamespaceHealth]) -> dict[str, Any]:
    """What the ledger remembers of a run: counts per namespace and the codes found."""
    codes: dict[str, int] = {}
    for ns in health:
        for p in ns.problems:
            codes[p.code] = codes.get(p.code, 0) + 1
    return {
        "pods": {ns.namespace: len(ns.pods) for ns in health},
        "workloads": {ns.namespace: len(ns.workloads) for ns in health},
        "findings": codes,
        "waived": [f"{p.namespace}/{p.name} {p.code} until {w.expires.isoformat()}" for ns in health
                   for p, w in ns.waived],
    }


# --- time ------------------------------------------------------------------------------------------

def _minutes(value: float) -> dt.timedelta:
    return dt.timedelta(minutes=value)


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
