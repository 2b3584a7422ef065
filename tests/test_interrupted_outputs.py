"""An interrupted run is visible in every output (issue 25 item 6): JUnit XML, the HTML report's banner, the JSON
document and the metrics name the stop's signal and the check it cut short; an interrupt before any check ran
never leaves the previous run's green report and JUnit looking current."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.signalled_run import run_and_signal

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

CHECKS = """
import time
import pytest

pytestmark = pytest.mark.daily


def test_first(env):
    pass


def test_slow(env):
    open("slow-started", "w").close()
    time.sleep(60)


def test_never_reached(env):
    pass
"""


def _run_and_stop(path: Path, *args: str, started: Path) -> tuple[int, str]:
    """Run pytest in ``path``, send SIGTERM once ``started`` exists; its exit status and output."""
    out = (path / "output.txt").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert proc.poll() is None and time.monotonic() < deadline, (path / "output.txt").read_text()
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    return proc.returncode, (path / "output.txt").read_text()


@pytest.mark.parametrize("xdist", [[], ["-p", "xdist", "-n", "2"]], ids=["serial", "xdist"])
def test_a_run_stopped_mid_check_says_so_in_junit_html_json_and_metrics(checklist, xdist: list[str]) -> None:
    path = checklist.lay_out("[env.dev]\n", {"backups": CHECKS})

    status, output = _run_and_stop(path, *xdist, "--json", "reports/run.json", "--metrics-file", "reports/run.prom",
                                   started=path / "slow-started")

    assert status == pytest.ExitCode.INTERRUPTED, output
    cut = "checks/test_backups.py::test_slow[dev]"
    suite = ET.parse(path / "reports" / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("errors")) >= 1, ET.tostring(suite).decode()
    errors = [(case.get("name"), case.find("error")) for case in suite.iter("testcase") if case.find("error") is not None]
    assert [name for name, _ in errors] == ["test_slow[dev]"], ET.tostring(suite).decode()
    assert "interrupted by SIGTERM" in errors[0][1].get("message")

    html = (path / "reports" / "report.html").read_text()
    assert "STOPPED by SIGTERM" in html and "Needs attention — PASSED" not in html
    assert f"cut short: {cut}" in html

    doc = json.loads((path / "reports" / "run.json").read_text())
    assert doc["interrupted"] == {"signal": "SIGTERM", "cut_short": [cut]}
    assert doc["verdict"] != "passed"

    metrics = (path / "reports" / "run.prom").read_text()
    assert "opschecks_run_success 0.0" in metrics
    assert 'opschecks_run_interrupted{signal="SIGTERM"} 1.0' in metrics


SEEDING_STOPPED = """
import os, signal, time

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session):
    yield
    os.kill(os.getpid(), signal.SIGTERM)  # a real SIGTERM, where the sandbox seeds (fixtures/sandbox.py)
    time.sleep(5)
"""


def test_a_stop_before_any_check_ran_replaces_the_previous_green_report(checklist) -> None:
    path = checklist.lay_out("[env.dev]\n", {"backups": CHECKS.replace("time.sleep(60)", "pass")})
    (path / "seedstop.py").write_text(SEEDING_STOPPED)
    reports = path / "reports"
    reports.mkdir()
    (reports / "report.html").write_text("<html>Needs attention — PASSED: all 3 checks passed</html>")
    (reports / "junit.xml").write_text('<testsuites><testsuite errors="0" failures="0" tests="3"/></testsuites>')

    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "seedstop"], cwd=path,
                            env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}"}, capture_output=True,
                            text=True, timeout=120)

    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "Traceback" not in output, output
    html = (reports / "report.html").read_text()
    assert "PASSED" not in html and "interrupted by SIGTERM before any check ran" in html, html
    suite = ET.parse(reports / "junit.xml").getroot().find("testsuite")
    assert suite.get("errors") == "1", ET.tostring(suite).decode()
    assert suite.find("testcase/error").get("message") == "interrupted by SIGTERM before any check ran"
    lines = [line for line in output.splitlines() if "before any check ran" in line]
    assert len(lines) == 1 and "replaced" in lines[0], output


BETWEEN_CHECKS = """
import os, signal, time
import pytest

pytestmark = pytest.mark.daily


def test_catches_the_stop(env):
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    except KeyboardInterrupt:
        pass  # as a library's over-broad except would: the stop takes effect before the next check


def test_next(env):
    pass
"""


def test_a_stop_between_checks_is_a_junit_testcase_naming_the_interruption(checklist) -> None:
    path = checklist.lay_out("[env.dev]\n", {"backups": BETWEEN_CHECKS})

    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--json", "reports/run.json"],
                            cwd=path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                            timeout=120)

    assert result.returncode == pytest.ExitCode.INTERRUPTED, result.stdout + result.stderr
    suite = ET.parse(path / "reports" / "junit.xml").getroot().find("testsuite")
    assert suite.get("errors") == "1", ET.tostring(suite).decode()
    [case] = [case for case in suite.iter("testcase") if case.find("error") is not None]
    assert (case.get("classname"), case.get("name")) == ("opschecks", "interrupted")
    assert "interrupted by SIGTERM between checks" in case.find("error").get("message")
    doc = json.loads((path / "reports" / "run.json").read_text())
    assert doc["interrupted"] == {"signal": "SIGTERM", "cut_short": []}
    assert "STOPPED by SIGTERM after 1 check" in (path / "reports" / "report.html").read_text()


@pytest.mark.whole_stack
def test_sigterm_during_the_sandboxs_seeding_replaces_the_previous_green_report(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    html.write_text("<html>Needs attention — PASSED: all 3 checks passed</html>")
    junit.write_text('<testsuites><testsuite errors="0" failures="0" tests="3"/></testsuites>')
    status, output = run_and_signal(["--sandbox", "-p", "no:cacheprovider", f"--html={html}", f"--junitxml={junit}",
                                     "checks/test_pods.py"], temp, lambda line: line.startswith("sandbox: seeding"))
    assert status == pytest.ExitCode.INTERRUPTED, output
    assert "Traceback" not in output, output
    assert "interrupted by SIGTERM before any check ran" in html.read_text()
    assert ET.parse(junit).getroot().find("testsuite").get("errors") == "1"
    assert f"{html} and {junit} replaced by ones saying so" in output, output
