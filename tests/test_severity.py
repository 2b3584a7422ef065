"""A code's severity (opschecks/codes.py) orders Needs attention heaviest first, colours the report's rows, and
lets the webhook stay quiet below `[alerts] min_severity`; a stop or an unweighable failure is never silenced."""

from __future__ import annotations

import datetime as dt

import pytest

from opschecks.findings import Finding
from opschecks.record.settings import AlertSettings
from opschecks.record.attention import Attention, block
from opschecks.record.changes import Changes, Run, compare
from opschecks.record.ledger import Record
from opschecks.schema import ConfigError


def _attention(*codes: str, failed: int | None = None, stopped: str | None = None) -> Attention:
    runs = [Run(f"checks/test_x.py::test_{i}", env, "failed", [Finding(code, f"{env} here", "found")], None)
            for i, (code, env) in enumerate((c, e) for c, e in zip(codes, ["a-dev", "b-dev", "c-dev", "d-dev"]))]
    changes = compare(runs, lambda check, env, limit: [])
    return Attention(total=4, failed=len(codes) if failed is None else failed, changes=changes, tasks=[],
                     waivers=[], stopped=stopped)


def test_new_findings_are_listed_heaviest_first_whatever_their_env() -> None:
    attention = _attention("CPU002", "POD003", "BKP001")  # info in a-dev, warning in b-dev, critical in c-dev
    assert [c.finding.code for c in attention.changes.new] == ["BKP001", "POD003", "CPU002"]
    assert [c.severity for c in attention.changes.new] == ["critical", "warning", "info"]


def test_still_failing_orders_by_severity_before_streak() -> None:
    started = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)

    def history(check: str, env: str, limit: int) -> list[Record]:
        code = "CPU002" if env == "a-dev" else "BKP001"
        runs = 5 if env == "a-dev" else 1  # the info finding has failed longer
        return [Record(check, env, "failed", started - dt.timedelta(days=i), 1.0, "ops@ci",
                       findings=(Finding(code, f"{env} here", "found"),)) for i in range(runs)]
    runs = [Run("checks/test_x.py::test_0", "a-dev", "failed", [Finding("CPU002", "a-dev here", "found")], None),
            Run("checks/test_x.py::test_1", "b-dev", "failed", [Finding("BKP001", "b-dev here", "found")], None)]
    still = compare(runs, history).still
    assert [c.finding.code for c in still] == ["BKP001", "CPU002"], [c.runs for c in still]


def test_the_report_marks_each_finding_with_its_severity() -> None:
    html = block(_attention("BKP001", "CPU002"))
    assert '<td class="sev-critical">critical</td>' in html and '<td class="sev-info">info</td>' in html
    assert html.index("BKP001") < html.index("CPU002")


@pytest.mark.parametrize("codes, minimum, alarming", [
    (("POD003",), "critical", False),  # a warning only: quiet when only critical counts
    (("POD003",), "warning", True),
    (("CPU002", "BKP001"), "critical", True),  # one critical is enough
    (("CPU002",), "info", True),  # the default: every failure
])
def test_min_severity_silences_only_lighter_failures(codes: tuple[str, ...], minimum: str, alarming: bool) -> None:
    assert _attention(*codes).alarming_at(minimum) is alarming


def test_a_stop_and_a_failure_without_findings_always_alert() -> None:
    assert _attention("CPU002", stopped="SIGTERM").alarming_at("critical")
    assert Attention(total=1, failed=1, changes=Changes([], [], []), tasks=[], waivers=[]).alarming_at("critical")


def test_an_unknown_min_severity_is_one_config_line() -> None:
    with pytest.raises(ConfigError, match="alerts.min_severity: expected one of critical, warning, info, found 'high'"):
        AlertSettings(min_severity="high")
