"""Least privilege, proven: the shipped RBAC and IAM documents grant exactly what a full sandbox run calls.

One seeded sandbox, in a process of its own (tests/least_privilege_runs.py); the
checklist runs in subprocesses against it, as a CronJob would run it. Every Kubernetes request is recorded by the fake API server
(verb, API group, resource) and every AWS call by botocore's client-side
monitoring (opschecks/sandbox/aws_calls.py), in every process: pytest-xdist
workers and the upload drill's scripts included. Then:

- deploy/kubernetes's ClusterRole grants exactly the recorded (verb, group, resource), read verbs only;
- deploy/iam/checks-readonly.json allows exactly the IAM actions the read-only checks need, all reads;
- deploy/iam/upload-drill.json and deploy/iam/cleanup.json allow exactly what the drill and the cleanup
  command need beyond the read-only policy (their roles attach both);
- deploy/iam/ledger-and-reports.json allows exactly the suite's own bookkeeping (S3 ledger, --publish).

A new call without a policy change fails here (too narrow), and so does a
policy action nothing calls any more (too wide): nothing the run recorded, and no
call site of that policy's code (tests/iam_static.py; a run only takes the paths
its data leads to, tests/test_iam_call_sites.py reads them all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from opschecks import permissions
from opschecks.areas.aws_usage import cleanup
from tests import iam_static
from tests.kustomize import OVERLAYS, render

ROOT = Path(__file__).resolve().parents[1]
IAM = ROOT / "deploy" / "iam"
READ_VERBS = {"get", "list", "watch"}


@dataclass
class Recorded:
    aws: Counter[tuple[str, str]]  # (service id, operation) -> calls
    kube: Counter[tuple[str, str, str]]  # (verb, API group, resource) -> requests

    @property
    def actions(self) -> set[str]:
        return permissions.actions_needed(self.aws)


@dataclass
class Runs:
    readonly: Recorded  # pytest -m "not sprint": every cadence but the drill (daily, fortnightly, monthly, e2e)
    drill: Recorded  # pytest -m sprint: the upload drill, with its set-up and teardown scripts
    cleanup: Recorded  # python -m opschecks cleanup over a real plan, and every kind of deletion
    bookkeeping: Recorded  # a check that calls no AWS API, with the S3 ledger and --publish; then `due`


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    out = tmp_path_factory.mktemp("least-privilege") / "runs.json"
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "least_privilege_runs.py"), str(out)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    return Runs(**{name: Recorded(Counter({tuple(c[:-1]): c[-1] for c in run["aws"]}),
                                  Counter({tuple(c[:-1]): c[-1] for c in run["kube"]}))
                   for name, run in data.items()})


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
    _exactly(needed, allowed, "deploy/iam/checks-readonly.json", reachable=set(iam_static.needed("checks-readonly")))


@pytest.mark.whole_stack
@pytest.mark.parametrize("policy", ["upload-drill", "cleanup"])
def test_write_policies_allow_exactly_what_their_step_adds(runs: Runs, policy: str) -> None:
    recorded = runs.drill if policy == "upload-drill" else runs.cleanup
    readonly = permissions.allowed_actions(IAM / "checks-readonly.json")
    needed = recorded.actions - readonly
    allowed = permissions.allowed_actions(IAM / f"{policy}.json")
    assert any(not permissions.is_read_only(a) for a in needed), f"the {policy} step writes"
    _exactly(needed, allowed, f"deploy/iam/{policy}.json (beyond checks-readonly.json)",
             reachable=set(iam_static.needed(policy)))


@pytest.mark.whole_stack
def test_ledger_and_reports_policy_allows_exactly_the_suites_own_bookkeeping(runs: Runs) -> None:
    # The pods check calls no AWS API; the run's identity lookup is in checks-readonly.json.
    needed = runs.bookkeeping.actions - {"sts:GetCallerIdentity"}
    assert ("S3", "PutObject") in runs.bookkeeping.aws and ("S3", "ListObjectsV2") in runs.bookkeeping.aws
    _exactly(needed, permissions.allowed_actions(IAM / "ledger-and-reports.json"), "deploy/iam/ledger-and-reports.json",
             reachable=set(iam_static.needed("ledger-and-reports")))


@pytest.mark.whole_stack
def test_the_recorder_sees_every_process(runs: Runs) -> None:
    """The drill's set-up script is its own process; its writes are recorded, not just the checks' reads."""
    assert ("SQS", "CreateQueue") in runs.drill.aws and ("Lambda", "CreateFunction") in runs.drill.aws
    assert ("EC2", "ReleaseAddress") in runs.cleanup.aws
    deletions = {call for call in runs.cleanup.aws if not permissions.is_read_only(permissions.actions_for(*call)[0])}
    assert len(deletions) == len(cleanup.DELETERS), f"each kind of deletion was recorded: {sorted(deletions)}"


def _exactly(used: set, granted: set, what: str, reachable: frozenset | set = frozenset()) -> None:
    """``reachable``: actions a call site of the policy's code needs though this run did not take that path."""
    narrow, wide = sorted(used - granted), sorted(granted - used - reachable)
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
