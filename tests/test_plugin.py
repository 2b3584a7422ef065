"""The checklist's pytest plugin end to end: one-line errors, failing (never skipping) on unreachable
infrastructure, env parametrization, cadence markers, and skips only where the config says so."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]



@pytest.fixture
def suite(checklist, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201 (tests/conftest.py's Checklist)
    """A checklist project with an empty kubeconfig and no AWS credentials at all."""
    (checklist.path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(checklist.path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(checklist.path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("KUBECONFIG", str(checklist.path / "kubeconfig"))
    checklist.config("""
        [env.dev]
        kube_context = "ingest-eks-dev"
        [env.prod]
        kube_context = "ingest-eks-prod"
        skip = ["pods"]
        """)
    return checklist


def test_checks_are_parametrized_by_environment_and_env_narrows(suite) -> None:
    suite.check("backups", "import pytest\npytestmark = pytest.mark.daily\ndef test_x(env):\n    assert env.name\n")
    result = suite.run("checks", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_x?dev? PASSED*", "*test_x?prod? PASSED*"])
    suite.run("checks", "--env", "prod").assert_outcomes(passed=1)


def test_bad_config_is_one_line_not_a_traceback(suite) -> None:
    suite.check("backups", "import pytest\npytestmark = pytest.mark.daily\ndef test_x(env):\n    pass\n")
    (suite.path / "bad.toml").write_text("[env.dev]\nbackups = { grace_hours = 'two' }\n")
    result = suite.run("checks", "--config=bad.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: bad.toml: env.dev.backups.grace_hours: expected a number, found str 'two'"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()

    result = suite.run("checks", "--env", "qa")
    result.stderr.fnmatch_lines(["ERROR: unknown environment 'qa' (configured in opschecks.toml: dev, prod)"])

    result = suite.run("checks", "--config=missing.toml")
    result.stderr.fnmatch_lines(["ERROR: config file missing.toml not found*"])


def test_config_with_a_space_works_inside_the_project_and_is_one_line_outside(suite, tmp_path_factory) -> None:
    suite.check("backups", "import pytest\npytestmark = pytest.mark.daily\ndef test_x(env):\n    pass\n")
    (suite.path / "ops").mkdir()
    (suite.path / "ops" / "mine.toml").write_text("[env.qa]\n")
    suite.run("--config", "ops/mine.toml").assert_outcomes(passed=1)

    outside = tmp_path_factory.mktemp("elsewhere") / "mine.toml"
    outside.write_text("[env.qa]\n")
    result = suite.run("--config", str(outside), subprocess=True)  # pytest itself picks the project: a real start
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    # (pytester's own --basetemp argument makes pytest look in the common parent of both paths)
    result.stderr.fnmatch_lines([f"ERROR: --config {outside}: write --config={outside} (with '='): pytest reads "
                                 f"a path after a space as a test path, and looked for the project in /* "
                                 f"instead of {suite.path}"], consecutive=True)
    assert len(result.stderr.str().strip().splitlines()) == 1
    suite.run(f"--config={outside}").assert_outcomes(passed=1)


def test_a_check_without_a_cadence_marker_is_refused(suite) -> None:
    suite.check("backups", "def test_x(env):\n    pass\n")
    result = suite.run("checks")
    result.stderr.fnmatch_lines(["ERROR: checks/test_backups.py::test_x[[]dev[]]: a check needs a cadence marker*"])


def test_unreachable_cluster_fails_with_one_line_naming_env_and_context(suite) -> None:
    suite.check("pods", "import pytest\npytestmark = pytest.mark.daily\ndef test_x(env, kube_api):\n    pass\n")
    result = suite.run("checks", "--env", "dev")
    result.assert_outcomes(failed=1)  # a failed check, not a pytest "error" (nor "0 tests" in the report)
    result.stdout.fnmatch_lines(["*[[]dev[]] Kubernetes context ingest-eks-dev: no context 'ingest-eks-dev' in "
                                 f"kubeconfig {suite.path / 'kubeconfig'} (its contexts: none)",
                                 "*= 1 failed*in *"])  # ", N warnings" may stand between
    assert "Traceback" not in result.stdout.str() and "During handling" not in result.stdout.str()
    assert "1 test took" in suite.report_html()


@pytest.mark.parametrize(("kubeconfig", "problem"), [
    ("", "kubeconfig {missing} not found (set KUBECONFIG, or write ~/.kube/config)"),
    ("current", "kubeconfig {real} sets no current-context (set kube_context for the env in the config)"),
    ("two", "no context 'ingest-eks-dev' in kubeconfig {real}, {other} (its contexts: other)"),
    ("yaml", "kubeconfig {real} is not valid YAML: *"),
    ("directory", "kubeconfig {folder} is a directory, not a kubeconfig file (point KUBECONFIG at the file)"),
])
def test_kubeconfig_problems_name_the_files_and_the_context(suite, monkeypatch: pytest.MonkeyPatch,
                                                             kubeconfig: str, problem: str) -> None:
    files = {"real": suite.path / "kubeconfig", "other": suite.path / "other-kubeconfig",
             "missing": suite.path / "missing-kubeconfig", "folder": suite.path / "kube"}
    files["other"].write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                              "users: [{name: u, user: {}}]\ncontexts: [{name: other, context: {cluster: c, user: u}}]\n")
    context = "ingest-eks-dev"
    if kubeconfig == "":
        monkeypatch.setenv("KUBECONFIG", str(files["missing"]))
    elif kubeconfig == "current":
        context = "(current)"
        suite.config("[env.dev]\n")
    elif kubeconfig == "two":
        monkeypatch.setenv("KUBECONFIG", f"{files['real']}:{files['other']}")
    elif kubeconfig == "directory":
        files["folder"].mkdir()
        monkeypatch.setenv("KUBECONFIG", str(files["folder"]))
    else:
        files["real"].write_text("clusters: [\n")
    suite.check("pods", "import pytest\npytestmark = pytest.mark.daily\ndef test_x(env, kube_api):\n    pass\n")
    result = suite.run("checks", "--env", "dev")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"[[]dev[]] Kubernetes context {context}: " + problem.format(**files)])


def test_missing_aws_credentials_fail_with_one_line(suite) -> None:
    suite.check("backups", "import pytest\npytestmark = pytest.mark.daily\ndef test_x(env, aws_session):\n    pass\n")
    result = suite.run("checks", "--env", "dev")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]dev[]] no AWS credentials for env dev (profile (AWS_PROFILE or default), "
                                 "region us-east-1): set AWS_PROFILE*"])


def test_unreachable_aws_endpoint_fails_not_skips(suite, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    suite.check("backups", """
import pytest
from opschecks import aws
pytestmark = pytest.mark.daily
def test_x(env, aws_session):
    aws.client(aws_session, "s3").list_objects_v2(Bucket=env.backup_bucket, Prefix=env.backup_prefix)
