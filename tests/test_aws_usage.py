"""The AWS usage area against moto: bucket growth, every unused-resource rule, waivers, plan and cleanup.

moto's state is shared by the whole test session, so every test works in a
region of its own. moto stamps resources with the real clock, so "old" is
tested by judging at ``LATER`` (100 days ahead) and "new" at the real time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
import pytest

from opschecks import aws, waivers
from opschecks.areas.aws_usage import cleanup, unused, usage
from opschecks.config import EnvConfig, load
from opschecks.sandbox.seed_usage import backup_bucket_series, put_bucket_metrics, put_nat_traffic, seed_account
from opschecks.schema import ConfigError
from opschecks.areas.aws_usage.usage import DayUsage
from opschecks.areas.aws_usage.settings import UsageSettings
from opschecks.waivers import Waiver

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime.now(dt.timezone.utc)
LATER = NOW + dt.timedelta(days=100)
DAY = dt.timedelta(days=1)
# Regions no other area's tests use; one per test.
_REGIONS = itertools.chain(["af-south-1", "ap-east-1", "ap-southeast-3", "ap-southeast-4", "ap-south-2",
                            "eu-central-2", "eu-south-1", "eu-south-2", "il-central-1", "me-central-1",
                            "me-south-1", "ca-west-1", "ap-northeast-3", "mx-central-1", "ap-southeast-5",
                            "ap-southeast-7", "ap-east-2", "ap-southeast-6", "us-west-1",
                            "eu-west-1", "eu-west-3", "eu-central-1", "ap-northeast-1", "ap-northeast-2",
                            "ap-southeast-1", "ap-southeast-2", "ap-south-1", "sa-east-1", "ca-central-1"])
# Tests that only prove nothing was deleted share one region: they add resources but never judge a set.
SHARED_REGION = "us-east-2"
READ_ONLY_PREFIXES = ("Describe", "List", "Get")


@pytest.fixture
def region(sandbox_env) -> str:
    return next(_REGIONS)


@pytest.fixture
def usage_env(region) -> EnvConfig:
    return EnvConfig(name="dev", aws_region=region, backup_bucket=f"usage-{region}")


@pytest.fixture
def client(region, sandbox_env):
    return lambda service: boto3.client(service, region_name=region)


@pytest.fixture
def shared_env(sandbox_env) -> EnvConfig:
    return EnvConfig(name="dev", aws_region=SHARED_REGION, backup_bucket=f"usage-{SHARED_REGION}")


@pytest.fixture
def shared_client(sandbox_env):
    return lambda service: boto3.client(service, region_name=SHARED_REGION)


def flagged(env: EnvConfig, code: str, now: dt.datetime) -> set[str]:
    """What one rule flags (the rest of the scan is left out to keep the tests quick)."""
    return {r.id for r in unused.RULES_BY_CODE[code].find(unused.Clients(aws.session(env)), env.settings(UsageSettings), now)}


def _instance(client, state: str = "running") -> str:
    ec2 = client("ec2")
    image = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}])
    instance = ec2.run_instances(ImageId=image["Images"][0]["ImageId"], MinCount=1, MaxCount=1,
                                 InstanceType="t3.small")["Instances"][0]["InstanceId"]
    if state == "stopped":
        ec2.stop_instances(InstanceIds=[instance])
    return instance


def _az(client) -> str:
    return client("ec2").describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]


# --- backup bucket growth -------------------------------------------------------------------------------

def _history(sizes: list[int], objects: list[int], end: dt.date | None = None) -> list[DayUsage]:
    end = end or NOW.date() - DAY
    return [DayUsage(end - (len(sizes) - 1 - i) * DAY, s, o) for i, (s, o) in enumerate(zip(sizes, objects))]


def test_bucket_history_sums_every_storage_class(usage_env, client):
    series = backup_bucket_series(NOW)
    put_bucket_metrics(client("cloudwatch"), usage_env.backup_bucket, series)
    history = usage.bucket_history(client("cloudwatch"), usage_env.backup_bucket, usage_env.settings(UsageSettings), NOW)
    assert len(history) == 90
    assert history[-1] == DayUsage(series[-1][0], sum(series[-1][1].values()), series[-1][2])
    assert set(series[-1][1]) == {"StandardStorage", "StandardIAStorage"} and all(series[-1][1].values())
    assert usage.judge(history, usage_env.settings(UsageSettings), "here", NOW) == []
    assert usage.plot(history, "t").startswith(b"\x89PNG")


def test_bucket_without_metrics_fails(usage_env, client):
    history = usage.bucket_history(client("cloudwatch"), "no-such-bucket-metrics", usage_env.settings(UsageSettings), NOW)
    assert [f.code for f in usage.judge(history, usage_env.settings(UsageSettings), "here", NOW)] == ["USG004"]


def test_bucket_growing_too_fast_fails():
    # Expiry stopped 40 days ago: the three nightly backups are all kept.
    sizes = [270 * 10**9] * 50 + [(270 + 3 * i) * 10**9 for i in range(1, 41)]
    objects = [270] * 50 + [270 + 3 * i for i in range(1, 41)]
    findings = usage.judge(_history(sizes, objects), UsageSettings(), "prod s3://b", NOW)
    assert [f.code for f in findings] == ["USG001"]
    assert "grew 30.0%" in findings[0].message and "expected at most 25%" in findings[0].message


def test_bucket_plateau_with_slow_growth_passes():
    sizes = [int(270 * 10**9 * (1.0005 ** i)) for i in range(90)]
    assert usage.judge(_history(sizes, [270] * 90), UsageSettings(), "b", NOW) == []


def test_bucket_that_stopped_changing_fails():
    sizes = [270 * 10**9 + i * 10**6 for i in range(86)] + [270 * 10**9 + 86 * 10**6] * 4
    findings = usage.judge(_history(sizes, [270] * 90), UsageSettings(), "b", NOW)
    assert [f.code for f in findings] == ["USG002"]
    assert "unchanged" in findings[0].message


def test_bucket_shrinking_every_day_fails():
    objects = [270] * 86 + [269, 268, 267, 266]
    sizes = [270 * 10**9 + i for i in range(86)] + [(269 - i) * 10**9 for i in range(4)]
    findings = usage.judge(_history(sizes, objects), UsageSettings(), "b", NOW)
    assert [f.code for f in findings] == ["USG003"]
    assert "from 269" in findings[0].message and "to 266" in findings[0].message


def test_bucket_that_lost_most_of_its_backups_overnight_fails():
    sizes = [270 * 10**9 + i * 10**6 for i in range(89)] + [3 * 10**9]
    objects = [270 + i % 2 for i in range(89)] + [3]
    findings = usage.judge(_history(sizes, objects), UsageSettings(), "prod s3://b", NOW)
    assert [f.code for f in findings] == ["USG005"]
    assert f"on {NOW.date() - 2 * DAY} to 2.8 GiB on {NOW.date() - DAY}" in findings[0].message
    assert "shrank 98.9%" in findings[0].message and "expected at most 20% a day" in findings[0].message


def test_a_partial_datapoint_for_today_is_not_history(usage_env, client):
    """S3 publishes a day's storage metrics once the day is over; moto makes up one for today from the live bucket."""
    series = backup_bucket_series(NOW)
    today = NOW.date()
    put_bucket_metrics(client("cloudwatch"), usage_env.backup_bucket, series + [(today, {"StandardStorage": 1}, 1)])
    history = usage.bucket_history(client("cloudwatch"), usage_env.backup_bucket, usage_env.settings(UsageSettings), NOW)
    assert history[-1].day == today - DAY == series[-1][0]
    assert usage.judge(history, usage_env.settings(UsageSettings), "here", NOW) == []


