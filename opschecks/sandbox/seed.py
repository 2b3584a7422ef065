"""Seed the sandbox with a healthy, realistic picture of the three Ingest environments."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opschecks.restore import COLLECTIONS
from opschecks.sandbox import kube_objects as k
from opschecks.backups import stamp
from opschecks.sandbox.dumps import backup_tarball
from opschecks.sandbox.kubeapi import FakeKubeAPI

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
BACKUP_CRONJOBS = {"ingest-backup": ("0 0 * * *", dt.timedelta(0)),
                   "ingest-backup-verify": ("30 0 * * *", dt.timedelta(minutes=30))}


def backup_counts(day_index: int) -> dict[str, int]:
    """Collection counts of the backup taken ``day_index`` days after the oldest one."""
    return {c: _BASE_COUNTS[c] + day_index * (2 if c == "file" else 1) for c in COLLECTIONS}


def seed_backups(s3: Any, envs: list[str], now: dt.datetime, days: int = BACKUP_DAYS) -> None:
    """A bucket with a 90-day lifecycle rule and ``days`` nightly tagged backups per environment."""
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration=LIFECYCLE)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    uploads = []
    for seed, env in enumerate(envs):
        for day in range(days):
            taken = today - dt.timedelta(days=days - 1 - day)
            uploads.append((f"{env}/{stamp(taken)}.tar.gz", backup_tarball(stamp(taken), backup_counts(day), seed=seed)))

    def put(item: tuple[str, bytes]) -> None:
        s3.put_object(Bucket=BUCKET, Key=item[0], Body=item[1], Tagging="auto-delete=true")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, uploads))


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
                          containers=[(name, image)], labels={"app": name}))
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
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for name, (schedule, offset) in BACKUP_CRONJOBS.items():
        # The most recent run that has finished by now (a run takes 7 minutes).
        last = midnight + offset
        if last + dt.timedelta(minutes=7) > now:
            last -= dt.timedelta(days=1)
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
                                  last_success=last + dt.timedelta(minutes=7)))

    kube.set_objects(cluster, "namespaces", [k.namespace(n, now=now) for n in ("default", "kube-system", app_ns)])
    kube.set_objects(cluster, "pods", pods)
    kube.set_objects(cluster, "deployments", deployments)
    kube.set_objects(cluster, "statefulsets", statefulsets)
    kube.set_objects(cluster, "daemonsets", daemonsets)
    kube.set_objects(cluster, "cronjobs", cronjobs)
    kube.set_objects(cluster, "jobs", jobs)
