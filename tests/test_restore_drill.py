"""The restore drill end to end: the real check run by pytester against the sandbox's S3 and SecantusDB."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymongo import MongoClient, monitoring

from opschecks.record import ledger
from opschecks.areas.restore import completeness, mongorestore, restore
from opschecks.areas.backups.backups import Backup, stamp
from opschecks.areas.restore.mongotarget import DRILL_DATABASE
from opschecks.sandbox.dumps import backup_tarball, backup_tarball_of, documents
from opschecks.sandbox.seed import backup_counts

pytest_plugins = ["pytester"]
DAY0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


@dataclass
class Drill:
    pytester: pytest.Pytester
    sandbox: object
    env: str
    bucket: str
    ledger_path: Path
    tmp: Path
    before: set[str]  # drill databases on the server before this test (another test's, e.g. one left undroppable)

    def databases(self) -> list[str]:
        """The drill databases this test's drills made and have not dropped."""
        with MongoClient(self.sandbox.mongo_uri) as client:
            return [n for n in client.list_database_names() if DRILL_DATABASE.fullmatch(n) and n not in self.before]

    def put(self, day: int, counts: dict[str, int] | None = None, body: bytes | None = None) -> str:
        """Upload the backup of DAY0 + ``day``; returns its key."""
        taken = stamp(DAY0 + dt.timedelta(days=day))
        key = f"{self.env}/{taken}.tar.gz"
        body = body if body is not None else backup_tarball(taken, counts or backup_counts(day))
        self.sandbox.s3().put_object(Bucket=self.bucket, Key=key, Body=body)
        return key

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest("checks/test_restore.py", *args)

    def run_with_uri(self, *args: str) -> pytest.RunResult:
        return self.run("--mongo-uri", self.sandbox.mongo_uri, *args)

    def records(self) -> list[ledger.Record]:
        return ledger.query(self.ledger_path, env=self.env)

    def leftovers(self) -> list[str]:
        return [p.name for p in self.tmp.iterdir()] + self.databases()