def test_stale_bucket_metrics_fail():
    history = _history([10**9] * 30, [10] * 30, end=NOW.date() - 6 * DAY)
    history = [replace(d, size_bytes=d.size_bytes + i) for i, d in enumerate(history)]
    findings = usage.judge(history, UsageSettings(), "b", NOW)
    assert [f.code for f in findings] == ["USG004"] and "6 days ago" in findings[0].message


def _without(series, storage_type: str, days: set[dt.date]):
    return [(day, {t: v for t, v in by_class.items() if not (t == storage_type and day in days)}, objects)
            for day, by_class, objects in series]


def test_a_storage_class_without_its_datapoint_is_a_named_gap_not_zero_bytes(usage_env, client):
    """Standard-IA holds most of the bucket; a day it has no datapoint (a mid-window gap, or yesterday's
    figure not yet published) once summed as 0 bytes: a ~70% overnight 'shrink'."""
    series = backup_bucket_series(NOW)
    gap, yesterday = series[-10][0], series[-1][0]
    put_bucket_metrics(client("cloudwatch"), usage_env.backup_bucket,
                       _without(series, "StandardIAStorage", {gap, yesterday}))

    history = usage.bucket_history(client("cloudwatch"), usage_env.backup_bucket, usage_env.settings(UsageSettings), NOW)

    by_day = {d.day: d for d in history}
    assert by_day[gap].size_bytes is None and by_day[gap].missing == ("StandardIAStorage",)
    assert by_day[yesterday].size_bytes is None and by_day[yesterday].missing == ("StandardIAStorage",)
    assert by_day[gap - DAY].size_bytes == sum(series[-11][1].values())
    assert usage.judge(history, usage_env.settings(UsageSettings), "here", NOW) == []
    # Once the gap outlasts max_metric_age_days, the staleness finding names it.
    stale = usage.judge(history, replace(usage_env.settings(UsageSettings), max_metric_age_days=0), "here", NOW)
    assert [f.code for f in stale] == ["USG004"]
    assert f"since then StandardIAStorage has no datapoint on {yesterday}" in stale[0].message


def _aws_list_metrics(cloudwatch, recent: set[str], bucket: str) -> None:
    """ListMetrics as AWS answers it: only series with a datapoint in the last two weeks (moto lists them all)."""
    from botocore.awsrequest import AWSResponse

    def answer(**kwargs):
        metrics = [{"Namespace": "AWS/S3", "MetricName": "BucketSizeBytes",
                    "Dimensions": [{"Name": "StorageType", "Value": t}, {"Name": "BucketName", "Value": bucket}]}
                   for t in sorted(recent)]
        return AWSResponse("https://monitoring.amazonaws.com/", 200, {}, None), {
            "Metrics": metrics, "ResponseMetadata": {"HTTPStatusCode": 200}}

    cloudwatch.meta.events.register("before-call.cloudwatch.ListMetrics", answer)


