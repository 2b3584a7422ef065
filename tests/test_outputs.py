"""Outputs machines read: --json (against docs/run.schema.json), Prometheus textfile and Pushgateway push
(parsed back with prometheus_client's parser), --publish to S3, exit codes and --exit-zero.

The checks run in a subprocess under pytest-xdist, so every value crosses the
worker-to-controller boundary as it does in CI.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from opschecks.record import summary

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "run.schema.json").read_text())

BACKUPS = """
import pytest
from opschecks.findings import Finding, fail_on
pytestmark = pytest.mark.daily
def test_backup_is_fresh(env, ledger_details):
    age = 3.5 if env.name == "dev" else 30.0
    ledger_details.update(newest=f"{env.name}/2026-01-01T00_00.tar.gz", age_hours=age, size=123456)
    if age > 26:
        fail_on([Finding("BKP001", f"{env.name} s3://ingest-db-backup/{env.name}/", "expected newer than 26 h; 30 h"),
                 Finding("BKP005", f"{env.name} s3://ingest-db-backup/{env.name}/x", "expected tag auto-delete=true")])
"""
PODS = """
import pytest
pytestmark = pytest.mark.daily
def test_pods_healthy(env, kube_api):
    pass
"""
RESTORE = """
import pytest
pytestmark = pytest.mark.monthly
def test_restore_drill(env, ledger_details):
    ledger_details.update(durations={"download": 1.5, "extract": 0.25, "restore": 2.75})
