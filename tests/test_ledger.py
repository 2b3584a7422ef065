"""The ledger keeps every record: concurrent processes, xdist workers, both stores; and it degrades loudly."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from opschecks.record import ledger

pytest_plugins = ["pytester"]
T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone.utc)
PROCESSES, PER_PROCESS = 6, 25


def _records(n: int, worker: int) -> list[ledger.Record]:
    return [ledger.Record(check=f"checks/test_backups.py::test_{i % 3}", env=("dev", "prod")[i % 2],
                          outcome=("passed", "failed")[i % 5 == 0], started=T0 + dt.timedelta(seconds=i, microseconds=worker),
                          duration_s=0.5, runner=f"w{worker}@host", details={"worker": worker, "i": i},
                          cadences=("daily",), run_id=f"run{worker}")
            for i in range(n)]


def append_all(location: Path | str, records: list[ledger.Record]) -> None:
    """One writer process: its own store (as each xdist worker has), appending one record at a time."""
    store = ledger.open_ledger(location)
    for record in records:
        store.append(record)


def _append_concurrently(location: Path | str) -> list[ledger.Record]:
    batches = [_records(PER_PROCESS, w) for w in range(PROCESSES)]
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        pool.starmap(append_all, [(location, batch) for batch in batches])
    return [r for batch in batches for r in batch]


def test_sqlite_appends_from_many_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "ledger.sqlite"
    written = _append_concurrently(path)

    stored = ledger.query(path)
    assert len(stored) == len(written) == PROCESSES * PER_PROCESS
    assert {r.id for r in stored} == {r.id for r in written}
    assert {r.id: r for r in stored}[written[7].id] == written[7]


@pytest.fixture
def s3_ledger(sandbox_env) -> str:
    """An empty shared ledger on the sandbox's moto, reachable by child processes through the environment."""
    bucket = f"ledger-{uuid.uuid4().hex[:8]}"
    sandbox_env.s3().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/opschecks/ledger"


def _first_append(path: Path, worker: int, barrier: Any) -> None:
    barrier.wait()
    ledger.open_ledger(path).append(_records(1, worker)[0])


def test_first_appends_racing_on_a_new_file_lose_nothing(tmp_path: Path) -> None:
    """Every writer's first append to a file that does not exist yet, released at the same instant:
    creating the schema and switching to WAL is where SQLite reports 'locked' without waiting."""
    context = multiprocessing.get_context("fork")  # fast start, so the writers really collide
    for attempt in range(10):
        path = tmp_path / f"ledger{attempt}.sqlite"
        barrier = context.Barrier(PROCESSES)
        writers = [context.Process(target=_first_append, args=(path, w, barrier)) for w in range(PROCESSES)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=120)
        assert [w.exitcode for w in writers] == [0] * PROCESSES
        assert len(ledger.query(path)) == PROCESSES, attempt


def test_s3_appends_from_many_processes_lose_nothing(s3_ledger: str, sandbox) -> None:
    written = _append_concurrently(s3_ledger)

    stored = ledger.query(s3_ledger)
    assert len(stored) == len(written)
    assert {r.id for r in stored} == {r.id for r in written}
    assert {r.id: r for r in stored}[written[3].id] == written[3]


def test_s3_query_filters_sorts_and_ignores_foreign_objects(s3_ledger: str, sandbox) -> None:
    store = ledger.open_ledger(s3_ledger)
    for record in _records(10, worker=0):
        store.append(record)
    bucket, key = s3_ledger.removeprefix("s3://").split("/", 1)
    sandbox.s3().put_object(Bucket=bucket, Key=f"{key}/README.txt", Body=b"not a record")

    newest_two = store.query(check="checks/test_backups.py::test_0", env="dev", limit=2)
    assert [(r.details["i"], r.outcome) for r in newest_two] == [(6, "passed"), (0, "failed")]
    assert [r.details["i"] for r in store.query(outcome="failed")] == [5, 0]
    latest = {(item.last_run.check, item.last_run.env): item for item in store.latest()}
    assert len(latest) == 6
    item = latest[("checks/test_backups.py::test_0", "dev")]
    assert (item.last_run.details["i"], item.last_pass.details["i"]) == (6, 6)
    assert latest[("checks/test_backups.py::test_0", "prod")].last_run.details["i"] == 9
    assert latest[("checks/test_backups.py::test_2", "prod")].last_pass is None  # its only run (i=5) failed


