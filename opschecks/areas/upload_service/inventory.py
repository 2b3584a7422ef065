"""An inventory of what a service owns in an AWS account, and the difference between two inventories.

A resource is found two ways:

- by tags, through the Resource Groups Tagging API (every tag filter must match, as the API does);
- by name prefix, for the types the Tagging API misses or that are often left untagged: API Gateway REST
  APIs, ACTIVE Batch job definitions, IAM roles, Secrets Manager secrets (including those pending deletion,
  which still exist and still hold their name) and CloudWatch log groups.

A name matches a prefix when it starts with it or one of its ``/``-separated parts does, so the prefix
``upload-dev-`` finds the log group ``/aws/lambda/upload-dev-api`` too. Every resource is identified by its
ARN and typed from it (``s3:bucket``, ``iam:role``, ``secretsmanager:secret``, ...), so one found both ways
is one resource that remembers both ways.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import boto3

from opschecks.aws import client

# Services whose ARNs name the resource without a type (arn:aws:s3:::bucket, arn:aws:sqs:region:account:queue).
_UNTYPED_ARNS = {"s3": "bucket", "sqs": "queue", "sns": "topic"}


@dataclass(frozen=True)
class Resource:
    type: str  # from the ARN, e.g. "s3:bucket", "iam:role", "apigateway:restapis"
    id: str  # the ARN
    found_by: tuple[str, ...]  # e.g. ("tags Env=dev, Name=upload", "name prefix 'upload-dev-' (IAM roles)")
    created: dt.datetime | None = None  # when the listing says (IAM roles, secrets, log groups, REST APIs)

    @property
    def how(self) -> str:
        return "; ".join(self.found_by)

    def __str__(self) -> str:
        return f"{self.type} {self.id} (found by {self.how})"


@dataclass(frozen=True)
class Diff:
    added: tuple[Resource, ...]  # in the second inventory only
    removed: tuple[Resource, ...]  # in the first inventory only


Inventory = dict[str, Resource]  # by ARN


def arn_type(arn: str) -> str:
    """``s3:bucket``, ``iam:role``, ``logs:log-group``, ``batch:job-definition``, ``apigateway:restapis``, ..."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "unknown"
    service, resource = parts[2], parts[5].lstrip("/")
    kind = re.split(r"[:/]", resource, maxsplit=1)
    if len(kind) == 2:
        return f"{service}:{kind[0]}"
    return f"{service}:{_UNTYPED_ARNS.get(service, 'resource')}"


def matches(name: str, prefixes: Iterable[str]) -> str | None:
    """The first prefix that ``name`` or one of its /-separated parts starts with, else None."""
    for prefix in prefixes:
        if name.startswith(prefix) or f"/{prefix}" in name:
            return prefix
    return None


def take(sess: boto3.Session, tag_filters: dict[str, list[str]], prefixes: list[str]) -> Inventory:
    """Everything in the session's account and region that the tag filters or the name prefixes find."""
    found: dict[str, list[str]] = {}
    created: dict[str, dt.datetime] = {}
    for arn, how, when in _found(sess, tag_filters, prefixes):
        ways = found.setdefault(arn, [])
        if how not in ways:
            ways.append(how)
        if when is not None:
            created.setdefault(arn, when)
    return {arn: Resource(arn_type(arn), arn, tuple(ways), created.get(arn)) for arn, ways in found.items()}


def diff(before: Inventory, after: Inventory) -> Diff:
    def ordered(arns: set[str], inv: Inventory) -> tuple[Resource, ...]:
        return tuple(sorted((inv[a] for a in arns), key=lambda r: (r.type, r.id)))

    return Diff(added=ordered(set(after) - set(before), after), removed=ordered(set(before) - set(after), before))


Found = tuple[str, str, "dt.datetime | None"]  # ARN, how it was found, when it was created if the listing says


def _found(sess: boto3.Session, tag_filters: dict[str, list[str]], prefixes: list[str]) -> Iterator[Found]:
    if tag_filters:  # no filter at all would list every tagged resource of the account
        yield from ((arn, how, None) for arn, how in _by_tags(client(sess, "resourcegroupstaggingapi"), tag_filters))
    if prefixes:
        for lister in _PREFIX_LISTERS:
            for name, arn, what, when in lister(sess):
                prefix = matches(name, prefixes)
                if prefix is not None:
                    yield arn, f"name prefix {prefix!r} ({what})", when


def _by_tags(tagging, tag_filters: dict[str, list[str]]) -> Iterator[tuple[str, str]]:  # noqa: ANN001 (boto3 client)
    how = "tags " + ", ".join(f"{k}={'|'.join(v)}" for k, v in sorted(tag_filters.items()))
    filters = [{"Key": k, "Values": v} for k, v in tag_filters.items()]
    for page in tagging.get_paginator("get_resources").paginate(TagFilters=filters, ResourcesPerPage=100):
        for mapping in page["ResourceTagMappingList"]:
            yield mapping["ResourceARN"], how


# Each lister yields (name, ARN, what was listed, created when the listing says) for every resource of its type
# in the account and region.
Listed = tuple[str, str, str, "dt.datetime | None"]


def _rest_apis(sess: boto3.Session) -> Iterator[Listed]:
    partition = sess.get_partition_for_region(sess.region_name)
    for page in client(sess, "apigateway").get_paginator("get_rest_apis").paginate():
        for api in page["items"]:
            yield (api["name"], f"arn:{partition}:apigateway:{sess.region_name}::/restapis/{api['id']}", "REST APIs",
                   api.get("createdDate"))


def _job_definitions(sess: boto3.Session) -> Iterator[Listed]:
    paginator = client(sess, "batch").get_paginator("describe_job_definitions")
    for page in paginator.paginate(status="ACTIVE"):
        for jd in page["jobDefinitions"]:
            yield jd["jobDefinitionName"], jd["jobDefinitionArn"], "ACTIVE Batch job definitions", None


def _roles(sess: boto3.Session) -> Iterator[Listed]:
    for page in client(sess, "iam").get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            yield role["RoleName"], role["Arn"], "IAM roles", role.get("CreateDate")


def _secrets(sess: boto3.Session) -> Iterator[Listed]:
    paginator = client(sess, "secretsmanager").get_paginator("list_secrets")
    for page in paginator.paginate(IncludePlannedDeletion=True):
        for secret in page["SecretList"]:
            pending = secret.get("DeletedDate")
            what = f"secrets, pending deletion on {pending:%Y-%m-%d}" if pending else "secrets"
            yield secret["Name"], secret["ARN"], what, secret.get("CreatedDate")


def _log_groups(sess: boto3.Session) -> Iterator[Listed]:
    for page in client(sess, "logs").get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            # "arn" ends with ":*"; the Tagging API reports the ARN without it, as "logGroupArn" is.
            arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
            created = group.get("creationTime")
            yield (group["logGroupName"], arn, "log groups",
                   dt.datetime.fromtimestamp(created / 1000, dt.timezone.utc) if created else None)


_PREFIX_LISTERS: tuple[Callable[[boto3.Session], Iterator[Listed]], ...] = (
    _rest_apis, _job_definitions, _roles, _secrets, _log_groups,
)
