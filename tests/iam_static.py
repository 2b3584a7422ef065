"""Which code paths each shipped IAM policy serves, and the actions their call sites (opschecks.call_sites) need.

Shared by tests/test_iam_call_sites.py (each policy allows every call its code can make) and
tests/test_least_privilege.py (an action no sandbox run records is not "too wide" when a call site needs it).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from opschecks import call_sites, permissions

ROOT = Path(__file__).resolve().parents[1]
IAM = ROOT / "deploy" / "iam"

# policy -> the modules whose calls it serves. Everything else in opschecks/ is a scheduled check's: read-only.
# The sandbox is the tests' own infrastructure, and call_sites reads code rather than calling AWS.
PATHS = {
    "upload-drill": ["opschecks/areas/upload_service/upload.py", "opschecks/areas/upload_service/inventory.py", "examples/upload_service/upload_infra.py"],
    "cleanup": ["opschecks/areas/aws_usage/cleanup.py"],
    "ledger-and-reports": ["opschecks/record/ledger.py", "opschecks/record/publish.py"],
}
NOT_AWS = ["opschecks/call_sites.py"]
# The policies a role attaches besides its own (docs/deploy.md, section 3): the drill's and the cleanup's roles
# also have the read-only one. The ledger's actions must be in ledger-and-reports.json itself.
ALSO = {"upload-drill": ["checks-readonly"], "cleanup": ["checks-readonly"]}

# What the reading reports as unreadable on purpose: (path, start of why) -> the operations those lines make.
KNOWN_UNREADABLE = {
    # the wrapper every other module calls with a string service name
    ("opschecks/aws.py", "client of service None"): (),
    # the example teardown empties a bucket with the resource API: list versions, delete them, delete the bucket
    ("examples/upload_service/upload_infra.py", "boto3 resource API"): (
        ("S3", "ListObjectVersions"), ("S3", "DeleteObjects"), ("S3", "DeleteBucket")),
    ("examples/upload_service/upload_infra.py", "s3 client has no operation Bucket"): (),
}


def paths(policy: str) -> list[Path]:
    if policy in PATHS:
        return [ROOT / p for p in PATHS[policy]]
    others = {p for ps in PATHS.values() for p in ps} | set(NOT_AWS)
    return [p for p in (ROOT / "opschecks").rglob("*.py")
            if "sandbox" not in p.relative_to(ROOT).parts and str(p.relative_to(ROOT)) not in others]


@cache
def inventory(policy: str) -> tuple[tuple[call_sites.CallSite, ...], tuple[call_sites.Unreadable, ...]]:
    sites, unreadable = call_sites.scan(ROOT, paths(policy))
    return tuple(sites), tuple(unreadable)


def needed(policy: str) -> dict[str, list[str]]:
    """IAM action -> the call sites (and hand-mapped unreadable lines) of the policy's code that need it."""
    sites, unreadable = inventory(policy)
    calls = [(str(s), (s.service_id, s.operation)) for s in sites]
    for u in unreadable:
        for (path, why), ops in KNOWN_UNREADABLE.items():
            if u.path == path and u.why.startswith(why):
                calls += [(str(u), op) for op in ops]
    actions: dict[str, list[str]] = {}
    for where, call in calls:
        for action in permissions.actions_for(*call):
            actions.setdefault(action, []).append(where)
    return actions


def allowed(policy: str) -> set[str]:
    return set().union(*(permissions.allowed_actions(IAM / f"{p}.json") for p in [policy, *ALSO.get(policy, [])]))
