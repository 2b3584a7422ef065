"""What is due: each task (check x environment), when it last passed, and whether it is done, due or overdue.

Each cadence cuts time into windows, in ``[cadence] timezone`` (default UTC): a day, a calendar month, or a
sprint of ``sprint_days`` counted from ``sprint_start`` (fortnightly windows
start from the same anchor, so they line up with two-week sprints). A team whose jobs run at a local time
(a CronJob's ``timeZone: Europe/London``) sets the same zone, so a job at 00:15 local never falls into the
previous UTC day in summer, leaving the next one empty on the day summer time ends. A task is

- ``done`` when it passed in the current window;
- ``due`` when it has not yet passed in this window but did in the previous one;
- ``overdue`` when a whole window went by without a pass (or it never passed).

Its state, as the report and ``due`` show it, is ``ok`` (done), ``due``,
``overdue``, or ``failing since <date> (N runs)`` when its newest run failed:
a failure says more than a deadline. ``--fail-on-overdue`` follows the status.

A check with several cadence markers follows the most frequent one.

``e2e`` is the checklist's "whenever major changes occur": it has no window. Such a task is ``done``
once it passed, ``overdue`` when it never did, and ``due`` when ``python -m opschecks due`` sees a
major change since its last pass (the deployed images differ: opschecks.areas.e2e.e2e.image_changes).

The checklist as collected now decides which tasks exist and their cadence (a
check moved from monthly to daily is due daily from the next run of ``due``);
the ledger only says when each task last ran and passed. Records stamped later
than now (a runner whose clock is ahead) never count as a pass: they are
reported with the task instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from opschecks.record.ledger import Latest
from opschecks.record.settings import CadenceSettings

CADENCES = ("daily", "fortnightly", "monthly", "sprint", "e2e")  # most frequent first (with sprint_days >= 14)
ON_CHANGE = "e2e"  # due on a major change, not on a calendar
ANY_ENV = "-"  # the env of a checklist task tied to no environment (a drill no selected env is configured for)


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime  # exclusive: the deadline for this window's run


@dataclass(frozen=True)
class Task:
    check: str
    env: str
    cadence: str
    last_run: dt.datetime | None  # None: in the checklist, never run
    last_outcome: str
    last_pass: dt.datetime | None
    window: Window
    status: str  # done, due, overdue
    future: dt.datetime | None = None  # the newest record stamped after now (ignored: a clock ahead)
    failing_since: dt.datetime | None = None  # the first failed run since the last pass, when the newest failed
    failures: int = 0  # failed runs since the last pass

    @property
    def state(self) -> str:
        """ok, due, overdue, or failing since <date> (N runs)."""
        if self.failing_since is not None:
            runs = f"{self.failures} run{'s' if self.failures != 1 else ''}"
            return f"failing since {self.failing_since.astimezone(dt.timezone.utc):%Y-%m-%d} ({runs})"
        return "ok" if self.status == "done" else self.status


def window(cadence: str, moment: dt.datetime, settings: CadenceSettings) -> Window:
    """The window of ``cadence`` that contains ``moment``."""
    zone = settings.zone
    today = moment.astimezone(zone).date()

    def midnight(day: dt.date) -> dt.datetime:  # local midnight, in UTC (a local day may last 23 or 25 hours)
        return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.timezone.utc)

    if cadence == "daily":
        return Window(midnight(today), midnight(today + dt.timedelta(days=1)))
    if cadence == ON_CHANGE:  # one window for all time: a pass counts until a change says otherwise
        return Window(dt.datetime.min.replace(tzinfo=dt.timezone.utc), dt.datetime.max.replace(tzinfo=dt.timezone.utc))
    if cadence == "monthly":
        first = today.replace(day=1)
        return Window(midnight(first), midnight((first + dt.timedelta(days=32)).replace(day=1)))
    if cadence in ("fortnightly", "sprint"):
        length = 14 if cadence == "fortnightly" else settings.sprint_days
        start = settings.sprint_start + dt.timedelta(days=length * ((today - settings.sprint_start).days // length))
        return Window(midnight(start), midnight(start + dt.timedelta(days=length)))
    raise ValueError(f"unknown cadence {cadence!r} (known: {', '.join(CADENCES)})")


def cadence_of(markers: Iterable[str], settings: CadenceSettings) -> str | None:
    """The most frequent of a check's cadence markers (None when it has none)."""
    length = {"daily": 1, "fortnightly": 14, "monthly": 28, "sprint": settings.sprint_days, ON_CHANGE: 10**6}
    known = [m for m in markers if m in length]
    return min(known, key=lambda m: length[m]) if known else None


def status(cadence: str, last_pass: dt.datetime | None, now: dt.datetime, settings: CadenceSettings) -> str:
    if cadence == ON_CHANGE:
        return "done" if last_pass is not None else "overdue"
    current = window(cadence, now, settings)
    if last_pass is not None and last_pass >= current.start:
        return "done"
    previous = window(cadence, current.start - dt.timedelta(seconds=1), settings)
    if last_pass is not None and last_pass >= previous.start:
        return "due"
    return "overdue"


def tasks(latest: Iterable[Latest], now: dt.datetime, settings: CadenceSettings,
          envs: Iterable[str] | None = None,
          checklist: Iterable[tuple[str, str, tuple[str, ...]]] | None = None) -> list[Task]:
    """One Task per (check, env) of ``checklist`` (check, env, cadences as collected now), limited to ``envs``
    when given; without a checklist, one per task in the ledger, with the cadence its last record carried.
    Checks without cadence are left out; a checklist task that never ran is overdue. ``latest`` should be
    read up to ``now`` (``Ledger.latest(until=now)``); a pass later than ``now`` is not counted anyway."""
    wanted = set(envs) if envs is not None else None
    history = {(item.any.check, item.any.env): item for item in latest}
    if checklist is None:
        checklist = [(check, env, item.any.cadences) for (check, env), item in history.items()]
    result = []
    for check, env, cadences in checklist:
        cadence = cadence_of(cadences, settings)
        if cadence is None or (wanted is not None and env not in wanted and env != ANY_ENV):
            continue
        item = history.get((check, env))
        run = item.last_run if item else None
        last_pass = item.last_pass.started if item and item.last_pass else None
        if last_pass is not None and last_pass > now:
            last_pass = None
        result.append(Task(check=check, env=env, cadence=cadence, last_run=run.started if run else None,
                           last_outcome=run.outcome if run else "", last_pass=last_pass,
                           window=window(cadence, now, settings), status=status(cadence, last_pass, now, settings),
                           future=item.future.started if item and item.future else None,
                           failing_since=item.failing_since if item else None, failures=item.failures if item else 0))
    return ordered(result)


def ordered(tasks: Iterable[Task]) -> list[Task]:
    """Failing first, then overdue, due, done; by check and env within each."""
    order = {"overdue": 0, "due": 1, "done": 2}
    return sorted(tasks, key=lambda t: (t.failing_since is None, order[t.status], t.check, t.env))