""")
    result = suite.run("checks", "--env", "dev")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]dev[]] cannot reach AWS endpoint http://127.0.0.1:{closed_port}/*"])


def test_a_check_that_hangs_anyway_fails_at_the_last_resort_limit_and_cleans_up(suite) -> None:
    """pytest-timeout (timeout in pyproject.toml) ends a check stuck in something with no timeout of its own,
    as a failure of that check, and its fixtures' clean-up still runs."""
    suite.check("pods", """
import pathlib
import time
import pytest
pytestmark = pytest.mark.daily
@pytest.fixture
def workdir():
    yield
    pathlib.Path("cleaned").write_text("torn down")  # pytester runs in the project's directory
def test_x(env, workdir):
    time.sleep(60)
""")
    started = time.monotonic()
    result = suite.run("checks", "--env", "dev", "--timeout=2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Failed: Timeout (>2.0s) from pytest-timeout*"])
    assert time.monotonic() - started < 30
    assert (suite.path / "cleaned").read_text() == "torn down"


def test_findings_fail_once_listing_every_one(suite) -> None:
    suite.check("pods", """
import pytest
from opschecks.findings import Finding, fail_on
pytestmark = pytest.mark.daily
def test_x(env):
    fail_on([Finding("POD001", f"{env.name} ns/a", "waiting: CrashLoopBackOff"),
             Finding("POD002", f"{env.name} ns/b", "not ready 0/1")])
""")
    result = suite.run("checks", "--env", "dev")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]dev[]] 2 findings:", "*[[]POD001[]] dev ns/a: waiting: CrashLoopBackOff",
                                 "*[[]POD002[]] dev ns/b: not ready 0/1"])
    assert "def test_x" not in result.stdout.str()  # the findings, not a traceback


