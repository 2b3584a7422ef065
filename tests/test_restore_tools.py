"""Which restorer a drill runs, and why a mongorestore that cannot run is never a verdict on the backup.

The URI path on this host: ``mongorestore`` from PATH when there is one (here
stand-ins from tests/mongorestore_standins/, since mongo-tools cannot be
installed), else the built-in restorer. The container path is tested the same
way on a real engine in test_restore_container.py.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from opschecks.record import ledger
from opschecks.areas.restore import mongorestore, restore
from opschecks.areas.backups.backups import stamp
from opschecks.errors import Unreachable
from opschecks.sandbox.dumps import backup_tarball
from opschecks.sandbox.seed import backup_counts

pytest_plugins = ["pytester"]
STANDINS = Path(__file__).with_name("mongorestore_standins")
DAY0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("code", [126, 127, -9, -15, 137, 143])
def test_a_tool_that_did_not_run_or_was_killed_is_an_infrastructure_failure(code):
    with pytest.raises(mongorestore.ToolCannotRun) as err:
        mongorestore.check_exit(code, "sh: 1: mongorestore: not found\n", "in container mongo:4.2")
    assert isinstance(err.value, Unreachable) and not isinstance(err.value, mongorestore.DumpError)
    assert str(err.value) == (f"mongorestore could not run in container mongo:4.2 (exit {code}): "
                              "sh: 1: mongorestore: not found; nothing was learnt about the backup")


@pytest.mark.parametrize("code", [1, 2, 3, 5])
def test_a_tool_that_ran_and_failed_refused_the_dump(code):
    with pytest.raises(mongorestore.DumpError, match=rf"^mongorestore exited with {code}: reading \| Failed: bad BSON$"):
        mongorestore.check_exit(code, "reading\nFailed: bad BSON\n", "on this host")
    mongorestore.check_exit(0, "done", "on this host")


@dataclass
class Drill:
    checklist: object
    sandbox: object
    env: str
    bucket: str
    ledger_path: Path
    bin: Path

    def put(self, day: int = 0) -> str:
        taken = stamp(DAY0 + dt.timedelta(days=day))
        key = f"{self.env}/{taken}.tar.gz"
        self.sandbox.s3().put_object(Bucket=self.bucket, Key=key, Body=backup_tarball(taken, backup_counts(day)))
        return key

    def tool(self, standin: str) -> Path:
        """Put the stand-in on PATH as ``mongorestore``; the Python one under this interpreter (it has pymongo)."""
        script = (STANDINS / standin).read_text()
        path = self.bin / "mongorestore"
        path.write_text(script if script.startswith("#!") else f"#!{sys.executable}\n{script}")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path

    def run(self) -> pytest.RunResult:
        return self.checklist.pytester.runpytest("checks/test_restore.py", "--env", self.env,
                                                 "--mongo-uri", self.sandbox.mongo_uri)

    def records(self) -> list[ledger.Record]:
        return ledger.query(self.ledger_path, env=self.env)


@pytest.fixture
def drill(checklist, sandbox_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Drill:
    env = f"tool{uuid.uuid4().hex[:6]}"
    bucket = f"restore-tool-{uuid.uuid4().hex[:10]}"
    sandbox_env.s3().create_bucket(Bucket=bucket)
    checklist.check("restore")
    ledger_path = tmp_path / "ledger.sqlite"
    checklist.config(f'[defaults]\nbackup_bucket = "{bucket}"\n[ledger]\npath = "{ledger_path}"\n[env.{env}]\n')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return Drill(checklist, sandbox_env, env, bucket, ledger_path, bin_dir)


def test_without_mongorestore_the_builtin_restorer_runs_and_the_report_says_so(drill: Drill):
    drill.put()
    drill.run().assert_outcomes(passed=1)
    [record] = drill.records()
    assert record.details["restorer"] == "built-in restorer (no mongorestore on this host's PATH)"
    assert "built-in restorer (no mongorestore on this host" in (drill.checklist.path / "reports/report.html").read_text()


def test_mongorestore_on_path_restores_into_the_fresh_database(drill: Drill):
    drill.put()
    tool = drill.tool("restores")
    drill.run().assert_outcomes(passed=1)
    [record] = drill.records()
    assert record.details["restorer"] == f"mongorestore on this host ({tool}) (mongorestore version: 100.9.4-standin)"
    assert record.details["counts"] == backup_counts(0) and record.details["verdict"] == "restored"


def test_mongorestore_refusing_the_dump_is_rst012(drill: Drill):
    key = drill.put()
    drill.tool("refuses")
    result = drill.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST012[]] s3://{drill.bucket}/{key}: mongorestore exited with 1: Failed: *"])
    assert drill.records()[0].details["verdict"] == "broken"


@pytest.mark.parametrize("standin, line", [
    ("missing-interpreter", "mongorestore on this host ({tool}) does not run: *No such file or directory*"),
    ("killed", "mongorestore could not run on this host ({tool}) (exit -9): no output; "
               "nothing was learnt about the backup"),
])
def test_a_mongorestore_that_cannot_run_is_no_verdict_and_the_backup_stays_in_the_pool(drill: Drill, standin, line):
    key = drill.put()
    tool = drill.tool(standin)
    result = drill.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]{drill.env}[]] {line.format(tool=tool)}"])
    assert "RST012" not in result.stdout.str()
    [record] = drill.records()
    assert record.outcome == "failed" and "verdict" not in record.details
    assert key not in restore.drilled_keys(drill.records())