def test_sqlite_latest_matches_s3_latest(tmp_path: Path, s3_ledger: str) -> None:
    sqlite = ledger.open_ledger(tmp_path / "l.sqlite")
    s3 = ledger.open_ledger(s3_ledger)
    for record in _records(12, worker=1):
        sqlite.append(record)
        s3.append(record)
    assert sqlite.latest() == s3.latest()


def test_replayed_append_is_not_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    record = _records(1, worker=0)[0]
    ledger.append(path, record)
    ledger.append(path, record)
    assert ledger.query(path) == [record]


def test_a_ledger_from_before_cadences_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, check_name TEXT NOT NULL, env TEXT NOT NULL,"
            " outcome TEXT NOT NULL, started TEXT NOT NULL, duration_s REAL NOT NULL, runner TEXT NOT NULL,"
            " details TEXT NOT NULL);"
            "INSERT INTO runs (check_name, env, outcome, started, duration_s, runner, details)"
            " VALUES ('checks/test_pods.py::test_pods', 'dev', 'passed', '2025-01-01T00:00:00+00:00', 1.0, 'a@b', '{}');")
    conn.close()
    new = _records(1, worker=0)[0]
    ledger.append(path, new)
    old = ledger.query(path, check="checks/test_pods.py::test_pods")
    assert [(r.outcome, r.cadences, r.run_id) for r in old] == [("passed", (), "")]
    assert ledger.query(path, check=new.check) == [new]


def test_a_bad_s3_uri_is_a_config_error(tmp_path: Path) -> None:
    from opschecks.config import parse
    from opschecks.schema import ConfigError

    with pytest.raises(ConfigError, match="expected s3://bucket/prefix"):
        parse({"env": {"dev": {}}, "ledger": {"s3_uri": "bucket/key"}}, tmp_path / "x.toml")


CHECKS = """
import pytest
pytestmark = [pytest.mark.daily, pytest.mark.sprint]

@pytest.mark.parametrize("n", range(15))
def test_many(env, n, ledger_details):
    ledger_details["n"] = n
    ledger_details["uri"] = "mongodb://ingest:Sup3rS3cretPw@db:27017/admin"
    assert not (env.name == "prod" and n == 3)
"""


def test_xdist_workers_record_every_check_run_once_in_both_stores(checklist,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   s3_ledger: str) -> None:
    config = f'[env.dev]\n[env.prod]\n[ledger]\npath = "reports/ledger.sqlite"\ns3_uri = "{s3_ledger}"\n'
    project = checklist.lay_out(config, {"backups": CHECKS})

    result = checklist.run("-p", "xdist", "-n", "2", subprocess=True)

    result.assert_outcomes(passed=29, failed=1)
    for location in (project / "reports" / "ledger.sqlite", s3_ledger):
        records = ledger.query(location)
        assert len(records) == 30, location
        assert len({(r.env, r.details["n"]) for r in records}) == 30
        assert {r.check for r in records} == {"checks/test_backups.py::test_many"}
        assert {r.cadences for r in records} == {("daily", "sprint")}
        assert len({r.run_id for r in records}) == 1
        assert {r.details["uri"] for r in records} == {"mongodb://ingest:[redacted]@db:27017/admin"}
        assert [(r.env, r.details["n"]) for r in ledger.query(location, outcome="failed")] == [("prod", 3)]


def test_an_unwritable_shared_ledger_warns_and_keeps_the_outcome_and_the_local_record(
        checklist, monkeypatch: pytest.MonkeyPatch, s3_ledger: str) -> None:
    missing = "s3://no-such-ledger-bucket/ledger"
    config = f'[env.dev]\n[ledger]\npath = "reports/ledger.sqlite"\ns3_uri = "{missing}"\n'
    project = checklist.lay_out(config, {"backups": CHECKS.replace("range(15)", "range(2)")})

    result = checklist.run(subprocess=True)

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*LedgerWarning: ledger s3://no-such-ledger-bucket/ledger:"
                                 " checks/test_backups.py::test_many [[]dev[]] not recorded: AWS PutObject refused*"])
    assert len(ledger.query(project / "reports" / "ledger.sqlite")) == 2


