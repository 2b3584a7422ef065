"""deploy/iam/upload-drill.json lets the drill write only its own resources, judged by tests/iam_eval.py.

Requests are built from the example service's real names and tags (examples/upload_service/upload_infra.py:
``upload-<stage>-…``, the secret ``dcp-upload-<stage>-…``, tags Name=upload and Env=<stage>): every call the drill's
code can make (tests/iam_static.py) is allowed on them; the same writes on another service's resources, or on an
untagged REST API, are denied. The drill's role also attaches checks-readonly.json, so both are evaluated.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests import iam_static
from tests.iam_eval import Request, allowed

POLICIES = [iam_static.IAM / "checks-readonly.json", iam_static.IAM / "upload-drill.json"]
ACCOUNT, REGION = "123456789012", "eu-west-1"
EXAMPLE = iam_static.ROOT / "examples" / "upload_service" / "upload_infra.py"


def _example():  # noqa: ANN202 (the example script as a module: its Names are the drill's real names)
    spec = importlib.util.spec_from_file_location("upload_infra", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def drill_requests(stage: str) -> list[Request]:
    """One request per IAM action the drill's code needs, on the resource the example names for it."""
    n = _example().Names(stage)
    tags = {f"aws:RequestTag/{k}": v for k, v in n.tags.items()} | {"aws:TagKeys": list(n.tags)}
    on = {f"aws:ResourceTag/{k}": v for k, v in n.tags.items()}
    sqs, bucket = f"arn:aws:sqs:{REGION}:{ACCOUNT}:", f"arn:aws:s3:::{n.area_bucket}"
    jobs = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{n.job_definition}"
    role = f"arn:aws:iam::{ACCOUNT}:role/{n.role}"
    return [
        *(Request(a, "*") for a in ("tag:GetResources", "apigateway:GET", "batch:DescribeJobDefinitions",
                                    "iam:ListRoles", "secretsmanager:ListSecrets", "logs:DescribeLogGroups")),
        *(Request(f"s3:{a}", bucket) for a in ("CreateBucket", "PutBucketTagging", "ListBucketVersions",
                                               "DeleteBucket")),
        *(Request(f"s3:{a}", f"{bucket}/health.json") for a in ("PutObject", "DeleteObject")),
        *(Request(f"sqs:{a}", sqs + q) for q in (n.queue, n.dlq)
          for a in ("CreateQueue", "GetQueueAttributes", "GetQueueUrl", "DeleteQueue")),
        *(Request(f"secretsmanager:{a}", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{n.secret}-AbCdEf")
          for a in ("CreateSecret", "DeleteSecret")),
        *(Request(f"iam:{a}", role) for a in ("CreateRole", "PassRole", "DeleteRole")),
        *(Request(f"logs:{a}", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{n.log_group}")
          for a in ("CreateLogGroup", "DeleteLogGroup")),
        *(Request(f"lambda:{a}", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{n.function}")
          for a in ("CreateFunction", "DeleteFunction")),
        Request("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis", tags),
        Request("apigateway:DELETE", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5", on),
        Request("batch:RegisterJobDefinition", jobs, tags),
        Request("batch:DeregisterJobDefinition", f"{jobs}:1", on),
    ]


@pytest.mark.parametrize("stage", ["dev", "staging"])
def test_every_call_of_the_drill_is_allowed_on_its_own_resources(stage: str) -> None:
    requests = drill_requests(stage)
    unjudged = set(iam_static.needed("upload-drill")) - {r.action for r in requests}
    assert not unjudged, f"drill calls without a request here (add one on the resource it writes): {unjudged}"
    denied = [r for r in requests if not allowed(POLICIES, r)]
    assert not denied, f"the drill's own calls are denied: {denied}"


def _foreign(request: Request) -> Request:
    """The same call on another service's resource: other names, other tags."""
    return replace(request, resource=request.resource.replace("upload", "ingest"),
                   context={k: v.replace("upload", "ingest") if isinstance(v, str) else v
                            for k, v in request.context.items()})


WRITES = [r for r in drill_requests("dev") if r.resource != "*" and not r.action.split(":")[1].startswith(("Get", "List"))]


@pytest.mark.parametrize("request_", WRITES, ids=lambda r: f"{r.action} {r.resource.rsplit(':', 1)[-1]}")
def test_a_write_outside_the_drill_is_denied(request_: Request) -> None:
    foreign = _foreign(request_)
    assert foreign.resource != request_.resource or foreign.context != request_.context
    assert not allowed(POLICIES, foreign), f"allowed on another service's resource: {foreign}"


def test_an_untagged_rest_api_is_neither_created_nor_deleted() -> None:
    for action, path in (("apigateway:POST", "/restapis"), ("apigateway:DELETE", "/restapis/a1b2c3d4e5")):
        assert not allowed(POLICIES, Request(action, f"arn:aws:apigateway:{REGION}::{path}"))


# --- the evaluator itself ---------------------------------------------------------------------------------------

def _policy(tmp_path: Path, *statements: dict) -> list[Path]:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    return [path]


def test_the_evaluator_denies_by_default_and_on_an_explicit_deny(tmp_path: Path) -> None:
    allow = {"Effect": "Allow", "Action": "SQS:Delete*", "Resource": "arn:aws:sqs:*:*:upload-*"}
    deny = {"Effect": "Deny", "Action": "sqs:*", "Resource": "*", "Condition": {"Null": {"aws:ResourceTag/Env": "true"}}}
    policies = _policy(tmp_path, allow, deny)
    queue = "arn:aws:sqs:eu-west-1:1:upload-dev-q"
    assert allowed(policies, Request("sqs:DeleteQueue", queue, {"aws:ResourceTag/Env": "dev"}))
    assert not allowed(policies, Request("sqs:DeleteQueue", queue)), "the Deny (no Env tag) wins"
    assert not allowed(policies, Request("sqs:CreateQueue", queue, {"aws:ResourceTag/Env": "dev"})), "no Allow"


def test_the_evaluator_knows_its_operators_and_refuses_others(tmp_path: Path) -> None:
    keys = {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["Name", "Env"]},
                          "StringLike": {"aws:RequestTag/Env": ["dev", "stag*"]}}}
    policies = _policy(tmp_path, keys)
    assert allowed(policies, Request("x:Y", "*", {"aws:TagKeys": ["Name"], "aws:RequestTag/Env": "staging"}))
    assert not allowed(policies, Request("x:Y", "*", {"aws:TagKeys": ["Owner"], "aws:RequestTag/Env": "dev"}))
    assert not allowed(policies, Request("x:Y", "*", {"aws:TagKeys": ["Name"]})), "a missing key does not match"
    with pytest.raises(ValueError, match="NumericLessThan"):
        allowed(_policy(tmp_path, {**keys, "Condition": {"NumericLessThan": {"k": "1"}}}), Request("x:Y", "*"))
