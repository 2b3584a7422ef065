"""Monthly restore drill: a random, not yet drilled backup of each environment restores with sensible counts.

How it is judged: opschecks/areas/restore/restore.py. Options: --restore-seed, --restore-key, --mongo-uri.
"""

from __future__ import annotations

import pytest

from opschecks import aws, clock
from opschecks.areas.backups import backups
from opschecks.areas.restore import completeness, restore
from opschecks.record import trends
from opschecks.findings import fail_on
from opschecks.areas.restore.settings import RestoreSettings

pytestmark = pytest.mark.monthly


def test_restore_drill(env, aws_session, mongo_target, restore_rng, restore_key, drill_history,
                       transfer_progress, report, ledger_details):
    settings = env.settings(RestoreSettings)
    s3 = aws.client(aws_session, "s3")
    found = list(backups.list_backups(s3, env.backup_bucket, backups.key_prefix(env), None, clock.now()))
    backup = restore.choose(found, restore.drilled_keys(drill_history), restore_rng,
                            where=f"s3://{env.backup_bucket}/{env.backup_prefix}/", pinned=restore_key)
    # The subject: a finding about one backup is fixed only by drilling that backup again (opschecks/record/changes.py).
    ledger_details.update(env=env.name, key=backup.key, subject=backup.key)

    progress = transfer_progress(f"s3://{env.backup_bucket}/{backup.key}", backup.size)
    result = restore.drill(s3, env.backup_bucket, backup, mongo_target, settings, progress)
    previous = restore.previous_drill(drill_history, backup.key)
    ledger_details.update(restore.ledger_details(result, env.name, previous, settings.collections))
    complete = None
    if result.broken is None:
        complete = completeness.check(result, mongo_target.client[mongo_target.database], settings, env.api_timeout_s)
        ledger_details.update(completeness.ledger_details(complete))

    report.table(f"Restore drill of {result.url} into {result.target}", restore.COUNT_COLUMNS,
                 restore.count_rows(result, settings, previous))
    report.table("Drill", ["step", "value"], [
        ["restorer", result.restored.restorer],
        ["dump directory", result.dump_dir or None],
        *[["warning", w] for w in restore.drill_warnings(result)],
        *[[f"{step} (s)", f"{seconds:.1f}"] for step, seconds in result.durations.items()],
        ["compared with", previous.details["key"] if previous else None],
        *([["dump start", f"{complete.dump_start:%Y-%m-%d %H:%M} UTC, from {complete.dump_start_from}"],
           ["live database", complete.live or complete.state],
           *[["not judged for completeness", line] for line in completeness.not_judged(complete)]]
          if complete else []),
        ["users and roles", restore.users_and_roles(result, settings)],
        *[["index warning", w] for w in result.warnings],
        *[["cleanup", note] for note in [*mongo_target.notes, *result.notes]],
    ])
    drills = [(r.started, r.details["counts"]) for r in reversed(drill_history) if r.details.get("counts")]
    drills.append((clock.now(), result.counts))
    title = f"{env.name}: restored document counts, last {len(drills)} drill{'s' if len(drills) != 1 else ''}"
    report.trend(f"restore-counts {env.name}", title, trends.restore_counts(drills, title),
                 ["drilled", *settings.collections], [[f"{when:%Y-%m-%d %H:%M}", *(c.get(n) for n in settings.collections)]
                                                      for when, c in reversed(drills)])
    ages = [(r.started, r.details["content_age_h"]) for r in reversed(drill_history) if r.details.get("content_age_h")]
    if complete and complete.state == "judged":
        ages.append((clock.now(), ledger_details["content_age_h"]))
    if ages:
        title = f"{env.name}: content age of the restored collections at the dump start, last {len(ages)} judged"
        report.trend(f"restore-content-age {env.name}", title, trends.content_ages(ages, title),
                     ["drilled", *settings.collections],
                     [[f"{when:%Y-%m-%d %H:%M}", *(a.get(n) for n in settings.collections)] for when, a in reversed(ages)])
    if complete:
        report.table(f"{env.name}: the backup held against the live database", completeness.COLUMNS,
                     completeness.rows(complete, settings))
    fail_on(restore.judge(result, settings, previous)  # the backup is the findings' subject (restore.judge)
            + (completeness.findings(complete, result.url, env.name, settings) if complete else []))
