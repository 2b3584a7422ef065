"""Allocated but unused AWS resources: one rule per kind, each with a stable code, a threshold and a reason.

Every rule only reads (Describe*/List*/Get*), walks every page with boto3's
paginators where the API pages at all (DescribeAddresses and
DescribeTargetHealth return everything in one response), and yields what it
flags with an age and a rough monthly cost hint at us-east-1 list prices (a
hint for prioritising, not a bill).

One resource's odd answer never hides the others: an API error about one
resource (or one whole rule) becomes a USG100 finding naming it, and the scan
goes on. Only an unreachable endpoint or missing credentials stop the check.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import ClientError

from opschecks import aws
from opschecks.findings import Finding
from opschecks.areas.aws_usage.settings import UsageSettings
from opschecks.waivers import Waiver, waiver_for

DAY = dt.timedelta(days=1)
# USD per GB-month, us-east-1 list prices.
EBS_PRICES = {"gp3": 0.08, "gp2": 0.10, "io1": 0.125, "io2": 0.125, "st1": 0.045, "sc1": 0.015, "standard": 0.05}
SNAPSHOT_PRICE = 0.05
LOG_STORAGE_PRICE = 0.03
EIP_MONTHLY = 3.65  # public IPv4, $0.005/h
NAT_MONTHLY = 32.85  # $0.045/h before data processing
LB_MONTHLY = {"classic": 18.25, "application": 16.43, "network": 16.43, "gateway": 9.13}


@dataclass(frozen=True)
class Unused:
    rule: str
    kind: str
    id: str  # what the delete call takes (volume id, allocation id, ARN, name)
    name: str  # what a person recognises (Name tag, load balancer or log group name)
    age_days: float | None  # None when AWS does not say
    hint: str
    tags: dict[str, str]
    error: str | None = None  # it could not be judged: what AWS answered (a USG100 finding, never in a plan)


class Clients:
    """The read-only clients the rules share, created on first use with the suite's retry mode."""

    def __init__(self, sess: boto3.Session) -> None:
        self.sess = sess

    @cached_property
    def account(self) -> str:
        return aws.client(self.sess, "sts").get_caller_identity()["Account"]

    @cached_property
    def ec2(self) -> Any:
        return aws.client(self.sess, "ec2")

    @cached_property
    def elb(self) -> Any:
        return aws.client(self.sess, "elb")

    @cached_property
    def elbv2(self) -> Any:
        return aws.client(self.sess, "elbv2")

    @cached_property
    def cloudwatch(self) -> Any:
        return aws.client(self.sess, "cloudwatch")

    @cached_property
    def logs(self) -> Any:
        return aws.client(self.sess, "logs")


Finder = Callable[[Clients, UsageSettings, dt.datetime], Iterator[Unused]]


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    reason: Callable[[UsageSettings], str]  # why it is flagged, with its threshold
    find: Finder


def unattached_volumes(c: Clients, s: UsageSettings, now: dt.datetime) -> Iterator[Unused]:
    # AWS records no detach time, so the volume's creation time stands for its age.
    for page in c.ec2.get_paginator("describe_volumes").paginate(
            Filters=[{"Name": "status", "Values": ["available"]}]):
        for vol in page["Volumes"]:
            age = _days(now - vol["CreateTime"])
            if age >= s.volume_unattached_days:
                tags = _tags(vol.get("Tags"))
                price = vol["Size"] * EBS_PRICES.get(vol["VolumeType"], 0.10)
                yield Unused("USG101", "ebs-volume", vol["VolumeId"], tags.get("Name", vol["VolumeId"]), age,
                             f"{vol['Size']} GiB {vol['VolumeType']}, ~${price:.2f}/month", tags)


