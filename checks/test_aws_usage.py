"""Monthly: the backup bucket's growth in CloudWatch, and allocated-but-unused AWS resources.

Read-only: nothing here writes to AWS. ``--cleanup-plan PATH`` saves what a
person could delete; ``python -m opschecks cleanup PATH`` deletes it.
See opschecks/areas/aws_usage/usage.py, opschecks/areas/aws_usage/unused.py, opschecks/waivers.py.
"""

from __future__ import annotations

import pytest

from opschecks import aws, clock, sizes, waivers
from opschecks.areas.aws_usage import cleanup, costs, unused, usage
from opschecks.findings import Finding, fail_on
from opschecks.schema import ConfigError
from opschecks.areas.aws_usage.settings import UsageSettings

pytestmark = pytest.mark.monthly


def test_backup_bucket_usage(env, aws_session, report, ledger_details):
    """The backup bucket's size and object count plateau: no runaway growth, no stall, no shrink."""
    now = clock.now()
    where = f"{env.name} s3://{env.backup_bucket} ({env.aws_region})"
    history = usage.bucket_history(aws.client(aws_session, "cloudwatch"), env.backup_bucket, env.settings(UsageSettings), now)
    if history:
        # One plot per bucket: environments sharing the bucket contribute the same trend, drawn once.
        title = f"s3://{env.backup_bucket} ({env.aws_region}): size and objects, last {env.settings(UsageSettings).window_days} days"
        report.trend(f"bucket {env.aws_region} {env.backup_bucket}", title,
                     usage.plot(history, f"s3://{env.backup_bucket} daily (CloudWatch AWS/S3)"),
                     ["day", "size", "bytes", "objects", "no datapoint (size not judged)"],
                     [[d.day, None if d.size_bytes is None else sizes.human_bytes(d.size_bytes), d.size_bytes,
                       d.objects, ", ".join(d.missing) or None] for d in reversed(history)])
        ledger_details.update(days=len(history), size_bytes=history[-1].size_bytes, objects=history[-1].objects)
    fail_on(usage.judge(history, env.settings(UsageSettings), where, now))


def test_unused_resources(env, aws_session, ops_config, report, cleanup_plan, ledger_details):
    """Nothing allocated and unused beyond its rule's threshold, unless an unexpired waiver covers it."""
    now = clock.now()
    account = aws.client(aws_session, "sts").get_caller_identity()["Account"]
    where = f"{env.name} {account}/{env.aws_region}"
    try:
        waiver_list = waivers.configured(env.settings(UsageSettings).waivers_file, ops_config.path)
    except ConfigError as exc:
        fail_on([Finding("USG200", where, f"{exc} (every resource would go unwaived)")])
    verdicts = unused.scan(aws_session, env.settings(UsageSettings), now, waiver_list)
    for rule in unused.RULES:
        report.table(f"{rule.code} {rule.title} ({rule.reason(env.settings(UsageSettings))})", unused.TABLE_COLUMNS,
                     unused.table_rows(verdicts[rule.code]))
    cleanup_plan.add(env, account, cleanup.plan_entries(env, account, verdicts))
    ledger_details.update({code: len(found) for code, found in verdicts.items()},
                          waived=sum(v.waived for found in verdicts.values() for v in found))
    fail_on(waivers.expired(waiver_list, now.date(), where) + unused.findings(verdicts, env.settings(UsageSettings), where))


def test_monthly_bill(env, aws_session, report, ledger_details):
    """Last month's bill within its rise threshold of the month before; this month's forecast within budget."""
    account = aws.client(aws_session, "sts").get_caller_identity()["Account"]
    bill = costs.read(aws.client(aws_session, "ce", region="us-east-1"), clock.now().date())
    verdict = costs.judge(bill, env.settings(UsageSettings).cost_rise_percent, env.settings(UsageSettings).monthly_budget_usd,
                          env.settings(UsageSettings).cost_top_services, f"{env.name} account {account}")
    report.table(f"Account {account}: {bill.months[0]} and {bill.months[1]} by service (Cost Explorer, "
                 f"{bill.requests} requests)", costs.COLUMNS, verdict.rows)
    ledger_details.update(verdict.details)
    fail_on(verdict.findings)