def test_an_area_is_skipped_only_where_the_config_disables_it(suite) -> None:
    suite.check("pods", "import pytest\npytestmark = pytest.mark.daily\ndef test_x(env):\n    pass\n")
    result = suite.run("checks", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*pods disabled for env prod in opschecks.toml*"])


def test_report_and_junit_are_written_under_reports(suite) -> None:
    suite.check("backups", """
import pytest
pytestmark = pytest.mark.daily
def test_x(env, report):
    report.table("Newest backup", ["env", "key"], [(env.name, "<dev>/2026-11-25T00_00.tar.gz")])
""")
    suite.run("checks", "--env", "dev").assert_outcomes(passed=1)
    html = (suite.path / "reports" / "report.html").read_text()
    assert "Newest backup" in html and "&amp;lt;dev&amp;gt;" in html  # escaped once by us, once by pytest-html
    assert (suite.path / "reports" / "junit.xml").exists()


def test_a_run_from_a_subdirectory_uses_the_project_root(suite) -> None:
    """`cd checks && pytest -m daily`: the root's config, and reports/ (report, JUnit, ledger) at the root."""
    suite.check("pods", "import pytest\npytestmark = pytest.mark.daily\ndef test_pods(env):\n    pass\n")
    checks = suite.path / "checks"
    run = subprocess.run([sys.executable, "-m", "pytest", "-m", "daily"], cwd=checks, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 1 skipped" in run.stdout  # prod skips pods in this config
    assert {p.name for p in (suite.path / "reports").iterdir()} >= {"report.html", "junit.xml", "ledger.sqlite"}
    assert sorted(p.name for p in checks.iterdir() if not p.name.startswith("__")) == ["test_pods.py"], \
        "nothing written under checks/ (no reports/, no .benchmarks)"

    due = subprocess.run([sys.executable, "-m", "opschecks", "due"], cwd=checks, capture_output=True, text=True,
                         timeout=300)
    assert due.returncode == 0, due.stderr
    assert "checks/test_pods.py::test_pods  dev " in due.stdout and "OK" in due.stdout.split()


def test_daily_selection_lists_only_daily_checks(suite) -> None:
    suite.check("pods", "import pytest\npytestmark = pytest.mark.daily\ndef test_pods(env):\n    pass\n")
    suite.check("restore", "import pytest\npytestmark = pytest.mark.monthly\ndef test_drill(env):\n    pass\n")
    result = suite.run("checks", "--collect-only", "-q", "-m", "daily")
    result.stdout.fnmatch_lines(["checks/test_pods.py::test_pods[[]dev[]]", "checks/test_pods.py::test_pods[[]prod[]]"])
    assert "test_drill" not in result.stdout.str()
    assert not (suite.path / "reports").exists(), "listing the checks leaves the last run's report alone"


@dataclass
class SilentServer:
    """A local TCP server that accepts every connection and never sends a byte: a hung endpoint."""

    port: int = 0
    requests: list[str] = field(default_factory=list)  # the request line each connection sent
    _held: list[socket.socket] = field(default_factory=list)

    def sent(self, path: str) -> int:
        return sum(f" {path}" in line for line in self.requests)


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    listener = socket.create_server(("127.0.0.1", 0))
    server.port = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed at the end of the test
                return
            server._held.append(conn)
            conn.settimeout(5)
            try:
                server.requests.append(conn.recv(4096).split(b"\r\n")[0].decode(errors="replace"))
            except OSError:
                server.requests.append("")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server
    listener.close()
    for conn in server._held:
        conn.close()


def test_a_silent_aws_endpoint_fails_quickly_with_one_line(suite, silent: SilentServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    suite.config("[defaults]\napi_timeout_s = 1\n[env.dev]\n")
    suite.check("backups", """
import pytest
from opschecks import aws
pytestmark = pytest.mark.daily
def test_x(env, aws_session):
    aws.client(aws_session, "s3").list_objects_v2(Bucket=env.backup_bucket, Prefix=env.backup_prefix)
""")
    started = time.monotonic()
    result = suite.run("checks")
    elapsed = time.monotonic() - started

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"[[]dev[]] AWS endpoint http://127.0.0.1:{silent.port}/ingest-db-backup?* accepted "
                                 "the connection but did not answer (read timeout, tried twice; api_timeout_s in "
                                 "the config sets the wait)"])
    assert silent.sent("/ingest-db-backup?") == 2, silent.requests  # botocore would make 11 attempts of 60 s each
    assert elapsed < 20


def _kubeconfig_for(path: Path, port: int) -> None:
    """A kubeconfig whose context ingest-eks-dev is the API server on loopback ``port``."""
    (path / "kubeconfig").write_text(
        f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: ingest-eks-dev, context: {cluster: c, user: u}}]\n")