def test_a_storage_class_that_stopped_reporting_stays_in_the_history(usage_env, client):
    """Standard-IA backups moved to Glacier 20 days ago: ListMetrics no longer lists Standard-IA, which once
    dropped it from the whole history, so the bucket seemed to have grown 200% (USG001)."""
    moved = NOW.date() - 20 * DAY
    series = [(day, {"StandardStorage": 100 * 2**30,
                     **({"StandardIAStorage": 200 * 2**30} if day < moved else {"GlacierStorage": 200 * 2**30})},
               270 + i % 2)
              for i, day in ((i, NOW.date() - i * DAY) for i in range(90, 0, -1))]
    put_bucket_metrics(client("cloudwatch"), usage_env.backup_bucket, series)
    cloudwatch = client("cloudwatch")
    _aws_list_metrics(cloudwatch, {"StandardStorage", "GlacierStorage"}, usage_env.backup_bucket)

    history = usage.bucket_history(cloudwatch, usage_env.backup_bucket, usage_env.settings(UsageSettings), NOW)

    assert {d.size_bytes for d in history} == {300 * 2**30}
    assert usage.judge(history, usage_env.settings(UsageSettings), "here", NOW) == []


def test_a_storage_class_that_stops_reporting_counts_zero_and_the_shrink_says_so(usage_env, client):
    """Standard-IA silent for longer than metrics can be late has stopped: its bytes left the bucket."""
    stop = NOW.date() - 10 * DAY
    series = [(day, {"StandardStorage": 100 * 2**30, **({"StandardIAStorage": 200 * 2**30} if day < stop else {})},
               270 + i % 2)
              for i, day in ((i, NOW.date() - i * DAY) for i in range(90, 0, -1))]
    put_bucket_metrics(client("cloudwatch"), usage_env.backup_bucket, series)

    history = usage.bucket_history(client("cloudwatch"), usage_env.backup_bucket, usage_env.settings(UsageSettings), NOW)

    assert history[-1].size_bytes == 100 * 2**30 and history[-1].missing == ()
    [finding] = usage.judge(history, usage_env.settings(UsageSettings), "here", NOW)
    assert finding.code == "USG005" and "shrank 66.7%" in finding.message
    assert finding.message.endswith(f"; StandardIAStorage stopped reporting after {stop - DAY} and counts 0 (S3 "
                                    "stops publishing a storage class with no bytes; or its metrics stopped)")


# --- unused resources: one test per rule, flagged and not flagged ---------------------------------------

def test_unattached_volumes(usage_env, client):
    ec2 = client("ec2")
    loose = ec2.create_volume(AvailabilityZone=_az(client), Size=50, VolumeType="gp2")["VolumeId"]
    instance = _instance(client)
    attached = ec2.create_volume(AvailabilityZone=_az(client), Size=50)["VolumeId"]
    ec2.attach_volume(VolumeId=attached, InstanceId=instance, Device="/dev/sdf")
    assert flagged(usage_env, "USG101", NOW) == set()  # new: below volume_unattached_days
    assert flagged(usage_env, "USG101", LATER) == {loose}
    [found] = unused.unattached_volumes(unused.Clients(aws.session(usage_env)), usage_env.settings(UsageSettings), LATER)
    assert found.hint == "50 GiB gp2, ~$5.00/month"


def test_unassociated_elastic_ips(usage_env, client):
    ec2 = client("ec2")
    free = ec2.allocate_address(Domain="vpc")["AllocationId"]
    used = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=used, InstanceId=_instance(client))
    assert flagged(usage_env, "USG102", NOW) == {free}


def test_snapshots_used_by_no_ami(usage_env, client):
    ec2 = client("ec2")
    volume = ec2.create_volume(AvailabilityZone=_az(client), Size=20)["VolumeId"]
    orphan = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    image = ec2.create_image(InstanceId=_instance(client), Name="golden")["ImageId"]
    image_snapshots = {m["Ebs"]["SnapshotId"] for m in ec2.describe_images(ImageIds=[image])["Images"][0]
                       ["BlockDeviceMappings"] if "Ebs" in m}
    assert image_snapshots, "moto backs the AMI with a snapshot"
    assert flagged(usage_env, "USG103", NOW) == set()
    assert flagged(usage_env, "USG103", LATER) == {orphan}


def test_load_balancers_without_targets(usage_env, client):
    elb, elbv2, ec2 = client("elb"), client("elbv2"), client("ec2")
    instance = _instance(client)
    listeners = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}]
    for name in ("classic-used", "classic-empty"):
        elb.create_load_balancer(LoadBalancerName=name, Listeners=listeners, AvailabilityZones=[_az(client)])
    elb.register_instances_with_load_balancer(LoadBalancerName="classic-used", Instances=[{"InstanceId": instance}])
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    vpc = ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
    arns = {}
    for name in ("alb-used", "alb-empty"):
        arns[name] = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        group = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
        elbv2.create_listener(LoadBalancerArn=arns[name], Protocol="HTTP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}])
        if name == "alb-used":
            elbv2.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": instance}])
    assert flagged(usage_env, "USG104", NOW) == set()  # new: below lb_min_age_days
    assert flagged(usage_env, "USG104", LATER) == {"classic-empty", arns["alb-empty"]}


def test_long_stopped_instances(usage_env, client):
    stopped = _instance(client, "stopped")
    _instance(client)
    assert flagged(usage_env, "USG105", NOW) == set()
    assert flagged(usage_env, "USG105", LATER) == {stopped}


def test_nat_gateways_without_traffic(usage_env, client):
    ec2 = client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    nats = [ec2.create_nat_gateway(SubnetId=subnet, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])
            ["NatGateway"]["NatGatewayId"] for _ in range(2)]
    put_nat_traffic(client("cloudwatch"), nats[0], LATER, days=10)
    assert flagged(usage_env, "USG106", NOW) == set()  # new: younger than nat_idle_days
    assert flagged(usage_env, "USG106", LATER) == {nats[1]}