@pytest.fixture
def drill(checklist, sandbox_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Drill:
    env = f"dev{uuid.uuid4().hex[:6]}"
    bucket = f"restore-e2e-{uuid.uuid4().hex[:10]}"
    sandbox_env.s3().create_bucket(Bucket=bucket)
    checklist.check("restore")
    ledger_path = tmp_path / "ledger.sqlite"
    checklist.config(f'[defaults]\nbackup_bucket = "{bucket}"\n[ledger]\npath = "{ledger_path}"\n'
                     f'[env.{env}]\n[env.other{env}]\n')
    monkeypatch.delenv("OPSCHECKS_MONGO_URI", raising=False)  # each test says which MongoDB, if any
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # no Docker here; keep the probe honest and fast
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with MongoClient(sandbox_env.mongo_uri) as client:
        before = {n for n in client.list_database_names() if DRILL_DATABASE.fullmatch(n)}
    return Drill(checklist.pytester, sandbox_env, env, bucket, ledger_path, temp, before)


def test_healthy_drill_passes_records_the_backup_and_leaves_nothing(drill: Drill):
    keys = [drill.put(day) for day in range(3)]

    first = drill.run_with_uri("--env", drill.env, "--restore-seed", "7")
    first.assert_outcomes(passed=1)
    [record] = drill.records()
    assert record.outcome == "passed" and record.check == "checks/test_restore.py::test_restore_drill"
    details = record.details
    assert details["key"] in keys and details["verdict"] == "restored" and details["env"] == drill.env
    day = keys.index(details["key"])
    assert details["counts"] == backup_counts(day)
    assert set(details["durations"]) == {"download", "extract", "restore"}
    assert details["target"].startswith("MongoDB 127.0.0.1:")
    assert drill.leftovers() == []
    html = (drill.pytester.path / "reports/report.html").read_text()
    assert "previous drilled count" in html and "documents in the dump" in html and details["key"] in html
    assert details["in_dump"] == backup_counts(day)

    # The next drills pick backups not drilled before, until none is left.
    drill.run_with_uri("--env", drill.env).assert_outcomes(passed=1)
    drill.run_with_uri("--env", drill.env).assert_outcomes(passed=1)
    assert sorted(r.details["key"] for r in drill.records()) == keys
    exhausted = drill.run_with_uri("--env", drill.env)
    exhausted.assert_outcomes(failed=1)
    exhausted.stdout.fnmatch_lines([f"*[[]{drill.env}[]] 1 finding:*",
                                    f"*[[]RST004[]] s3://{drill.bucket}/{drill.env}/: all 3 backups have been drilled "
                                    "already (pin one with --restore-key to drill it again)*"])
    assert drill.leftovers() == []


def test_seed_makes_the_choice_repeatable_per_env():
    backups = [Backup(f"dev/{stamp(DAY0 + dt.timedelta(days=i))}.tar.gz", DAY0 + dt.timedelta(days=i), DAY0, 1)
               for i in range(50)]
    picks = {restore.choose(backups, set(), random.Random("7:dev"), "w").key for _ in range(5)}
    assert len(picks) == 1
    assert restore.choose(backups, {b.key for b in backups[1:]}, random.Random(), "w") == backups[0]


def test_pinned_key_is_drilled_even_if_drilled_before_and_must_exist(drill: Drill):
    keys = [drill.put(day) for day in range(2)]
    for _ in range(2):
        drill.run_with_uri("--env", drill.env, "--restore-key", keys[1]).assert_outcomes(passed=1)
    assert [r.details["key"] for r in drill.records()] == [keys[1], keys[1]]
    assert drill.records()[0].details["previous_key"] == keys[1]

    missing = drill.run_with_uri("--env", drill.env, "--restore-key", f"{drill.env}/nope.tar.gz")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines([f"*[[]RST004[]] s3://{drill.bucket}/{drill.env}/: --restore-key {drill.env}/nope.tar.gz "
                                  "is not among the 2 backups here (select its environment with --env)*"])


def test_env_option_drills_one_env(drill: Drill):
    drill.put(0)
    drill.sandbox.s3().put_object(Bucket=drill.bucket, Key=f"other{drill.env}/{stamp(DAY0)}.tar.gz",
                                  Body=backup_tarball(stamp(DAY0), backup_counts(0)))
    drill.run_with_uri().assert_outcomes(passed=2)
    drill.run_with_uri("--env", f"other{drill.env}", "--restore-key", f"other{drill.env}/{stamp(DAY0)}.tar.gz"
                       ).assert_outcomes(passed=1)
    assert len(drill.records()) == 1
    assert len(ledger.query(drill.ledger_path, env=f"other{drill.env}")) == 2


def test_truncated_backup_fails_naming_the_key(drill: Drill):
    whole = backup_tarball(stamp(DAY0), backup_counts(0))
    key = drill.put(0, body=whole[: len(whole) * 2 // 3])
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST010[]] s3://{drill.bucket}/{key}: the backup is truncated or corrupt: *"])
    [record] = drill.records()
    assert record.details["verdict"] == "broken" and record.details["key"] == key
    assert drill.leftovers() == []


def test_tar_slip_backup_is_refused(drill: Drill):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("data/db/dump/../../../../escaped.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"pwned"))
    key = drill.put(0, body=buf.getvalue())
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST011[]] s3://{drill.bucket}/{key}: refused archive member "
                                 "'data/db/dump/../../../../escaped.txt' ('..' in path)*"])
    assert not list(drill.tmp.parent.rglob("escaped.txt")) and drill.leftovers() == []


def test_shrunken_count_fails_against_the_previous_drill(drill: Drill):
    healthy = backup_counts(0) | {"submissionEnvelope": 300}
    older = drill.put(0, healthy)
    newer = drill.put(1, healthy | {"submissionEnvelope": 200})
    drill.run_with_uri("--env", drill.env, "--restore-key", older).assert_outcomes(passed=1)

    result = drill.run_with_uri("--env", drill.env, "--restore-key", newer)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST003[]] s3://{drill.bucket}/{newer}: submissionEnvelope "
                                 f"has 200 documents, 33% fewer than the 300 of the drill of {older} on * "
                                 "(at most 10% allowed)*"])
    # CI=true makes pytest repeat the whole message in the short summary, so judge the set of codes, not a count.
    assert set(re.findall(r"\bRST\d{3}\b", result.stdout.str())) == {"RST003"}
    result.stdout.fnmatch_lines([f"[[]{drill.env}[]] 1 finding:"])
    html = (drill.pytester.path / "reports/report.html").read_text()
    assert "-100 (-33.3%)" in html