def test_drill_history_is_read_from_the_shared_ledger(checklist, s3_ledger: str) -> None:
    """On a throwaway runner the local file is empty: the restore drill's history (what was drilled, the previous
    counts) comes from the shared store, so the drill keeps its baseline and does not repeat a drilled backup."""
    drilled = ledger.Record(check="checks/test_restore.py::test_restore_drill", env="dev", outcome="passed",
                            started=T0, duration_s=60.0, runner="ci@runner-1",
                            details={"key": "dev/2025-03-01T0000.tar.gz", "verdict": "restored",
                                     "counts": {"project": 12}}, cadences=("monthly",))
    ledger.append(s3_ledger, drilled)
    config = f'[env.dev]\n[ledger]\npath = "reports/ledger.sqlite"\ns3_uri = "{s3_ledger}"\n'
    checklist.lay_out(config, {"restore": """
        import pytest
        pytestmark = pytest.mark.monthly
        def test_restore_drill(env, drill_history):
            assert [(r.runner, r.details["key"]) for r in drill_history] == [
                ("ci@runner-1", "dev/2025-03-01T0000.tar.gz")]
        """})

    result = checklist.run()

    result.assert_outcomes(passed=1)


def test_a_pass_whose_teardown_failed_is_recorded_with_the_teardown_error(checklist) -> None:
    project = checklist.lay_out('[env.dev]\n[ledger]\npath = "reports/ledger.sqlite"\n', {"restore": """
        import pytest
        pytestmark = pytest.mark.monthly

        @pytest.fixture
        def scratch_db():
            yield "restore_drill_1a2b"
            raise RuntimeError("dropDatabase restore_drill_1a2b: not authorized on restore_drill_1a2b")

        def test_drill(env, scratch_db, ledger_details):
            ledger_details["db"] = scratch_db

        def test_clean(env):
            pass
        """})

    result = checklist.run()

    result.assert_outcomes(passed=2, errors=1)
    records = {r.check.split("::")[1]: r for r in ledger.query(project / "reports" / "ledger.sqlite")}
    assert len(records) == 2
    assert records["test_drill"].outcome == "error"
    assert records["test_drill"].details == {
        "db": "restore_drill_1a2b",
        "teardown_error": "RuntimeError: dropDatabase restore_drill_1a2b: not authorized on restore_drill_1a2b"}
    assert [(f.code, f.where, f.message) for f in records["test_drill"].findings] == [
        ("OPS001", "dev test_drill", "RuntimeError: dropDatabase restore_drill_1a2b: not authorized on restore_drill_1a2b")]
    assert (records["test_clean"].outcome, records["test_clean"].details) == ("passed", {})


def test_an_unreadable_shared_ledger_fails_the_drill_in_one_line_naming_the_ledger(checklist, sandbox_env) -> None:
    missing = "s3://no-such-ledger-bucket/ledger"
    checklist.lay_out(f'[env.dev]\n[ledger]\npath = "reports/ledger.sqlite"\ns3_uri = "{missing}"\n', {"restore": """
        import pytest
        pytestmark = pytest.mark.monthly
        def test_restore_drill(env, drill_history):
            pass
        """})

    result = checklist.run()

    result.assert_outcomes(failed=1)  # a fixture that cannot reach its infrastructure fails the check (fixtures/outcomes.py)
    result.stdout.fnmatch_lines(["*[[]dev[]] ledger s3://no-such-ledger-bucket/ledger: AWS ListObjectsV2 refused: "
                                 "NoSuchBucket*"])
    assert "Traceback" not in result.stdout.str()


