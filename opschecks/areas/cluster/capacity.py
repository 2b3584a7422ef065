"""Monthly: the cluster's nodes are sized right, from CloudWatch ``AWS/EC2 CPUUtilization``.

The nodes are the EC2 instances tagged with the cluster (``eks:cluster-name = <name>`` as managed node groups
tag them, or ``kubernetes.io/cluster/<name>`` as self-managed ones and Karpenter do). Their hourly average CPU
over the last ``cpu_days`` whole UTC days is read with GetMetricData (one query per node, paginated), and for each day the
check computes the mean over nodes of their daily average and of the 95th percentile of their hourly
averages. The month is judged on the median day:

- CPU001  the median daily p95 is above ``cpu_high_percent``: the cluster is too small for its load;
- CPU002  the median daily p95 is below ``cpu_low_percent``: it is paying for idle nodes;
- CPU003  no node carries the cluster's tags, or CloudWatch has no datapoints for them: nothing was judged.

The p95 is computed here from hourly averages because GetMetricData's extended statistics are not
available on every endpoint; an hour's average hides minute-long spikes, on purpose: capacity is about load
that lasts.
"""

from __future__ import annotations

import datetime as dt
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

from opschecks.findings import Finding
from opschecks.areas.cluster.settings import ClusterSettings

COLUMNS = ("day", "nodes", "average CPU", "p95 CPU")
HOUR = 3600


@dataclass
class Capacity:
    """A cluster's node CPU per day over the window, with its findings: a series (its rows are its days), not a
    verdict of one table."""
    cluster: str
    days: list[tuple[dt.date, int, float, float]] = field(default_factory=list)  # day, nodes, mean avg, mean p95
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> list[tuple[str, int, str, str]]:
        return [(d.isoformat(), n, f"{a:.1f}%", f"{p:.1f}%") for d, n, a, p in reversed(self.days)]


def cluster_instances(ec2: Any, cluster: str) -> list[str]:
    """Ids of the running or stopped instances tagged as nodes of ``cluster``."""
    found: set[str] = set()
    states = {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
    for tag in ({"Name": "tag:eks:cluster-name", "Values": [cluster]},
                {"Name": "tag-key", "Values": [f"kubernetes.io/cluster/{cluster}"]}):
        for page in ec2.get_paginator("describe_instances").paginate(Filters=[tag, states]):
            found.update(i["InstanceId"] for r in page["Reservations"] for i in r["Instances"])
    return sorted(found)


def hourly_cpu(cloudwatch: Any, instances: list[str], start: dt.datetime, end: dt.datetime
               ) -> dict[str, list[tuple[dt.datetime, float]]]:
    """Each instance's hourly average CPUUtilization (percent) between ``start`` and ``end``."""
    series: dict[str, list[tuple[dt.datetime, float]]] = {}
    for offset in range(0, len(instances), 500):  # GetMetricData takes at most 500 queries
        chunk = instances[offset:offset + 500]
        queries = [{"Id": f"i{n}", "Label": instance, "ReturnData": True,
                    "MetricStat": {"Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                                              "Dimensions": [{"Name": "InstanceId", "Value": instance}]},
                                   "Period": HOUR, "Stat": "Average"}} for n, instance in enumerate(chunk)]
        for page in cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"):
            for result in page["MetricDataResults"]:
                instance = chunk[int(result["Id"][1:])]
                series.setdefault(instance, []).extend(zip(result["Timestamps"], result["Values"]))
    return series


def daily(series: dict[str, list[tuple[dt.datetime, float]]]) -> list[tuple[dt.date, int, float, float]]:
    """Per day: nodes reporting, the mean of their daily averages, the mean of their daily p95."""
    per_day: dict[dt.date, list[tuple[float, float]]] = defaultdict(list)
    for points in series.values():
        by_day: dict[dt.date, list[float]] = defaultdict(list)
        for moment, value in points:
            by_day[moment.astimezone(dt.timezone.utc).date()].append(float(value))
        for day, values in by_day.items():
            per_day[day].append((statistics.fmean(values), _p95(values)))
    return [(day, len(v), statistics.fmean(a for a, _ in v), statistics.fmean(p for _, p in v))
            for day, v in sorted(per_day.items())]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def assess(ec2: Any, cloudwatch: Any, cluster: str, settings: ClusterSettings, now: dt.datetime,
           where: str) -> Capacity:
    series = Capacity(cluster=cluster)
    here = f"{where} eks {cluster}"
    instances = cluster_instances(ec2, cluster)
    if not instances:
        series.findings.append(Finding("CPU003", here, f"expected EC2 instances tagged eks:cluster-name={cluster} "
                                        f"or kubernetes.io/cluster/{cluster}, found none"))
        return series
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)  # whole UTC days: a partial today skews the p95
    series.days = daily(hourly_cpu(cloudwatch, instances, end - dt.timedelta(days=settings.cpu_days), end))
    if not series.days:
        series.findings.append(Finding("CPU003", here, f"expected CPUUtilization datapoints for {len(instances)} "
                                        f"node(s) over {settings.cpu_days} days, CloudWatch has none"))
        return series
    median_p95 = statistics.median(p for *_, p in series.days)
    median_avg = statistics.median(a for _, _, a, _ in series.days)
    series.details.update(nodes=len(instances), days=len(series.days), median_p95=round(median_p95, 1),
                           median_average=round(median_avg, 1))
    span = f"over {len(series.days)} days, {len(instances)} node(s)"
    if median_p95 > settings.cpu_high_percent:
        series.findings.append(Finding("CPU001", here, f"expected the median daily p95 CPU at most "
                                        f"{settings.cpu_high_percent:g}%, found {median_p95:.1f}% {span}: "
                                        "add nodes or larger instances"))
    elif median_p95 < settings.cpu_low_percent:
        series.findings.append(Finding("CPU002", here, f"expected the median daily p95 CPU at least "
                                        f"{settings.cpu_low_percent:g}%, found {median_p95:.1f}% {span}: "
                                        "fewer or smaller nodes would do"))
    return series


def plot(series: Capacity) -> bytes:
    fig = Figure(figsize=(6.4, 3.0), dpi=100)  # 640 px: the report's figure width
    ax = fig.add_subplot()
    days = [d for d, *_ in series.days]
    ax.plot(days, [a for _, _, a, _ in series.days], label="average")
    ax.plot(days, [p for *_, p in series.days], label="p95 of hourly averages")
    ax.set_ylim(0, 100)
    ax.set_ylabel("CPU %")
    ax.set_title(f"{series.cluster}: node CPU")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
