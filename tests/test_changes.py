"""Changes between runs (opschecks/record/changes.py): a finding's identity is (check, env, code, where)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from opschecks.record.changes import UNJUDGED, Run, compare, run_findings
from opschecks.findings import Finding
from opschecks.record.ledger import Record

UTC = dt.timezone.utc
FRESH = "checks/test_backups.py::test_backup_is_fresh"
PODS = "checks/test_pods.py::test_pods_healthy"
MISSING = Finding("BKP001", "dev s3://ingest-db-backup/dev/", "newest is 30 h old")
CRASHING = Finding("POD001", "prod sandbox-prod/prod-environment pod/ingest-core-1", "CrashLoopBackOff")
RESTARTS = Finding("POD003", "prod sandbox-prod/prod-environment pod/ingest-core-1", "restarted 14 times")


def day(n: int) -> dt.datetime:
    return dt.datetime(2026, 11, n, 9, tzinfo=UTC)


def rec(check: str, env: str, outcome: str, n: int, *findings: Finding) -> Record:
    return Record(check=check, env=env, outcome=outcome, started=day(n), duration_s=1.0, runner="a@b",
                  findings=findings)


HISTORY = {  # newest first, as the ledger answers
    (FRESH, "dev"): [rec(FRESH, "dev", "failed", 24, MISSING), rec(FRESH, "dev", "skipped", 23),
                     rec(FRESH, "dev", "failed", 22, MISSING), rec(FRESH, "dev", "passed", 21)],
    (PODS, "prod"): [rec(PODS, "prod", "failed", 24, CRASHING, RESTARTS)],
}


def history(check: str, env: str, limit: int) -> list[Record]:
    return HISTORY.get((check, env), [])[:limit]


def test_new_still_and_fixed_by_identity_not_message() -> None:
    reworded = Finding(MISSING.code, MISSING.where, "newest is 54 h old")  # same problem, new numbers
    new_pod = Finding("POD001", "prod sandbox-prod/prod-environment pod/ingest-ui-2", "ImagePullBackOff")
    runs = [Run(FRESH, "dev", "failed", (reworded,)), Run(PODS, "prod", "failed", (RESTARTS, new_pod))]

    changes = compare(runs, history)

    assert [(c.check, c.finding) for c in changes.new] == [(PODS, new_pod)]
    assert [(c.finding, c.since, c.runs) for c in changes.still] == [
        (reworded, day(22), 3),  # since the 22nd: the skipped run on the 23rd judged nothing and breaks nothing
        (RESTARTS, day(24), 2)]
    assert [c.finding for c in changes.fixed] == [CRASHING]
    assert changes.still[0].line() == ("BKP001 (critical) [dev] s3://ingest-db-backup/dev/: newest is 54 h old "
                                       "(since 2026-11-22, 3 runs)")


def test_a_run_that_could_not_judge_fixes_nothing_and_a_pass_fixes_everything() -> None:
    unreachable = run_findings(PODS, "prod", "failed", [], "[prod] Kubernetes API unreachable: connection refused")
    assert unreachable == (Finding(UNJUDGED, "prod test_pods_healthy", "Kubernetes API unreachable: connection refused"),)

    changes = compare([Run(PODS, "prod", "failed", unreachable)], history)
    assert ([c.finding.code for c in changes.new], changes.fixed) == ([UNJUDGED], [])

    changes = compare([Run(PODS, "prod", "passed", ()), Run(FRESH, "dev", "skipped", ())], history)
    assert (changes.new, changes.still, [c.finding for c in changes.fixed]) == ([], [], [CRASHING, RESTARTS])


def test_a_long_streak_reads_further_back_only_while_it_lasts() -> None:
    long = [rec(FRESH, "dev", "failed", 1, MISSING)] * 150
    asked = []

    def deep(check: str, env: str, limit: int) -> list[Record]:
        asked.append(limit)
        return long[:limit]

    (change,) = compare([Run(FRESH, "dev", "failed", (MISSING,))], deep).still
    assert (asked, change.runs, change.streak) == ([10, 100], 101, "101+ runs")
    asked.clear()
    compare([Run(FRESH, "dev", "passed", ())], deep)
    assert asked == [10]


def test_a_first_run_has_everything_new() -> None:
    changes = compare([Run(FRESH, "staging", "failed", (MISSING,))], history)
    assert [c.finding for c in changes.new] == [MISSING] and not changes.still and not changes.fixed


DRILL = "checks/test_restore.py::test_restore_drill"
HOSTILE = "prod/2026-11-24T00_30.tar.gz"
CRASHED = Finding(UNJUDGED, "prod test_restore_drill", "OverflowError: cannot convert float infinity to integer")


def drill_history(subject: str | None) -> list[Record]:
    details = {"key": HOSTILE, **({"subject": subject} if subject else {})}
    return [replace(rec(DRILL, "prod", "failed", 24, CRASHED), details=details)]


def test_a_pass_on_another_subject_does_not_fix_a_finding_about_the_first() -> None:
    # Issue 26: the drill crashed on a hostile backup; a pass on another backup called that crash fixed.
    crash = drill_history(HOSTILE)
    other = compare([Run(DRILL, "prod", "passed", (), "prod/2026-11-25T00_30.tar.gz")], lambda c, e, n: crash)
    assert (other.new, other.still, other.fixed) == ([], [], [])

    again = compare([Run(DRILL, "prod", "passed", (), HOSTILE)], lambda c, e, n: crash)
    assert [c.finding for c in again.fixed] == [CRASHED]
    unpinned = compare([Run(DRILL, "prod", "failed", (Finding("RST004", "s3://b/prod/", "all drilled"),))],
                       lambda c, e, n: crash)  # a run that judged no backup says nothing about this one
    assert unpinned.fixed == []


def test_without_a_recorded_subject_the_same_check_and_env_is_the_subject() -> None:
    untold = drill_history(None)
    changes = compare([Run(DRILL, "prod", "passed", (), "prod/2026-11-25T00_30.tar.gz")], lambda c, e, n: untold)
    assert [c.finding for c in changes.fixed] == [CRASHED]