def test_idle_log_groups_without_retention(usage_env, client):
    logs = client("logs")
    for name in ("/svc/kept", "/svc/forever"):
        logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(logGroupName="/svc/kept", retentionInDays=30)
    logs.create_log_stream(logGroupName="/svc/forever", logStreamName="s")
    logs.put_log_events(logGroupName="/svc/forever", logStreamName="s",
                        logEvents=[{"timestamp": int(NOW.timestamp() * 1000), "message": "hello"}])
    assert flagged(usage_env, "USG107", NOW) == set()
    assert flagged(usage_env, "USG107", LATER) == {"/svc/forever"}
    assert flagged(usage_env, "USG107", NOW + 20 * DAY) == set()  # last event 20 days ago: below log_idle_days


def test_healthy_account_flags_nothing(usage_env, client):
    seed_account(client, NOW)
    verdicts = unused.scan(aws.session(usage_env), usage_env.settings(UsageSettings), NOW, [])
    assert unused.findings(verdicts, usage_env.settings(UsageSettings), "here") == []


def test_clients_retry_throttling_adaptively(usage_env):
    clients = unused.Clients(aws.session(usage_env))
    assert clients.ec2.meta.config.retries["mode"] == "adaptive"
    assert clients.logs.meta.config.retries["total_max_attempts"] == 11  # 10 retries


# --- waivers --------------------------------------------------------------------------------------------

def test_waivers_by_id_and_tag_and_expiry(usage_env, client):
    ec2 = client("ec2")
    by_id = ec2.allocate_address(Domain="vpc")["AllocationId"]
    tagged = ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip",
                                                                    "Tags": [{"Key": "keep", "Value": "dr"}]}])
    stale = ec2.allocate_address(Domain="vpc")["AllocationId"]
    other_rule = ec2.allocate_address(Domain="vpc")["AllocationId"]
    waiver_list = [
        Waiver("reserved for the DR drill", NOW.date() + 30 * DAY, resource=by_id),
        Waiver("disaster recovery", NOW.date() + 30 * DAY, tag="keep=d*"),
        Waiver("was needed last quarter", NOW.date() - DAY, resource=stale),
        Waiver("volumes only", NOW.date() + 30 * DAY, resource=other_rule, rules=["USG101"]),
    ]
    verdicts = unused.scan(aws.session(usage_env), usage_env.settings(UsageSettings), NOW, waiver_list)["USG102"]
    waived = {v.resource.id for v in verdicts if v.waived}
    assert waived == {by_id, tagged["AllocationId"]}
    assert {v.resource.id for v in verdicts if not v.waived} == {stale, other_rule}
    rows = unused.table_rows(verdicts)
    assert any("reserved for the DR drill" in str(row[-1]) for row in rows), "waived resources are still shown"
    expired = waivers.expired(waiver_list, NOW.date(), "dev")
    assert [f.code for f in expired] == ["USG201"] and stale in expired[0].message


def test_waivers_file_is_validated(tmp_path):
    good = tmp_path / "w.toml"
    good.write_text('[[waiver]]\nresource = "vol-1*"\njustification = "drill"\nexpires = 2030-01-01\n')
    assert waivers.load(good) == [Waiver("drill", dt.date(2030, 1, 1), resource="vol-1*")]
    for text, message in [
        ('[[waiver]]\nresource = "a"\ntag = "b=c"\njustification = "x"\nexpires = 2030-01-01\n', "exactly one"),
        ('[[waiver]]\nresource = "a"\njustification = "x"\nexpires = "soon"\n', "expires"),
        ('[[waiver]]\nresource = "a"\njustification = "x"\nexpires = 2030-01-01\nowner = "me"\n', "owner"),
        ('[[waiver]]\nresource = "a"\njustification = " "\nexpires = 2030-01-01\n', "justification"),
    ]:
        good.write_text(text)
        with pytest.raises(ConfigError, match=message):
            waivers.load(good)
    with pytest.raises(ConfigError, match="not found"):
        waivers.load(tmp_path / "missing.toml")


# --- read-only: the normal run makes no write call ------------------------------------------------------