def test_missing_collection_and_too_few_documents_fail_together(drill: Drill):
    counts = {c: n for c, n in backup_counts(0).items() if c != "project"} | {"submissionEnvelope": 42}
    key = drill.put(0, counts)
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        f"*[[]{drill.env}[]] 2 findings:*",
        f"*[[]RST001[]] s3://{drill.bucket}/{key}: collection admin.project is missing*",
        f"*[[]RST002[]] s3://{drill.bucket}/{key}: submissionEnvelope has 42 documents, "
        "expected at least 100*",
    ])
    assert drill.leftovers() == []


def test_the_same_broken_backup_drilled_twice_on_the_uri_path_is_still_failing(drill: Drill):
    """Each drill restores into a database of its own; the finding's subject is the backup, so the second drill
    of the same broken backup continues the first one's streak instead of reading as new."""
    key = drill.put(0, {c: n for c, n in backup_counts(0).items() if c != "project"})
    drill.run_with_uri("--env", drill.env, f"--restore-key={key}").assert_outcomes(failed=1)
    again = drill.run_with_uri("--env", drill.env, f"--restore-key={key}")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["Still failing (1):",
                                f"  • RST001 (critical) [[]{drill.env}[]] s3://{drill.bucket}/{key}: collection admin.project is "
                                "missing (since *, 2 runs)"])
    assert "New since the previous run" not in again.stdout.str()


def test_without_any_mongodb_the_drill_fails_in_one_line(drill: Drill):
    drill.put(0)
    result = drill.run("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]{drill.env}[]] no MongoDB to restore into: Docker is not reachable *"
                                 "and no --mongo-uri URI or $OPSCHECKS_MONGO_URI was given*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_during_the_restore_leaves_nothing_behind(drill: Drill, sig: signal.Signals):
    """A real SIGINT, or SIGTERM (what Kubernetes and CI cancellation send), while documents are being
    inserted: temp dir and database are still removed."""
    key = drill.put(0, backup_counts(0) | {"submissionEnvelope": 25_000})
    env = {**os.environ, "TMPDIR": str(drill.tmp)}  # PYTHONPATH: set by the checklist fixture
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "checks/test_restore.py", "--env", drill.env,
         "--restore-key", key, "--mongo-uri", drill.sandbox.mongo_uri],
        cwd=drill.pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with MongoClient(drill.sandbox.mongo_uri) as client:
            deadline = time.monotonic() + 60
            while not any(client[n]["submissionEnvelope"].estimated_document_count()
                          for n in drill.databases()):
                assert proc.poll() is None and time.monotonic() < deadline, "the drill ended before it restored"
                time.sleep(0.05)
        assert list(drill.tmp.glob("opschecks-restore-*")), "the drill's temp dir should exist mid-restore"
        os.kill(proc.pid, sig)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert ("KeyboardInterrupt" if sig == signal.SIGINT else "SIGTERM: stopping as for Ctrl-C") in output
    assert drill.leftovers() == []


class FreezingProxy:
    """A TCP proxy to a real MongoDB that, once ``freeze_after`` bytes went to the server, forwards nothing more
    while keeping every connection open: a server that accepts connections but stops answering (hung, not down)."""

    def __init__(self, upstream: tuple[str, int], freeze_after: int) -> None:
        self.upstream, self.freeze_after, self.sent = upstream, freeze_after, 0
        self.frozen = threading.Event()
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, to_server: bool) -> None:
        try:
            while data := source.recv(65536):
                if to_server:
                    self.sent += len(data)
                    if self.sent > self.freeze_after:
                        self.frozen.set()
                if self.frozen.is_set():
                    self.stopped.wait()  # hold the connection open, answer nothing
                    return
                sink.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.stopped.set()
        for sock in self.sockets:
            sock.close()