def unassociated_addresses(c: Clients, s: UsageSettings, now: dt.datetime) -> Iterator[Unused]:
    for addr in c.ec2.describe_addresses()["Addresses"]:
        if addr.get("AssociationId") or addr.get("InstanceId") or addr.get("NetworkInterfaceId"):
            continue
        tags = _tags(addr.get("Tags"))
        yield Unused("USG102", "elastic-ip", addr.get("AllocationId", addr["PublicIp"]),
                     tags.get("Name", addr["PublicIp"]), None, f"{addr['PublicIp']}, ~${EIP_MONTHLY:.2f}/month", tags)


def orphan_snapshots(c: Clients, s: UsageSettings, now: dt.datetime) -> Iterator[Unused]:
    used = {
        mapping["Ebs"]["SnapshotId"]
        for page in c.ec2.get_paginator("describe_images").paginate(Owners=["self"])
        for image in page["Images"]
        for mapping in image.get("BlockDeviceMappings", []) if mapping.get("Ebs", {}).get("SnapshotId")
    }
    for page in c.ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"]):
        for snap in page["Snapshots"]:
            # Checking the owner as well keeps the rule right where the "self" filter is not honoured (moto).
            if snap["OwnerId"] != c.account or snap["SnapshotId"] in used:
                continue
            age = _days(now - snap["StartTime"])
            if age >= s.snapshot_days:
                tags = _tags(snap.get("Tags"))
                yield Unused("USG103", "ebs-snapshot", snap["SnapshotId"], tags.get("Name", snap["SnapshotId"]), age,
                             f"{snap['VolumeSize']} GiB, up to ~${snap['VolumeSize'] * SNAPSHOT_PRICE:.2f}/month", tags)


def idle_load_balancers(c: Clients, s: UsageSettings, now: dt.datetime) -> Iterator[Unused]:
    for page in c.elb.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancerDescriptions"]:
            age = _days(now - lb["CreatedTime"])
            if not lb["Instances"] and age >= s.lb_min_age_days:
                name, hint = lb["LoadBalancerName"], f"classic, ~${LB_MONTHLY['classic']:.2f}/month"
                try:
                    tags = _tags(c.elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"][0].get("Tags"))
                except ClientError as exc:
                    yield Unused("USG104", "classic-load-balancer", name, name, age, hint, {}, error=_answer(exc))
                    continue
                yield Unused("USG104", "classic-load-balancer", name, name, age, hint, tags)
    for page in c.elbv2.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancers"]:
            age = _days(now - lb["CreatedTime"])
            if age < s.lb_min_age_days:
                continue
            arn, price = lb["LoadBalancerArn"], LB_MONTHLY.get(lb["Type"], LB_MONTHLY["application"])
            hint = f"{lb['Type']}, ~${price:.2f}/month"
            try:
                if _registered_targets(c, arn) or _answers_itself(c, arn):
                    continue
                tags = _tags(c.elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0].get("Tags"))
            except ClientError as exc:
                yield Unused("USG104", "load-balancer", arn, lb["LoadBalancerName"], age, hint, {}, error=_answer(exc))
                continue
            yield Unused("USG104", "load-balancer", arn, lb["LoadBalancerName"], age, hint, tags)


def _registered_targets(c: Clients, lb_arn: str) -> int:
    try:
        groups = [group for page in c.elbv2.get_paginator("describe_target_groups").paginate(LoadBalancerArn=lb_arn)
                  for group in page["TargetGroups"]]
    except ClientError as exc:
        # moto answers TargetGroupNotFound for a load balancer without target groups; AWS an empty list.
        if exc.response.get("Error", {}).get("Code") != "TargetGroupNotFound":
            raise
        return 0
    return sum(len(c.elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"])
               for group in groups)


_SELF_ANSWERING = {"redirect", "fixed-response"}


def _answers_itself(c: Clients, lb_arn: str) -> bool:
    """Whether a listener (by default or by a rule) redirects or returns a fixed response: an ALB that only
    redirects HTTP to HTTPS, or serves a maintenance page, is in use without any target."""
    for page in c.elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=lb_arn):
        for listener in page["Listeners"]:
            if any(a["Type"] in _SELF_ANSWERING for a in listener.get("DefaultActions", [])):
                return True
            rules = c.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            if any(a["Type"] in _SELF_ANSWERING for rule in rules for a in rule.get("Actions", [])):
                return True
    return False


