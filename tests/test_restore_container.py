"""The restore drill's container path on a real container engine (Docker, or Podman via scripts/podman-engine.sh).

The drill runs as users run it (the real check, in a pytest subprocess) against
the engine at DOCKER_HOST and the Mongo-compatible image $OPSCHECKS_MONGO_IMAGE;
after every run, success, failure, Ctrl-C or SIGTERM, the engine must hold no
drill container. Images with a ``mongorestore`` are built FROM that image with a
stand-in tool from tests/mongorestore_standins/ (no registry serves mongo:4.2
here): one that restores, one that refuses the dump, and two that cannot run.

Without an engine these tests skip, except in CI (CI=true), where a skip would
hide that the container path went untested: there they fail.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from opschecks.record import ledger
from opschecks.areas.restore import restore
from opschecks.areas.backups.backups import stamp
from opschecks.areas.restore.mongotarget import DRILL_LABEL, OWNER_LABEL, docker_reachable, engine_address
from opschecks.areas.restore.orphans import this_run
from opschecks.sandbox.dumps import backup_tarball
from opschecks.sandbox.seed import backup_counts

pytest_plugins = ["pytester"]
DAY0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
TEST_IMAGE = "localhost/opschecks-drill-test"

STANDINS = Path(__file__).with_name("mongorestore_standins")  # stand-ins for mongo-tools' binary


@dataclass
class Engine:
    client: docker.DockerClient
    image: str  # the Mongo-compatible image without mongorestore

    def drill_containers(self) -> list[str]:
        """Every drill container the engine holds, running or not (as `podman ps -a` lists them)."""
        found = [f"{c.short_id} {c.status}" for c in self.client.containers.list(all=True, filters={"label": DRILL_LABEL})]
        if shutil.which("podman") and "podman" in engine_address():
            ps = subprocess.run(["podman", "ps", "-a", "--filter", f"label={DRILL_LABEL}", "--format", "{{.ID}}"],
                                capture_output=True, text=True, check=True)
            found += [f"{line} (podman ps -a)" for line in ps.stdout.split()]
        return found


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    image = os.environ.get("OPSCHECKS_MONGO_IMAGE")
    if not docker_reachable() or not image:
        why = (f"no container engine at {engine_address()} or no $OPSCHECKS_MONGO_IMAGE: "
               'run eval "$(scripts/podman-engine.sh up)" first')
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the container drill tests: {why}")
        pytest.skip(why)
    client = docker.from_env()
    yield Engine(client, image)
    client.close()


@pytest.fixture(scope="session")
def standin_images(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One image per stand-in, FROM the Mongo-compatible image, built once per session and removed afterwards."""
    images = {}
    for standin in sorted(STANDINS.iterdir()):
        name = standin.name
        context = tmp_path_factory.mktemp(f"image-{name}")
        script = standin.read_text()
        # The restoring stand-in is Python without a shebang: the image's Python has pymongo.
        (context / "mongorestore").write_text(script if script.startswith("#!") else "#!/opt/secantus/bin/python\n" + script)
        (context / "Dockerfile").write_text(f"FROM {engine.image}\n"
                                            "COPY --chmod=755 mongorestore /usr/local/bin/mongorestore\n")
        tag = f"{TEST_IMAGE}:{name}"
        engine.client.images.build(path=str(context), tag=tag, rm=True)
        images[name] = tag
    yield images
    for tag in images.values():
        engine.client.images.remove(tag, force=True)


@dataclass
class Drill:
    checklist: object
    engine: Engine
    sandbox: object
    env: str
    bucket: str
    ledger_path: Path
    tmp: Path

    def put(self, day: int = 0, counts: dict[str, int] | None = None) -> str:
        taken = stamp(DAY0 + dt.timedelta(days=day))
        key = f"{self.env}/{taken}.tar.gz"
        self.sandbox.s3().put_object(Bucket=self.bucket, Key=key, Body=backup_tarball(taken, counts or backup_counts(day)))
        return key

    def command(self, image: str, *args: str) -> list[str]:
        return [sys.executable, "-m", "pytest", "checks/test_restore.py", "--env", self.env, "--mongo-image", image,
                *args]

    def run(self, image: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(image, *args), cwd=self.checklist.path, env=self.environ(),
                              capture_output=True, text=True, timeout=300)

    def environ(self) -> dict[str, str]:
        return {**os.environ, "TMPDIR": str(self.tmp)}

    def records(self) -> list[ledger.Record]:
        return ledger.query(self.ledger_path, env=self.env)