def test_a_mongodb_that_stops_answering_mid_restore_fails_in_one_line_not_a_hang(drill: Drill):
    key = drill.put(0, backup_counts(0) | {"submissionEnvelope": 20_000})
    config = drill.pytester.path / "opschecks.toml"
    config.write_text(config.read_text() + f"[env.{drill.env}.restore]\nserver_timeout_s = 2\n")
    host, port = drill.sandbox.mongo_uri.removeprefix("mongodb://").split("/")[0].split(":")
    proxy = FreezingProxy((host, int(port)), freeze_after=200_000)  # into the inserts
    try:
        started = time.monotonic()
        # directConnection: the sandbox server is a replica set member, which would lead the client past the proxy.
        result = drill.run("--mongo-uri", f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
                           "--env", drill.env)
        took = time.monotonic() - started
    finally:
        proxy.close()
    assert proxy.frozen.is_set(), "the proxy froze mid-restore"
    out = result.stdout.str()
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines([f"*[[]{drill.env}[]] could not drop MongoDB 127.0.0.1:{proxy.port} database "
                                 "rd??? after the drill (drop it by hand): MongoDB accepted "
                                 "the connection but stopped answering*",
                                 f"  • OPS001 (critical) [[]{drill.env}[]] test_restore_drill: MongoDB accepted the connection but "
                                 f"stopped answering: 127.0.0.1:{proxy.port}: timed out ([[]restore[]] server_timeout_s "
                                 "sets the wait)"])
    assert "Traceback" not in out and took < 60, (took, out[-3000:])
    [record] = drill.records()
    assert record.outcome == "failed" and "verdict" not in record.details, "the server hung: not the backup's fault"
    assert restore.drilled_keys(drill.records()) == set(), f"{key} stays in the pool"


def test_a_dump_of_another_day_under_this_key_is_rst015_naming_its_directory(drill: Drill):
    # Issue 26: tonight's key holding a 2020 dump was "restored", and nothing said which dump it was.
    old = "2020-11-01T00_00"
    key = drill.put(0, body=backup_tarball(old, backup_counts(0)))
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST015[]] s3://{drill.bucket}/{key}: the dump "
                                 f"directory data/db/dump/{old} is stamped 46,704.0 h from the key's "
                                 "2026-03-01 00:00 UTC (at most 3 h allowed): a dump of another day*"])
    [record] = drill.records()
    assert record.details["dump_dir"] == f"data/db/dump/{old}" and record.details["subject"] == key
    assert f"data/db/dump/{old}" in (drill.pytester.path / "reports/report.html").read_text()
    assert drill.leftovers() == []


def test_a_dump_within_the_tolerance_passes_and_one_without_a_stamp_is_a_warning_row(drill: Drill):
    near = stamp(DAY0 + dt.timedelta(hours=2))  # the dump started at midnight and was named a little later
    keys = [drill.put(0, body=backup_tarball(near, backup_counts(0))),
            drill.put(1, body=backup_tarball("latest", backup_counts(1)))]
    for key in keys:  # the report holds the last run's tables
        drill.run_with_uri("--env", drill.env, "--restore-key", key).assert_outcomes(passed=1)
    assert sorted(r.details["dump_dir"] for r in drill.records()) == [f"data/db/dump/{near}", "data/db/dump/latest"]
    html = (drill.pytester.path / "reports/report.html").read_text()
    assert "the dump directory data/db/dump/latest has no" in html and "not checked against the key" in html


def test_a_collection_without_its_metadata_file_is_a_warning_row(drill: Drill):
    whole = tarfile.open(fileobj=io.BytesIO(backup_tarball(stamp(DAY0), backup_counts(0))))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member in whole.getmembers():
            if not member.name.endswith("/file.metadata.json"):
                tar.addfile(member, whole.extractfile(member) if member.isfile() else None)
    drill.put(0, body=buf.getvalue())
    drill.run_with_uri("--env", drill.env).assert_outcomes(passed=1)
    html = (drill.pytester.path / "reports/report.html").read_text()
    assert "file.bson: no metadata file: restored without its indexes and collection options" in html


