"""Changes between runs (opschecks/changes.py): a finding's identity is (check, env, code, where)."""

from __future__ import annotations

import datetime as dt

from opschecks.changes import UNJUDGED, Run, compare, run_findings
from opschecks.findings import Finding
from opschecks.ledger import Record

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
    assert changes.still[0].line() == ("BKP001 [dev] s3://ingest-db-backup/dev/: newest is 54 h old "
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
