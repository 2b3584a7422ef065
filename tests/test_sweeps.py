"""What SIGKILL leaves is swept by the next run (issue 25 item 7), and a terminal's Ctrl-C stops a sandbox run
through the suite, not by killing its SecantusDB: real processes, really killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from pymongo import MongoClient

from opschecks.areas.restore import orphans
from opschecks.areas.restore.mongotarget import OWNER_COLLECTION, uri_target
from opschecks.sandbox import stack

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
CHILD_ENV = {"PYTHONPATH": str(ROOT)}


def _spawn(code: str, temp: Path) -> subprocess.Popen:
    """A child running ``code`` (which prints one line once what it made exists, then sleeps)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, text=True,
                            env={**os.environ, **CHILD_ENV, "TMPDIR": str(temp)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _first_line(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline().strip()
    assert line, f"the child ended before it was ready: {proc.stderr.read()[-2000:]}"
    return line


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


SANDBOX_CHILD = """
    import time
    from opschecks.sandbox import stack
    sandbox = stack.start(seed=False)
    print(sandbox.root, flush=True)
    time.sleep(600)
"""

LIVE_DIR_CHILD = """
    import tempfile, time
    from pathlib import Path
    from opschecks.areas.restore import orphans
    from opschecks.sandbox import stack
    root = Path(tempfile.mkdtemp(prefix=stack.TEMP_PREFIX))
    (root / orphans.OWNER_FILE).write_text(orphans.this_run())
    print(root, flush=True)
    time.sleep(600)
"""


def test_the_next_sandbox_removes_the_temp_dir_a_sigkilled_one_left_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    killed, live = _spawn(SANDBOX_CHILD, temp), _spawn(LIVE_DIR_CHILD, temp)
    try:
        killed_root, live_root = Path(_first_line(killed)), Path(_first_line(live))
        owner = (killed_root / orphans.OWNER_FILE).read_text()
        assert owner == orphans.owner(killed.pid), "the sandbox's temp dir names its owner"
        _kill(killed)
        assert (killed_root / "mongo").is_dir(), "SIGKILL ran no clean-up"
        unowned = Path(tempfile.mkdtemp(prefix=stack.TEMP_PREFIX, dir=temp))  # an older version's: no owner named

        monkeypatch.setattr(tempfile, "tempdir", str(temp))
        with stack.running(seed=False) as sandbox:
            assert sandbox.swept == [f"temp dir {killed_root} ({owner})"]
            assert sandbox.swept_line() == (f"sandbox: removed what 1 killed sandbox run(s) left: "
                                            f"temp dir {killed_root} ({owner})")
            assert not killed_root.exists()
            assert live_root.is_dir() and unowned.is_dir(), "a live owner's, and one naming no owner, are kept"
            assert (sandbox.root / orphans.OWNER_FILE).read_text() == orphans.this_run()
        with stack.running(seed=False) as again:
            assert again.swept == [] and again.swept_line() is None
    finally:
        for proc in (killed, live):
            if proc.poll() is None:
                _kill(proc)


DRILL_CHILD = """
    import sys, time
    from opschecks.areas.restore.mongotarget import fresh_database_name, uri_target
    with uri_target(sys.argv[1], fresh_database_name()) as target:
        target.client[target.database]["submission"].insert_one({"n": 1})
        print(target.database, flush=True)
        time.sleep(600)
"""


def _drill_child(uri: str, temp: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(DRILL_CHILD), uri], cwd=ROOT, text=True,
                            env={**os.environ, **CHILD_ENV, "TMPDIR": str(temp)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_next_uri_drill_drops_the_database_a_sigkilled_drill_left_and_nothing_else(
        sandbox: stack.Sandbox, tmp_path: Path) -> None:
    uri = sandbox.mongo_uri
    killed, live = _drill_child(uri, tmp_path), _drill_child(uri, tmp_path)
    try:
        killed_db, live_db = _first_line(killed), _first_line(live)
        owner = orphans.owner(killed.pid)
        _kill(killed)
        with MongoClient(uri) as client:
            assert client[killed_db][OWNER_COLLECTION].find_one({"_id": "owner"})["owner"] == owner
            assert "submission" in client[killed_db].list_collection_names(), "SIGKILL ran no clean-up"
            # Not the drill's own, though a dead owner of this host is named: other names, no marker, another host.
            client["restore_drill_dev_abc"][OWNER_COLLECTION].insert_one({"_id": "owner", "owner": owner})
            client["rdzz1"]["submission"].insert_one({"n": 1})
            client["rdzz2"][OWNER_COLLECTION].insert_one({"_id": "owner", "owner": f"another-host:{killed.pid}:1"})
            try:
                with uri_target(uri, "rdzz3") as target:
                    assert target.notes == [f"removed database {killed_db} ({owner}), left by a killed run"]
                    names = client.list_database_names()
                    assert killed_db not in names
                    assert {live_db, "restore_drill_dev_abc", "rdzz1", "rdzz2"} <= set(names)
                with uri_target(uri, "rdzz3") as target:
                    assert target.notes == []
            finally:
                for name in ("restore_drill_dev_abc", "rdzz1", "rdzz2"):
                    client.drop_database(name)
    finally:
        _kill(killed)
        live.send_signal(signal.SIGINT)  # a Ctrl-C: the live drill drops its database
        try:
            live.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _kill(live)


HOLDS_THE_DATABASE = '''
import os
from pathlib import Path

import pytest
from pymongo import MongoClient

MARKS = Path(os.environ["SWEEP_MARKS"])
pytestmark = pytest.mark.daily


@pytest.fixture
def database():
    """What a drill does: a database on the sandbox's SecantusDB, used again and dropped in the teardown."""
    client = MongoClient(os.environ["OPSCHECKS_MONGO_URI"], serverSelectionTimeoutMS=5000)
    client["rdzzc"]["t"].insert_one({"n": 1})
    yield client
    client["rdzzc"]["t"].insert_one({"n": 2})
    (MARKS / "teardown").write_text(str(client["rdzzc"]["t"].count_documents({})))
    client.drop_database("rdzzc")
    client.close()


def test_waits_for_ctrl_c(database):
    (MARKS / "ready").write_text("")
    import time
    time.sleep(300)
'''


def _secantus_pids(root: Path) -> list[int]:
    found = []
    for path in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (path / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while we looked
            continue
        if "secantus" in cmdline and str(root) in cmdline:
            found.append(int(path.name))
    return found


@pytest.mark.whole_stack
def test_ctrl_c_to_a_sandbox_runs_process_group_stops_it_through_the_suite_exit_2(checklist, tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals the whole foreground process group; SecantusDB, in its own session, serves the
    teardown and the suite stops it after. Also: the run sweeps (in one line) what a SIGKILLed sandbox left."""
    checklist.check("holds", HOLDS_THE_DATABASE)
    temp, marks = tmp_path / "tmp", tmp_path / "marks"
    temp.mkdir()
    marks.mkdir()
    killed = _spawn(LIVE_DIR_CHILD, temp)  # a dead owner's temp dir, as a killed sandbox leaves it
    left = Path(_first_line(killed))
    _kill(killed)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "--sandbox", "checks/test_holds.py"],
                            cwd=checklist.path, env={**os.environ, "TMPDIR": str(temp), "SWEEP_MARKS": str(marks)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (marks / "ready").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()[-3000:]
            time.sleep(0.1)
        [root] = [p for p in temp.glob(f"{stack.TEMP_PREFIX}*") if (p / "kubeconfig").exists()]
        servers = _secantus_pids(root)
        assert servers, "SecantusDB runs"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert (marks / "teardown").read_text() == "2", "the teardown still reached SecantusDB after the Ctrl-C"
    assert not root.exists() and not _secantus_pids(root), "then the suite stopped it and removed its temp dir"
    assert not left.exists()
    [line] = [line for line in output.splitlines() if line.startswith("sandbox: removed")]
    assert line.endswith(f"left: temp dir {left} ({line.rsplit('(', 1)[1]}")


def test_python_m_opschecks_sandbox_says_in_one_line_what_a_killed_sandbox_left(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    killed = _spawn(LIVE_DIR_CHILD, temp)
    left = Path(_first_line(killed))
    owner = (left / orphans.OWNER_FILE).read_text()
    _kill(killed)
    proc = subprocess.Popen([sys.executable, "-m", "opschecks", "sandbox"], cwd=tmp_path, text=True,
                            env={**os.environ, **CHILD_ENV, "TMPDIR": str(temp)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        started = proc.stderr.readline()  # "sandbox: starting moto, ... done (2.1s)"
        line = proc.stderr.readline()  # then, before seeding, the sweep's line
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    finally:
        _kill(proc)
    assert started.startswith("sandbox: starting"), started + line + rest
    assert line == f"sandbox: removed what 1 killed sandbox run(s) left: temp dir {left} ({owner})\n", line + rest
    assert not left.exists()