@pytest.fixture
def drill(engine: Engine, checklist, sandbox_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Drill]:
    env = f"ctr{uuid.uuid4().hex[:6]}"
    bucket = f"restore-ctr-{uuid.uuid4().hex[:10]}"
    sandbox_env.s3().create_bucket(Bucket=bucket)
    checklist.check("restore")
    ledger_path = tmp_path / "ledger.sqlite"
    checklist.config(f'[defaults]\nbackup_bucket = "{bucket}"\n[ledger]\npath = "{ledger_path}"\n[env.{env}]\n')
    monkeypatch.delenv("OPSCHECKS_MONGO_URI", raising=False)  # the container, or nothing
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    assert engine.drill_containers() == [], "a drill container was left by an earlier run"
    yield Drill(checklist, engine, sandbox_env, env, bucket, ledger_path, temp)
    assert engine.drill_containers() == []
    assert list(temp.iterdir()) == []


def test_an_image_without_mongorestore_is_restored_through_the_mapped_port(drill: Drill):
    key = drill.put(0)
    run = drill.run(drill.engine.image)
    assert run.returncode == 0, run.stdout + run.stderr
    [record] = drill.records()
    assert record.outcome == "passed" and record.details["key"] == key and record.details["verdict"] == "restored"
    assert record.details["target"] == f"container {drill.engine.image}"
    assert record.details["restorer"] == "built-in restorer through the mapped port (the image has no mongorestore)"
    assert record.details["counts"] == backup_counts(0)
    assert "built-in restorer through the mapped port" in (drill.checklist.path / "reports/report.html").read_text()


def test_mongorestore_in_the_image_runs_inside_the_container(drill: Drill, standin_images):
    drill.put(0)
    run = drill.run(standin_images["restores"])
    assert run.returncode == 0, run.stdout + run.stderr
    [record] = drill.records()
    assert record.details["restorer"] == "mongorestore in the container (mongorestore version: 100.9.4-standin)"
    assert record.details["counts"] == backup_counts(0)


def test_mongorestore_refusing_the_dump_is_a_verdict_on_the_backup(drill: Drill, standin_images):
    key = drill.put(0)
    run = drill.run(standin_images["refuses"])
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"[RST012] s3://{drill.bucket}/{key}: mongorestore exited with 1: Failed: admin.project:" in run.stdout
    [record] = drill.records()
    assert record.details["verdict"] == "broken"


