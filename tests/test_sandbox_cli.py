"""The sandbox as a newcomer meets it: any day, any number of runs, ``due``/``history --sandbox``, and
``python -m opschecks sandbox`` answering kubectl and boto3, then leaving nothing behind."""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from opschecks import clock
from opschecks.record import ledger
from opschecks.areas.backups.backups import stamp
from opschecks.sandbox import seed, stack
from opschecks.areas.restore.settings import COLLECTIONS

ROOT = Path(__file__).resolve().parent.parent
DRILL = "checks/test_restore.py::test_restore_drill"

pytest_plugins = ["pytester"]


def test_seeded_counts_grow_with_each_backups_own_date_and_never_fall() -> None:
    days = [dt.date(2026, 11, 25) - dt.timedelta(days=n) for n in range(400)]
    assert all(seed.counts_on(a)[c] >= seed.counts_on(b)[c] for a, b in zip(days, days[1:]) for c in COLLECTIONS)
    assert seed.counts_on(days[0])["file"] > seed.counts_on(days[-1])["file"]
    assert seed.counts_on(days[0])["submissionEnvelope"] >= 100  # the verify script's minimum


def test_a_backup_seeded_30_days_later_holds_the_same_documents() -> None:
    """The issue's RST003: the sandbox seeded today and 30 days later must agree on an older backup's counts."""
    now = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.timezone.utc)
    key = f"prod/{stamp(dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc))}.tar.gz"
    bodies = []
    for i, seeded_at in enumerate((now, now + dt.timedelta(days=30))):
        # moto's in-process servers share one backend: a bucket of this test's own, each time.
        with stack.running(seed=False, now=seeded_at) as sandbox:
            seed.seed_backups(sandbox.s3(), ["prod"], seeded_at, bucket=f"days-later-{i}")
            obj = sandbox.s3().get_object(Bucket=f"days-later-{i}", Key=key)
            bodies.append(_members(obj["Body"].read()))
            uploaded = obj["LastModified"]
    assert bodies[0] == bodies[1]
    assert uploaded == dt.datetime(2026, 11, 20, 0, 7, tzinfo=dt.timezone.utc), "uploaded when the CronJob ran"


def _members(body: bytes) -> dict[str, bytes]:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


