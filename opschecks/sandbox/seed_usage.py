"""Seed the sandbox's AWS usage picture: the backup bucket's CloudWatch history and a healthy account.

- 90 days of daily AWS/S3 storage metrics for the backup bucket, as S3 would
  publish them for three environments' nightly backups under a 90-day expiry:
  a plateau that grows slowly with the database, split between StandardStorage
  and StandardIAStorage (backups move to Standard-IA after 30 days);
- an account in use: a running instance with its data volume, Elastic IP, AMI,
  classic and application load balancers, a NAT gateway with traffic, log
  groups that are written to or expire;
- one unused Elastic IP kept on purpose, and the waivers file that waives it
  (the sandbox's config names it in ``[defaults.aws_usage] waivers_file`` from the start).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from opschecks.sandbox.seed import BUCKET

DAY = dt.timedelta(days=1)
# Nightly backup sizes per environment (bytes) on the first day of the history.
BACKUP_BYTES = {"dev": 260 * 2**20, "staging": 640 * 2**20, "prod": int(1.8 * 2**30)}
DAILY_GROWTH = 0.0005  # the database grows ~1.5% a month
RETENTION_DAYS = 90
IA_AFTER_DAYS = 30
WAIVERS_FILE = "usage-waivers.toml"

Series = list[tuple[dt.date, dict[str, int], int]]  # day, bytes per StorageType, objects


def backup_bucket_series(now: dt.datetime, days: int = 90) -> Series:
    """Daily bucket size per storage class and object count for the ``days`` before ``now``."""
    today = now.date()
    rng = random.Random(42)
    first = today - (days + RETENTION_DAYS) * DAY
    sizes = {  # every backup that existed during the window: (env, day) -> bytes
        (env, first + i * DAY): int(base * (1 + DAILY_GROWTH) ** i * rng.uniform(0.98, 1.02))
        for i in range(days + RETENTION_DAYS) for env, base in BACKUP_BYTES.items()
    }
    series = []
    for offset in range(days, 0, -1):  # S3 publishes yesterday's figures, not today's
        day = today - offset * DAY
        present = {key: size for key, size in sizes.items() if day - RETENTION_DAYS * DAY < key[1] <= day}
        standard = sum(size for (_, taken), size in present.items() if day - taken < IA_AFTER_DAYS * DAY)
        series.append((day, {"StandardStorage": standard,
                             "StandardIAStorage": sum(present.values()) - standard}, len(present)))
    return series


def put_bucket_metrics(cloudwatch: Any, bucket: str, series: Series) -> None:
    """Publish ``series`` as S3 does: one datapoint a day per storage class, at midnight UTC."""
    data = []
    for day, by_class, objects in series:
        stamp = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
        data += [_datum("BucketSizeBytes", bucket, storage_type, stamp, size, "Bytes")
                 for storage_type, size in by_class.items()]
        data.append(_datum("NumberOfObjects", bucket, "AllStorageTypes", stamp, objects, "Count"))
    for i in range(0, len(data), 500):  # PutMetricData takes at most 1,000 datums a call
        cloudwatch.put_metric_data(Namespace="AWS/S3", MetricData=data[i:i + 500])


def _datum(metric: str, bucket: str, storage_type: str, stamp: dt.datetime, value: int, unit: str) -> dict:
    return {"MetricName": metric, "Timestamp": stamp, "Value": value, "Unit": unit,
            "Dimensions": [{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": storage_type}]}


def seed_account(client: Callable[[str], Any], now: dt.datetime, prefix: str = "ingest") -> dict[str, str]:
    """Resources in use, named ``<prefix>-...``; returns their ids by role."""
    ec2, elb, elbv2, logs, cloudwatch = (client(s) for s in ("ec2", "elb", "elbv2", "logs", "cloudwatch"))
    image = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}])["Images"][0]
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][:2]
    vpc = subnets[0]["VpcId"]
    instance = ec2.run_instances(
        ImageId=image["ImageId"], InstanceType="m5.large", MinCount=1, MaxCount=1, SubnetId=subnets[0]["SubnetId"],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"{prefix}-worker"}]}],
    )["Instances"][0]["InstanceId"]
    volume = ec2.create_volume(AvailabilityZone=subnets[0]["AvailabilityZone"], Size=200, VolumeType="gp3",
                               TagSpecifications=[{"ResourceType": "volume",
                                                   "Tags": [{"Key": "Name", "Value": f"{prefix}-data"}]}])["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    ec2.create_snapshot(VolumeId=volume, Description=f"{prefix}-data nightly")
    address = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=address, InstanceId=instance)
    ami = ec2.create_image(InstanceId=instance, Name=f"{prefix}-worker-golden")["ImageId"]

    elb.create_load_balancer(LoadBalancerName=f"{prefix}-legacy",
                             Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
                             AvailabilityZones=[subnets[0]["AvailabilityZone"]])
    elb.register_instances_with_load_balancer(LoadBalancerName=f"{prefix}-legacy", Instances=[{"InstanceId": instance}])
    alb = elbv2.create_load_balancer(Name=f"{prefix}-api", Subnets=[s["SubnetId"] for s in subnets],
                                     Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    group = elbv2.create_target_group(Name=f"{prefix}-api", Protocol="HTTP", Port=8080, VpcId=vpc,
                                      TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": instance}])

    nat = ec2.create_nat_gateway(SubnetId=subnets[1]["SubnetId"],
                                 AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"],
                                 )["NatGateway"]["NatGatewayId"]
    put_nat_traffic(cloudwatch, nat, now, days=30)

    logs.create_log_group(logGroupName=f"/{prefix}/ingest-core")
    logs.put_retention_policy(logGroupName=f"/{prefix}/ingest-core", retentionInDays=30)
    logs.create_log_group(logGroupName=f"/{prefix}/ingest-backup")
    logs.create_log_stream(logGroupName=f"/{prefix}/ingest-backup", logStreamName="ingest-backup-1")
    logs.put_log_events(logGroupName=f"/{prefix}/ingest-backup", logStreamName="ingest-backup-1", logEvents=[
        {"timestamp": int((now - dt.timedelta(hours=1)).timestamp() * 1000), "message": "backup uploaded"}])
    return {"instance": instance, "volume": volume, "address": address, "ami": ami, "alb": alb, "nat": nat}


def put_nat_traffic(cloudwatch: Any, nat: str, now: dt.datetime, days: int, bytes_per_day: int = 3 * 2**30) -> None:
    cloudwatch.put_metric_data(Namespace="AWS/NATGateway", MetricData=[
        {"MetricName": metric, "Timestamp": now - i * DAY, "Value": bytes_per_day, "Unit": "Bytes",
         "Dimensions": [{"Name": "NatGatewayId", "Value": nat}]}
        for i in range(1, days + 1) for metric in ("BytesOutToDestination", "BytesInFromDestination")
    ])


def seed_usage(sandbox: Any) -> None:
    """The whole usage picture in the sandbox's region, and its waivers file wired into its config."""
    put_bucket_metrics(sandbox.client("cloudwatch"), BUCKET, backup_bucket_series(sandbox.now))
    seed_account(sandbox.client, sandbox.now)
    ec2 = sandbox.client("ec2")
    reserve = ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [
        {"Key": "Name", "Value": "ingest-dns-failover"}, {"Key": "purpose", "Value": "dns-failover-reserve"}]}])
    expires = (sandbox.now + 180 * DAY).date()
    (sandbox.root / WAIVERS_FILE).write_text(
        "[[waiver]]\n"
        'tag = "purpose=dns-failover-reserve"\n'
        f'justification = "kept for DNS failover ({reserve["PublicIp"]}), OPS-118"\n'
        f"expires = {expires.isoformat()}\n"
    )