def with_oplog(body: bytes, oplog: bytes) -> bytes:
    """The backup ``body`` with ``oplog`` as its dump's oplog.bson (mongodump --oplog writes it beside the database
    directories)."""
    whole = tarfile.open(fileobj=io.BytesIO(body))
    dump_dir = next(m.name for m in whole.getmembers() if m.isdir() and m.name.endswith("/admin")).rsplit("/", 1)[0]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member in whole.getmembers():
            tar.addfile(member, whole.extractfile(member) if member.isfile() else None)
        info = tarfile.TarInfo(f"{dump_dir}/oplog.bson")
        info.size = len(oplog)
        tar.addfile(info, io.BytesIO(oplog))
    return buf.getvalue()


def oplog_entry(moment: dt.datetime, increment: int = 1) -> bytes:
    """A no-op oplog entry {ts: Timestamp(moment, increment), op: "n"} as BSON bytes written by hand (bsonspec.org):
    a Timestamp (0x11) is the increment then the seconds, each a little-endian uint32."""
    ts = b"\x11ts\x00" + increment.to_bytes(4, "little") + int(moment.timestamp()).to_bytes(4, "little")
    op = b"\x02op\x00" + (2).to_bytes(4, "little") + b"n\x00"
    return (4 + len(ts) + len(op) + 1).to_bytes(4, "little") + ts + op + b"\x00"


def test_a_truncated_oplog_is_a_warning_row(drill: Drill):
    """mongodump --oplog writes oplog.bson beside the database directories; the drill restores one database
    without it, but a cut one would break a point-in-time restore: said in the report."""
    entry = oplog_entry(DAY0)
    drill.put(0, body=with_oplog(backup_tarball(stamp(DAY0), backup_counts(0)), entry * 3 + entry[:7]))
    drill.run_with_uri("--env", drill.env).assert_outcomes(passed=1)
    html = (drill.pytester.path / "reports/report.html").read_text()
    assert "oplog.bson" in html and "a point-in-time restore (mongorestore --oplogReplay) of this backup would fail" \
        in html


def test_an_oplog_from_a_week_ago_under_tonights_name_is_rst015(drill: Drill):
    """A dump of a secondary that stopped replicating a week ago is named and stamped tonight; its oplog.bson (the
    source's last write before the dump began) says when its data is from."""
    week_ago = DAY0 - dt.timedelta(days=7, minutes=-1)
    key = drill.put(0, body=with_oplog(backup_tarball(stamp(DAY0), backup_counts(0)),
                                       oplog_entry(week_ago) + oplog_entry(DAY0, 2)))
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST015[]] s3://{drill.bucket}/{key}: the dump's oplog.bson begins at "
                                 "2026-02-22 00:01:00 UTC, 168.0 h from the key's 2026-03-01 00:00 UTC (at most 3 h "
                                 "allowed): data of another day (a lagging secondary, a stale volume)*"])
    assert drill.records()[0].details["oplog_start"] == "2026-02-22T00:01:00+00:00"


KILLED_DRILL = """
import sys, time
from opschecks.areas.restore.mongotarget import fresh_database_name, uri_target
with uri_target(sys.argv[1], fresh_database_name()) as target:
    target.client[target.database]["submission"].insert_one({"n": 1})
    print(target.database, flush=True)
    time.sleep(600)
"""


