"""The webhook alert: one concise message per run with failures, no secrets, and never a changed outcome."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opschecks.record import alerts
from opschecks.record.attention import Attention
from opschecks.record.changes import Change, Changes
from opschecks.findings import Finding
from opschecks.redact import Redactor
from opschecks.sandbox.loopback import reply, serve, stop

pytest_plugins = ["pytester"]
HOOK_TOKEN = "T0001/B0002/WebhookSecretXyz123"
MONGO_PASSWORD = "Mongo-Pw-42x"
CHECKS = f"""
import logging
import pytest
from opschecks.findings import Finding, fail_on
pytestmark = pytest.mark.daily

def test_fresh(env):
    if env.name == "prod":
        logging.getLogger("ingest").error("dumping mongodb://backup:{MONGO_PASSWORD}@db:27017")
        fail_on([Finding("BKP001", "prod s3://ingest-db-backup/prod/", "newest backup is 30h old"
                         " (expected < 26h) via mongodb://backup:{MONGO_PASSWORD}@db:27017")])

def test_sizes(env):
    pass
"""


class Receiver:
    """A local Slack-compatible incoming webhook: records every POSTed JSON body."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/{HOOK_TOKEN}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _config(url: str, extra: str = "") -> str:
    return f'[env.dev]\n[env.prod]\n[alerts]\nwebhook_url = "{url}"\nreport_url = "https://ci.example/run/7/report.html"\n{extra}'


@pytest.mark.parametrize("xdist", [[], ["-p", "xdist", "-n", "2"]], ids=["serial", "xdist"])
def test_failures_post_one_message_with_check_env_reason_and_link_but_no_secret(
        checklist, monkeypatch: pytest.MonkeyPatch, receiver: Receiver, xdist: list[str]) -> None:
    checklist.lay_out(_config(receiver.url), {"backups": CHECKS})

    result = checklist.run(*xdist, subprocess=True)

    result.assert_outcomes(passed=3, failed=1)
    assert len(receiver.received) == 1
    path, content_type, payload = receiver.received[0]
    assert (path, content_type) == (f"/services/{HOOK_TOKEN}", "application/json")
    text = payload["text"]
    lines = text.splitlines()
    assert lines[0].startswith(":red_circle: opschecks: FAILED: 1 of 4 checks failed (1 new, 0 still failing)"
                               " · 1 task due or overdue (")
    assert lines[1:3] == ["New since the previous run (1):",
                          "  • BKP001 (critical) [prod] s3://ingest-db-backup/prod/: newest backup is 30h old (expected < 26h) via"
                          " mongodb://backup:[redacted]@db:27017"]
    assert lines[3] == "Tasks due or overdue (1):"
    assert lines[4].startswith("  • test_backups.py::test_fresh [prod] daily: failing since ")
    assert lines[5] == "Report: https://ci.example/run/7/report.html"
    assert len(lines) == 6
    assert MONGO_PASSWORD not in text and HOOK_TOKEN not in text
    result.stdout.fnmatch_lines(["opschecks: alert sent (1 failures)"])


def test_all_passing_sends_nothing_unless_asked(checklist, monkeypatch: pytest.MonkeyPatch,
                                                receiver: Receiver) -> None:
    passing = CHECKS.replace('env.name == "prod"', "False")
    checklist.lay_out(_config(receiver.url), {"backups": passing})
    checklist.run(subprocess=True).assert_outcomes(passed=4)
    assert receiver.received == []

    (checklist.path / "opschecks.toml").write_text(_config(receiver.url, "notify_on_success = true\n"))
    checklist.run(subprocess=True).assert_outcomes(passed=4)
    assert len(receiver.received) == 1
    assert receiver.received[0][2]["text"].startswith(":large_green_circle: opschecks: PASSED: all 4 checks passed (")