def test_normal_run_makes_no_write_call(usage_env, client):
    seed_account(client, NOW)
    ec2 = client("ec2")
    ec2.allocate_address(Domain="vpc")
    ec2.create_volume(AvailabilityZone=_az(client), Size=10)
    _instance(client, "stopped")
    client("logs").create_log_group(logGroupName="/svc/idle")
    put_bucket_metrics(client("cloudwatch"), usage_env.backup_bucket, backup_bucket_series(NOW))

    sess = aws.session(usage_env)
    calls: list[str] = []
    sess.events.register("before-call", lambda model, **_: calls.append(model.name))
    # What checks/test_aws_usage.py does, with --cleanup-plan.
    history = usage.bucket_history(aws.client(sess, "cloudwatch"), usage_env.backup_bucket, usage_env.settings(UsageSettings), NOW)
    account = aws.client(sess, "sts").get_caller_identity()["Account"]
    verdicts = unused.scan(sess, usage_env.settings(UsageSettings), LATER, [])
    entries = cleanup.plan_entries(usage_env, account, verdicts)

    assert history and {e.rule for e in entries} >= {"USG101", "USG102", "USG105", "USG107"}
    assert {"DescribeVolumes", "ListMetrics", "GetMetricStatistics", "DescribeLogGroups"} <= set(calls)
    writes = sorted({c for c in calls if not c.startswith(READ_ONLY_PREFIXES)})
    assert writes == [], f"the normal run called {writes}"


# --- the check end to end, the plan, and the cleanup command --------------------------------------------

MOTO_ACCOUNT = "123456789012"  # moto's default account
PROD_ACCOUNT = "999999999999"


def _config(tmp_path: Path, region: str, bucket: str, extra: str = "") -> Path:
    (tmp_path / "waivers.toml").write_text(
        '[[waiver]]\ntag = "purpose=failover"\njustification = "DNS failover reserve"\n'
        f"expires = {(NOW + 30 * DAY).date().isoformat()}\n")
    text = (f'[defaults]\nbackup_bucket = "{bucket}"\n\n[defaults.aws_usage]\nwaivers_file = "waivers.toml"\n\n'
            f'[ledger]\npath = "{tmp_path / "ledger.sqlite"}"\n\n'
            f'[env.dev]\naws_region = "{region}"\naws_account_id = "{MOTO_ACCOUNT}"\n{extra}')
    path = tmp_path / "opschecks.toml"
    path.write_text(text)
    return path


def _run_check(config: Path, plan: Path, tmp_path: Path, **env_vars: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "checks/test_aws_usage.py", "--config", str(config), "-rA",
         "--cleanup-plan", str(plan), "--html", str(tmp_path / "r.html"), "--junitxml", str(tmp_path / "j.xml")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **env_vars})


def test_check_end_to_end_writes_the_plan(usage_env, client, tmp_path):
    ec2 = client("ec2")
    put_bucket_metrics(client("cloudwatch"), usage_env.backup_bucket, backup_bucket_series(NOW))
    free = ec2.allocate_address(Domain="vpc")
    ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip",
                                                          "Tags": [{"Key": "purpose", "Value": "failover"}]}])
    config, plan = _config(tmp_path, usage_env.aws_region, usage_env.backup_bucket), tmp_path / "plan.json"
    result = _run_check(config, plan, tmp_path)
    out = result.stdout
    assert "PASSED checks/test_aws_usage.py::test_backup_bucket_usage[dev]" in out, out
    assert "FAILED checks/test_aws_usage.py::test_unused_resources[dev]" in out, out
    assert f"[USG102] dev 123456789012/{usage_env.aws_region}: elastic-ip {free['AllocationId']}" in out, out
    written = json.loads(plan.read_text())
    assert (written["complete"], written["problems"]) == (True, [])
    assert written["scans"] == [{"env": "dev", "account": MOTO_ACCOUNT, "region": usage_env.aws_region}]
    assert [(r["env"], r["rule"], r["id"], r["region"]) for r in written["resources"]] == [
        ("dev", "USG102", free["AllocationId"], usage_env.aws_region)]
    assert "DNS failover reserve" in (tmp_path / "r.html").read_text()


def test_a_run_whose_scans_all_failed_writes_an_incomplete_plan_that_is_refused(shared_env, shared_client, tmp_path,
                                                                                 capsys):
    free = shared_client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    config, plan = _config(tmp_path, shared_env.aws_region, shared_env.backup_bucket), tmp_path / "plan.json"
    result = _run_check(config, plan, tmp_path, AWS_ENDPOINT_URL="http://127.0.0.1:9")  # nothing listens there

    # The check's session cannot even ask STS who it is: it fails at set-up, before the scan.
    assert "FAILED checks/test_aws_usage.py::test_unused_resources[dev]" in result.stdout, result.stdout
    written = json.loads(plan.read_text())
    assert written["complete"] is False and written["resources"] == [] and written["scans"] == []
    [problem] = written["problems"]
    assert "test_unused_resources[dev] failed before its scan finished" in problem
    assert cleanup.main([str(plan), "--config", str(config), "--yes"]) == 2
    out = capsys.readouterr().out
    assert "Nothing to delete" not in out
    assert "the plan is incomplete: checks/test_aws_usage.py::test_unused_resources[dev] failed" in out
    assert free in _allocations(shared_client)


