"""The recorded runs behind tests/test_least_privilege.py, in a process of its own.

    python tests/least_privilege_runs.py OUT.json

Starts a seeded sandbox (its own moto state: a second seeded sandbox in the
test process would collide with test_sandbox.py's), runs the checklist and the
cleanup command against it while recording every AWS call (botocore's
client-side monitoring, opschecks/sandbox/aws_calls.py) and every Kubernetes
request (the fake API server), and writes them as JSON:
``{"readonly": {"aws": [[service, operation, calls], ...], "kube": [[verb, group, resource, requests], ...]}, ...}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config as BotoConfig

from opschecks.areas.aws_usage import cleanup
from opschecks.sandbox import stack
from opschecks.sandbox.aws_calls import CallRecorder

ROOT = Path(__file__).resolve().parents[1]
LEDGER_BUCKET, REPORTS_BUCKET = "ingest-ops-ledger", "ingest-ops-reports"  # as in deploy/iam/ledger-and-reports.json


def main(out: Path) -> None:
    with stack.running() as sandbox, tempfile.TemporaryDirectory() as tmp_dir:  # seeded: the checklist passes
        tmp = Path(tmp_dir)
        runs = {
            # every cadence but the drill: daily, fortnightly, monthly, e2e
            "readonly": _recorded(sandbox, [sys.executable, "-m", "pytest", "-m", "not sprint", "-n", "2", "-q",
                                            f"--html={tmp}/readonly.html", f"--junitxml={tmp}/readonly.xml"]),
            # the upload drill, with its set-up and teardown scripts
            "drill": _recorded(sandbox, [sys.executable, "-m", "pytest", "-m", "sprint", "-q",
                                         f"--html={tmp}/drill.html", f"--junitxml={tmp}/drill.xml"]),
            "cleanup": _cleanup_recorded(sandbox, tmp),
            "bookkeeping": _bookkeeping_recorded(sandbox, tmp),
        }
    out.write_text(json.dumps({name: {"aws": [[*k, n] for k, n in sorted(aws.items())],
                                      "kube": [[*k, n] for k, n in sorted(kube.items())]}
                               for name, (aws, kube) in runs.items()}, indent=1))


Calls = tuple[Counter, Counter]  # AWS (service id, operation) -> calls; Kubernetes (verb, group, resource) -> requests


def _env(sandbox: stack.Sandbox, recorder: CallRecorder | None) -> dict[str, str]:
    env = {**os.environ, **(recorder.env_vars if recorder else {})}
    for name, value in sandbox.env_vars.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _recorded(sandbox: stack.Sandbox, *commands: list[str], config: Path | None = None) -> Calls:
    sandbox.kube.calls.clear()
    with CallRecorder() as recorder:
        env = _env(sandbox, recorder) | ({"OPSCHECKS_CONFIG": str(config)} if config else {})
        for argv in commands:
            result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                raise SystemExit(f"{' '.join(argv[1:])} must pass on the sandbox:\n{result.stdout[-4000:]}")
    return recorder.calls, Counter(sandbox.kube.calls)


def _bookkeeping_recorded(sandbox: stack.Sandbox, tmp: Path) -> Calls:
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


def _cleanup_recorded(sandbox: stack.Sandbox, tmp: Path) -> Calls:
    """The cleanup command over a plan with one real unused Elastic IP, then every kind of deletion it knows."""
    allocation = sandbox.client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    plan = tmp / "plan.json"
    # The monthly check writes the plan (and fails: USG102, the unwaived Elastic IP); not recorded, it only reads.
    subprocess.run([sys.executable, "-m", "pytest", "checks/test_aws_usage.py", "-k", "unused_resources", "--env",
                    "dev", "-q", f"--cleanup-plan={plan}", f"--html={tmp}/plan.html", f"--junitxml={tmp}/plan.xml"],
                   cwd=ROOT, env=_env(sandbox, None), capture_output=True, text=True, timeout=600)
    if allocation not in plan.read_text():
        raise SystemExit(f"the plan does not list the unused Elastic IP {allocation}:\n{plan.read_text()}")
    sandbox.kube.calls.clear()
    with CallRecorder() as recorder:
        result = subprocess.run([sys.executable, "-m", "opschecks", "cleanup", str(plan), "--yes"], cwd=ROOT,
                                env=_env(sandbox, recorder), capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or f"deleted elastic-ip {allocation}" not in result.stdout:
            raise SystemExit(f"cleanup must delete the planned Elastic IP:\n{result.stdout}{result.stderr}")
        _every_deletion(sandbox, recorder)
    return recorder.calls, Counter(sandbox.kube.calls)


def _every_deletion(sandbox: stack.Sandbox, recorder: CallRecorder) -> None:
    """Call each of cleanup.DELETERS once (on ids that do not exist: the call is what is recorded)."""
    ids = {"load-balancer": f"arn:aws:elasticloadbalancing:{stack.REGION}:123456789012:loadbalancer/app/gone/0",
           # A real one: moto's error for a missing snapshot has no message, and botocore's monitor drops a call
           # whose error it cannot serialize.
           "ebs-snapshot": _snapshot(sandbox.client("ec2"))}
    with pytest.MonkeyPatch.context() as env:  # botocore reads the CSM variables when a session is made
        for name, value in {**recorder.env_vars, **sandbox.env_vars}.items():
            if value is None:
                env.delenv(name, raising=False)
            else:
                env.setenv(name, value)
        sess = boto3.Session(region_name=stack.REGION)
        once = BotoConfig(retries={"mode": "standard", "max_attempts": 1})
        clients = SimpleNamespace(**{name: sess.client(name, config=once) for name in ("ec2", "elb", "elbv2", "logs")})
        for kind, delete in cleanup.DELETERS.items():
            try:
                delete(clients, ids.get(kind, "gone-0123456789abcdef0"))
            except Exception:  # noqa: BLE001 (the call is what is recorded; moto fails some missing ids with a 500)
                pass


def _snapshot(ec2) -> str:  # noqa: ANN001 (a boto3 client)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    volume = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    ec2.delete_volume(VolumeId=volume)  # moto's state is shared by the test session: leave nothing unused behind
    return snapshot


if __name__ == "__main__":
    main(Path(sys.argv[1]))