def test_the_environment_variable_names_the_webhook(checklist, monkeypatch: pytest.MonkeyPatch,
                                                    receiver: Receiver) -> None:
    checklist.lay_out("[env.dev]\n[env.prod]\n", {"backups": CHECKS})
    monkeypatch.setenv("OPSCHECKS_WEBHOOK_URL", receiver.url)

    checklist.run(subprocess=True).assert_outcomes(passed=3, failed=1)

    assert len(receiver.received) == 1
    assert "Report: file://" in receiver.received[0][2]["text"]  # no report_url: the report file itself


def test_an_unreachable_webhook_changes_nothing_but_says_so(checklist,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/{HOOK_TOKEN}"
    checklist.lay_out(_config(url), {"backups": CHECKS})

    result = checklist.run(subprocess=True)

    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["opschecks: alert NOT sent: webhook unreachable: ConnectionRefusedError*"])
    assert HOOK_TOKEN not in result.stdout.str()


def test_a_long_run_names_ten_findings_new_first_and_counts_the_rest() -> None:
    def change(i: int, **streak: object) -> Change:
        return Change(f"checks/test_pods.py::test_{i}", "dev", Finding("POD001", f"dev default/pod-{i}", "waiting: CrashLoopBackOff " * 30),
                      **streak)

    since = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    changes = Changes(new=[change(i) for i in range(8)], still=[change(i, since=since, runs=3) for i in range(8, 13)],
                      fixed=[change(13)])
    attention = Attention(total=40, failed=13, changes=changes, tasks=[], waivers=[])

    lines = alerts.message(attention, "ops@ci, run r1", None, Redactor())["text"].splitlines()

    assert lines[0] == ":red_circle: opschecks: FAILED: 13 of 40 checks failed (8 new, 5 still failing, 1 fixed) (ops@ci, run r1)"
    assert lines[1] == "New since the previous run (8):" and lines[2].startswith("  • POD001 (critical) [dev] default/pod-0: waiting: CrashLoopBackOff waiting")
    assert lines[10:15] == [lines[10], lines[11], lines[12], "  … and 3 more", "Fixed since the previous run (1):"]
    assert lines[10] == "Still failing (5):" and lines[11].endswith("…")
    assert lines[15] == "  … and 1 more" and len(lines) == 16
    assert all(len(line) <= alerts.MAX_REASON for line in lines)


def test_a_run_stopped_by_sigterm_is_red_and_never_reads_as_passed() -> None:
    """Every check that ran passed, but the stop left the rest unrun: not a green run."""
    attention = Attention(total=5, failed=0, changes=Changes(new=[], still=[], fixed=[]), tasks=[], waivers=[],
                          stopped="SIGTERM")

    lines = alerts.message(attention, "ops@ci, run r1", None, Redactor())["text"].splitlines()

    assert lines[0] == ":red_circle: opschecks: STOPPED by SIGTERM after 5 checks (0 failed) (ops@ci, run r1)"
    assert attention.alarming


@pytest.mark.parametrize("url", ["not a url", "hooks.slack.com/services/T0/B0/x", "ftp://hooks.example/x"])
def test_a_malformed_webhook_url_is_one_warning_and_the_report_is_still_written(
        checklist, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    checklist.lay_out("[env.dev]\n[env.prod]\n", {"backups": CHECKS})
    stale = checklist.path / "reports" / "report.html"
    stale.parent.mkdir()
    stale.write_text("the previous run's report")
    monkeypatch.setenv("OPSCHECKS_WEBHOOK_URL", url)

    result = checklist.run(subprocess=True)

    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["opschecks: alert NOT sent: webhook URL is not an http(s) URL: "
                                 "check $OPSCHECKS_WEBHOOK_URL or [alerts] webhook_url"])
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert "test_fresh" in checklist.report_html(), "this run's report replaced the stale one"