@pytest.mark.parametrize("standin, line", [
    ("missing-interpreter", "mongorestore in container {image} does not run: `mongorestore --version` exited "),
    ("killed", "mongorestore could not run in container {image} (exit 137): no output; "
               "nothing was learnt about the backup"),
])
def test_a_mongorestore_that_cannot_run_is_an_infrastructure_failure_not_a_verdict(drill: Drill, standin_images,
                                                                                  standin, line):
    key = drill.put(0)
    image = standin_images[standin]
    run = drill.run(image)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"[{drill.env}] {line.format(image=image)}" in run.stdout
    assert "RST012" not in run.stdout and "Traceback" not in run.stdout
    [record] = drill.records()
    assert record.outcome == "failed" and "verdict" not in record.details
    assert restore.drilled_keys(drill.records()) == set(), f"{key} must stay in the pool: nothing was learnt about it"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stopped_drill_removes_its_container(drill: Drill, sig: signal.Signals):
    """A real signal while documents stream into the container: it is removed, and so is the temp dir."""
    key = drill.put(0, backup_counts(0) | {"submissionEnvelope": 25_000})
    proc = subprocess.Popen(drill.command(drill.engine.image, "--restore-key", key), cwd=drill.checklist.path,
                            env=drill.environ(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_restoring(drill.engine, proc)
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert drill.engine.drill_containers() == []
    assert restore.drilled_keys(drill.records()) == set()


def test_the_next_drill_removes_a_killed_drills_leftovers_and_nothing_a_live_run_owns(drill: Drill):
    """SIGKILL runs no cleanup: its container and temp dir stay, until the next drill on this host removes them."""
    key = drill.put(0, backup_counts(0) | {"submissionEnvelope": 25_000})
    proc = subprocess.Popen(drill.command(drill.engine.image, "--restore-key", key), cwd=drill.checklist.path,
                            env=drill.environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_restoring(drill.engine, proc)
    finally:
        proc.kill()
        proc.wait()
    [killed] = drill.engine.client.containers.list(all=True, filters={"label": DRILL_LABEL})
    [left_dir] = drill.tmp.iterdir()
    # A drill still running here (this test's process owns it) and one of another host must survive the sweep.
    spared = [drill.engine.client.containers.create(drill.engine.image, labels={DRILL_LABEL: name, OWNER_LABEL: label})
              for name, label in (("live", this_run()), ("elsewhere", f"another-host:{proc.pid}:1"))]
    try:
        run = drill.run(drill.engine.image, "--restore-key", key)
        assert run.returncode == 0, run.stdout + run.stderr
        report = (drill.checklist.path / "reports/report.html").read_text()
        assert f"removed container {killed.name} ({killed.labels[OWNER_LABEL]}), left by a killed run" in report
        assert f"removed temp dir {left_dir} (" in report
        assert not left_dir.exists()
        assert sorted(c.labels[DRILL_LABEL] for c in drill.engine.client.containers.list(
            all=True, filters={"label": DRILL_LABEL})) == ["elsewhere", "live"]
    finally:
        for container in spared:
            container.remove(force=True)


def _wait_until_restoring(engine: Engine, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until the drill's container holds restored documents (its mapped port, the image's test/test root)."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"the drill ended before it restored: {proc.stdout.read()}"
        assert time.monotonic() < deadline, "the drill did not start restoring in time"
        for container in engine.client.containers.list(filters={"label": DRILL_LABEL}):
            ports = container.ports.get("27017/tcp")
            if not ports:
                continue
            with MongoClient(port=int(ports[0]["HostPort"]), username="test", password="test",
                             serverSelectionTimeoutMS=2000) as client:
                try:
                    if client["admin"]["submissionEnvelope"].estimated_document_count():
                        return
                except PyMongoError:  # not accepting connections yet
                    pass
        time.sleep(0.1)


def test_sandbox_engine_runs_the_seeds_procedure_in_a_container(checklist, engine: Engine):
    """`pytest --sandbox --sandbox-engine`: the sandbox's backups, restored in a throwaway container, then removed."""
    checklist.check("restore")
    result = checklist.run("--sandbox", "--sandbox-engine", "checks/test_restore.py", "--env", "dev",
                           "--mongo-image", engine.image, subprocess=True)
    result.assert_outcomes(passed=1)
    [record] = ledger.query(checklist.path / "reports/sandbox-ledger.sqlite", env="dev")
    assert record.details["target"] == f"container {engine.image}"
    assert record.details["restorer"].startswith("built-in restorer through the mapped port")
    assert engine.drill_containers() == []


def test_sandbox_engine_without_an_engine_is_a_usage_error(checklist, monkeypatch: pytest.MonkeyPatch):
    checklist.check("restore")
    alone = checklist.run("--sandbox-engine")
    assert alone.ret == pytest.ExitCode.USAGE_ERROR
    alone.stderr.fnmatch_lines(["ERROR: --sandbox-engine needs --sandbox"])

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # discard port: nothing listens
    started = time.monotonic()
    result = checklist.run("--sandbox", "--sandbox-engine")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --sandbox-engine: no container engine answers at tcp://127.0.0.1:9; "
                                 'start Docker, or set up Podman with: eval "$(scripts/podman-engine.sh up)"'])
    assert time.monotonic() - started < 10, "must refuse before starting the sandbox"