def test_both_stores_count_the_failing_streak_since_the_last_pass(tmp_path: Path, s3_ledger: str) -> None:
    start = dt.datetime(2026, 11, 1, 9, tzinfo=dt.timezone.utc)
    outcomes = ["failed", "passed", "failed", "error", "skipped", "failed"]  # failing since the 3rd: 3 failed runs
    records = [ledger.Record(check="checks/test_pods.py::test_pods_healthy", env="prod", outcome=o,
                             started=start + dt.timedelta(days=i), duration_s=1.0, runner="a@b", cadences=("daily",))
               for i, o in enumerate(outcomes)]
    stores = [ledger.open_ledger(tmp_path / "l.sqlite"), ledger.open_ledger(s3_ledger)]
    for store in stores:
        for r in records:
            store.append(r)
    for store in stores:
        (item,) = store.latest()
        assert (item.failing_since, item.failures) == (start + dt.timedelta(days=2), 3), store.location
    for store in stores:
        store.append(ledger.Record(check=records[0].check, env="prod", outcome="passed",
                                   started=start + dt.timedelta(days=9), duration_s=1.0, runner="a@b"))
        (item,) = store.latest()
        assert (item.failing_since, item.failures) == (None, 0), store.location
    for store in stores:  # read as of day 3: the pass of day 9 and the runs after day 3 are not counted yet
        (item,) = store.latest(until=start + dt.timedelta(days=3))
        assert (item.failing_since, item.failures) == (start + dt.timedelta(days=2), 2), store.location


def test_both_stores_leave_out_records_from_a_clock_ahead_when_asked_as_latest_does(tmp_path: Path,
                                                                                      s3_ledger: str) -> None:
    """The report compares a run with the previous records as ``due`` reads them: a record stamped after now (a
    runner whose clock is ahead) is no one's "previous run", so a finding still failing is not shown as new."""
    now = T0 + dt.timedelta(hours=1)
    real = ledger.Record(check="checks/test_backups.py::test_fresh", env="prod", outcome="failed", started=T0,
                         duration_s=1.0, runner="ci@host", cadences=("daily",), run_id="yesterday")
    ahead = ledger.Record(check=real.check, env="prod", outcome="passed", started=now + dt.timedelta(days=2),
                          duration_s=1.0, runner="laptop@fast-clock", cadences=("daily",), run_id="future")
    for store in (ledger.open_ledger(tmp_path / "l.sqlite"), ledger.open_ledger(s3_ledger)):
        store.append(real)
        store.append(ahead)
        assert [r.run_id for r in store.query(check=real.check, env="prod", limit=1)] == ["future"]
        assert [r.run_id for r in store.query(check=real.check, env="prod", limit=1, until=now)] == ["yesterday"]
        assert [r.run_id for r in store.query(until=now)] == ["yesterday"]


def test_a_ledger_locked_by_another_process_keeps_the_record_in_its_spool(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the write lock (a long `due`, a stuck writer): the append waits a bounded time, keeps
    the record in the spool file, later appends of the run do not wait again, and the next append merges them."""
    monkeypatch.setattr(ledger, "_LOCK_WAIT_S", 0.5)
    monkeypatch.setattr(ledger, "_locked_before", set())
    path = tmp_path / "ledger.sqlite"
    store = ledger.open_ledger(path)
    first, second, third = _records(3, worker=1)
    store.append(first)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as another process's open write transaction
    started = time.monotonic()
    with pytest.raises(ledger.Spooled, match=r"locked by another process for 0.5 s: the record is kept in .*"
                                            r"ledger.sqlite.spool, merged by the next append"):
        store.append(second)
    with pytest.raises(ledger.Spooled):
        store.append(third)
    took = time.monotonic() - started
    assert took < 0.5 * 2 + 0.5, f"the second append waited again ({took:.1f}s)"
    assert len((tmp_path / "ledger.sqlite.spool").read_text().splitlines()) == 2
    holder.execute("ROLLBACK")
    holder.close()
    fourth = ledger.Record(check="checks/test_pods.py::test_x", env="dev", outcome="passed", started=T0,
                           duration_s=0.1, runner="w@h")
    store.append(fourth)
    assert {r.id for r in store.query()} == {first.id, second.id, third.id, fourth.id}
    assert (tmp_path / "ledger.sqlite.spool").read_text() == ""
