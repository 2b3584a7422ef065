"""Least privilege: the IAM action each AWS API call needs, and the actions a shipped policy document allows.

The suite's own tests record every API call a sandbox run makes (botocore's
client-side monitoring names each call by service id and operation; see
opschecks/sandbox/aws_calls.py) and compare the IAM actions those calls need
with deploy/iam/*.json. Most actions are named like their operation; the
exceptions are listed here, because IAM names them otherwise:

- S3 authorizes by its own action names (ListObjectsV2 needs s3:ListBucket,
  HeadObject needs s3:GetObject, ...);
- API Gateway's management API authorizes by HTTP method (apigateway:GET, ...);
- CloudWatch, the Tagging API and both load balancer APIs have their own prefixes;
- some calls need a second action the call itself does not name (creating a
  Lambda function passes its role: iam:PassRole).

A call that is not known here is an error naming it, never a guess: add it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import botocore.session

# botocore service id (what CSM reports) -> (botocore service name, IAM action prefix)
SERVICES = {
    "API Gateway": ("apigateway", "apigateway"),
    "Batch": ("batch", "batch"),
    "CloudWatch": ("cloudwatch", "cloudwatch"),
    "CloudWatch Logs": ("logs", "logs"),
    "Cost Explorer": ("ce", "ce"),
    "EC2": ("ec2", "ec2"),
    "EKS": ("eks", "eks"),
    "Elastic Load Balancing": ("elb", "elasticloadbalancing"),
    "Elastic Load Balancing v2": ("elbv2", "elasticloadbalancing"),
    "IAM": ("iam", "iam"),
    "Lambda": ("lambda", "lambda"),
    "Resource Groups Tagging API": ("resourcegroupstaggingapi", "tag"),
    "S3": ("s3", "s3"),
    "Secrets Manager": ("secretsmanager", "secretsmanager"),
    "SQS": ("sqs", "sqs"),
    "STS": ("sts", "sts"),
}

# S3 operation -> the IAM action that authorizes it (AWS's "Actions, resources, and condition keys for Amazon S3").
S3_ACTIONS = {
    "CompleteMultipartUpload": "PutObject",
    "CreateBucket": "CreateBucket",
    "CreateMultipartUpload": "PutObject",
    "DeleteBucket": "DeleteBucket",
    "DeleteObject": "DeleteObject",
    "DeleteObjects": "DeleteObject",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "GetBucketLocation": "GetBucketLocation",
    "GetBucketTagging": "GetBucketTagging",
    "GetBucketVersioning": "GetBucketVersioning",
    "GetObject": "GetObject",
    "GetObjectTagging": "GetObjectTagging",
    "HeadBucket": "ListBucket",
    "HeadObject": "GetObject",
    "ListBuckets": "ListAllMyBuckets",
    "ListObjectVersions": "ListBucketVersions",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "PutBucketTagging": "PutBucketTagging",
    "PutObject": "PutObject",
    "PutObjectTagging": "PutObjectTagging",
    "UploadPart": "PutObject",
}

# An action that IAM also checks another one for, though the call does not name it.
IMPLIED = {
    "lambda:CreateFunction": ("iam:PassRole",),
    "batch:RegisterJobDefinition": ("iam:PassRole",),
}


class UnknownCall(ValueError):
    """A recorded API call this module cannot name an IAM action for."""


def actions_for(service_id: str, operation: str) -> tuple[str, ...]:
    """The IAM actions an API call needs, e.g. ("S3", "ListObjectsV2") -> ("s3:ListBucket",)."""
    if service_id not in SERVICES:
        raise UnknownCall(f"no IAM prefix known for service {service_id!r} (call {operation}): "
                          "add it to opschecks.permissions.SERVICES")
    name, prefix = SERVICES[service_id]
    if service_id == "S3":
        if operation not in S3_ACTIONS:
            raise UnknownCall(f"no IAM action known for S3 {operation}: add it to opschecks.permissions.S3_ACTIONS")
        action = f"s3:{S3_ACTIONS[operation]}"
    elif service_id == "API Gateway":
        action = f"apigateway:{_http_method(name, operation)}"
    else:
        action = f"{prefix}:{operation}"
    return (action, *IMPLIED.get(action, ()))


def actions_needed(calls: Iterable[tuple[str, str]]) -> set[str]:
    """Every IAM action needed by the (service id, operation) calls."""
    return {action for service_id, operation in calls for action in actions_for(service_id, operation)}


def allowed_actions(policy_path: Path) -> set[str]:
    """The actions a policy document's Allow statements name; wildcards and Deny/NotAction are refused."""
    document = json.loads(policy_path.read_text())
    actions: set[str] = set()
    for statement in document["Statement"]:
        if statement.get("Effect") != "Allow" or "NotAction" in statement:
            raise ValueError(f"{policy_path}: only Allow statements with Action lists are expected, "
                             f"found {json.dumps(statement)[:200]}")
        listed = statement["Action"]
        for action in [listed] if isinstance(listed, str) else listed:
            if "*" in action:
                raise ValueError(f"{policy_path}: wildcard action {action!r}; name each action the suite calls")
            actions.add(action)
    return actions


def is_read_only(action: str) -> bool:
    """Whether an IAM action only reads, judged by the verb IAM's own read actions start with."""
    name = action.split(":", 1)[1]
    return name == "GET" or name.startswith(("Get", "List", "Describe", "Head"))


@cache
def _http_method(service: str, operation: str) -> str:
    return botocore.session.get_session().get_service_model(service).operation_model(operation).http["method"]
