"""Seed the sandbox with a healthy, realistic picture of the three Ingest environments."""

from __future__ import annotations

import datetime as dt
import zlib
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from typing import Any

from pymongo import MongoClient

from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from opschecks.areas.restore.settings import COLLECTIONS
from opschecks.sandbox import kube_objects as k
from opschecks.areas.backups.backups import stamp
from opschecks.sandbox.dumps import backup_tarball, documents
from opschecks.sandbox.kubeapi import FakeKubeAPI
from opschecks.sandbox.seed_cluster import VOLUMES

BACKUP_DAYS = 95
BUCKET = "ingest-db-backup"
LIFECYCLE = {
    "Rules": [{
        "ID": "expire-auto-delete-backups",
        "Filter": {"Tag": {"Key": "auto-delete", "Value": "true"}},
        "Status": "Enabled",
        "Expiration": {"Days": 90},
    }]
}
# Ingest's collections grow slowly; submissionEnvelope stays above the verify script's 100.
_BASE_COUNTS = {"biomaterial": 60, "bundleManifest": 30, "file": 90, "process": 40, "project": 12,
                "protocol": 25, "submissionEnvelope": 100}

APP_DEPLOYMENTS = ["ingest-core", "ingest-broker", "ingest-ui", "ingest-validator", "ingest-exporter"]
APP_STATEFULSETS = ["mongo", "rabbit", "redis"]
UPLOAD_AFTER = dt.timedelta(minutes=7)  # how long the ingest-backup CronJob takes to dump and upload
BACKUP_CRONJOBS = {"ingest-backup": ("0 0 * * *", dt.timedelta(0)),
                   "ingest-backup-verify": ("30 0 * * *", dt.timedelta(minutes=30))}


# Seeded data is a pure function of each backup's own date, so the sandbox seeded on any day (or shifted by
# OPSCHECKS_CLOCK_SHIFT_DAYS) agrees with every earlier drill of the same backup, and counts never fall.
GROWTH_START = dt.date(2025, 1, 6)
GROWTH_DAYS = 7  # one growth step a week keeps the tarballs small for years


def backup_counts(step: int) -> dict[str, int]:
    """Collection counts after ``step`` growth steps (``file`` grows twice as fast)."""
    return {c: _BASE_COUNTS[c] + step * (2 if c == "file" else 1) for c in COLLECTIONS}


def created_on(collection: str) -> Callable[[int], dt.datetime | None]:
    """When the sandbox's i-th document of ``collection`` was created: the base documents before GROWTH_START,
    each later one at noon before the first backup day whose count includes it (so every backup holds exactly the
    documents created before it was taken, and the live database agrees with each; issue 27)."""
    base, rate = _BASE_COUNTS[collection], 2 if collection == "file" else 1
    start = dt.datetime.combine(GROWTH_START, dt.time(), tzinfo=dt.timezone.utc)

    def created(i: int) -> dt.datetime | None:
        if i < base:
            return None  # dumps.documents' own moment in 2019-2024
        return start + dt.timedelta(days=GROWTH_DAYS * ((i - base) // rate + 1), hours=-12)

    return created


def live_database(env: str) -> str:
    """The sandbox database standing in for ``env``'s live Ingest database ([restore] live_database)."""
    return f"live_{env}"


def seed_live(mongo_uri: str, envs: list[str], now: dt.datetime) -> None:
    """Each env's live database: the documents its backups were dumped from, as of ``now``."""
    with MongoClient(mongo_uri) as client:
        for env in envs:
            db = client[live_database(env)]
            for collection, n in counts_on(now.date()).items():
                docs = list(documents(collection, n, env_seed(env), created_on(collection)))
                db[collection].drop()
                db[collection].insert_many(docs)


def counts_on(day: dt.date) -> dict[str, int]:
    """Collection counts of the backup taken on ``day``: non-decreasing in ``day``, the same whenever seeded."""
    return backup_counts(max(0, (day - GROWTH_START).days // GROWTH_DAYS))


def last_finished_run(now: dt.datetime, offset: dt.timedelta = dt.timedelta(0)) -> dt.datetime:
    """When the most recent run of a daily CronJob scheduled at ``offset`` past midnight (UTC) that has finished
    by ``now`` was scheduled: tonight's until it has run for ``UPLOAD_AFTER``, else yesterday's."""
    last = now.replace(hour=0, minute=0, second=0, microsecond=0) + offset
    return last if last + UPLOAD_AFTER <= now else last - dt.timedelta(days=1)


def seed_backups(s3: Any, envs: list[str], now: dt.datetime, days: int = BACKUP_DAYS, bucket: str = BUCKET) -> None:
    """A bucket with a 90-day lifecycle rule and ``days`` nightly tagged backups per environment.

    Each is uploaded as the CronJob would have, ``UPLOAD_AFTER`` after it was taken; so the newest is the one
    of the ingest-backup CronJob's last finished run (seed_kube): seeded at 00:03, tonight's is not there yet.
    """
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=LIFECYCLE)
    newest = last_finished_run(now)
    uploads = []
    for env in envs:
        for day in range(days):
            taken = newest - dt.timedelta(days=days - 1 - day)
            uploads.append((f"{env}/{stamp(taken)}.tar.gz", taken,
                            backup_tarball(stamp(taken), counts_on(taken.date()), seed=env_seed(env),
                                           created_at=created_on)))

    def put(item: tuple[str, dt.datetime, bytes]) -> None:
        s3.put_object(Bucket=bucket, Key=item[0], Body=item[2], Tagging="auto-delete=true")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, uploads))
    _set_upload_times(bucket, {key: taken + UPLOAD_AFTER for key, taken, _ in uploads})


def _set_upload_times(bucket: str, uploaded: dict[str, dt.datetime]) -> None:
    """Give each object the LastModified of its real upload. S3 has no call for that; moto's server runs in
    this process, so its objects are set directly (else every backup looks uploaded at seeding time, which a
    sandbox shifted to a later day would judge as a stale backup)."""
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    keys = backend.buckets[bucket].keys
    for key, moment in uploaded.items():
        keys[key].last_modified = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)  # moto keeps naive UTC