def _answer(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"AWS {exc.operation_name} answered {err.get('Code', '?')}: {err.get('Message', '')}".rstrip(": ")


_STOPPED_AT = re.compile(r"\((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:GMT|UTC)\)")


def stopped_instances(c: Clients, s: UsageSettings, now: dt.datetime) -> Iterator[Unused]:
    # The stop time is only in StateTransitionReason ("User initiated (2024-05-01 10:00:00 GMT)");
    # an instance whose reason carries no time is not judged.
    for page in c.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}]):
        for reservation in page["Reservations"]:
            for inst in reservation["Instances"]:
                match = _STOPPED_AT.search(inst.get("StateTransitionReason", ""))
                if not match:
                    continue
                stopped = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)
                age = _days(now - stopped)
                if age >= s.instance_stopped_days:
                    tags = _tags(inst.get("Tags"))
                    volumes = sum(1 for m in inst.get("BlockDeviceMappings", []) if "Ebs" in m)
                    yield Unused("USG105", "ec2-instance", inst["InstanceId"], tags.get("Name", inst["InstanceId"]),
                                 age, f"{inst['InstanceType']}, {volumes} EBS volume(s) still billed", tags)


def idle_nat_gateways(c: Clients, s: UsageSettings, now: dt.datetime) -> Iterator[Unused]:
    start = now - s.nat_idle_days * DAY
    for page in c.ec2.get_paginator("describe_nat_gateways").paginate(
            Filters=[{"Name": "state", "Values": ["available"]}]):
        for nat in page["NatGateways"]:
            age = _days(now - nat["CreateTime"])
            if age < s.nat_idle_days:
                continue
            tags = _tags(nat.get("Tags"))
            flagged = Unused("USG106", "nat-gateway", nat["NatGatewayId"], tags.get("Name", nat["NatGatewayId"]), age,
                             f"~${NAT_MONTHLY:.2f}/month", tags)
            try:
                traffic = sum(
                    point["Sum"]
                    for metric in ("BytesOutToDestination", "BytesInFromDestination")
                    for point in c.cloudwatch.get_metric_statistics(
                        Namespace="AWS/NATGateway", MetricName=metric, StartTime=start, EndTime=now, Period=86400,
                        Statistics=["Sum"], Dimensions=[{"Name": "NatGatewayId", "Value": nat["NatGatewayId"]}],
                    )["Datapoints"]
                )
            except ClientError as exc:
                yield replace(flagged, error=_answer(exc))
                continue
            if traffic == 0:
                yield flagged


def idle_log_groups(c: Clients, s: UsageSettings, now: dt.datetime) -> Iterator[Unused]:
    for page in c.logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            if group.get("retentionInDays"):
                continue
            name, stored = group["logGroupName"], group.get("storedBytes", 0)
            hint = f"{stored / 1e9:.2f} GB stored, ~${stored / 1e9 * LOG_STORAGE_PRICE:.2f}/month"
            try:
                latest = next(iter(
                    stream
                    for page in c.logs.get_paginator("describe_log_streams").paginate(
                        logGroupName=name, orderBy="LastEventTime", descending=True, PaginationConfig={"MaxItems": 1})
                    for stream in page["logStreams"]
                ), {})
                last_ms = latest.get("lastEventTimestamp") or group["creationTime"]
                idle = _days(now - dt.datetime.fromtimestamp(last_ms / 1000, dt.timezone.utc))
                if idle < s.log_idle_days:
                    continue
                tags = c.logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*")).get("tags", {})
            except ClientError as exc:
                yield Unused("USG107", "log-group", name, name, None, hint, {}, error=_answer(exc))
                continue
            yield Unused("USG107", "log-group", name, name, idle, hint, tags)


