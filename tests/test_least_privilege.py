"""Least privilege, proven: the shipped RBAC and IAM documents grant exactly what a full sandbox run calls.

One seeded sandbox; the checklist runs in subprocesses against it, as a CronJob
would run it. Every Kubernetes request is recorded by the fake API server
(verb, API group, resource) and every AWS call by botocore's client-side
monitoring (opschecks/sandbox/aws_calls.py), in every process: pytest-xdist
workers and the upload drill's scripts included. Then:

- deploy/kubernetes's ClusterRole grants exactly the recorded (verb, group, resource), read verbs only;
- deploy/iam/checks-readonly.json allows exactly the IAM actions the read-only checks need, all reads;
- deploy/iam/upload-drill.json and deploy/iam/cleanup.json allow exactly what the drill and the cleanup
  command need beyond the read-only policy (their roles attach both).

A new call without a policy change fails here (too narrow), and so does a
policy action nothing calls any more (too wide).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config as BotoConfig

from opschecks import cleanup, permissions
from opschecks.sandbox import stack
from opschecks.sandbox.aws_calls import CallRecorder
from tests.kustomize import OVERLAYS, render

ROOT = Path(__file__).resolve().parents[1]
IAM = ROOT / "deploy" / "iam"
READ_VERBS = {"get", "list", "watch"}
LEDGER_BUCKET, REPORTS_BUCKET = "ingest-ops-ledger", "ingest-ops-reports"  # as in deploy/iam/ledger-and-reports.json


@dataclass
class Recorded:
    aws: Counter[tuple[str, str]]
    kube: Counter[tuple[str, str, str]]

    @property
    def actions(self) -> set[str]:
        return permissions.actions_needed(self.aws)


@dataclass
class Runs:
    readonly: Recorded  # pytest -m "not sprint": daily, fortnightly, monthly
    drill: Recorded  # pytest -m sprint: the upload drill, with its set-up and teardown scripts
    cleanup: Recorded  # python -m opschecks.cleanup over a real plan, and every kind of deletion
    bookkeeping: Recorded  # a check that calls no AWS API, with the S3 ledger and --publish; then `due`


@pytest.fixture(scope="module")
def sandbox() -> Iterator[stack.Sandbox]:
    with stack.running() as sb:  # seeded: the whole checklist passes on it
        yield sb


@pytest.fixture(scope="module")
def runs(sandbox: stack.Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    tmp = tmp_path_factory.mktemp("least-privilege")
    readonly = _recorded(sandbox, [sys.executable, "-m", "pytest", "-m", "not sprint", "-n", "2", "-q",
                                   f"--html={tmp}/readonly.html", f"--junitxml={tmp}/readonly.xml"])
    drill = _recorded(sandbox, [sys.executable, "-m", "pytest", "-m", "sprint", "-q",
                                f"--html={tmp}/drill.html", f"--junitxml={tmp}/drill.xml"])
    return Runs(readonly, drill, _cleanup_recorded(sandbox, tmp), _bookkeeping_recorded(sandbox, tmp))


def _env(sandbox: stack.Sandbox, recorder: CallRecorder) -> dict[str, str]:
    env = {**os.environ, **recorder.env_vars}
    for name, value in sandbox.env_vars.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _recorded(sandbox: stack.Sandbox, *commands: list[str], config: Path | None = None) -> Recorded:
    sandbox.kube.calls.clear()
    with CallRecorder() as recorder:
        env = _env(sandbox, recorder) | ({"OPSCHECKS_CONFIG": str(config)} if config else {})
        for argv in commands:
            result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
            assert result.returncode == 0, f"{' '.join(argv[1:])} must pass on the sandbox:\n" + result.stdout[-4000:]
    return Recorded(recorder.calls, Counter(sandbox.kube.calls))


def _bookkeeping_recorded(sandbox: stack.Sandbox, tmp: Path) -> Recorded:
    """The suite's own S3 writes and reads: the shared ledger (append, then `due`) and the published reports."""
    for bucket in (LEDGER_BUCKET, REPORTS_BUCKET):
        sandbox.s3().create_bucket(Bucket=bucket)
    config = tmp / "opschecks-s3-ledger.toml"
    config.write_text(sandbox.config_path.read_text().replace(
        "[ledger]\n", f'[ledger]\ns3_uri = "s3://{LEDGER_BUCKET}/opschecks"\n'))
    return _recorded(sandbox, [sys.executable, "-m", "pytest", "checks/test_pods.py", "--env", "dev", "-q",
                               f"--html={tmp}/pods.html", f"--junitxml={tmp}/pods.xml", f"--json={tmp}/pods.json",
                               f"--publish=s3://{REPORTS_BUCKET}/opschecks/dev"],
                     [sys.executable, "-m", "opschecks", "due", "--env", "dev"], config=config)