"""


@pytest.fixture
def suite(checklist, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201 (tests/conftest.py's Checklist)
    """dev: backups pass, pods cannot reach their (missing) context (a failure without findings); prod: backups
    fail with findings, pods skipped."""
    (checklist.path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    monkeypatch.setenv("KUBECONFIG", str(checklist.path / "kubeconfig"))
    checklist.lay_out("""
        [env.dev]
        kube_context = "ingest-eks-dev"
        [env.prod]
        kube_context = "ingest-eks-prod"
        skip = ["pods"]
        [ledger]
        path = "reports/ledger.sqlite"
        """, {"backups": BACKUPS, "pods": PODS, "restore": RESTORE})
    return checklist


def _metrics(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_json_and_metrics_file_hold_every_check_from_the_same_results(suite, capsys) -> None:
    result = suite.run("checks", "-n", "2", "--json=out/run.json", "--metrics-file=out/opschecks.prom",
                       subprocess=True)
    assert result.ret == 1, result.stdout.str()
    doc = json.loads((suite.path / "out" / "run.json").read_text())
    jsonschema.validate(doc, SCHEMA)

    checks = {(c["check"].split("::")[1], c["env"]): c for c in doc["checks"]}
    assert {k: c["outcome"] for k, c in checks.items()} == {
        ("test_backup_is_fresh", "dev"): "passed", ("test_backup_is_fresh", "prod"): "failed",
        ("test_pods_healthy", "dev"): "failed", ("test_pods_healthy", "prod"): "skipped",
        ("test_restore_drill", "dev"): "passed", ("test_restore_drill", "prod"): "passed"}
    failed = checks[("test_backup_is_fresh", "prod")]
    assert failed["findings"] == [
        {"code": "BKP001", "where": "prod s3://ingest-db-backup/prod/", "message": "expected newer than 26 h; 30 h",
         "severity": "critical"},
        {"code": "BKP005", "where": "prod s3://ingest-db-backup/prod/x", "message": "expected tag auto-delete=true",
         "severity": "warning"}]  # each code's severity, from the glossary (opschecks/codes.py)
    assert failed["details"]["age_hours"] == 30.0 and failed["started"] and failed["duration_s"] >= 0
    assert "ingest-eks-dev" in checks[("test_pods_healthy", "dev")]["reason"]
    # A failure without findings of its own carries one OPS001 with its first line (opschecks/record/changes.py).
    (unjudged,) = checks[("test_pods_healthy", "dev")]["findings"]
    assert (unjudged["code"], unjudged["where"]) == ("OPS001", "dev test_pods_healthy")
    assert unjudged["message"].startswith("Kubernetes context ingest-eks-dev: no context")
    assert doc["summary"] == {"passed": 3, "failed": 2, "error": 0, "skipped": 1, "total": 6, "findings": 3}
    assert doc["run"]["exit_status"] == 1 and doc["run"]["environments"] == ["dev", "prod"]

    samples = _metrics((suite.path / "out" / "opschecks.prom").read_text())
    fresh = "checks/test_backups.py::test_backup_is_fresh"
    assert samples[("opschecks_check_success", frozenset({("check", fresh), ("env", "dev")}))] == 1
    assert samples[("opschecks_check_success", frozenset({("check", fresh), ("env", "prod")}))] == 0
    assert samples[("opschecks_check_success",
                    frozenset({("check", "checks/test_pods.py::test_pods_healthy"), ("env", "dev")}))] == 0
    assert ("opschecks_check_success",
            frozenset({("check", "checks/test_pods.py::test_pods_healthy"), ("env", "prod")})) not in samples, \
        "a skipped check did not run: no sample"
    assert samples[("opschecks_backup_newest_age_seconds", frozenset({("env", "dev")}))] == 3.5 * 3600
    assert samples[("opschecks_backup_newest_bytes", frozenset({("env", "prod")}))] == 123456
    assert samples[("opschecks_restore_step_seconds", frozenset({("env", "dev"), ("step", "restore")}))] == 2.75
    critical = ("severity", "critical")  # a label from the code's glossary entry
    assert samples[("opschecks_findings", frozenset({("code", "BKP001"), ("env", "prod"), critical}))] == 1
    assert samples[("opschecks_findings", frozenset({("code", "OPS001"), ("env", "dev"), critical}))] == 1
    ended = samples[("opschecks_check_last_run_timestamp_seconds", frozenset({("check", fresh), ("env", "prod")}))]
    assert abs(ended - _epoch(failed["started"]) - failed["duration_s"]) < 1

    capsys.readouterr()
    assert summary.main([str(suite.path / "out" / "run.json")]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("## Ingest operations checklist: ❌ 2 of 6 check runs failed")
    assert "  - `BKP001` prod s3://ingest-db-backup/prod/: expected newer than 26 h; 30 h" in markdown
    assert "| `checks/test_pods.py::test_pods_healthy` | dev | ❌ failed | OPS001 |" in markdown


def _epoch(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso).timestamp()


def test_exit_zero_reports_without_failing_the_job_but_not_on_usage_errors(suite) -> None:
    result = suite.run("checks", "--exit-zero", "--json=run.json", subprocess=True)
    assert result.ret == 0, result.stdout.str()
    run = json.loads((suite.path / "run.json").read_text())["run"]
    assert run["exit_status"] == 1 and run["exit_zero"] is True, "the JSON still says the checks failed"

    assert suite.run("checks", "--exit-zero", "--env", "nope", subprocess=True).ret == pytest.ExitCode.USAGE_ERROR
    assert suite.run("checks", "--publish", "ftp://x", subprocess=True).ret == pytest.ExitCode.USAGE_ERROR


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_PUT(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_metrics_push_to_a_pushgateway_and_parse_back(suite) -> None:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = suite.run("checks", "-m", "daily", "--pushgateway", url, subprocess=True)
    finally:
        server.shutdown()
        server.server_close()
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"opschecks: metrics sent to {url}"])
    [(method, path, body)] = _Receiver.received
    assert (method, path) == ("PUT", "/metrics/job/opschecks/selection/daily")  # one group per selection
    samples = _metrics(body.decode())
    assert samples[("opschecks_findings",
                    frozenset({("code", "BKP005"), ("env", "prod"), ("severity", "warning")}))] == 1
    assert not any(name == "opschecks_restore_step_seconds" for name, _ in samples), "-m daily ran no restore"


def test_a_failed_push_is_one_line_and_changes_no_exit_status(suite) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    result = suite.run("checks", "-m", "monthly", "--pushgateway", f"http://127.0.0.1:{closed}", subprocess=True)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"opschecks: metrics NOT sent to http://127.0.0.1:{closed}: *"])


def test_publish_uploads_the_reports_to_a_run_folder_and_latest(suite, sandbox_env) -> None:
    s3 = sandbox_env.s3()
    s3.create_bucket(Bucket="ingest-ops-reports")  # moto's state is shared by the session: a prefix of our own
    prefix = f"test-publish-{suite.path.name}/dev"
    result = suite.run("checks", "-m", "monthly", "--json=reports/run.json", "--metrics-file=reports/run.prom",
                       "--publish", f"s3://ingest-ops-reports/{prefix}", subprocess=True)
    assert result.ret == 0, result.stdout.str()
    run = json.loads((suite.path / "reports" / "run.json").read_text())["run"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="ingest-ops-reports", Prefix=f"{prefix}/")["Contents"]}
    names = {"report.html", "junit.xml", "run.json", "run.prom"}
    day, time = run["started"][:10], run["started"][11:19].replace(":", "")
    assert keys == {f"{prefix}/{folder}/{n}" for n in names for folder in (f"{day}/{time}-{run['id']}", "latest")}
    head = s3.head_object(Bucket="ingest-ops-reports", Key=f"{prefix}/latest/report.html")
    assert head["ContentType"] == "text/html"
    result.stderr.fnmatch_lines([f"opschecks: reports sent to s3://ingest-ops-reports/{prefix}"])


def test_publish_to_a_silent_s3_waits_api_timeout_s_and_says_so_once(suite, monkeypatch: pytest.MonkeyPatch) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts every connection, never answers
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(listener.accept()[0]) for _ in range(20)], daemon=True).start()
    port = listener.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    suite.config("[defaults]\napi_timeout_s = 1\n[env.dev]\n")
    try:
        started = time.monotonic()
        result = suite.run("checks", "-m", "monthly", "--publish", "s3://ingest-ops-reports/dev", subprocess=True)
        elapsed = time.monotonic() - started
    finally:
        listener.close()
        for conn in held:
            conn.close()

    assert result.ret == 0, result.stdout.str()
    lost = [line for line in (result.stdout.lines + result.stderr.lines) if "reports NOT sent" in line]
    assert len(lost) == 1, lost
    assert f"AWS endpoint http://127.0.0.1:{port}/ingest-ops-reports/dev/" in lost[0]
    assert "api_timeout_s" in lost[0]
    assert elapsed < 30  # two waits of 1 s, not botocore's default two of 60 s


def test_an_interrupted_run_still_writes_its_json_with_status_2(checklist, tmp_path: Path) -> None:
    started = tmp_path / "started"
    checklist.lay_out("[env.dev]\n", {"backups": f"""
