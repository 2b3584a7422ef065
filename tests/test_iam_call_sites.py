"""Each shipped IAM policy allows every AWS call its code CAN make, read from the code (opschecks.call_sites).

tests/test_least_privilege.py proves the policies from what a sandbox run calls; that run only takes the
paths its data leads to (the unused-resources rules ask a load balancer for its target groups only when it is
7 days old). This reads every call site instead, so a call added anywhere fails here until its policy allows it.
"""

from __future__ import annotations

import pytest

from opschecks import call_sites, permissions
from tests import iam_static

POLICIES = ["checks-readonly", "upload-drill", "cleanup", "ledger-and-reports"]


@pytest.mark.parametrize("policy", POLICIES)
def test_policy_allows_every_call_its_code_can_make(policy: str) -> None:
    needed = iam_static.needed(policy)
    assert needed, f"the {policy} code makes AWS calls"
    missing = {action: sites for action, sites in sorted(needed.items()) if action not in iam_static.allowed(policy)}
    assert not missing, f"deploy/iam/{policy}.json does not allow: " + "; ".join(
        f"{action} (called at {', '.join(sites)})" for action, sites in missing.items())


@pytest.mark.parametrize("policy", POLICIES)
def test_every_unreadable_call_is_known(policy: str) -> None:
    _, unreadable = iam_static.inventory(policy)
    unknown = [str(u) for u in unreadable
               if not any(u.path == path and u.why.startswith(why) for path, why in iam_static.KNOWN_UNREADABLE)]
    assert not unknown, f"AWS calls the reading cannot name (make them readable, or map them): {unknown}"


def test_the_readonly_policy_only_reads() -> None:
    assert all(permissions.is_read_only(a) for a in iam_static.needed("checks-readonly"))


SOURCE = '''
from opschecks import aws

class Clients:
    @property
    def elbv2(self): return aws.client(self.sess, "elbv2")

def rule(c, lb):
    c.elbv2.describe_target_groups(LoadBalancerArn=lb)
    for page in c.elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=lb):
        pass

def tags(sess):
    logs = sess.client("logs")
    return logs.list_tags_for_resource(resourceArn="x")

def by_tags(tagging):
    return tagging.get_paginator("get_resources")

def found(sess):
    by_tags(aws.client(sess, "resourcegroupstaggingapi"))
    aws.client(sess, "ec2").get_waiter("volume_available")
    aws.client(sess, "s3").upload_file("a", "b", "c")
    aws.client(sess, "sqs").delete_queues_all()
'''


def test_the_reading_names_each_call_site() -> None:
    sites, unreadable = call_sites.read(SOURCE, "m.py")
    assert [(s.line, s.service, s.operation) for s in sites] == [
        (9, "elbv2", "DescribeTargetGroups"), (10, "elbv2", "DescribeListeners"), (15, "logs", "ListTagsForResource"),
        (18, "resourcegroupstaggingapi", "GetResources"), (22, "ec2", "DescribeVolumes"),
        *[(23, "s3", op) for op in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")]]
    assert [str(u) for u in unreadable] == ["m.py:24 sqs client has no operation delete_queues_all"]
