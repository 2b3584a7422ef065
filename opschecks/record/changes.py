"""What changed since the previous run: each finding is new, still failing (since when, for how many runs), or fixed.

A finding's identity is (check, env, code, where): its message may change from
run to run (an age, a count) while the problem stays the same one. Each check
run is compared with the previous runs of the same check in the same
environment in the ledger, newest first; skipped runs are passed over, as they
judged nothing. A check that failed without findings (it could not reach what
it checks, or crashed) gets one ``OPS001`` finding, so an outage has a streak too.

A previous finding is *fixed* only when this run reached a verdict about the
same subject: a run that could not judge (OPS001) or was skipped fixes nothing,
and neither does a run that judged something else. A check whose runs judge
different things (the restore drill: one backup each) names what it judged in
its ledger details as ``subject``; a previous finding is fixed only by a run of
the same subject, or when the previous run recorded none (then, as for every
other check, the same check and env is the same subject). A finding of another
subject is not judged again: it is not called fixed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from opschecks import codes
from opschecks.findings import Finding
from opschecks.record.ledger import Record

UNJUDGED = "OPS001"
FIRST_LOOK = 10  # previous runs read per task; more only while a streak reaches past them (S3: one GET each)
HISTORY_RUNS = 100  # at most: a longer streak shows as "100+ runs"
FAILED = ("failed", "error")


@dataclass(frozen=True)
class Run:
    """One check run of this session, as the report knows it."""
    check: str
    env: str
    outcome: str  # passed, failed, error, skipped
    findings: tuple[Finding, ...]
    subject: str | None = None  # what the run judged (details["subject"]), when its runs judge different things


def run_findings(check: str, env: str, outcome: str, findings: Sequence[Finding], reason: str) -> tuple[Finding, ...]:
    """A run's findings; a failure without any is one OPS001 finding carrying the failure's text on one line."""
    if outcome not in FAILED or findings:
        return tuple(findings)
    text = " ".join(line.strip() for line in reason.splitlines() if line.strip()) or "failed without a reason"
    return (Finding(UNJUDGED, f"{env} {check.rsplit('::', 1)[-1]}", text.removeprefix(f"[{env}] ")),)


@dataclass(frozen=True)
class Change:
    check: str
    env: str
    finding: Finding
    since: dt.datetime | None = None  # still failing: when the streak started (its first run)
    runs: int = 1  # still failing: consecutive runs with this finding, this one included
    more: bool = False  # the streak reaches past the HISTORY_RUNS runs read

    @property
    def severity(self) -> str:
        return codes.severity(self.finding.code)

    @property
    def rank(self) -> int:
        return codes.rank(self.finding.code)

    @property
    def where(self) -> str:
        """Where, without the environment that the env column already says."""
        return self.finding.where.removeprefix(f"{self.env} ") or self.finding.where

    def line(self) -> str:
        """One line: code and its severity, env, where, message (and the streak, when still failing)."""
        text = f"{self.finding.code} ({self.severity}) [{self.env}] {self.where}: {self.finding.message}"
        return f"{text} (since {self.since:%Y-%m-%d}, {self.streak})" if self.since else text

    @property
    def streak(self) -> str:
        return f"{self.runs}{'+' if self.more else ''} runs"


@dataclass(frozen=True)
class Changes:
    new: list[Change]
    still: list[Change]
    fixed: list[Change]

    @property
    def failing(self) -> list[Change]:
        return self.new + self.still


def identity(check: str, env: str, finding: Finding) -> tuple[str, str, str, str]:
    return check, env, finding.code, finding.where


History = Callable[[str, str, int], Sequence[Record]]  # (check, env, limit): the previous runs, newest first


def compare(runs: Iterable[Run], history: History) -> Changes:
    """Group this session's findings against the previous runs of the same check and env."""
    new, still, fixed = [], [], []
    for run in runs:
        if run.outcome == "skipped":
            continue
        previous, seen = _previous(run, history)
        for finding in run.findings:
            key = identity(run.check, run.env, finding)
            streak = next((i for i, ids in enumerate(seen) if key not in ids), len(seen))
            if streak == 0:
                new.append(Change(run.check, run.env, finding))
            else:
                still.append(Change(run.check, run.env, finding, since=previous[streak - 1].started, runs=streak + 1,
                                    more=streak == len(seen) >= HISTORY_RUNS))
        judged = all(f.code != UNJUDGED for f in run.findings)
        if previous and judged and previous[0].details.get("subject") in (None, run.subject):
            now = {identity(run.check, run.env, f) for f in run.findings}
            fixed += [Change(run.check, run.env, f) for f in previous[0].findings
                      if identity(run.check, run.env, f) not in now]
    # Heaviest first (the code's severity), then by place; still failing: the longest streak first within a severity.
    order = lambda c: (c.env, c.check, c.finding.code, c.finding.where)  # noqa: E731 (one sort key, three lists)
    return Changes(sorted(new, key=lambda c: (c.rank, *order(c))),
                   sorted(still, key=lambda c: (c.rank, -c.runs, *order(c))), sorted(fixed, key=order))


def _previous(run: Run, history: History) -> tuple[list[Record], list[set[tuple[str, str, str, str]]]]:
    """The previous judged runs and their finding identities: the first few, or more while a streak spans them."""
    keys = {identity(run.check, run.env, f) for f in run.findings}
    limit = FIRST_LOOK
    while True:
        records = list(history(run.check, run.env, limit))
        previous = [r for r in records if r.outcome != "skipped"]
        seen = [{identity(r.check, r.env, f) for f in r.findings} for r in previous]
        if len(records) < limit or limit >= HISTORY_RUNS or not any(all(k in ids for ids in seen) for k in keys):
            return previous, seen
        limit = HISTORY_RUNS


def summary_lines(changes: Changes, limit: int) -> list[str]:
    """The grouping as text, new first, at most ``limit`` findings named (the rest counted): terminal and webhook."""
    lines: list[str] = []
    left = limit
    for title, group in (("New since the previous run", changes.new), ("Still failing", changes.still),
                         ("Fixed since the previous run", changes.fixed)):
        if not group:
            continue
        lines.append(f"{title} ({len(group)}):")
        for change in group[:max(left, 0)]:
            lines.append(f"  • {change.line()}")
        if len(group) > max(left, 0):
            lines.append(f"  … and {len(group) - max(left, 0)} more")
        left -= len(group)
    return lines
