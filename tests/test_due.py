"""`due` and `history` on a crafted ledger, at an injected "now"."""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from urllib.parse import quote
from pathlib import Path

import pytest

from opschecks.record import due, ledger
from opschecks.__main__ import main
from opschecks.config import load
from opschecks.schema import ConfigError

pytest_plugins = ["pytester"]

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 3, 20, 10, 0, tzinfo=UTC)  # a Thursday; sprints of 10 days from 2025-03-03
CADENCE = due.CadenceSettings(sprint_days=10, sprint_start=dt.date(2025, 3, 3))
CONFIG = """
[env.dev]
[env.prod]
[ledger]
path = "{ledger}"
[cadence]
sprint_days = 10
sprint_start = 2025-03-03
"""


def at(days_ago: float, hour: int = 9) -> dt.datetime:
    return (NOW - dt.timedelta(days=days_ago)).replace(hour=hour)


def record(check: str, env: str, outcome: str, started: dt.datetime, *cadences: str) -> ledger.Record:
    return ledger.Record(check=f"checks/test_area.py::{check}", env=env, outcome=outcome, started=started,
                         duration_s=1.0, runner="ops@laptop", details={"on": started.date().isoformat()},
                         cadences=cadences, run_id="r")


CRAFTED = [
    record("test_daily_today", "dev", "passed", at(0), "daily"),
    record("test_daily_yesterday", "dev", "passed", at(1, hour=23), "daily"),
    record("test_daily_stale", "dev", "passed", at(2), "daily"),
    record("test_daily_stale", "dev", "failed", at(0), "daily"),  # failing today does not make it done
    record("test_monthly", "dev", "passed", dt.datetime(2025, 2, 27, tzinfo=UTC), "monthly"),
    record("test_monthly", "prod", "passed", dt.datetime(2025, 1, 31, tzinfo=UTC), "monthly"),
    record("test_sprint", "dev", "passed", dt.datetime(2025, 3, 12, tzinfo=UTC), "sprint"),  # previous sprint
    record("test_sprint", "prod", "passed", dt.datetime(2025, 3, 13, 0, 1, tzinfo=UTC), "sprint"),  # this one
    record("test_fortnightly", "dev", "failed", at(3), "fortnightly"),  # never passed
    record("test_daily_and_monthly", "dev", "passed", at(1), "monthly", "daily"),  # the daily marker rules
    record("test_daily_today", "qa", "passed", at(9), "daily"),  # env no longer configured
    record("test_no_cadence", "dev", "passed", at(40)),
    record("test_streak", "prod", "passed", at(5), "daily"),
    record("test_streak", "prod", "failed", at(4), "daily"),  # failing since here: 3 failed runs
    record("test_streak", "prod", "error", at(3), "daily"),
    record("test_streak", "prod", "skipped", at(2), "daily"),
    record("test_streak", "prod", "failed", at(1), "daily"),
]
EXPECTED = {  # task: (cadence, status, state)
    ("test_daily_today", "dev"): ("daily", "done", "ok"),
    ("test_daily_yesterday", "dev"): ("daily", "due", "due"),
    ("test_daily_stale", "dev"): ("daily", "overdue", "failing since 2025-03-20 (1 run)"),
    ("test_monthly", "dev"): ("monthly", "due", "due"),
    ("test_monthly", "prod"): ("monthly", "overdue", "overdue"),
    ("test_sprint", "dev"): ("sprint", "due", "due"),
    ("test_sprint", "prod"): ("sprint", "done", "ok"),
    ("test_fortnightly", "dev"): ("fortnightly", "overdue", "failing since 2025-03-17 (1 run)"),
    ("test_daily_and_monthly", "dev"): ("daily", "due", "due"),
    ("test_streak", "prod"): ("daily", "overdue", "failing since 2025-03-16 (3 runs)"),
}


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The crafted ledger and its config, run from a directory without a checklist (so: the ledger's tasks only)."""
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "ledger.sqlite"
    for r in CRAFTED:
        ledger.append(store, r)
    path = tmp_path / "opschecks.toml"
    path.write_text(CONFIG.format(ledger=store))
    return path


def test_windows() -> None:
    assert due.window("daily", NOW, CADENCE) == due.Window(dt.datetime(2025, 3, 20, tzinfo=UTC),
                                                           dt.datetime(2025, 3, 21, tzinfo=UTC))
    assert due.window("monthly", dt.datetime(2024, 12, 31, 23, tzinfo=UTC), CADENCE) == due.Window(
        dt.datetime(2024, 12, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC))
    assert due.window("sprint", NOW, CADENCE) == due.Window(dt.datetime(2025, 3, 13, tzinfo=UTC),
                                                            dt.datetime(2025, 3, 23, tzinfo=UTC))
    # Before the anchor too: windows repeat backwards from sprint_start.
    assert due.window("fortnightly", dt.datetime(2025, 2, 20, tzinfo=UTC), CADENCE).start == dt.datetime(
        2025, 2, 17, tzinfo=UTC)


def test_crafted_ledger_gives_the_expected_due_list(tmp_path: Path) -> None:
    store = ledger.open_ledger(tmp_path / "l.sqlite")
    for r in CRAFTED:
        store.append(r)

    tasks = due.tasks(store.latest(), NOW, CADENCE, envs=["dev", "prod"])

    got = {(t.check.split("::")[1], t.env): (t.cadence, t.status, t.state) for t in tasks}
    assert got == EXPECTED
    failing = [t for t in tasks if t.failing_since is not None]
    assert tasks[:len(failing)] == failing  # failing first, then overdue, due, done
    rest = [t.status for t in tasks[len(failing):]]
    assert rest == sorted(rest, key=["overdue", "due", "done"].index)
    stale = next(t for t in tasks if t.check.endswith("test_daily_stale"))
    assert (stale.last_pass, stale.last_outcome) == (at(2), "failed")


def test_due_command_prints_each_task_and_fails_on_overdue(config_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["due", "--config", str(config_path)], now=NOW) == 0
    plain = capsys.readouterr().out
    assert main(["due", "--config", str(config_path), "--fail-on-overdue"], now=NOW) == 1
    assert capsys.readouterr().out == plain

    lines = plain.splitlines()
    assert lines[0].split() == ["CHECK", "ENV", "CADENCE", "LAST", "PASSED", "LAST", "RUN", "DUE", "BY", "STATE"]
    rows = {(cells[0].split("::")[1], cells[1]): cells for cells in (line.split() for line in lines[1:11])}
    assert {task: cells[2] for task, cells in rows.items()} == {task: c for task, (c, _, _) in EXPECTED.items()}
    states = {task: next(line for line in lines[1:11] if line.split()[:2] == [f"checks/test_area.py::{task[0]}",
                                                                              task[1]]) for task in rows}
    assert {task: line.lower().endswith(EXPECTED[task][2]) for task, line in states.items()} == dict.fromkeys(rows, True)
    assert "FAILING since 2025-03-16 (3 runs)" in plain
    assert rows[("test_monthly", "prod")][3:5] == ["2025-01-31", "00:00"]
    assert rows[("test_fortnightly", "dev")][3] == "never"
    assert rows[("test_daily_yesterday", "dev")][8:10] == ["2025-03-21", "00:00"]  # due by the end of today
    assert "10 tasks: 3 failing, 1 overdue, 4 due, 2 ok (as of 2025-03-20 10:00)" in plain


def test_fail_on_overdue_passes_when_nothing_is_overdue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ledger.append(tmp_path / "ledger.sqlite", CRAFTED[0])  # test_daily_today passed today in dev
    path = tmp_path / "opschecks.toml"
    path.write_text(f'[env.dev]\n[ledger]\npath = "{tmp_path / "ledger.sqlite"}"\n')
    assert main(["due", "--config", str(path), "--fail-on-overdue"], now=NOW) == 0


def test_history_shows_the_last_runs_newest_first(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "test_daily_stale", "-n", "1", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "checks/test_area.py::test_daily_stale"
    assert len(out) == 3 and out[2].split()[:4] == ["2025-03-20", "09:00", "dev", "failed"]

    assert main(["history", "checks/test_area.py::test_monthly", "--env", "prod", "--config", str(config_path)]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [r.split()[2] for r in rows] == ["prod"]


def test_history_of_an_unknown_check_and_a_bad_config_exit_2(config_path: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "test_nope", "--config", str(config_path)]) == 2
    assert "no runs of 'test_nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[env.dev]\n[cadence]\nsprint_days = 0\n")
    assert main(["due", "--config", str(bad)]) == 2
    assert f"{bad}: cadence.sprint_days: expected at least 1 day, found 0" in capsys.readouterr().err
    for wrong in (tmp_path, Path(sys.executable)):  # a directory, a binary file: one line each, exit 2
        assert main(["due", "--config", str(wrong)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"opschecks: config file {wrong} is ") and err.count("\n") == 1, err


def test_due_lists_checklist_tasks_that_never_ran_as_overdue(checklist, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The checklist (checks/) as pytest collects it: a task the ledger has never seen is overdue, not absent;
    an env the config skips is not a task; a drill no env is configured for is one task, env "-"."""
    checklist.check("area", """
        import pytest
        pytestmark = pytest.mark.daily
        def test_daily_today(env):
            pass
        """)
    checklist.check("restore", "import pytest\npytestmark = pytest.mark.monthly\ndef test_never_run(env):\n    pass\n")
    checklist.check("pods", "import pytest\npytestmark = pytest.mark.daily\ndef test_pods(env):\n    pass\n")
    checklist.check("upload_service")  # the real drill; no env has an upload table: one task, env "-"
    store = checklist.path / "ledger.sqlite"
    ledger.append(store, CRAFTED[0])  # test_daily_today passed today in dev
    # Not on the checklist as collected now: a renamed check, and a skipped area's "skipped" record.
    ledger.append(store, record("test_backup_fresh", "dev", "passed", at(30), "daily"))
    ledger.append(store, ledger.Record(check="checks/test_pods.py::test_pods", env="prod", outcome="skipped",
                                       started=at(20), duration_s=0.0, runner="ci@runner", cadences=("daily",)))
    checklist.config(CONFIG.format(ledger=store).replace("[env.prod]\n", '[env.prod]\nskip = ["pods"]\n'))
    monkeypatch.chdir(checklist.path)

    assert main(["due", "--config", "opschecks.toml"], now=NOW) == 0

    rows = {(cells[0], cells[1]): cells for cells in (line.split() for line in capsys.readouterr().out.splitlines()[1:])
            if cells and cells[0].startswith("checks/")}
    assert {task: (cells[2], cells[-1]) for task, cells in rows.items()} == {
        ("checks/test_area.py::test_daily_today", "dev"): ("daily", "OK"),
        ("checks/test_area.py::test_daily_today", "prod"): ("daily", "OVERDUE"),
        ("checks/test_restore.py::test_never_run", "dev"): ("monthly", "OVERDUE"),
        ("checks/test_restore.py::test_never_run", "prod"): ("monthly", "OVERDUE"),
        ("checks/test_pods.py::test_pods", "dev"): ("daily", "OVERDUE"),
        ("checks/test_upload_service.py::test_upload_drill", "-"): ("sprint", "OVERDUE"),
    }
    assert rows[("checks/test_restore.py::test_never_run", "dev")][3:5] == ["never", "never"]
    # Never run: overdue now, never "due by" the end of a window still to come next to OVERDUE.
    assert rows[("checks/test_restore.py::test_never_run", "dev")][5:] == ["now", "OVERDUE"]
    assert rows[("checks/test_area.py::test_daily_today", "prod")][5:] == ["now", "OVERDUE"]


def test_cadence_is_the_checks_current_marker_not_the_last_records(tmp_path: Path) -> None:
    """A check moved from monthly to daily is due daily at once, though its last record said monthly."""
    store = ledger.open_ledger(tmp_path / "l.sqlite")
    store.append(record("test_moved", "dev", "passed", dt.datetime(2025, 3, 3, tzinfo=UTC), "monthly"))

    [task] = due.tasks(store.latest(), NOW, CADENCE, ["dev"],
                       checklist=[("checks/test_area.py::test_moved", "dev", ("daily",))])

    assert (task.cadence, task.status, task.last_pass) == ("daily", "overdue", dt.datetime(2025, 3, 3, tzinfo=UTC))


@pytest.fixture(params=["sqlite", "s3"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(ledger location, the [ledger] lines that make it the store readers use): local SQLite, or S3 on moto."""
    if request.param == "sqlite":
        return str(tmp_path / "l.sqlite"), f'path = "{tmp_path / "l.sqlite"}"'
    sandbox = request.getfixturevalue("sandbox_env")
    bucket = f"ledger-{uuid.uuid4().hex[:8]}"
    sandbox.s3().create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/ledger"
    return uri, f'path = "{tmp_path / "empty.sqlite"}"\ns3_uri = "{uri}"'


def test_a_pass_from_the_future_does_not_keep_a_task_done(tmp_path: Path, any_store: tuple[str, str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A laptop clock 40 days ahead wrote a pass: it is ignored and named; the real last pass decides."""
    location, ledger_lines = any_store
    for r in (record("test_daily_today", "dev", "passed", at(3), "daily"),
              record("test_daily_today", "dev", "passed", NOW + dt.timedelta(days=40), "daily")):
        ledger.append(location, r)
    path = tmp_path / "opschecks.toml"
    path.write_text(f"[env.dev]\n[ledger]\n{ledger_lines}\n")

    assert main(["due", "--config", str(path), "--checks", str(tmp_path / "none")], now=NOW) == 0

    out, err = capsys.readouterr()
    [row] = [line.split() for line in out.splitlines() if line.startswith("checks/")]
    assert row[3:5] == ["2025-03-17", "09:00"] and row[-1] == "OVERDUE"
    assert ("checks/test_area.py::test_daily_today [dev]: a record stamped 2025-04-29 10:00, after now, is ignored"
            in err)


@pytest.fixture
def s3_store(tmp_path: Path, sandbox_env) -> tuple[str, Path, object]:  # noqa: ANN001 (the sandbox fixture)
    """A shared ledger on the sandbox's moto with one daily pass, and a config that reads it."""
    bucket = f"ledger-{uuid.uuid4().hex[:8]}"
    s3 = sandbox_env.s3()
    s3.create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/ledger"
    ledger.append(uri, record("test_daily_today", "dev", "passed", at(0), "daily"))
    path = tmp_path / "opschecks.toml"
    path.write_text(f'[env.dev]\n[ledger]\npath = "{tmp_path / "empty.sqlite"}"\ns3_uri = "{uri}"\n')
    return bucket, path, s3


def test_foreign_objects_under_the_s3_prefix_are_skipped_with_one_note(s3_store, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    bucket, path, s3 = s3_store
    for key in ("ledger/exports/2026/summary.json", "ledger/README.txt", "ledger/a/b/notes_about_this.json"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")

    assert main(["due", "--config", str(path), "--checks", str(tmp_path / "none"), "--fail-on-overdue"],
                now=NOW) == 0

    out, err = capsys.readouterr()
    [row] = [line.split() for line in out.splitlines() if line.startswith("checks/")]
    assert row[-1] == "OK"
    [note] = [line for line in err.splitlines() if "not records" in line]
    assert note == (f"opschecks: ledger s3://{bucket}/ledger: skipped 3 object(s) that are not records: "
                    "ledger/README.txt, ledger/a/b/notes_about_this.json, ledger/exports/2026/summary.json")
    assert "Traceback" not in err


def test_an_internal_error_exits_2_never_the_verdicts_1(s3_store, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A record-named object that is not a record's JSON is a bug's kind of error: exit 2, one line last."""
    bucket, path, s3 = s3_store
    s3.put_object(Bucket=bucket, Key=f"ledger/{quote('checks/test_area.py::test_x', safe='')}/dev/"
                                      "20250320T080000.000000Z_passed_abc.json", Body=b"not json")

    assert main(["due", "--config", str(path), "--checks", str(tmp_path / "none"), "--fail-on-overdue"],
                now=NOW) == 2

    assert capsys.readouterr().err.splitlines()[-1].startswith("opschecks: internal error: JSONDecodeError: ")


def test_a_local_daily_job_is_never_overdue_across_the_end_of_summer_time() -> None:
    """A daily job at 00:15 Europe/London runs at 23:15Z in summer and 00:15Z in winter: in UTC days, the day
    summer time ends (2026-10-25) holds no run, so at 00:05Z the next day the task read overdue. In the team's
    zone every local day holds its run, and the day summer time ends lasts 25 hours."""
    london = due.CadenceSettings(timezone="Europe/London")
    runs = [dt.datetime(2026, 10, 23, 23, 15, tzinfo=UTC), dt.datetime(2026, 10, 24, 23, 15, tzinfo=UTC),
            dt.datetime(2026, 10, 26, 0, 15, tzinfo=UTC)]  # the jobs of local 24, 25 and 26 October, 00:15
    at = dt.datetime(2026, 10, 26, 0, 5, tzinfo=UTC)  # before the 26th's run
    last_pass = max(r for r in runs if r <= at)
    assert due.status("daily", last_pass, at, due.CadenceSettings()) == "overdue"  # what UTC windows said
    assert due.status("daily", last_pass, at, london) == "due"
    assert due.window("daily", dt.datetime(2026, 10, 25, 12, tzinfo=UTC), london) == due.Window(
        dt.datetime(2026, 10, 24, 23, tzinfo=UTC), dt.datetime(2026, 10, 26, 0, tzinfo=UTC))
    assert due.window("monthly", dt.datetime(2026, 7, 31, 23, 30, tzinfo=UTC), london).start == dt.datetime(
        2026, 7, 31, 23, tzinfo=UTC)  # 1 August, 00:30 in London


def test_an_unknown_cadence_timezone_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "opschecks.toml"
    path.write_text('[env.dev]\n[cadence]\ntimezone = "Europe/Londn"\n')
    with pytest.raises(ConfigError, match=r"cadence.timezone: expected an IANA time zone such as 'Europe/London', "
                                          r"found 'Europe/Londn'"):
        load(path)


def _truncated(path: Path) -> None:
    whole = path.with_name("whole.sqlite")
    for n in range(3):
        ledger.append(whole, ledger.Record(check=f"checks/test_a.py::test_{n}", env="dev", outcome="passed",
                                           started=NOW, duration_s=1, runner="r", cadences=("daily",),
                                           details={"pad": "x" * 3000}))
    path.write_bytes(whole.read_bytes()[:5000])


@pytest.mark.parametrize("damage", ["truncated", "not sqlite", "garbage after the header", "a directory"])
@pytest.mark.parametrize("command", [["due"], ["history", "test_0"]], ids=["due", "history"])
def test_due_and_history_on_a_broken_ledger_file_are_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, command: list[str]) -> None:
    store = tmp_path / "ledger.sqlite"
    if damage == "truncated":
        _truncated(store)
    elif damage == "not sqlite":
        store.write_text("CHECK,ENV,OUTCOME\n" * 200)
    elif damage == "garbage after the header":
        store.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    else:
        store.mkdir()
    path = tmp_path / "opschecks.toml"
    path.write_text(f'[env.dev]\n[ledger]\npath = "{store}"\n')

    checks = ["--checks", str(tmp_path / "none")] if command == ["due"] else []
    status = main([*command, "--config", str(path), *checks], now=NOW)

    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"opschecks: ledger {store}")]
    assert len(lines) == 1, err


E2E = "checks/test_e2e.py::test_service_smoke"


def test_due_sandbox_after_a_green_run_keeps_the_passed_e2e_tasks_ok(checklist, capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox (and its cluster) stopped with the run: due --sandbox does not try ~/.kube/config for the
    deployed images and list every e2e task as due with that error."""
    from opschecks.sandbox import stack

    checklist.check("e2e", "import pytest\npytestmark = pytest.mark.e2e\ndef test_service_smoke(env):\n    pass\n")
    store = checklist.path / stack.LEDGER
    store.parent.mkdir(parents=True, exist_ok=True)
    for env in stack.ENVS:
        ledger.append(store, ledger.Record(check=E2E, env=env, outcome="passed", started=NOW, duration_s=1.0,
                                           runner="me@laptop", cadences=("e2e",),
                                           details={"images": {"deployment/ingest-core": ["ingest-core:2.14.0"]}}))
    monkeypatch.chdir(checklist.path)
    monkeypatch.setenv("KUBECONFIG", str(checklist.path / "no-such-kubeconfig"))

    assert main(["due", "--sandbox", "--env", "dev"], now=NOW + dt.timedelta(minutes=5)) == 0

    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(E2E))
    assert row.split()[-1] == "OK", out
    assert "is due" not in out and "kube" not in out.lower(), out
