"""Two --sandbox runs in one clone: each records in a ledger of its own, and the latest finished one is what
``python -m opschecks due --sandbox`` reads (issue 25 item 6; opschecks/sandbox/stack.py, fixtures/sandbox.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from opschecks.record import ledger
from opschecks.sandbox import stack

DRILL = "checks/test_restore.py::test_restore_drill"


def _record(path: Path, runner: str) -> None:
    ledger.append(path, ledger.Record(check=DRILL, env="dev", outcome="passed",
                                      started=dt.datetime.now(dt.timezone.utc), duration_s=1, runner=runner,
                                      cadences=("monthly",), details={}))


def _runners(path: Path) -> list[str]:
    return sorted(r.runner for r in ledger.query(path))


def test_a_second_run_never_empties_the_first_runs_ledger_and_the_latest_finished_one_is_read(tmp_path: Path) -> None:
    first = stack.run_ledger(tmp_path)
    _record(first, "first")

    second = stack.run_ledger(tmp_path)  # a second run in the same clone starts while the first still records
    _record(first, "first")
    _record(second, "second")

    assert first != second
    assert _runners(first) == ["first", "first"], "the second run emptied the first's ledger under it"
    assert stack.publish_ledger(first, tmp_path) == (tmp_path / stack.LEDGER).resolve()
    assert _runners(tmp_path / stack.LEDGER) == ["first", "first"]
    assert not first.exists() and _runners(second) == ["second"], "publishing leaves the running run's own file be"
    stack.publish_ledger(second, tmp_path)
    assert _runners(tmp_path / stack.LEDGER) == ["second"]
    assert not list((tmp_path / stack.RUN_LEDGERS).iterdir())


def test_a_run_that_recorded_nothing_leaves_the_latest_finished_ledger_as_it_was(tmp_path: Path) -> None:
    finished = stack.run_ledger(tmp_path)
    _record(finished, "finished")
    stack.publish_ledger(finished, tmp_path)

    stopped = stack.run_ledger(tmp_path)  # stopped while seeding: no record
    assert stack.publish_ledger(stopped, tmp_path) is None
    assert _runners(tmp_path / stack.LEDGER) == ["finished"]