def test_a_silent_kubernetes_api_fails_quickly_with_one_line(suite, silent: SilentServer,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    _kubeconfig_for(suite.path, silent.port)
    suite.config("[defaults]\napi_timeout_s = 1\n[env.dev]\nkube_context = 'ingest-eks-dev'\n")
    suite.check("pods", """
import pytest
from kubernetes import client
pytestmark = pytest.mark.daily
def test_x(env, kube_api):
    client.CoreV1Api(kube_api).list_namespaced_pod("default")
""")
    started = time.monotonic()
    result = suite.run("checks")
    elapsed = time.monotonic() - started

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"[[]dev[]] Kubernetes context ingest-eks-dev: Kubernetes API "
                                 f"http://127.0.0.1:{silent.port} accepted the connection but did not answer "
                                 "(read timeout, tried twice; api_timeout_s in the config sets the wait)"])
    assert silent.sent("/api/v1/namespaces/default/pods") == 2, silent.requests  # urllib3's default makes 4
    assert elapsed < 20


def test_a_run_waits_for_a_silent_endpoint_once_not_once_per_check(suite, silent: SilentServer) -> None:
    """Two checks against one silent API server: the second fails at once, saying when the first gave up."""
    _kubeconfig_for(suite.path, silent.port)
    suite.config("[defaults]\napi_timeout_s = 2\n[env.dev]\nkube_context = 'ingest-eks-dev'\n")
    suite.check("pods", """
import pytest
from kubernetes import client
pytestmark = pytest.mark.daily
def test_pods(env, kube_api):
    client.CoreV1Api(kube_api).list_namespaced_pod("default")
def test_nodes(env, kube_api):
    client.CoreV1Api(kube_api).list_node()
""")
    result = suite.run("checks", "-p", "no:randomly", subprocess=True)
    # The run's own time, without the subprocess's start-up: the two checks waited 2 x 2 s, not 2 x 2 x 2 s.
    match = re.search(r"2 failed in ([0-9.]+)s", result.stdout.str())
    assert match is not None and float(match[1]) < 7.5, result.stdout.str()[-300:]

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([f"*[[]dev[]] Kubernetes context ingest-eks-dev: Kubernetes API "
                                 f"http://127.0.0.1:{silent.port} accepted the connection but did not answer "
                                 "(read timeout, tried twice; api_timeout_s in the config sets the wait) "
                                 "(did not answer at ??:??:?? UTC, not tried again)*"])
    assert silent.sent("/api/v1/nodes") == 0, silent.requests