@pytest.mark.whole_stack
def test_sandbox_30_days_later_is_green_run_after_run_and_due_reads_its_ledger(checklist) -> None:
    """OPSCHECKS_CLOCK_SHIFT_DAYS=30 pytest --sandbox, twice, over a ledger left full by earlier runs:
    each run starts from an empty sandbox ledger, says what it seeds, and passes; due/history --sandbox read it."""
    for area in ("restore", "backups", "pods"):
        checklist.check(area)
    # 30 days later, and up to a day more to land on 12:00 UTC: the two runs and `due` take minutes, and run
    # across midnight they would judge the first run's passes by the next day's windows (and `as of` another date).
    wall = dt.datetime.now(dt.timezone.utc)
    to_noon = (wall.replace(hour=12, minute=0, second=0, microsecond=0) - wall) % dt.timedelta(days=1)
    checklist.monkeypatch.setenv("OPSCHECKS_CLOCK_SHIFT_DAYS", repr(30 + to_noon / dt.timedelta(days=1)))
    later = clock.now()
    stale = checklist.path / stack.LEDGER
    newest = seed.last_finished_run(later)
    for env in stack.ENVS:  # every backup drilled already, with far higher counts: RST004/RST003 unless emptied
        for day in range(seed.BACKUP_DAYS):
            key = f"{env}/{stamp(newest - dt.timedelta(days=day))}.tar.gz"
            ledger.append(stale, ledger.Record(check=DRILL, env=env, outcome="passed", started=later, duration_s=1,
                                               runner="old@run", cadences=("monthly",),
                                               details={"key": key, "verdict": "restored",
                                                        "counts": {"file": 10**6}}))

    for run in (1, 2):
        result = checklist.run("--sandbox", f"--html={checklist.path}/r{run}.html",
                               f"--junitxml={checklist.path}/r{run}.xml", subprocess=True)
        out = result.stdout.str()
        assert result.ret == 0, out[-3000:]
        assert "clock shifted 30 days" in out
        header = out.index("test session starts")
        steps = [line for line in out[header:].splitlines() if line.startswith("sandbox: seeding")]
        assert len(steps) == 4 and all(re.search(r" \.\.\. done \(\d+\.\d+s\)$", s) for s in steps), steps
        drills = ledger.query(stale, check=DRILL)
        assert len(drills) == 3 and {r.runner for r in drills} != {"old@run"}, "the ledger started empty"
        assert all(r.started > later - dt.timedelta(hours=1) for r in drills), "recorded by the shifted clock"

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    due = subprocess.run([sys.executable, "-m", "opschecks", "due", "--sandbox"], cwd=checklist.path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert due.returncode == 0, due.stderr
    restore_rows = [line.split() for line in due.stdout.splitlines() if line.startswith(DRILL)]
    assert sorted(r[1] for r in restore_rows) == ["dev", "prod", "staging"] and all(r[-1] == "OK" for r in restore_rows)
    assert f"as of {later:%Y-%m-%d}" in due.stdout
    history = subprocess.run([sys.executable, "-m", "opschecks", "history", "test_restore_drill", "--sandbox",
                              "--env", "prod"], cwd=checklist.path, env=env, capture_output=True, text=True, timeout=60)
    assert history.returncode == 0, history.stderr
    assert history.stdout.splitlines()[0] == DRILL and " prod " in history.stdout.splitlines()[2]


def test_a_shifted_clock_is_refused_outside_the_sandbox(checklist, monkeypatch: pytest.MonkeyPatch) -> None:
    checklist.check("pods")
    checklist.config("[env.prod]\n")
    monkeypatch.setenv("OPSCHECKS_CLOCK_SHIFT_DAYS", "30")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    result = checklist.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "OPSCHECKS_CLOCK_SHIFT_DAYS shifts the checks' clock and is only for the sandbox" in result.stderr.str()
    from opschecks.__main__ import main

    assert main(["due", "--config", str(checklist.path / "opschecks.toml")]) == 2


@pytest.mark.whole_stack
def test_python_m_opschecks_sandbox_answers_kubectl_and_boto3_and_sigterm_leaves_nothing(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "opschecks", "sandbox"], cwd=tmp_path,
                            env={**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        exported = _exports(proc)
        root = Path(exported["KUBECONFIG"]).parent
        assert set(exported) >= {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                                 "KUBECONFIG", "OPSCHECKS_CONFIG", "OPSCHECKS_MONGO_URI"}
        env = {**os.environ, **exported, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "kube-cache")}
        env.pop("AWS_PROFILE", None)

        pods = subprocess.run(["kubectl", "get", "pods", "-A"], env=env, capture_output=True, text=True, timeout=60)
        assert pods.returncode == 0, pods.stderr
        assert re.search(r"^dev-environment\s+mongo-0\s+1/1\s+Running\s+0\s+3d$", pods.stdout, re.M), pods.stdout

        s3 = boto3.client("s3", endpoint_url=exported["AWS_ENDPOINT_URL"], region_name=exported["AWS_DEFAULT_REGION"],
                          aws_access_key_id=exported["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=exported["AWS_SECRET_ACCESS_KEY"])
        keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="ingest-db-backup", Prefix="prod/")
                for o in p.get("Contents", [])]
        assert len(keys) == seed.BACKUP_DAYS

        # A check run against it with the exported variables alone lands in the sandbox's ledger.
        run = subprocess.run([sys.executable, "-m", "pytest", "checks/test_pods.py", "-q",
                              f"--html={tmp_path}/r.html", f"--junitxml={tmp_path}/r.xml"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stdout[-2000:]
        assert {r.env for r in ledger.query(tmp_path / stack.LEDGER)} == set(stack.ENVS)

        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "sandbox: SIGTERM: stopped" in err
    assert [line for line in err.splitlines() if line.startswith("sandbox: seeding")], err
    assert not root.exists(), "the sandbox's temp dir is gone"
    assert not [cmd for cmd in _all_cmdlines() if str(root) in cmd], "no sandbox process is left"


@pytest.mark.whole_stack
def test_python_m_opschecks_sandbox_ctrl_c_while_seeding_leaves_nothing(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "opschecks", "sandbox"], cwd=tmp_path,
                            env={**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (roots := list(temp.glob("opschecks-sandbox-*/kubeconfig"))):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "sandbox: SIGINT: stopped" in err, err
    assert not roots[0].parent.exists()
    assert not [cmd for cmd in _all_cmdlines() if str(roots[0].parent) in cmd]


def _exports(proc: subprocess.Popen) -> dict[str, str]:
    """The variables ``python -m opschecks sandbox`` prints, once it says how to stop it."""
    exported: dict[str, str] = {}
    for line in proc.stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exported[name] = shlex.split(value)[0]
        if line.startswith("# Ctrl-C or SIGTERM"):
            return exported
    raise AssertionError(f"the sandbox ended before it was up: {proc.stderr.read()}")


def _all_cmdlines() -> list[str]:
    found = []
    for path in Path("/proc").glob("[0-9]*"):
        try:
            found.append((path / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # the process ended while we looked
            continue
    return found