def test_a_drill_drops_the_database_a_sigkilled_drill_left_and_its_report_says_so(drill: Drill):
    child = subprocess.Popen([sys.executable, "-c", KILLED_DRILL, drill.sandbox.mongo_uri], text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        left = child.stdout.readline().strip()
        assert left, child.stderr.read()
    finally:
        child.kill()  # SIGKILL: it drops nothing
        child.wait()
    drill.before.discard(left)
    assert drill.databases() == [left]
    drill.put(0)

    drill.run_with_uri("--env", drill.env).assert_outcomes(passed=1)

    assert drill.leftovers() == []
    html = (drill.pytester.path / "reports/report.html").read_text()
    assert f"removed database {left} (" in html and "left by a killed run" in html


# Issue 27: the backup held against the live database. The live database is a database of the sandbox's
# SecantusDB; its documents' ObjectIds hold their creation times (2019-2024 unless made at a given moment).

def made_at(collection: str, *moments: dt.datetime) -> list[dict]:
    """Documents of ``collection`` created at ``moments`` (their ObjectIds say so)."""
    return list(documents(collection, len(moments), seed=27, created_at=lambda i: moments[i]))


def healthy_docs() -> dict[str, list[dict]]:
    return {c: list(documents(c, n)) for c, n in backup_counts(0).items()}


@pytest.fixture
def live(drill: Drill) -> Iterator[Callable[[dict[str, list[dict]]], None]]:
    """Seed this test's live database and point the env's [restore] live_uri at it; dropped afterwards."""
    name = f"live_{drill.env}"

    def seed(docs: dict[str, list[dict]]) -> None:
        with MongoClient(drill.sandbox.mongo_uri) as client:
            for collection, stream in docs.items():
                if stream:
                    client[name][collection].insert_many([dict(d) for d in stream])
        restore_table(drill, live_uri=drill.sandbox.mongo_uri, live_database=name)

    yield seed
    with MongoClient(drill.sandbox.mongo_uri) as client:
        client.drop_database(name)


def restore_table(drill: Drill, **settings: str) -> None:
    config = drill.pytester.path / "opschecks.toml"
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    config.write_text(config.read_text() + f"[env.{drill.env}.restore]\n{lines}")


def put_docs(drill: Drill, docs: dict[str, list[dict]]) -> str:
    return drill.put(0, body=backup_tarball_of(stamp(DAY0), docs))


def codes(result: pytest.RunResult) -> set[str]:
    return set(re.findall(r"\bRST\d{3}\b", result.stdout.str()))


def test_a_complete_backup_passes_despite_deletions_and_newer_documents_since_the_dump(drill: Drill, live):
    docs = healthy_docs()
    put_docs(drill, docs)
    later = made_at("file", DAY0 + dt.timedelta(hours=1), DAY0 + dt.timedelta(hours=5))  # after the dump started
    live({**docs, "file": docs["file"][1:] + later})  # one deleted since the dump, two created since
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(passed=1)
    [record] = drill.records()
    judged = record.details["completeness"]
    assert judged["state"] == "judged" and judged["dump_start_from"] == f"the dump directory's stamp (data/db/dump/{stamp(DAY0)})"
    assert judged["collections"]["file"] | {"newest_restored": None} == judged["collections"]["file"] | {
        "restored_below": 90, "live_below": 89, "missing": 0, "sampled": 89, "sample_missing_count": 0,
        "live_between": 0, "stale_h": None, "not_judged": 0, "newest_restored": None}
    assert set(record.details["content_age_h"]) == set(backup_counts(0))
    html = (drill.pytester.path / "reports/report.html").read_text()
    assert "the backup held against the live database" in html and "live before the cut" in html
    assert f"s stamp (data/db/dump/{stamp(DAY0)})" in html and "content age (h)" in html
    assert "content age of the restored collections at the dump start, last 1 judged" in html


def test_without_live_uri_completeness_is_a_not_configured_row(drill: Drill):
    drill.put(0)
    drill.run_with_uri("--env", drill.env).assert_outcomes(passed=1)
    assert drill.records()[0].details["completeness"]["state"] == "not configured"
    assert "not configured: set [restore] live_uri" in (drill.pytester.path / "reports/report.html").read_text()


def test_a_backup_missing_three_documents_live_has_is_rst016_with_the_count(drill: Drill, live):
    docs = healthy_docs()
    key = put_docs(drill, {**docs, "file": docs["file"][3:]})
    live(docs)
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST016[]] s3://{drill.bucket}/{key}: {drill.env} "
                                 "admin.file: the backup lacks 3 documents: the live database holds 90 created before "
                                 "the dump start (2026-03-01 00:00 UTC), the backup 87*"])
    assert codes(result) == {"RST016", "RST017"}  # the sample (all 90) names the same 3
    assert drill.records()[0].details["verdict"] == "restored"


def test_a_loss_offset_by_a_deletion_is_caught_by_the_sample(drill: Drill, live):
    docs = healthy_docs()
    lost, deleted = docs["process"][5], docs["process"][6]
    put_docs(drill, {**docs, "process": [d for d in docs["process"] if d is not lost]})
    live({**docs, "process": [d for d in docs["process"] if d is not deleted]})  # same count as the backup
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST017[]] *: {drill.env} admin.process: 1 of 39 sampled live documents "
                                 f"created before the dump start are not in the backup: {lost['_id']}*"])
    assert codes(result) == {"RST017"}