RULES = [
    Rule("USG101", "Unattached EBS volumes",
         lambda s: f"unattached and created more than {s.volume_unattached_days} days ago", unattached_volumes),
    Rule("USG102", "Unassociated Elastic IPs",
         lambda s: "allocated but associated with nothing", unassociated_addresses),
    Rule("USG103", "EBS snapshots used by no AMI",
         lambda s: f"older than {s.snapshot_days} days and used by no AMI of this account", orphan_snapshots),
    Rule("USG104", "Load balancers without targets",
         lambda s: f"no registered targets, created more than {s.lb_min_age_days} days ago", idle_load_balancers),
    Rule("USG105", "Long-stopped EC2 instances",
         lambda s: f"stopped for more than {s.instance_stopped_days} days", stopped_instances),
    Rule("USG106", "NAT gateways without traffic",
         lambda s: f"no bytes through it in CloudWatch over the last {s.nat_idle_days} days", idle_nat_gateways),
    Rule("USG107", "Idle log groups without retention",
         lambda s: f"no events for {s.log_idle_days} days and no retention set", idle_log_groups),
]
RULES_BY_CODE = {rule.code: rule for rule in RULES}


@dataclass(frozen=True)
class Flagged:
    """A resource a rule flagged, with the waiver that covers it if any (not a check's verdict)."""
    resource: Unused
    waiver: Waiver | None

    @property
    def waived(self) -> bool:
        return self.waiver is not None


def scan(sess: boto3.Session, settings: UsageSettings, now: dt.datetime,
         waivers: list[Waiver]) -> dict[str, list[Flagged]]:
    """Every rule's flagged resources in the session's account and region, each with its waiver if any; a rule
    that AWS answered with an error is one unjudged entry, and the other rules still run."""
    clients = Clients(sess)
    verdicts: dict[str, list[Flagged]] = {}
    for rule in RULES:
        found: list[Unused] = []
        try:
            for r in rule.find(clients, settings, now):
                found.append(r)
        except ClientError as exc:
            found.append(Unused(rule.code, "rule", rule.code, rule.title, None, "", {}, error=_answer(exc)))
        verdicts[rule.code] = [Flagged(r, None if r.error else waiver_for(waivers, rule.code, [r.id, r.name], r.tags,
                                                                          now.date()))
                               for r in found]
    return verdicts


def findings(verdicts: dict[str, list[Flagged]], settings: UsageSettings, where: str) -> list[Finding]:
    """One finding per flagged resource that no active waiver covers; USG100 for what could not be judged."""
    return [
        Finding("USG100", where, _unjudged(code, v.resource)) if v.resource.error else
        Finding(code, where, f"{v.resource.kind} {_label(v.resource)} {RULES_BY_CODE[code].reason(settings)} "
                             f"({_age(v.resource.age_days)}; {v.resource.hint})")
        for code, found in verdicts.items() for v in found if not v.waived
    ]


def _unjudged(code: str, r: Unused) -> str:
    title = RULES_BY_CODE[code].title
    if r.kind == "rule":
        return f"rule {code} ({title}) could not run: {r.error}"
    return f"{r.kind} {_label(r)}: {code} ({title}) could not judge it: {r.error}"


def table_rows(found: list[Flagged]) -> list[list[Any]]:
    """Report rows: resource id, age, size/cost hint, tags, waiver."""
    return [[_label(v.resource), _age(v.resource.age_days),
             f"could not judge: {v.resource.error}" if v.resource.error else v.resource.hint,
             ", ".join(f"{k}={val}" for k, val in sorted(v.resource.tags.items())) or None,
             v.waiver.describe() if v.waiver else None] for v in found]


TABLE_COLUMNS = ["resource", "age", "size / cost hint", "tags", "waived by"]


def _label(r: Unused) -> str:
    return r.id if r.name == r.id else f"{r.id} ({r.name})"


def _age(days: float | None) -> str:
    return "age unknown" if days is None else f"{days:.0f} days old"


def _days(delta: dt.timedelta) -> float:
    return delta / DAY


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}