class Scripted:
    """A local webhook answering each POST with the next (status, headers, body) of its script, then 200 ok."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]]) -> None:
        answers, self.times = list(script), []
        times = self.times

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers["Content-Length"]))
                times.append(time.monotonic())
                status, headers, body = answers.pop(0) if answers else (200, {}, b"ok")
                reply(self, status, {**headers, "Content-Type": "text/plain"}, body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = serve(Handler, "scripted-webhook")
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/{HOOK_TOKEN}"

    def close(self) -> None:
        stop(self.server)
        self.server.server_close()


def _send(script: list[tuple[int, dict[str, str], bytes]], timeout_s: float = 3.0) -> tuple[str | None, Scripted, float]:
    hook = Scripted(script)
    started = time.monotonic()
    try:
        return alerts.send(hook.url, {"text": "x"}, timeout_s), hook, time.monotonic() - started
    finally:
        hook.close()


def test_a_429_is_retried_after_its_retry_after() -> None:
    problem, hook, _ = _send([(429, {"Retry-After": "0.3"}, b"rate_limited")])
    assert problem is None and len(hook.times) == 2
    assert hook.times[1] - hook.times[0] >= 0.3


def test_500_twice_then_200_is_delivered_with_back_off() -> None:
    problem, hook, _ = _send([(500, {}, b"internal_error"), (500, {}, b"internal_error")])
    assert problem is None and len(hook.times) == 3
    assert hook.times[2] - hook.times[1] > hook.times[1] - hook.times[0] >= alerts.FIRST_BACKOFF_S


@pytest.mark.parametrize(("status", "body"), [(400, b"invalid_payload"), (404, b"channel_not_found"),
                                              (410, b"channel_is_archived")])
def test_a_4xx_is_not_retried_and_the_line_quotes_slacks_error(status: int, body: bytes) -> None:
    problem, hook, _ = _send([(status, {}, body)])
    assert len(hook.times) == 1
    assert problem is not None and problem.startswith(f"webhook answered HTTP {status} ")
    assert problem.endswith(f": {body.decode()}") and "\n" not in problem


def test_retry_after_600_is_capped_by_the_send_budget() -> None:
    problem, hook, elapsed = _send([(429, {"Retry-After": "600"}, b"rate_limited")], timeout_s=2.0)
    assert problem is None and len(hook.times) == 2
    assert elapsed < 2.0


def test_a_webhook_that_keeps_failing_gives_up_within_the_budget_in_one_line() -> None:
    problem, hook, elapsed = _send([(503, {}, b"service unavailable\nretry later")] * 10, timeout_s=2.0)
    assert elapsed < 2.0 and 1 < len(hook.times) <= alerts.MAX_ATTEMPTS
    assert problem is not None and "\n" not in problem
    assert problem.startswith("webhook answered HTTP 503 Service Unavailable: service unavailable retry later (gave up "
                              f"after {len(hook.times)} attempts in ")
    assert HOOK_TOKEN not in problem


def test_an_area_the_env_skips_is_never_overdue_in_needs_attention(checklist) -> None:
    """One reader of the checklist: ``due`` leaves out a check the env skips; so does the run's summary, though
    the ledger still holds that check's old record."""
    pods = "import pytest\npytestmark = pytest.mark.daily\ndef test_pods_healthy(env):\n    assert False\n"
    backups = "import pytest\npytestmark = pytest.mark.daily\ndef test_fresh(env):\n    pass\n"
    checklist.lay_out("[env.dev]\n", {"pods": pods, "backups": backups})
    first = checklist.run(subprocess=True)
    first.assert_outcomes(passed=1, failed=1)
    first.stdout.fnmatch_lines(["*test_pods.py::test_pods_healthy [[]dev[]] daily: failing since*"])
    checklist.config('[env.dev]\nskip = ["pods"]\n')

    second = checklist.run(subprocess=True)

    second.assert_outcomes(passed=1, skipped=1)
    assert "test_pods_healthy [dev]" not in second.stdout.str()