def test_a_stale_backup_is_rst018_with_the_gap_in_hours(drill: Drill, live):
    docs = healthy_docs()
    dumped = made_at("submissionEnvelope", DAY0 - dt.timedelta(hours=30))
    since = made_at("submissionEnvelope", DAY0 - dt.timedelta(hours=6), DAY0 - dt.timedelta(hours=2))
    put_docs(drill, {**docs, "submissionEnvelope": docs["submissionEnvelope"] + dumped})
    live({**docs, "submissionEnvelope": docs["submissionEnvelope"] + dumped + since})
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST018[]] *: {drill.env} admin.submissionEnvelope: the backup is stale by "
                                 "28.0 h: its newest document was created 2026-02-27T18:00:00+00:00, the live database "
                                 "holds 2 created after it and before the dump start (at most 1 h allowed)*"])
    assert codes(result) == {"RST016", "RST017", "RST018"}
    assert drill.records()[0].details["content_age_h"]["submissionEnvelope"] == 30.0


def test_the_oplog_start_is_the_cut_when_the_dump_has_one(drill: Drill, live):
    """The dump directory is stamped 00:00 but its oplog says the dump began at 00:40: a document created at 00:30
    that the backup lacks is missing (cut at the directory's stamp, it would not be judged)."""
    docs = healthy_docs()
    early = made_at("file", DAY0 + dt.timedelta(minutes=20), DAY0 + dt.timedelta(minutes=30))
    body = backup_tarball_of(stamp(DAY0), {**docs, "file": docs["file"] + early[:1]})
    key = drill.put(0, body=with_oplog(body, oplog_entry(DAY0 + dt.timedelta(minutes=40))))
    live({**docs, "file": docs["file"] + early})
    result = drill.run_with_uri("--env", drill.env)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST016[]] s3://{drill.bucket}/{key}: {drill.env} admin.file: the backup lacks 1 "
                                 "documents: the live database holds 92 created before the dump start (2026-03-01 "
                                 "00:40 UTC), the backup 91*"])
    judged = drill.records()[0].details["completeness"]
    assert judged["dump_start_from"] == f"the first entry of the dump's oplog.bson (data/db/dump/{stamp(DAY0)}/oplog.bson)"


def test_collections_with_non_objectid_ids_are_listed_as_not_judged(drill: Drill, live):
    docs = healthy_docs()
    docs["protocol"] = [d | {"_id": f"protocol-{i}"} for i, d in enumerate(docs["protocol"])]
    put_docs(drill, docs)
    live({**docs, "protocol": docs["protocol"][:20]})  # would be "fine" by any count: it is not judged
    drill.run_with_uri("--env", drill.env).assert_outcomes(passed=1)
    html = (drill.pytester.path / "reports/report.html").read_text()
    assert "not judged for completeness: 25 restored and 20 live documents whose _id is not an ObjectId" in html
    assert "protocol: 25 restored / 20 live documents (_id not an ObjectId)" in html
    judged = drill.records()[0].details["completeness"]["collections"]["protocol"]
    assert judged["not_judged"] == 25 and judged["restored_below"] == 0


@pytest.mark.parametrize("hung", [False, True], ids=["refused", "hung"])
def test_an_unreachable_live_database_is_one_line_naming_the_host_and_the_verdict_stands(drill: Drill, hung: bool):
    drill.put(0)
    config = drill.pytester.path / "opschecks.toml"
    config.write_text(config.read_text().replace(f"[env.{drill.env}]\n", f"[env.{drill.env}]\napi_timeout_s = 2\n"))
    proxy = None
    if hung:
        host, port = drill.sandbox.mongo_uri.removeprefix("mongodb://").split("/")[0].split(":")
        proxy = FreezingProxy((host, int(port)), freeze_after=0)
    port = proxy.port if proxy else 9
    restore_table(drill, live_uri=f"mongodb://127.0.0.1:{port}/?directConnection=true", live_database="admin")
    try:
        started = time.monotonic()
        result = drill.run_with_uri("--env", drill.env)
        took = time.monotonic() - started
    finally:
        if proxy:
            proxy.close()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]RST019[]] *: {drill.env}: the live database MongoDB 127.0.0.1:{port} database "
                                 f"admin did not answer the completeness check: * (waited up to 2 s per answer: the env's "
                                 "api_timeout_s sets the wait)"])
    out = result.stdout.str()
    assert "Traceback" not in out and took < 20 and codes(result) == {"RST019"}, (took, out[-3000:])
    [record] = drill.records()
    assert record.details["verdict"] == "restored" and record.details["completeness"]["state"] == "unreachable"