def test_mongodb_unreachable_is_one_whole_line() -> None:
    """pymongo's message is long (configured timeouts, a topology dump); the line keeps each server's whole
    error and how long it waited, and is never cut mid-bracket."""
    from pymongo import MongoClient

    from opschecks.errors import describe

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])  # closed once the block ends: connections are refused
    with MongoClient(f"mongodb://127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}/", serverSelectionTimeoutMS=200) as client:
        with pytest.raises(Exception) as caught:
            client.admin.command("ping")
    line = describe(caught.value)
    assert line is not None
    assert line.startswith("cannot reach MongoDB: ")
    for port in ports:
        assert f"127.0.0.1:{port}: [Errno 111] Connection refused" in line
    assert line.endswith(" (gave up after 0.2s)")
    assert line.count("(") == line.count(")") and line.count("[") == line.count("]")
    assert "Topology" not in line and "configured timeouts" not in line


def test_a_slow_but_answering_kubernetes_api_is_fine(suite) -> None:
    """Each page comes 0.6 s after its request, with api_timeout_s = 1: three pages take longer than the
    timeout in all, but every answer comes in time, so the check passes (the limit is on silence, not work)."""
    served: list[str] = []

    def serve(conn: socket.socket) -> None:
        with conn:
            request = conn.recv(65536).decode()
            served.append(request.split("\r\n")[0])
            time.sleep(0.6)
            page = len(served)
            body = (b'{"kind": "PodList", "apiVersion": "v1", "metadata": {"continue": "%s"}, "items": []}'
                    % (b"next" if page < 3 else b""))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    (suite.path / "kubeconfig").write_text(
        f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: ingest-eks-dev, context: {cluster: c, user: u}}]\n")
    suite.config("[defaults]\napi_timeout_s = 1\n[env.dev]\nkube_context = 'ingest-eks-dev'\n")
    suite.check("pods", """
import pytest
from kubernetes import client
from opschecks import kube
pytestmark = pytest.mark.daily
def test_x(env, kube_api):
    assert list(kube.list_paginated(client.CoreV1Api(kube_api).list_namespaced_pod, 1, namespace="default")) == []
""")
    try:
        result = suite.run("checks")
    finally:
        listener.close()
    result.assert_outcomes(passed=1)
    assert len(served) == 3


@pytest.mark.parametrize("selection", [["-m", "daly"], ["-k", "no_such_check"]], ids=["mistyped-marker", "no-match"])
def test_a_run_that_selects_nothing_leaves_the_last_report(suite, selection: list[str]) -> None:
    suite.check("pods", "import pytest\npytestmark = pytest.mark.daily\ndef test_green(env):\n    pass\n")
    suite.run("checks", "--env", "dev").assert_outcomes(passed=1)
    report, junit = suite.path / "reports" / "report.html", suite.path / "reports" / "junit.xml"
    before = (report.read_bytes(), junit.read_bytes())
    result = suite.run("checks", "--env", "dev", *selection)
    assert result.ret in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED)
    assert (report.read_bytes(), junit.read_bytes()) == before, "an empty run replaced the last real report"
    assert "Generated html report" not in result.stdout.str()


@pytest.mark.parametrize("where", ["reports is a file", "--html under a file"])
def test_a_run_whose_reports_cannot_be_written_is_one_line_and_exit_2(checklist, where: str) -> None:
    checklist.lay_out("[env.dev]\n", {"backups": "import pytest\npytestmark = pytest.mark.daily\n\n"
                                                 "def test_a(env):\n    pass\n"})
    args = []
    if where == "reports is a file":
        (checklist.path / "reports").write_text("")
    else:
        (checklist.path / "out").write_text("")
        args = ["--html", "out/r.html"]

    result = checklist.run("-p", "no:cacheprovider", *args, subprocess=True)

    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 2, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert len([line for line in output.splitlines() if "cannot write the run's reports in" in line]) == 1, output
    assert "not a folder" in output
