""""Needs attention": what a reviewer must see first — findings grouped by change, tasks due, waivers expiring.

One ``Attention`` is built per run (fixtures/record.py) and rendered three
ways from the same facts: the HTML block at the top of the report, the
terminal summary, and the webhook message (opschecks/record/alerts.py).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field

from opschecks import codes
from opschecks.record.changes import Change, Changes, summary_lines
from opschecks.record.due import ON_CHANGE, Task
from opschecks.waivers import Waiver

WAIVER_HORIZON_DAYS = 14


@dataclass(frozen=True)
class ExpiringWaiver:
    waiver: Waiver
    envs: tuple[str, ...]  # the environments whose waivers file holds it


@dataclass(frozen=True)
class Attention:
    total: int  # check runs in this session
    failed: int  # failed or errored
    changes: Changes
    tasks: list[Task]  # the tasks that are not ok (due, overdue, failing), as ``due`` lists them
    waivers: list[ExpiringWaiver]
    compared: bool = True  # False: the ledger could not be read, so nothing is known to be new or fixed
    problems: list[str] = field(default_factory=list)  # what could not be worked out, one line each
    stopped: str | None = None  # the signal that stopped the run (SIGTERM, SIGINT): the checks it did not reach never ran
    cut_short: tuple[str, ...] = ()  # the checks the stop interrupted in their middle (node ids)

    @property
    def alarming(self) -> bool:
        """Not a green run: a check failed, or the run was stopped before it could run them all."""
        return bool(self.failed or self.stopped)

    def alarming_at(self, min_severity: str) -> bool:
        """Worth an alert when only findings of ``min_severity`` or heavier count (a stop always is)."""
        if self.stopped:
            return True
        failing = self.changes.failing
        if self.failed and not failing:  # failed without a finding to weigh: never silenced
            return True
        return any(c.rank <= codes.SEVERITIES.index(min_severity) for c in failing)

    @property
    def headline(self) -> str:
        changes = self.changes
        if self.stopped:  # never "PASSED": the checks after the stop did not run
            text = f"STOPPED by {self.stopped} after {_count(self.total, 'check')} ({self.failed} failed)"
            text += f"; cut short: {', '.join(self.cut_short)}" if self.cut_short else ""
        elif not self.failed:
            text = f"PASSED: all {self.total} checks passed"
            text += f"; fixed since the previous run: {len(changes.fixed)}" if changes.fixed else ""
        else:
            parts = ([f"{len(changes.new)} new", f"{len(changes.still)} still failing"] if self.compared
                     else [f"{len(changes.failing)} findings"])
            parts += [f"{len(changes.fixed)} fixed"] if changes.fixed else []
            text = f"FAILED: {self.failed} of {self.total} checks failed ({', '.join(parts)})"
        extra = [f"{_count(len(self.tasks), 'task')} due or overdue"] if self.tasks else []
        extra += [f"{_count(len(self.waivers), 'waiver')} expiring within {WAIVER_HORIZON_DAYS} days"] if self.waivers else []
        return text + (" · " + " · ".join(extra) if extra else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def expiring(waivers: list[Waiver], today: dt.date, days: int = WAIVER_HORIZON_DAYS) -> list[Waiver]:
    """Waivers still in force that lapse within ``days`` (expired ones already fail the check: USG201)."""
    return [w for w in waivers if today <= w.expires <= today + dt.timedelta(days=days)]


def terminal_lines(attention: Attention, limit: int) -> list[str]:
    lines = [f"opschecks: {attention.headline}"]
    if attention.compared:
        lines += summary_lines(attention.changes, limit)
    else:
        lines += [f"Failing ({len(attention.changes.failing)}):"] + [f"  • {c.line()}" for c in attention.changes.failing[:limit]]
    if attention.tasks:
        lines.append(f"Tasks due or overdue ({len(attention.tasks)}):")
        lines += [f"  • {_task_name(t)} [{t.env}] {t.cadence}: {t.state}" for t in attention.tasks[:limit]]
    if attention.waivers:
        lines.append(f"Waivers expiring within {WAIVER_HORIZON_DAYS} days ({len(attention.waivers)}):")
        lines += [f"  • {w.waiver.describe()} [{', '.join(w.envs)}]" for w in attention.waivers]
    return lines + [f"  ! {p}" for p in attention.problems]


# --- HTML -------------------------------------------------------------------------------------------

STYLE = """
body { display: flex; flex-direction: column; }
#title { order: -3; margin-bottom: 0; } body > p:first-of-type { order: -2; }
.summary { order: -1; } #results-table { order: 0; }
#environment-header, #environment { order: 1; } footer { order: 2; }
#needs-attention { font-size: 13px; margin: 4px 0 12px; }
#needs-attention h2 { font-size: 17px; margin: 0 0 6px; padding: 6px 10px; border-radius: 3px; color: #fff; }
#needs-attention h2.failed { background: #c62828; } #needs-attention h2.passed { background: #2e7d32; }
#needs-attention h3 { font-size: 13px; margin: 8px 0 2px; color: #333; }
#needs-attention table { border-collapse: collapse; width: 100%; table-layout: fixed; }
#needs-attention td, #needs-attention th { padding: 2px 6px; border-bottom: 1px solid #e6e6e6; text-align: left;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; vertical-align: top; color: #222; }
#needs-attention th { color: #666; font-weight: normal; }
#needs-attention .code { font-family: monospace; font-weight: bold; }
#needs-attention .new { color: #c62828; } #needs-attention .still { color: #e65100; }
#needs-attention .fixed { color: #2e7d32; } #needs-attention .problem { color: #c62828; }
#needs-attention .note { color: #666; margin: 2px 0; }
#needs-attention .sev-critical { color: #fff; background: #c62828; } #needs-attention .sev-warning { color: #e65100; }
#needs-attention .sev-info { color: #666; }
.opschecks-trends { display: flex; flex-wrap: wrap; gap: 12px; }
.opschecks-figure { margin: 0; width: 640px; } .opschecks-figure img { width: 640px; border: 1px solid #e6e6e6; }
.opschecks-more summary { cursor: pointer; color: #1565c0; margin: 2px 0; }
"""

_FINDING_COLUMNS = '<col style="width:70px"><col style="width:64px"><col style="width:70px"><col style="width:30%"><col>'


def block(attention: Attention) -> str:
    """The HTML block that opens the report (with the style that moves it above pytest-html's Environment)."""
    passed = not attention.alarming
    parts = [f"<style>{STYLE}</style>", '<section id="needs-attention">',
             f'<h2 class="{"passed" if passed else "failed"}">Needs attention — {_e(attention.headline)}</h2>']
    changes = attention.changes
    if attention.compared:
        parts.append(_findings("new", "New since the previous run", changes.new))
        parts.append(_findings("still", "Still failing", changes.still, streak=True))
    else:
        parts.append(_findings("new", "Failing (not compared with earlier runs)", changes.failing))
    parts.append(_findings("fixed", "Fixed since the previous run", changes.fixed))
    if attention.tasks:
        rows = "".join(f"<tr><td>{_e(_task_name(t))}</td><td>{_e(t.env)}</td><td>{_e(t.cadence)}</td>"
                       f'<td class="{"new" if t.failing_since or t.status == "overdue" else "still"}">{_e(t.state)}</td>'
                       f"<td>{_when(t.last_pass)}</td><td>{_due_by(t)}</td></tr>" for t in attention.tasks)
        parts.append(f'<h3 data-group="due">Tasks due or overdue ({len(attention.tasks)})</h3><table>'
                     '<col style="width:30%"><col style="width:70px"><col style="width:90px"><col>'
                     '<col style="width:130px"><col style="width:130px">'
                     "<tr><th>task</th><th>env</th><th>cadence</th><th>state</th><th>last passed</th>"
                     f"<th>due by</th></tr>{rows}</table>")
    if attention.waivers:
        rows = "".join(f"<tr><td>{_e(w.waiver.resource or 'tag ' + w.waiver.tag)}</td><td>{_e(', '.join(w.envs))}</td>"
                       f'<td class="still">{w.waiver.expires}</td><td title="{_e(w.waiver.justification)}">'
                       f"{_e(w.waiver.justification)}</td></tr>" for w in attention.waivers)
        parts.append(f'<h3 data-group="waivers">Waivers expiring within {WAIVER_HORIZON_DAYS} days '
                     f'({len(attention.waivers)})</h3><table><col style="width:30%"><col style="width:140px">'
                     f'<col style="width:100px"><col><tr><th>waiver</th><th>envs</th><th>expires</th>'
                     f"<th>justification</th></tr>{rows}</table>")
    parts += [f'<p class="problem">{_e(p)}</p>' for p in attention.problems]
    return "".join(parts) + "</section>"


def _findings(kind: str, title: str, changes: list[Change], streak: bool = False) -> str:
    if not changes:
        return ""
    head = "<th>code</th><th>severity</th><th>env</th><th>where</th><th>message</th>" + ("<th>since</th>" if streak else "")
    cols = _FINDING_COLUMNS + ('<col style="width:150px">' if streak else "")
    rows = "".join(
        f'<tr data-finding="{_e(c.check)}|{_e(c.env)}|{_e(c.finding.code)}|{_e(c.finding.where)}"'
        f' data-severity="{c.severity}"><td class="code {kind}">{_e(c.finding.code)}</td>'
        f'<td class="sev-{c.severity}">{c.severity}</td><td>{_e(c.env)}</td>'
        f'<td title="{_e(c.finding.where)}">{_e(c.where)}</td>'
        f'<td title="{_e(c.finding.message)}">{_e(c.finding.message)}</td>'
        + (f"<td>{c.since:%Y-%m-%d}, {c.streak}</td>" if streak and c.since else "") + "</tr>"
        for c in changes)
    return f'<h3 class="{kind}" data-group="{kind}">{_e(title)} ({len(changes)})</h3><table>{cols}<tr>{head}</tr>{rows}</table>'


def _due_by(task: Task) -> str:
    if task.last_run is None or task.cadence == ON_CHANGE:  # never run (already overdue), or no deadline
        return "now"
    return _when(task.window.end)


def _task_name(task: Task) -> str:
    return task.check.rsplit("/", 1)[-1]


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if moment else "never"


def _e(text: object) -> str:
    return html.escape(str(text))