def test_the_live_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    settings = restore.RestoreSettings(live_uri="mongodb://reader@db.example:27017/?authSource=admin")
    monkeypatch.setenv("OPSCHECKS_LIVE_MONGO_PASSWORD", "p@ss/word")
    assert completeness.live_uri(settings) == "mongodb://reader:p%40ss%2Fword@db.example:27017/?authSource=admin"
    given = restore.RestoreSettings(live_uri="mongodb://reader:inline@db.example/")
    assert completeness.live_uri(given) == "mongodb://reader:inline@db.example/"


class CommandRecorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []
        self.stages: set[str] = set()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)
        for stage in event.command.get("pipeline", []):
            self.stages |= set(stage)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_the_live_database_gets_only_read_commands(sandbox, monkeypatch: pytest.MonkeyPatch):
    recorder, real = CommandRecorder(), completeness.MongoClient
    monkeypatch.setattr(completeness, "MongoClient", lambda *a, **k: real(*a, event_listeners=[recorder], **k))
    names = {"live": f"live_{uuid.uuid4().hex[:6]}", "restored": f"rst_{uuid.uuid4().hex[:6]}"}
    docs = {c: list(documents(c, n)) for c, n in backup_counts(0).items() if c in ("file", "process")}
    with MongoClient(sandbox.mongo_uri) as client:
        try:
            for db in names.values():
                for collection, stream in docs.items():
                    client[db][collection].insert_many([dict(d) for d in stream])
            settings = restore.RestoreSettings(live_uri=sandbox.mongo_uri, live_database=names["live"],
                                               collections=list(docs))
            result = restore.Drill(bucket="b", backup=Backup(f"dev/{stamp(DAY0)}.tar.gz", DAY0, DAY0, 1),
                                   counts={c: len(d) for c, d in docs.items()}, dump_taken=DAY0)
            found = completeness.check(result, client[names["restored"]], settings, 5)
        finally:
            for db in names.values():
                client.drop_database(db)
    assert found.state == "judged" and found.collections["file"].sampled == 90 and not completeness.findings(
        found, "w", "dev", settings)
    assert "aggregate" in recorder.names and set(recorder.names) - {"endSessions"} <= {"aggregate", "find"}
    assert recorder.stages <= {"$match", "$sample", "$project", "$group", "$skip", "$limit"}, recorder.stages


@pytest.mark.parametrize("oplog, expected", [
    (oplog_entry(DAY0 + dt.timedelta(minutes=40), 7) + oplog_entry(DAY0 + dt.timedelta(hours=1)),
     DAY0 + dt.timedelta(minutes=40)),  # the first entry, not the newest
    (b"", None),  # empty: no entry says
    ((2**31).to_bytes(4, "little") + b"\x00" * 8, None),  # a length past any document: not read on
    (oplog_entry(DAY0)[:-3], None),  # cut inside the first entry
    (b"\x0d\x00\x00\x00\x10ts\x00\x01\x00\x00\x00\x00", None),  # ts an int32, not a Timestamp
], ids=["first-entry", "empty", "huge-length", "cut", "ts-not-a-timestamp"])
def test_the_oplog_start_is_the_first_entrys_ts_or_none(tmp_path: Path, oplog: bytes, expected):
    (tmp_path / "oplog.bson").write_bytes(oplog)
    dump = mongorestore.Dump(tmp_path, "admin", archive=False, gzip=False)
    assert mongorestore.oplog_start(dump) == expected