def env_seed(env: str) -> int:
    """Each environment's own documents, whichever environments are seeded beside it."""
    return zlib.crc32(env.encode())


def seed_kube(kube: FakeKubeAPI, cluster: str, env: str, now: dt.datetime) -> None:
    """One cluster: Ingest's workloads in <env>-environment, kube-system, and the backup CronJobs."""
    app_ns = f"{env}-environment"
    pods, deployments, statefulsets, daemonsets = [], [], [], []
    for name in APP_DEPLOYMENTS:
        deployments.append(k.deployment(name, app_ns, now=now, image=f"quay.io/ebi-ait/{name}:2.14.0"))
        pods.append(k.pod(k.replica_pod_name(name, 0), app_ns, now=now, owner=("ReplicaSet", name),
                          containers=[(name, f"quay.io/ebi-ait/{name}:2.14.0")], labels={"app": name}))
    for name, image in zip(APP_STATEFULSETS, ["mongo:4.2.24", "rabbitmq:3.8-management", "redis:6.2"]):
        statefulsets.append(k.statefulset(name, app_ns, now=now, image=image))
        pods.append(k.pod(f"{name}-0", app_ns, now=now, owner=("StatefulSet", name),
                          containers=[(name, image)], labels={"app": name},
                          claims=[c for c, (mounted_by, *_) in VOLUMES.items() if mounted_by == f"{name}-0"]))
    nodes = ("ip-10-0-1-23", "ip-10-0-2-57")
    node_agents = (("kube-proxy", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v1.29.0"),
                   ("aws-node", "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.16.0"))
    for ds, image in node_agents:
        daemonsets.append(k.daemonset(ds, "kube-system", now=now, nodes=len(nodes), image=image))
    for node in nodes:
        for ds, image in node_agents:
            pods.append(k.pod(f"{ds}-{k.replica_pod_name(node, 0)[-5:]}", "kube-system", now=now,
                              age=dt.timedelta(days=40), owner=("DaemonSet", ds), containers=[(ds, image)],
                              labels={"k8s-app": ds}, node=f"{node}.ec2.internal"))
    deployments.append(k.deployment("coredns", "kube-system", now=now, replicas=2,
                                    image="602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:v1.11.1"))
    for i in range(2):
        pods.append(k.pod(k.replica_pod_name("coredns", i), "kube-system", now=now, age=dt.timedelta(days=40),
                          owner=("ReplicaSet", "coredns"), labels={"k8s-app": "kube-dns"},
                          containers=[("coredns", "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:v1.11.1")]))

    cronjobs, jobs = [], []
    for name, (schedule, offset) in BACKUP_CRONJOBS.items():
        last = last_finished_run(now, offset)  # ingest-backup's is the newest backup seed_backups uploads
        for days_ago in (2, 1, 0):
            scheduled = last - dt.timedelta(days=days_ago)
            # The nightly backup's first attempt two nights ago failed and its retry succeeded, as happens on a
            # live cluster: the failed pod stays in the Job's history and is judged by the Job's outcome.
            retried = name == "ingest-backup" and days_ago == 2
            jobs.append(k.job(name, app_ns, scheduled=scheduled, succeeded=True, failed_attempts=int(retried)))
            if retried:
                pods.append(k.job_pod(jobs[-1], now=now, attempt=0, phase="Failed"))
            pods.append(k.job_pod(jobs[-1], now=now, attempt=int(retried)))
        cronjobs.append(k.cronjob(name, app_ns, schedule=schedule, now=now, last_schedule=last,
                                  last_success=last + UPLOAD_AFTER))

    # Nodes, their volumes and kubelet summaries: seed_cluster.py; their heartbeats (for describe node) here.
    kube.set_objects(cluster, "leases", [k.lease(f"{n}.ec2.internal", now=now) for n in nodes])
    kube.set_objects(cluster, "events", _recent_events(pods, now))
    kube.set_objects(cluster, "namespaces", [k.namespace(n, now=now) for n in ("default", "kube-system", app_ns)])
    kube.set_objects(cluster, "pods", pods)
    kube.set_objects(cluster, "deployments", deployments)
    kube.set_objects(cluster, "statefulsets", statefulsets)
    kube.set_objects(cluster, "daemonsets", daemonsets)
    kube.set_objects(cluster, "cronjobs", cronjobs)
    kube.set_objects(cluster, "jobs", jobs)


def _recent_events(pods: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """The events of the last hour (the API server keeps them for an hour): the newest backup Jobs' pods."""
    events = []
    for pod in pods:
        created = dt.datetime.fromisoformat(pod["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
        if now - created > dt.timedelta(hours=1):
            continue
        container = pod["spec"]["containers"][0]
        node = pod["spec"].get("nodeName", "")
        events += [
            k.event(pod, "Scheduled", f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} "
                                      f"to {node}", at=created, component="default-scheduler"),
            k.event(pod, "Pulled", f'Container image "{container["image"]}" already present on machine',
                    at=created + dt.timedelta(seconds=2)),
            k.event(pod, "Created", f"Created container {container['name']}", at=created + dt.timedelta(seconds=2)),
            k.event(pod, "Started", f"Started container {container['name']}", at=created + dt.timedelta(seconds=3)),
        ]
    return events