def test_a_check_failing_before_its_scan_makes_the_plan_incomplete(shared_env, tmp_path):
    config, plan = _config(tmp_path, shared_env.aws_region, shared_env.backup_bucket), tmp_path / "plan.json"
    (tmp_path / "waivers.toml").write_text("not toml [")  # USG200: the check fails before it scans
    result = _run_check(config, plan, tmp_path)
    assert "FAILED checks/test_aws_usage.py::test_unused_resources[dev]" in result.stdout, result.stdout
    [problem] = json.loads(plan.read_text())["problems"]
    assert "test_unused_resources[dev] failed before its scan finished" in problem and "USG200" in problem


def test_a_run_without_any_scan_writes_an_incomplete_plan(shared_env, tmp_path):
    config, plan = _config(tmp_path, shared_env.aws_region, shared_env.backup_bucket), tmp_path / "plan.json"
    subprocess.run([sys.executable, "-m", "pytest", "checks/test_aws_usage.py", "--config", str(config),
                    "-k", "bucket_usage", "--cleanup-plan", str(plan)], cwd=ROOT, capture_output=True, timeout=300)
    assert json.loads(plan.read_text())["problems"] == ["no unused-resources scan ran in the run that wrote it"]


def _plan(tmp_path: Path, entries: list[cleanup.PlanEntry], created: dt.datetime = NOW,
          scans: list[cleanup.Scan] | None = None, problems: list[str] | None = None) -> Path:
    if scans is None:
        scans = [cleanup.Scan(env, account, region) for env, account, region in
                 sorted({(e.env, e.account, e.region) for e in entries})]
    path = tmp_path / "plan.json"
    cleanup.write_plan(path, cleanup.Plan(created, scans, entries, problems or []))
    return path


def _entry(env_name: str, region: str, id_: str, rule: str = "USG102", kind: str = "elastic-ip",
           account: str = MOTO_ACCOUNT) -> cleanup.PlanEntry:
    return cleanup.PlanEntry(env=env_name, account=account, region=region, rule=rule, kind=kind, id=id_, name=id_,
                             reason="r", hint="h")


def _allocations(client) -> set[str]:
    return {a["AllocationId"] for a in client("ec2").describe_addresses()["Addresses"]}


def test_cleanup_deletes_only_planned_and_still_unused(usage_env, client, tmp_path, capsys):
    ec2 = client("ec2")
    region = usage_env.aws_region
    planned, unplanned, reused = (ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(3))
    volume = ec2.create_volume(AvailabilityZone=_az(client), Size=10)["VolumeId"]  # unused but too new to plan
    plan = _plan(tmp_path, [_entry("dev", region, planned), _entry("dev", region, reused),
                            _entry("dev", region, volume, rule="USG101", kind="ebs-volume")])
    ec2.associate_address(AllocationId=reused, InstanceId=_instance(client))  # in use since the plan
    config = load(_config(tmp_path, region, usage_env.backup_bucket))

    assert cleanup.run(plan, config, NOW, lambda _: False, sys.stdout) == 2  # declined: nothing deleted
    assert {planned, unplanned, reused} <= _allocations(client)

    assert cleanup.main([str(plan), "--config", str(config.path), "--yes"]) == 0
    out = capsys.readouterr().out
    assert _allocations(client) >= {unplanned, reused} and planned not in _allocations(client)
    assert ec2.describe_volumes(VolumeIds=[volume])["Volumes"], "a planned resource no longer flagged stays"
    assert f"deleted elastic-ip {planned}" in out and "1 deleted, 0 failed, 0 refused" in out
    assert f"skipped, no longer flagged or now waived: dev 123456789012/{region} elastic-ip {reused}" in out


def test_cleanup_takes_the_kind_from_the_fresh_scan_not_from_the_plan(usage_env, client, tmp_path, capsys):
    """An idle log group and an in-use load balancer share a name; the plan is edited to say load balancer."""
    region = usage_env.aws_region
    client("logs").create_log_group(logGroupName="twin")
    elb = client("elb")
    elb.create_load_balancer(LoadBalancerName="twin", AvailabilityZones=[_az(client)],
                             Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}])
    elb.register_instances_with_load_balancer(LoadBalancerName="twin", Instances=[{"InstanceId": _instance(client)}])
    config = load(_config(tmp_path, region, usage_env.backup_bucket))
    edited = _entry("dev", region, "twin", rule="USG107", kind="classic-load-balancer")

    assert cleanup.run(_plan(tmp_path, [edited], created=LATER), config, LATER, lambda _: True, sys.stdout) == 1

    out = capsys.readouterr().out
    assert ("refused, differs from the fresh scan (the plan says classic-load-balancer, the fresh scan finds a "
            f"log-group): dev {MOTO_ACCOUNT}/{region} classic-load-balancer twin") in out
    assert elb.describe_load_balancers(LoadBalancerNames=["twin"])["LoadBalancerDescriptions"]
    assert client("logs").describe_log_groups(logGroupNamePrefix="twin")["logGroups"]

    # The honest plan deletes the log group (kind and id from the fresh scan), and the load balancer stays.
    honest = _entry("dev", region, "twin", rule="USG107", kind="log-group")
    assert cleanup.run(_plan(tmp_path, [honest], created=LATER), config, LATER, lambda _: True, sys.stdout) == 0
    assert "deleted log-group twin" in capsys.readouterr().out
    assert not client("logs").describe_log_groups(logGroupNamePrefix="twin")["logGroups"]
    assert elb.describe_load_balancers(LoadBalancerNames=["twin"])["LoadBalancerDescriptions"]


