"""AWS usage settings, and the backup bucket's growth as CloudWatch's daily S3 storage metrics show it.

S3 publishes ``BucketSizeBytes`` once a day, one series per storage class
(``StorageType`` dimension: StandardStorage, StandardIAStorage, ...), and
``NumberOfObjects`` once a day for ``AllStorageTypes``. With nightly backups
and a 90-day expiry the bucket plateaus: a backup is written and one expires
every day. So the bucket is judged on three shapes:

- growing faster than ``max_growth_percent`` over ``growth_window_days``
  (expiry stopped, or backups suddenly much larger);
- size and object count identical for ``stall_days`` days (nothing written and
  nothing expired: the backup job and the lifecycle both stopped);
- object count falling every day for ``stall_days`` days (backups stopped while
  expiry goes on deleting the old ones);
- size falling by more than ``max_shrink_percent`` from one day to the next
  (backups deleted by hand, or a lifecycle rule that expires far too early);

plus metrics missing or older than ``max_metric_age_days``.

The size of a day is the sum over storage classes, so a day is judged only
when every class that reports in the window has its datapoint that day: a
class without one (S3 publishes late, or skipped a day) is a named gap, never
0 bytes. A class reports from its first datapoint; one silent for longer than
``max_metric_age_days`` before the newest datapoint has stopped (emptied: S3
stops publishing a class with no bytes) and counts 0 from then on. The series
asked for are the dimension values S3 documents (``storage_types``) plus any
ListMetrics finds: ListMetrics alone omits a series without data in the last
two weeks, which would drop a class from the whole history.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure  # not pyplot: no global state, no display needed

from opschecks.findings import Finding
from opschecks.sizes import human_bytes
from opschecks.areas.aws_usage.settings import UsageSettings

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class DayUsage:
    day: dt.date
    size_bytes: int | None  # summed over every storage class reporting then; None when one of them has no datapoint
    objects: int | None
    missing: tuple[str, ...] = ()  # the storage classes without a datapoint that day (a gap: the size is not judged)
    stopped: tuple[str, ...] = ()  # storage classes that stopped reporting since the previous day (count 0 from now)


def bucket_history(cloudwatch: Any, bucket: str, settings: UsageSettings, now: dt.datetime) -> list[DayUsage]:
    """The bucket's daily size (all storage classes) and object count over the last ``window_days``, oldest first."""
    start = (now - settings.window_days * DAY).replace(hour=0, minute=0, second=0, microsecond=0)
    # S3 publishes a day's storage metrics after the day is over, so a point stamped today can only be
    # partial (moto's server makes one up from the live bucket): the history ends with yesterday.
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    listed = {
        dim["Value"]
        for page in cloudwatch.get_paginator("list_metrics").paginate(
            Namespace="AWS/S3", MetricName="BucketSizeBytes",
            Dimensions=[{"Name": "BucketName", "Value": bucket}])
        for metric in page["Metrics"]
        for dim in metric["Dimensions"] if dim["Name"] == "StorageType"
    }
    by_type = {t: points for t in sorted(listed | set(settings.storage_types))
               if (points := _daily(cloudwatch, "BucketSizeBytes", bucket, t, start, end))}
    objects = _daily(cloudwatch, "NumberOfObjects", bucket, "AllStorageTypes", start, end)
    days = sorted({d for points in by_type.values() for d in points} | set(objects))
    if not days:
        return []
    newest = max((d for points in by_type.values() for d in points), default=days[-1])
    spans = {}  # storage class -> the days it is expected to report
    for storage_type, points in by_type.items():
        last = max(points)
        stopped = (newest - last).days > settings.max_metric_age_days
        spans[storage_type] = (min(points), last if stopped else newest)
    history = []
    for previous, day in zip([None, *days], days):
        expected = [t for t, (first, last) in spans.items() if first <= day <= last]
        missing = tuple(t for t in expected if day not in by_type[t])
        size = None if missing or not expected else sum(by_type[t][day] for t in expected)
        stopped = tuple(t for t, (_, last) in spans.items() if last < day and (previous is None or last >= previous))
        history.append(DayUsage(day, size, objects.get(day), missing, stopped))
    return history


