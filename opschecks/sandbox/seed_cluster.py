"""Seed the sandbox's cluster capacity picture, per environment: nodes and their kubelets, the database's
volumes with the kubelet stats that show their use, an EKS control plane, and a month of node CPU.

Node names match the pods' ``nodeName`` in seed.py; the EKS clusters are named ``ingest-eks-<env>`` and
wired into the sandbox's config (``[env.<env>.cluster] eks_cluster``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from opschecks.sandbox import kube_objects as k
from opschecks.sandbox.kubeapi import FakeKubeAPI

NODES = ("ip-10-0-1-23.ec2.internal", "ip-10-0-2-57.ec2.internal")
GiB = 2**30
# claim -> (pod that mounts it, node index, capacity GiB, used GiB): mongo well below 80%.
VOLUMES = {"datadir-mongo-0": ("mongo-0", 0, 100, 41), "data-rabbit-0": ("rabbit-0", 1, 8, 1),
           "data-redis-0": ("redis-0", 1, 8, 0.5)}
CONTROL_PLANE = "v1.30.4-eks-a737599"
KUBELET = "v1.29.6-eks-1552ad0"


def eks_name(env: str) -> str:
    return f"ingest-eks-{env}"


def seed_cluster_kube(kube: FakeKubeAPI, cluster: str, env: str, now: dt.datetime) -> None:
    namespace = f"{env}-environment"
    kube.set_version(cluster, CONTROL_PLANE)
    kube.set_live_kubelets(cluster)  # a sandbox left up stays Ready (NOD006 judges heartbeats)
    kube.set_objects(cluster, "nodes", [k.node(n, now=now, kubelet=KUBELET, cluster=eks_name(env),
                                               zone=("us-east-1a", "us-east-1b")[i]) for i, n in enumerate(NODES)])
    kube.set_objects(cluster, "persistentvolumeclaims", [k.pvc(claim, namespace, now=now, size=f"{cap}Gi")
                                                         for claim, (_, _, cap, _) in VOLUMES.items()])
    for index, node in enumerate(NODES):
        kube.set_stats_summary(cluster, node, k.stats_summary(node, now=now, volumes=[
            (pod, namespace, claim, int(used * GiB), cap * GiB)
            for claim, (pod, at, cap, used) in VOLUMES.items() if at == index]))


def seed_cluster_aws(client: Any, envs: list[str], now: dt.datetime) -> list[str]:
    """EKS clusters and their tagged nodes with 30 days of hourly CPU (a weekday rhythm, 20-60%);
    returns the config lines that name each env's EKS cluster."""
    eks, ec2, cloudwatch = client("eks"), client("ec2"), client("cloudwatch")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    image = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}])
    lines = []
    for env in envs:
        name = eks_name(env)
        eks.create_cluster(name=name, version=CONTROL_PLANE[1:5], roleArn=f"arn:aws:iam::123456789012:role/{name}",
                           resourcesVpcConfig={"subnetIds": subnets})
        instances = ec2.run_instances(
            ImageId=image["Images"][0]["ImageId"], InstanceType="m5.xlarge", MinCount=2, MaxCount=2,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "Name", "Value": f"{name}-ng"}, {"Key": "eks:cluster-name", "Value": name},
                {"Key": f"kubernetes.io/cluster/{name}", "Value": "owned"}]}])["Instances"]
        put_node_cpu(cloudwatch, [i["InstanceId"] for i in instances], now, days=30)
        lines += [f"[env.{env}.cluster]", f'eks_cluster = "{name}"']
    return lines


def put_node_cpu(cloudwatch: Any, instances: list[str], now: dt.datetime, days: int, base: float = 35.0) -> None:
    end = now.replace(minute=0, second=0, microsecond=0)
    data = []
    for n, instance in enumerate(instances):
        for hour in range(1, days * 24 + 1):
            moment = end - dt.timedelta(hours=hour)
            busy = 1.0 if moment.weekday() < 5 and 8 <= moment.hour < 19 else 0.4
            value = base * busy * (1 + 0.3 * math.sin(hour / 5 + n))
            data.append({"MetricName": "CPUUtilization", "Timestamp": moment, "Value": round(value, 2),
                         "Unit": "Percent", "Dimensions": [{"Name": "InstanceId", "Value": instance}]})
    for i in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=data[i:i + 500])


SERVICES = {"Amazon Elastic Compute Cloud - Compute": 1240.0, "EC2 - Other": 310.0,
            "Amazon Elastic Container Service for Kubernetes": 219.0, "Amazon Simple Storage Service": 96.0,
            "Amazon Virtual Private Cloud": 97.0, "Elastic Load Balancing": 52.0, "AmazonCloudWatch": 41.0,
            "AWS Secrets Manager": 4.0, "Tax": 0.0}


def monthly_costs(now: dt.datetime) -> tuple[dict[str, dict[str, float]], float]:
    """The account's bill for the two full months before ``now`` (about 4% apart) and the rest of this month's
    forecast, in line with what it has spent so far."""
    this_month = now.date().replace(day=1)
    last = (this_month - dt.timedelta(days=1)).replace(day=1)
    before = (last - dt.timedelta(days=1)).replace(day=1)
    monthly = {before.strftime("%Y-%m"): dict(SERVICES),
               last.strftime("%Y-%m"): {s: round(usd * 1.04, 2) for s, usd in SERVICES.items()}}
    days_left = ((this_month + dt.timedelta(days=32)).replace(day=1) - now.date()).days
    return monthly, sum(SERVICES.values()) * 1.05 * days_left / 30