def test_cleanup_refuses_an_entry_whose_region_differs(shared_env, shared_client, tmp_path, capsys):
    free = shared_client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    config = load(_config(tmp_path, shared_env.aws_region, shared_env.backup_bucket))
    scans = [cleanup.Scan("dev", MOTO_ACCOUNT, shared_env.aws_region)]
    plan = _plan(tmp_path, [_entry("dev", "us-west-2", free)], scans=scans)
    assert cleanup.run(plan, config, NOW, lambda _: True, sys.stdout) == 1
    assert f"but env dev is {MOTO_ACCOUNT}/{shared_env.aws_region} now" in capsys.readouterr().out
    assert free in _allocations(shared_client)


@pytest.mark.parametrize("extra", ["", "protected = true\n"], ids=["by-name", "declared"])
def test_cleanup_refuses_a_protected_env(shared_env, shared_client, tmp_path, capsys, extra):
    free = shared_client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    name = "production" if not extra else "sandbox2"
    config = _config(tmp_path, "us-east-1", shared_env.backup_bucket,
                     f'\n[env.{name}]\naws_region = "{shared_env.aws_region}"\naws_account_id = "{MOTO_ACCOUNT}"\n'
                     + extra)
    plan = _plan(tmp_path, [_entry(name, shared_env.aws_region, free)])
    assert cleanup.main([str(plan), "--config", str(config), "--yes"]) == 2
    [line] = [line for line in capsys.readouterr().out.splitlines() if "refusing cleanup" in line]
    why = "its name looks like production" if not extra else "it says protected = true"
    assert f"refusing cleanup in env {name} (account {MOTO_ACCOUNT}): {why}" in line
    assert free in _allocations(shared_client)


def test_cleanup_refuses_credentials_that_reach_the_production_account(shared_env, shared_client, tmp_path, capsys):
    """The env says dev, but the credentials are prod's: STS tells, and nothing is deleted."""
    free = shared_client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    config = _config(tmp_path, shared_env.aws_region, shared_env.backup_bucket,
                     f'\n[env.prod]\naws_account_id = "{PROD_ACCOUNT}"\n')
    plan = _plan(tmp_path, [_entry("dev", shared_env.aws_region, free)])
    with pytest.MonkeyPatch.context() as credentials:
        use_account(credentials, PROD_ACCOUNT)
        assert cleanup.main([str(plan), "--config", str(config), "--yes"]) == 2
    out = capsys.readouterr().out
    assert (f"refusing cleanup in env dev (account {MOTO_ACCOUNT}): its credentials reach account {PROD_ACCOUNT}, "
            "which is protected env prod's") in out
    assert free in _allocations(shared_client)


def test_read_only_checks_fail_when_the_credentials_reach_another_account(shared_env, capsys):
    from opschecks import protection
    from opschecks.errors import Unreachable

    declared = replace(shared_env, aws_account_id=MOTO_ACCOUNT)
    protection.verify_account(declared, aws.session(declared))  # the right account
    protection.verify_account(shared_env, aws.session(shared_env))  # none declared: nothing to prove
    with pytest.MonkeyPatch.context() as credentials:
        use_account(credentials, PROD_ACCOUNT)
        with pytest.raises(Unreachable, match=f"env dev declares aws_account_id {MOTO_ACCOUNT}, but its credentials "
                                              f"reach account {PROD_ACCOUNT}: not judging another account"):
            protection.verify_account(declared, aws.session(declared))


def use_account(monkeypatch: pytest.MonkeyPatch, account: str) -> None:
    """Credentials of another account, as moto hands them out for an assumed role in it."""
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/ops", RoleSessionName="opschecks")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])


def test_cleanup_refuses_a_plan_for_another_account(shared_env, shared_client, tmp_path, capsys):
    free = shared_client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    plan = _plan(tmp_path, [_entry("dev", shared_env.aws_region, free, account="999999999999")])
    assert cleanup.main([str(plan), "--config", str(_config(tmp_path, shared_env.aws_region, shared_env.backup_bucket)),
                         "--yes"]) == 2
    assert ("env dev: the plan was made in account 999999999999, its credentials reach account 123456789012 now"
            in capsys.readouterr().out)
    assert free in _allocations(shared_client)


@pytest.mark.parametrize(("created", "problems", "message"), [
    (NOW - 8 * DAY, [], "the plan is 8.0 days old, older than plan_max_age_days 7"),
    (NOW + DAY, [], "in the future"),
    (NOW, ["the scan of env staging failed"], "the plan is incomplete: the scan of env staging failed"),
], ids=["stale", "future", "incomplete"])
def test_cleanup_refuses_a_stale_future_or_incomplete_plan(shared_env, shared_client, tmp_path, capsys, created, problems,
                                                           message):
    free = shared_client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    config = load(_config(tmp_path, shared_env.aws_region, shared_env.backup_bucket))
    plan = _plan(tmp_path, [_entry("dev", shared_env.aws_region, free)], created=created, problems=problems)
    assert cleanup.run(plan, config, NOW, lambda _: True, sys.stdout) == 2
    assert message in capsys.readouterr().out
    assert free in _allocations(shared_client)


