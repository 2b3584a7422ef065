"""The sandbox stack: real servers on loopback, realistic seed data, nothing left behind."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import bson
import pytest
from kubernetes import client

from opschecks import kube
from opschecks.config import load
from opschecks.areas.restore.settings import COLLECTIONS
from opschecks.areas.backups.backups import stamp
from opschecks.sandbox import kube_objects as k
from opschecks.sandbox import seed, stack
from opschecks.sandbox.kubeapi import FakeKubeAPI
from opschecks.areas.e2e.settings import E2ESettings

NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def seeded():
    with stack.running(seed=True, now=NOW) as sb:
        yield sb


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def test_servers_bind_loopback_and_stop_leaving_nothing() -> None:
    sb = stack.start(seed=False)
    endpoints = [("127.0.0.1", int(sb.aws_endpoint.rsplit(":", 1)[1])),
                 ("127.0.0.1", int(sb.mongo_uri.rstrip("/").rsplit(":", 1)[1])),
                 ("127.0.0.1", sb.kube.port)]
    assert sb.aws_endpoint.startswith("http://127.0.0.1:") and sb.mongo_uri.startswith("mongodb://127.0.0.1:")
    assert all(_port_open(*e) for e in endpoints)
    root = sb.root
    assert root.exists()
    sb.stop()
    assert not root.exists()
    assert not any(_port_open(*e) for e in endpoints)


def test_secantusdb_dies_with_a_parent_killed_outright(tmp_path: Path) -> None:
    """SIGKILL leaves no time for clean-up: the SecantusDB server must still not outlive the process that
    started it (re-parented to init, holding its port), as it did before opschecks.sandbox.child."""
    script = ("import sys, time\nfrom opschecks.sandbox import stack\nsb = stack.start(seed=False)\n"
              "print(sb.mongo_uri, sb.root, flush=True)\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        uri, root = parent.stdout.readline().split()
        port = int(uri.rstrip("/").rsplit(":", 1)[1])
        assert _port_open("127.0.0.1", port)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 20
        while _port_open("127.0.0.1", port) or _running_with(root):
            assert time.monotonic() < deadline, "SecantusDB outlived its parent"
            time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        shutil.rmtree(root, ignore_errors=True)  # the temp dir: what SIGKILL does leave, by its nature


def _running_with(text: str) -> bool:
    """Whether a live (not zombie) process has ``text`` in its command line."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if text in (proc / "cmdline").read_bytes().decode(errors="replace") and \
                    "\nState:\tZ" not in (proc / "status").read_text():
                return True
        except OSError:  # it ended while we looked
            continue
    return False


def test_start_failure_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    roots: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs) -> str:  # noqa: ANN002, ANN003
        roots.append(real_mkdtemp(*args, **kwargs))
        return roots[-1]

    def broken_start(self: FakeKubeAPI) -> None:
        raise OSError("no port")

    monkeypatch.setattr(stack.tempfile, "mkdtemp", recording_mkdtemp)
    monkeypatch.setattr(FakeKubeAPI, "start", broken_start)
    with pytest.raises(OSError, match="no port"):
        stack.start(seed=False)
    assert roots and not Path(roots[0]).exists()


def test_seeded_backups_are_real_mongodump_tarballs(seeded: stack.Sandbox) -> None:
    s3 = seeded.s3()
    for env in stack.ENVS:
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="ingest-db-backup",
                                                                                 Prefix=f"{env}/")
                for o in page.get("Contents", [])]
        assert len(keys) == 95
        assert keys[-1] == f"{env}/2026-11-25T00_00.tar.gz" and keys[0] == f"{env}/2026-08-23T00_00.tar.gz"
    newest = "prod/2026-11-25T00_00.tar.gz"
    tags = s3.get_object_tagging(Bucket="ingest-db-backup", Key=newest)["TagSet"]
    assert tags == [{"Key": "auto-delete", "Value": "true"}]
    rule = s3.get_bucket_lifecycle_configuration(Bucket="ingest-db-backup")["Rules"][0]
    assert rule["Status"] == "Enabled" and rule["Expiration"]["Days"] == 90
    assert rule["Filter"]["Tag"] == {"Key": "auto-delete", "Value": "true"}

    body = s3.get_object(Bucket="ingest-db-backup", Key=newest)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        names = tar.getnames()
        for coll in COLLECTIONS:
            base = f"data/db/dump/2026-11-25T00_00/admin/{coll}"
            assert f"{base}.bson" in names and f"{base}.metadata.json" in names
        docs = bson.decode_all(tar.extractfile("data/db/dump/2026-11-25T00_00/admin/submissionEnvelope.bson").read())
        meta = json.load(tar.extractfile("data/db/dump/2026-11-25T00_00/admin/file.metadata.json"))
    assert len(docs) >= 100 and docs[0]["_class"].endswith("SubmissionEnvelope")
    assert [i["name"] for i in meta["indexes"]] == ["_id_", "uuid.uuid_1"]


