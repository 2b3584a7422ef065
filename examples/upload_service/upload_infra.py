"""A small stand-in for the legacy upload service's infrastructure: set it up, tear it down.

    python examples/upload_service/upload_infra.py setup --stage dev
    python examples/upload_service/upload_infra.py teardown --stage dev [--leak]

It creates, with boto3, a realistic subset of what Terraform and Chalice made for
the legacy service: the upload-area and checksum S3 buckets, the validation SQS
queue and its dead-letter queue, a Secrets Manager secret, the Lambda's IAM
role, log group and function, a hand-made API Gateway REST API and a Batch job
definition. Names start with ``upload-<stage>-`` (the secret with
``dcp-upload-<stage>-``); every resource that can be tagged carries
``Name=upload`` and ``Env=<stage>``.

Teardown deletes whatever of it exists, so it also cleans up after a set-up
that failed half way. ``--leak`` reproduces the legacy teardown's best-known
leak: the secret is deleted with a recovery window, so it stays behind,
pending deletion, and blocks the next set-up.

It honours the standard AWS variables (AWS_PROFILE, AWS_ENDPOINT_URL, ...), so
it runs against the sandbox's moto as well as a real account.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from collections.abc import Callable
from functools import partial

import boto3
from botocore.exceptions import ClientError

HANDLER = b"def handler(event, context):\n    return {'statusCode': 200, 'body': '{\"status\": \"ok\"}'}\n"
ASSUME_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]},
                   "Action": "sts:AssumeRole"}],
}


class Names:
    def __init__(self, stage: str) -> None:
        self.stage = stage
        prefix = f"upload-{stage}-"
        self.area_bucket = f"{prefix}area"
        self.checksum_bucket = f"{prefix}checksums"
        self.queue = f"{prefix}validation"
        self.dlq = f"{prefix}validation-dlq"
        self.secret = f"dcp-upload-{stage}-secrets"
        self.role = f"{prefix}api-lambda"
        self.function = f"{prefix}api"
        self.log_group = f"/aws/lambda/{self.function}"
        self.rest_api = f"{prefix}api"
        self.job_definition = f"{prefix}validation"

    @property
    def tags(self) -> dict[str, str]:
        return {"Name": "upload", "Env": self.stage}


def setup(session: boto3.Session, n: Names) -> None:
    tag_list = [{"Key": k, "Value": v} for k, v in n.tags.items()]
    s3 = session.client("s3")
    for bucket in (n.area_bucket, n.checksum_bucket):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list})
        say(f"created bucket {bucket}")
    # What the health URL serves once the service is up.
    s3.put_object(Bucket=n.area_bucket, Key="health.json", Body=json.dumps({"status": "ok"}).encode(),
                  ContentType="application/json", ACL="public-read")

    sqs = session.client("sqs")
    dlq_url = sqs.create_queue(QueueName=n.dlq, tags=n.tags)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(QueueName=n.queue, tags=n.tags, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        "VisibilityTimeout": "900",
    })
    say(f"created queues {n.queue} and {n.dlq}")

    session.client("secretsmanager").create_secret(
        Name=n.secret, SecretString=json.dumps({"api_key": "change-me"}), Tags=tag_list)
    say(f"created secret {n.secret}")

    iam = session.client("iam")
    role_arn = iam.create_role(RoleName=n.role, AssumeRolePolicyDocument=json.dumps(ASSUME_LAMBDA),
                               Tags=tag_list)["Role"]["Arn"]
    say(f"created role {n.role}")

    session.client("logs").create_log_group(logGroupName=n.log_group, tags=n.tags)
    say(f"created log group {n.log_group}")

    session.client("lambda").create_function(
        FunctionName=n.function, Runtime="python3.11", Role=role_arn, Handler="app.handler",
        Code={"ZipFile": _zip("app.py", HANDLER)}, Tags=n.tags, Timeout=30)
    say(f"created function {n.function}")

    api_id = session.client("apigateway").create_rest_api(name=n.rest_api, tags=n.tags)["id"]
    say(f"created REST API {n.rest_api} ({api_id})")

    session.client("batch").register_job_definition(
        jobDefinitionName=n.job_definition, type="container", tags=n.tags,
        containerProperties={"image": "humancellatlas/upload-validator:latest", "jobRoleArn": role_arn,
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "2048"}],
                             "command": ["validate", "Ref::s3_url"]})
    say(f"registered job definition {n.job_definition}")


def teardown(session: boto3.Session, n: Names, leak: bool) -> None:
    batch = session.client("batch")
    for page in batch.get_paginator("describe_job_definitions").paginate(
            jobDefinitionName=n.job_definition, status="ACTIVE"):
        for jd in page["jobDefinitions"]:
            batch.deregister_job_definition(jobDefinition=jd["jobDefinitionArn"])
            say(f"deregistered {jd['jobDefinitionArn']}")

    apigw = session.client("apigateway")
    for page in apigw.get_paginator("get_rest_apis").paginate():
        for api in page["items"]:
            if api["name"] == n.rest_api:
                apigw.delete_rest_api(restApiId=api["id"])
                say(f"deleted REST API {n.rest_api} ({api['id']})")

    gone(lambda: session.client("lambda").delete_function(FunctionName=n.function), f"function {n.function}")
    gone(lambda: session.client("logs").delete_log_group(logGroupName=n.log_group), f"log group {n.log_group}")
    gone(lambda: session.client("iam").delete_role(RoleName=n.role), f"role {n.role}")

    secrets = session.client("secretsmanager")
    if leak:
        # The legacy teardown's way: recoverable for 7 days, so the secret is still there (and its name taken).
        gone(lambda: secrets.delete_secret(SecretId=n.secret, RecoveryWindowInDays=7),
             f"secret {n.secret} (scheduled for deletion in 7 days)")
    else:
        gone(lambda: secrets.delete_secret(SecretId=n.secret, ForceDeleteWithoutRecovery=True), f"secret {n.secret}")

    sqs = session.client("sqs")
    for queue in (n.queue, n.dlq):
        gone(partial(_delete_queue, sqs, queue), f"queue {queue}")

    s3 = session.resource("s3")
    for bucket in (n.area_bucket, n.checksum_bucket):
        gone(partial(_delete_bucket, s3.Bucket(bucket)), f"bucket {bucket}")


def gone(delete: Callable[[], object], what: str) -> None:
    """Delete, treating 'it does not exist' as done: teardown must also finish a half-made set-up."""
    try:
        delete()
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code not in {"ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket",
                        "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            raise
        say(f"{what}: already gone")
        return
    say(f"deleted {what}")


def _delete_queue(sqs, name: str) -> None:  # noqa: ANN001 (boto3 client)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])


def _delete_bucket(bucket) -> None:  # noqa: ANN001 (boto3 Bucket resource)
    bucket.object_versions.delete()  # a bucket must be empty, old versions included, to be deleted
    bucket.delete()


def _zip(name: str, body: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, body)
    return buf.getvalue()


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["setup", "teardown"])
    parser.add_argument("--stage", required=True, help="deployment stage, e.g. dev or staging")
    parser.add_argument("--leak", action="store_true",
                        help="teardown leaves the secret behind, pending deletion (as the legacy teardown did)")
    parser.add_argument("--region", default=None, help="default: AWS_DEFAULT_REGION / the profile's region")
    args = parser.parse_args(argv)
    if args.stage == "prod":
        parser.error("refusing to touch prod: this script is for drills in dev or staging")
    session = boto3.Session(region_name=args.region)
    names = Names(args.stage)
    if args.action == "setup":
        setup(session, names)
    else:
        teardown(session, names, leak=args.leak)
    return 0


if __name__ == "__main__":
    sys.exit(main())