def test_plan_max_age_is_configurable(usage_env, client, tmp_path):
    free = client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    config = load(_config(tmp_path, usage_env.aws_region, usage_env.backup_bucket, "[env.dev.aws_usage]\n"
                          "plan_max_age_days = 10\n"))
    plan = _plan(tmp_path, [_entry("dev", usage_env.aws_region, free)], created=NOW - 8 * DAY)
    assert cleanup.run(plan, config, NOW, lambda _: True, sys.stdout) == 0
    assert free not in _allocations(client)


def test_cleanup_refuses_entries_of_an_env_the_plan_did_not_scan(shared_env, shared_client, tmp_path, capsys):
    free = shared_client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    config = load(_config(tmp_path, shared_env.aws_region, shared_env.backup_bucket))
    plan = _plan(tmp_path, [_entry("dev", shared_env.aws_region, free)], scans=[])
    assert cleanup.run(plan, config, NOW, lambda _: True, sys.stdout) == 2
    assert "env dev: the plan lists resources but has no scan of it" in capsys.readouterr().out


def test_cleanup_rejects_a_malformed_plan(tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text('{"version": 2, "created": "2026-01-01T00:00:00+00:00", "complete": true, "problems": [], '
                   '"scans": [], "resources": [{"env": "dev", "kind": "ebs-volume"}]}')
    with pytest.raises(ConfigError, match="resources\\[0\\]"):
        cleanup.read_plan(bad)
    bad.write_text('{"version": 2, "created": "2026-01-01T00:00:00+00:00", "resources": []}')
    with pytest.raises(ConfigError, match="created/scans/problems/complete"):
        cleanup.read_plan(bad)
    bad.write_text('{"version": 1, "created": "2026-01-01T00:00:00+00:00", "resources": []}')
    with pytest.raises(ConfigError, match="--cleanup-plan"):
        cleanup.read_plan(bad)
    bad.write_text("[]")
    with pytest.raises(ConfigError, match="--cleanup-plan"):
        cleanup.read_plan(bad)


def _alb(client, name: str) -> str:
    ec2 = client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    return client("elbv2").create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]


def test_a_load_balancer_that_only_redirects_or_answers_itself_is_in_use(usage_env, client):
    """An ALB with no target group (HTTP->HTTPS redirect, a maintenance page) is in use; moto answers
    TargetGroupNotFound for its target groups, which once ended the whole scan in a traceback."""
    elbv2 = client("elbv2")
    redirect = _alb(client, "alb-redirect")
    elbv2.create_listener(LoadBalancerArn=redirect, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}])
    fixed = _alb(client, "alb-maintenance")
    elbv2.create_listener(LoadBalancerArn=fixed, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain",
                                                           "MessageBody": "down for maintenance"}}])
    bare = _alb(client, "alb-bare")  # no listener, no target group: unused
    volume = client("ec2").create_volume(AvailabilityZone=_az(client), Size=10, VolumeType="gp3")["VolumeId"]

    verdicts = unused.scan(aws.session(usage_env), usage_env.settings(UsageSettings), LATER, [])

    assert {v.resource.id for v in verdicts["USG104"]} == {bare}
    assert {v.resource.id for v in verdicts["USG101"]} == {volume}  # the other rules ran too
    assert not any(v.resource.error for found in verdicts.values() for v in found)


def test_one_resources_odd_answer_never_hides_the_others(usage_env, client):
    """An API error about one load balancer, or one whole rule, is a USG100 finding naming it; the rest is judged."""
    odd, empty = _alb(client, "alb-odd"), _alb(client, "alb-empty")
    sess = aws.session(usage_env)

    def answer_oddly(params, **kwargs):
        if params.get("LoadBalancerArn") == odd:
            raise ClientError({"Error": {"Code": "InternalFailure", "Message": "Request processing has failed "
                                                                               "due to an unknown error"}},
                              "DescribeListeners")

    def deny(params, **kwargs):
        raise ClientError({"Error": {"Code": "UnauthorizedOperation",
                                     "Message": "You are not authorized to perform this operation."}},
                          "DescribeNatGateways")

    sess.events.register("before-parameter-build.elastic-load-balancing-v2.DescribeListeners", answer_oddly)
    sess.events.register("before-parameter-build.ec2.DescribeNatGateways", deny)

    verdicts = unused.scan(sess, usage_env.settings(UsageSettings), LATER, [])
    found = unused.findings(verdicts, usage_env.settings(UsageSettings), "dev here")

    assert {(v.resource.id, v.resource.error is None) for v in verdicts["USG104"]} == {(odd, False), (empty, True)}
    by_code = sorted((f.code, f.message) for f in found)
    assert ("USG100", f"load-balancer {odd} (alb-odd): USG104 (Load balancers without targets) could not judge it: "
                      "AWS DescribeListeners answered InternalFailure: Request processing has failed due to an "
                      "unknown error") in by_code
    assert ("USG100", "rule USG106 (NAT gateways without traffic) could not run: AWS DescribeNatGateways answered "
                      "UnauthorizedOperation: You are not authorized to perform this operation.") in by_code
    assert any(code == "USG104" and empty in message for code, message in by_code)
    # What could not be judged is never planned for deletion.
    plan = cleanup.plan_entries(usage_env, "123456789012", verdicts)
    assert {e.id for e in plan} == {empty}