def _cleanup_recorded(sandbox: stack.Sandbox, tmp: Path) -> Recorded:
    """The cleanup command over a plan with one real unused Elastic IP, then every kind of deletion it knows."""
    ec2 = sandbox.client("ec2")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    plan = tmp / "plan.json"
    cleanup.write_plan(plan, [cleanup.PlanEntry(env="dev", account="123456789012", region=stack.REGION,
                                                rule="USG102", kind="elastic-ip", id=allocation, name=allocation,
                                                reason="unused", hint="release it")], sandbox.now)
    sandbox.kube.calls.clear()
    with CallRecorder() as recorder:
        result = subprocess.run([sys.executable, "-m", "opschecks.cleanup", str(plan), "--yes"], cwd=ROOT,
                                env=_env(sandbox, recorder), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0 and "1 deleted, 0 failed" in result.stdout, result.stdout + result.stderr
        _every_deletion(sandbox, recorder)
    return Recorded(recorder.calls, Counter(sandbox.kube.calls))


def _every_deletion(sandbox: stack.Sandbox, recorder: CallRecorder) -> None:
    """Call each of cleanup.DELETERS once (on ids that do not exist: the call is what is recorded)."""
    ids = {"load-balancer": f"arn:aws:elasticloadbalancing:{stack.REGION}:123456789012:loadbalancer/app/gone/0",
           # A real one: moto's error for a missing snapshot has no message, and botocore's monitor drops a call
           # whose error it cannot serialize.
           "ebs-snapshot": _snapshot(sandbox.client("ec2"))}
    saved = dict(os.environ)
    os.environ.update(_env(sandbox, recorder))  # botocore reads the CSM variables when a session is made
    try:
        sess = boto3.Session(region_name=stack.REGION)
        once = BotoConfig(retries={"mode": "standard", "max_attempts": 1})
        clients = SimpleNamespace(**{name: sess.client(name, config=once) for name in ("ec2", "elb", "elbv2", "logs")})
        for kind, delete in cleanup.DELETERS.items():
            try:
                delete(clients, ids.get(kind, "gone-0123456789abcdef0"))
            except Exception:  # noqa: BLE001 (the call is what is recorded; moto fails some missing ids with a 500)
                pass
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _snapshot(ec2) -> str:  # noqa: ANN001 (a boto3 client)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    volume = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    return ec2.create_snapshot(VolumeId=volume)["SnapshotId"]


# --- Kubernetes --------------------------------------------------------------------------------------------

def granted(cluster_role: dict) -> set[tuple[str, str, str]]:
    """Every (verb, API group, resource) a ClusterRole's rules grant."""
    grants = set()
    for rule in cluster_role["rules"]:
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
        grants |= {(verb, group, resource) for verb in rule["verbs"] for group in rule["apiGroups"]
                   for resource in rule["resources"]}
    return grants


@pytest.mark.whole_stack
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cluster_role_grants_exactly_the_recorded_requests(runs: Runs, overlay: str) -> None:
    used = set(runs.readonly.kube) | set(runs.drill.kube) | set(runs.cleanup.kube)
    assert used, "the run made Kubernetes requests"
    roles = [d for d in render(overlay) if d["kind"] == "ClusterRole"]
    assert len(roles) == 1, [r["metadata"]["name"] for r in roles]
    grants = granted(roles[0])
    assert {verb for verb, _, _ in grants} <= READ_VERBS, "read verbs only"
    _exactly(used, grants, f"overlays/{overlay} ClusterRole {roles[0]['metadata']['name']}")


# --- AWS -----------------------------------------------------------------------------------------------------

@pytest.mark.whole_stack
def test_readonly_policy_allows_exactly_what_the_checks_call(runs: Runs) -> None:
    needed = runs.readonly.actions
    allowed = permissions.allowed_actions(IAM / "checks-readonly.json")
    assert {a for a in needed if not permissions.is_read_only(a)} == set(), "the scheduled checks only read"
    _exactly(needed, allowed, "deploy/iam/checks-readonly.json")


@pytest.mark.whole_stack
@pytest.mark.parametrize("policy", ["upload-drill", "cleanup"])
def test_write_policies_allow_exactly_what_their_step_adds(runs: Runs, policy: str) -> None:
    recorded = runs.drill if policy == "upload-drill" else runs.cleanup
    readonly = permissions.allowed_actions(IAM / "checks-readonly.json")
    needed = recorded.actions - readonly
    allowed = permissions.allowed_actions(IAM / f"{policy}.json")
    assert any(not permissions.is_read_only(a) for a in needed), f"the {policy} step writes"
    _exactly(needed, allowed, f"deploy/iam/{policy}.json (beyond checks-readonly.json)")


@pytest.mark.whole_stack
def test_ledger_and_reports_policy_allows_exactly_the_suites_own_bookkeeping(runs: Runs) -> None:
    # The pods check calls no AWS API; the run's identity lookup is in checks-readonly.json.
    needed = runs.bookkeeping.actions - {"sts:GetCallerIdentity"}
    assert ("S3", "PutObject") in runs.bookkeeping.aws and ("S3", "ListObjectsV2") in runs.bookkeeping.aws
    _exactly(needed, permissions.allowed_actions(IAM / "ledger-and-reports.json"), "deploy/iam/ledger-and-reports.json")


@pytest.mark.whole_stack
def test_the_recorder_sees_every_process(runs: Runs) -> None:
    """The drill's set-up script is its own process; its writes are recorded, not just the checks' reads."""
    assert ("SQS", "CreateQueue") in runs.drill.aws and ("Lambda", "CreateFunction") in runs.drill.aws
    assert ("EC2", "ReleaseAddress") in runs.cleanup.aws
    deletions = {call for call in runs.cleanup.aws if not permissions.is_read_only(permissions.actions_for(*call)[0])}
    assert len(deletions) == len(cleanup.DELETERS), f"each kind of deletion was recorded: {sorted(deletions)}"


def _exactly(used: set, granted: set, what: str) -> None:
    narrow, wide = sorted(used - granted), sorted(granted - used)
    assert not narrow and not wide, (f"{what} must grant exactly what the run used; too narrow (used, not granted): "
                                     f"{narrow}; too wide (granted, never used): {wide}")


def test_policy_documents_are_plain_allow_lists() -> None:
    for path in sorted(IAM.glob("*.json")):
        if path.name.endswith("trust-policy.json"):
            continue
        assert permissions.allowed_actions(path), path


def test_unknown_calls_are_refused_not_guessed() -> None:
    assert permissions.actions_for("S3", "ListObjectsV2") == ("s3:ListBucket",)
    assert permissions.actions_for("API Gateway", "GetRestApis") == ("apigateway:GET",)
    assert permissions.actions_for("Lambda", "CreateFunction") == ("lambda:CreateFunction", "iam:PassRole")
    with pytest.raises(permissions.UnknownCall, match="S3 SelectObjectContent"):
        permissions.actions_for("S3", "SelectObjectContent")
    with pytest.raises(permissions.UnknownCall, match="'DynamoDB'"):
        permissions.actions_for("DynamoDB", "Scan")