@pytest.mark.parametrize("at", ["00:03", "00:07", "08:00", "23:58"])
def test_the_newest_seeded_backup_is_the_one_of_the_cronjobs_last_finished_run(seeded: stack.Sandbox, at: str) -> None:
    """Whatever the time of day: seeded at 00:03, tonight's ingest-backup (00:00, 7 minutes) has not finished,
    so neither its backup nor its success is there; from 00:07 both are."""
    hour, minute = map(int, at.split(":"))
    now = NOW.replace(hour=hour, minute=minute)
    name = f"time-of-day-{hour:02d}{minute:02d}"  # moto and the fake API are shared: a bucket and cluster of its own
    seed.seed_backups(seeded.s3(), ["dev"], now, days=3, bucket=name)
    seed.seed_kube(seeded.kube, name, "dev", now)

    taken = NOW.replace(hour=0) - (dt.timedelta(days=1) if at == "00:03" else dt.timedelta(0))
    listed = seeded.s3().list_objects_v2(Bucket=name, Prefix="dev/")["Contents"]
    assert [o["Key"] for o in listed] == [f"dev/{stamp(taken - dt.timedelta(days=d))}.tar.gz" for d in (2, 1, 0)]
    uploaded = listed[-1]["LastModified"]
    assert uploaded == taken + seed.UPLOAD_AFTER <= now
    [cronjob] = [c for c in seeded.kube.objects(name, "cronjobs") if c["metadata"]["name"] == "ingest-backup"]
    assert cronjob["status"] == {"lastScheduleTime": k.ts(taken), "lastSuccessfulTime": k.ts(uploaded)}


def test_seeded_cluster_is_healthy_and_realistic(seeded: stack.Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(seeded.kubeconfig))
    api = kube.api_client("sandbox-staging")
    core, batch, apps = client.CoreV1Api(api), client.BatchV1Api(api), client.AppsV1Api(api)
    app_pods = core.list_namespaced_pod("staging-environment").items
    names = {p.metadata.name.rsplit("-", 2)[0] for p in app_pods if p.status.phase == "Running"}
    assert {"ingest-core", "ingest-broker", "ingest-ui", "ingest-validator", "ingest-exporter"} <= names
    assert {"mongo-0", "rabbit-0", "redis-0"} <= {p.metadata.name for p in app_pods}
    assert all(cs.ready for p in app_pods if p.status.phase == "Running" for cs in p.status.container_statuses)
    assert core.list_namespaced_pod("kube-system").items
    cronjobs = {c.metadata.name: c for c in batch.list_namespaced_cron_job("staging-environment").items}
    assert cronjobs["ingest-backup"].spec.schedule == "0 0 * * *"
    assert cronjobs["ingest-backup"].status.last_successful_time == NOW.replace(hour=0, minute=7)
    assert cronjobs["ingest-backup-verify"].spec.schedule == "30 0 * * *"
    jobs = batch.list_namespaced_job("staging-environment").items
    assert jobs and all(j.status.succeeded == 1 for j in jobs)
    assert {d.metadata.name for d in apps.list_deployment_for_all_namespaces().items} >= {"ingest-core", "coredns"}
    assert {s.metadata.name for s in apps.list_namespaced_stateful_set("staging-environment").items} == {
        "mongo", "rabbit", "redis"}


def test_fake_api_paginates_with_continue_tokens() -> None:
    api = FakeKubeAPI()
    api.start()
    try:
        pods = [k.pod(f"p-{i:03d}", "ns1" if i % 2 else "ns2", now=NOW) for i in range(25)]
        api.set_objects("c", "pods", pods)
        cfg = client.Configuration()
        cfg.host = api.url("c")
        core = client.CoreV1Api(client.ApiClient(cfg))
        got = list(kube.list_paginated(core.list_namespaced_pod, 5, namespace="ns1"))
        assert [p.metadata.name for p in got] == [p["metadata"]["name"] for p in pods if p["metadata"]["namespace"] == "ns1"]
        assert api.requests["c"] == 3  # 12 pods in pages of 5
        assert len(core.list_pod_for_all_namespaces().items) == 25
        assert len(core.list_namespaced_pod("ns1", label_selector="app=p").items) == 12
    finally:
        api.stop()


def test_fake_api_answers_faults_and_unknown_paths_as_a_real_server() -> None:
    api = FakeKubeAPI()
    api.start()
    try:
        cfg = client.Configuration()
        cfg.host = api.url("c")
        core = client.CoreV1Api(client.ApiClient(cfg))
        api.fail_cluster("c", 403)
        with pytest.raises(client.ApiException) as err:
            core.list_namespaced_pod("default")
        assert err.value.status == 403 and json.loads(err.value.body)["reason"] == "Forbidden"
        api.fail_cluster("c", None)
        assert core.list_namespaced_pod("default").items == []
        with pytest.raises(client.ApiException) as err:
            core.list_namespaced_config_map("default")
        assert err.value.status == 404
    finally:
        api.stop()


def test_due_reads_the_sandbox_config_with_the_same_e2e_tasks_as_a_run(tmp_path: Path) -> None:
    """``due --sandbox`` starts no server: its config must still hold every env's e2e tables, or the round trip
    shows as one unconfigured row instead of dev's and staging's."""
    path = tmp_path / "opschecks.toml"
    path.write_text(stack.config_text("http://127.0.0.1:1", tmp_path / "ledger.sqlite"))
    envs = load(path, tmp_path).envs
    assert {name: (env.settings(E2ESettings).round_trip is not None)
            for name, env in envs.items()} == {"dev": True, "staging": True, "prod": False}


def test_collect_only_with_the_sandbox_lists_the_checks_without_seeding(tmp_path: Path) -> None:
    """Listing the checks needs the sandbox's config, not its data: no seeding step runs (about 40 s saved)."""
    root = Path(__file__).parent.parent
    result = subprocess.run([sys.executable, "-m", "pytest", "--sandbox", "--collect-only", "-q", "checks/test_pods.py"],
                            cwd=root, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TMPDIR": str(tmp_path)})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "checks/test_pods.py::test_pods_healthy[dev]" in output
    assert "sandbox: seeding" not in output and "sandbox: not seeded (--collect-only runs no check)" in output