import pathlib, time
import pytest
pytestmark = pytest.mark.daily
def test_a_quick_one(env):
    pass
def test_b_slow_one(env):
    pathlib.Path({str(started)!r}).touch()
    time.sleep(120)
"""})
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "checks", "-p", "no:randomly", "--json=run.json"],
                            cwd=checklist.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else "slow"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    doc = json.loads((checklist.path / "run.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["run"]["exit_status"] == 2
    assert [(c["check"].split("::")[1], c["outcome"], c["reason"]) for c in doc["checks"]] == [
        ("test_a_quick_one", "passed", ""), ("test_b_slow_one", "error", "interrupted before it finished")], \
        "a check stopped mid-run is not green"


def _run_doc(tmp_path: Path, exit_status: int, checks: list[dict]) -> Path:
    from opschecks.record.run_json import RunMeta, document, write

    meta = RunMeta(id="r1", started="2026-12-04T00:00:00+00:00", finished="2026-12-04T00:00:01+00:00",
                   duration_s=1.0, runner="ci@host", git_revision="0" * 40, config="opschecks.toml",
                   environments=["dev"], selection="daily", args=[], exit_status=exit_status, exit_zero=False)
    doc = document(meta, checks)
    jsonschema.validate(doc, SCHEMA)
    write(tmp_path / "run.json", doc)
    return tmp_path / "run.json"


@pytest.mark.parametrize("status", [3, 4, 5])
def test_a_run_that_ran_nothing_is_never_green_in_summary_json_or_metrics(tmp_path: Path, capsys, status) -> None:
    path = _run_doc(tmp_path, status, [])
    doc = json.loads(path.read_text())
    assert doc["verdict"] == "not_run"
    samples = _metrics(_textfile(tmp_path, doc))
    assert samples[("opschecks_run_success", frozenset())] == 0
    assert samples[("opschecks_run_exit_status", frozenset())] == status
    assert summary.main([str(path)]) == 2
    markdown = capsys.readouterr().out
    assert markdown.startswith("## Ingest operations checklist: 💥 the checks did not run: "), markdown
    assert "✅" not in markdown and f"pytest exit status {status}" in markdown


def test_zero_checks_collected_or_all_skipped_is_not_green(tmp_path: Path, capsys) -> None:
    skipped = {"check": "checks/test_pods.py::test_pods_healthy", "area": "pods", "env": "dev", "outcome": "skipped",
               "reason": "skip", "nodeid": "x", "findings": [], "started": "", "duration_s": 0.0, "details": {}}
    for status, checks in ((0, []), (0, [skipped])):
        path = _run_doc(tmp_path, status, checks)
        assert json.loads(path.read_text())["verdict"] == "not_run"
        assert summary.main([str(path)]) == 2
        assert "✅" not in capsys.readouterr().out


def test_a_passing_run_is_still_green(tmp_path: Path, capsys) -> None:
    passed = {"check": "checks/test_pods.py::test_pods_healthy", "area": "pods", "env": "dev", "outcome": "passed",
              "reason": "", "nodeid": "x", "findings": [], "started": "2026-12-04T00:00:00+00:00",
              "duration_s": 0.5, "details": {}}
    path = _run_doc(tmp_path, 0, [passed])
    doc = json.loads(path.read_text())
    assert doc["verdict"] == "passed"
    assert _metrics(_textfile(tmp_path, doc))[("opschecks_run_success", frozenset())] == 1
    assert summary.main([str(path)]) == 0
    assert capsys.readouterr().out.startswith("## Ingest operations checklist: ✅ all 1 check runs passed")


def _textfile(tmp_path: Path, doc: dict) -> str:
    from opschecks.record import metrics

    metrics.write_textfile(tmp_path / "run.prom", metrics.registry(doc))
    return (tmp_path / "run.prom").read_text()


def test_no_checks_collected_end_to_end(checklist) -> None:
    checklist.lay_out("[env.dev]\n", {"backups": "import pytest\npytestmark = pytest.mark.daily\n"})
    result = checklist.run("checks", "--json=run.json", "--metrics-file=run.prom", subprocess=True)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED, result.stdout.str()
    doc = json.loads((checklist.path / "run.json").read_text())
    assert (doc["verdict"], doc["run"]["exit_status"]) == ("not_run", 5)
    assert _metrics((checklist.path / "run.prom").read_text())[("opschecks_run_success", frozenset())] == 0