def _daily(cloudwatch: Any, metric: str, bucket: str, storage_type: str,
           start: dt.datetime, end: dt.datetime) -> dict[dt.date, int]:
    # At most window_days points at a one-day period, far below GetMetricStatistics' 1,440-point limit.
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/S3", MetricName=metric, StartTime=start, EndTime=end, Period=86400,
        Statistics=["Average"],
        Dimensions=[{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": storage_type}])
    return {point["Timestamp"].astimezone(dt.timezone.utc).date(): int(point["Average"])
            for point in response["Datapoints"]}


def judge(history: list[DayUsage], settings: UsageSettings, where: str, now: dt.datetime) -> list[Finding]:
    """Findings USG001-USG005 for the bucket's history (see the module docstring)."""
    sized = [d for d in history if d.size_bytes is not None]
    if not sized:
        gaps = _gaps(history)
        return [Finding("USG004", where, f"no AWS/S3 BucketSizeBytes data in CloudWatch for the last "
                                         f"{settings.window_days} days (is the bucket in this region?)" if not gaps
                        else f"no day of the last {settings.window_days} has a BucketSizeBytes datapoint for every "
                             f"storage class: {gaps}")]
    findings = []
    last = sized[-1]
    age_days = (now.date() - last.day).days
    if age_days > settings.max_metric_age_days:
        later = _gaps([d for d in history if d.day > last.day])
        findings.append(Finding("USG004", where, f"latest complete BucketSizeBytes day is {last.day}, "
                                                 f"{age_days} days ago (expected within {settings.max_metric_age_days:g})"
                                + (f"; since then {later}" if later else "")))
    base = _at_or_before(sized, last.day - settings.growth_window_days * DAY) or sized[0]
    if base.size_bytes and base is not last:
        growth = (last.size_bytes - base.size_bytes) / base.size_bytes * 100
        if growth > settings.max_growth_percent:
            findings.append(Finding("USG001", where, (
                f"grew {growth:.1f}% from {human_bytes(base.size_bytes)} on {base.day} to "
                f"{human_bytes(last.size_bytes)} on {last.day} (expected at most {settings.max_growth_percent:g}% "
                f"in {settings.growth_window_days} days: is the expiry rule still working?)")))
    for before, after in zip(sized, sized[1:]):
        shrink = (before.size_bytes - after.size_bytes) / before.size_bytes * 100 if before.size_bytes else 0.0
        if shrink > settings.max_shrink_percent:
            stopped = sorted({t for d in history if before.day < d.day <= after.day for t in d.stopped})
            findings.append(Finding("USG005", where, (
                f"shrank {shrink:.1f}% from {human_bytes(before.size_bytes)} on {before.day} to "
                f"{human_bytes(after.size_bytes)} on {after.day} (expected at most {settings.max_shrink_percent:g}% "
                "a day: were backups deleted, or does a lifecycle rule expire them too early?)"
                + (f"; {', '.join(stopped)} stopped reporting after {before.day} and counts 0 (S3 stops publishing "
                   "a storage class with no bytes; or its metrics stopped)" if stopped else ""))))
    recent = [d for d in history if d.size_bytes is not None and d.objects is not None][-(settings.stall_days + 1):]
    if len(recent) == settings.stall_days + 1:
        if len({(d.size_bytes, d.objects) for d in recent}) == 1:
            findings.append(Finding("USG002", where, (
                f"size ({human_bytes(last.size_bytes)}) and object count ({recent[-1].objects}) unchanged "
                f"from {recent[0].day} to {recent[-1].day}: expected a backup written and one expired every day "
                "(backups and expiry both stopped?)")))
        elif all(b.objects < a.objects for a, b in zip(recent, recent[1:])):
            findings.append(Finding("USG003", where, (
                f"object count fell every day from {recent[0].objects} on {recent[0].day} to {recent[-1].objects} "
                f"on {recent[-1].day}: expected it steady (backups stopped while expiry goes on?)")))
    return findings


def _gaps(days: list[DayUsage]) -> str:
    """The named gaps: which storage class had no datapoint on which days."""
    by_class: dict[str, list[dt.date]] = defaultdict(list)
    for d in days:
        for storage_type in d.missing:
            by_class[storage_type].append(d.day)
    return "; ".join(f"{t} has no datapoint on {', '.join(map(str, ds))}" for t, ds in sorted(by_class.items()))


def _at_or_before(history: list[DayUsage], day: dt.date) -> DayUsage | None:
    earlier = [d for d in history if d.day <= day]
    return earlier[-1] if earlier else None


def plot(history: list[DayUsage], title: str) -> bytes:
    """A PNG of size (GiB, left axis) and object count (right axis) per day."""
    fig = Figure(figsize=(6.4, 3.0), dpi=100)  # 640 px: the report's figure width
    ax = fig.subplots()
    sized = [d for d in history if d.size_bytes is not None]
    ax.plot([d.day for d in sized], [d.size_bytes / 2**30 for d in sized], color="tab:blue", label="size")
    ax.set_ylabel("size (GiB)", color="tab:blue")
    ax.set_ylim(bottom=0)
    counted = [d for d in history if d.objects is not None]
    ax2 = ax.twinx()
    ax2.plot([d.day for d in counted], [d.objects for d in counted], color="tab:orange", label="objects")
    ax2.set_ylabel("objects", color="tab:orange")
    ax2.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
