"""The HTML report: the run's environment, a summary by area and environment, and not a trace of a secret."""

from __future__ import annotations

import html
import json
import re
import subprocess

import pytest


pytest_plugins = ["pytester"]
AWS_SECRET = "Sandbox/SecretAccessKey+0123456789abcdef"
HOOK_SECRET = "T0001/B0002/HookSecret9876"
MONGO_PASSWORD = "Pw-in-the-uri-77"
TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
URI_ONLY_PASSWORD = "MongoOnlyPw-991"  # known only as the --mongo-uri password
KV_SECRET = "hunter2-long1"  # known to nobody: caught as the value of a key named password
SECRETS = [AWS_SECRET, HOOK_SECRET, MONGO_PASSWORD, TOKEN, URI_ONLY_PASSWORD, KV_SECRET]
# Names a secret, holds none: stays readable everywhere.
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dcp-upload-dev-secrets-AbCdEf"
CHECKS = {
    "backups": f"""
import logging, os, pytest
pytestmark = pytest.mark.daily

def test_fresh(env, report, ledger_details, record_property):
    logging.getLogger("ingest").warning("listing with key %s", os.environ["AWS_SECRET_ACCESS_KEY"])
    print("posting to", "http://127.0.0.1:9/services/{HOOK_SECRET}")
    print("bare webhook token {HOOK_SECRET}, bare --mongo-uri password {URI_ONLY_PASSWORD}")
    report.table("Newest backups {TOKEN}", ["env", "uri", "password: {KV_SECRET}", "leaked"], [
        [env.name, "mongodb://ops:{MONGO_PASSWORD}@db/admin", "password: {KV_SECRET}", "{ARN}"],
        ["{AWS_SECRET}", "{URI_ONLY_PASSWORD}", "{HOOK_SECRET}", "secretsmanager:secret {ARN}"],
        ["token={TOKEN}", None, 3, "<b>{URI_ONLY_PASSWORD}</b>"],
    ])
    report.png("Backup sizes {TOKEN}", b"\\x89PNG fake")
    ledger_details["token"] = "{TOKEN}"
    ledger_details["left_behind"] = ["secretsmanager:secret {ARN}"]
    record_property("uri", "mongodb://ops:{MONGO_PASSWORD}@db/admin")
    assert env.name != "prod", ("restore from mongodb://ops:{MONGO_PASSWORD}@db/admin failed; password: {KV_SECRET}; "
                                "left behind: secretsmanager:secret {ARN}")
""",
    "pods": """
import pytest
pytestmark = pytest.mark.sprint

@pytest.mark.skip(reason="not today")
def test_skipped(env):
    pass

def test_pods(env):
    pass
""",
}


@pytest.fixture
def project(checklist, monkeypatch: pytest.MonkeyPatch, sandbox_env):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    config = ('[env.dev]\nkube_context = "ctx-dev"\n[env.prod]\nkube_context = "ctx-prod"\n'
              f'[alerts]\nwebhook_url = "http://127.0.0.1:9/services/{HOOK_SECRET}"\ntimeout_s = 1\n')
    path = checklist.lay_out(config, CHECKS)
    subprocess.run("git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm t", shell=True,
                   cwd=path, check=True)
    return path


def _data(report: str) -> dict:
    """What pytest-html renders from: its JSON blob (environment, tests with their logs and extras)."""
    return json.loads(html.unescape(re.search(r'data-jsonblob="([^"]*)"', report).group(1)))


@pytest.mark.parametrize("xdist", [[], ["-p", "xdist", "-n", "2"]], ids=["serial", "xdist"])
def test_report_has_environment_and_summary_and_no_secret(checklist, project, xdist: list[str]) -> None:
    result = checklist.run(*xdist, f"--mongo-uri=mongodb://ops:{URI_ONLY_PASSWORD}@127.0.0.1:9/admin",
                           subprocess=True)

    result.assert_outcomes(passed=3, failed=1, skipped=2)
    report = checklist.report_html()
    junit = (project / "reports" / "junit.xml").read_text()
    ledger = (project / "reports" / "ledger.sqlite").read_bytes()
    for secret in SECRETS:
        for form in {secret, html.escape(secret), json.dumps(secret)[1:-1]}:
            assert form not in report, secret
            assert form not in junit, secret
            assert form not in result.stdout.str(), secret
            assert form.encode() not in ledger, secret
    assert "[redacted]" in report
    for where in (report, junit, result.stdout.str(), ledger.decode(errors="replace")):
        assert f"secretsmanager:secret {ARN}" in where

    data = _data(report)
    env = data["environment"]
    assert re.fullmatch(r"[0-9a-f]{40}", env["Git revision"])
    assert env["Config file"] == str(project / "opschecks.toml")
    assert env["Environments"] == "dev, prod"
    assert env["Kube contexts"] == {"dev": "ctx-dev", "prod": "ctx-prod"}
    assert env["AWS accounts"] == {"dev": "123456789012", "prod": "123456789012"}
    assert "@" in env["Runner"] and len(env["Run"]) == 12

    prefix = re.search(r'<div class="additional-summary prefix">(.*)<p class="run-count">', report, re.S).group(1)
    assert prefix.index('id="needs-attention"') < prefix.index("Checks by area and environment")  # attention first
    summary = re.search(r'<div class="opschecks-table"><p><b>Checks by area.*?</table>', prefix, re.S).group(0)
    assert "Checks by area and environment: FAILED (1 failed, 3 passed, 2 skipped)" in summary
    cells = re.findall(r"<tr>(.*?)</tr>", summary)
    assert [re.findall(r"<t[dh]>(.*?)</t[dh]>", c) for c in cells] == [
        ["area", "dev", "prod"],
        ["backups", "1 passed", "1 failed"],
        ["pods", "1 passed, 1 skipped", "1 passed, 1 skipped"],
        ["all", "2 passed, 1 skipped", "1 failed, 1 passed, 1 skipped"],
    ]
    for env_name in ("dev", "prod"):  # each env's row keeps its attached table and image
        (row,) = data["tests"][f"checks/test_backups.py::test_fresh[{env_name}]"]
        assert [(e["format_type"], "Newest backups" in e["content"]) for e in row["extras"]][:1] == [("html", True)]
        assert [e["name"] for e in row["extras"] if e["format_type"] == "image"] == ["Backup sizes [redacted]"]
        table = row["extras"][0]["content"]
        assert _cells_per_row(table) == [[4, 4, 4, 4]], table
        assert f"<td>{ARN}</td>" in table and "<td>password: [redacted]</td>" in table
    tables = _cells_per_row(report)
    assert tables and all(len(set(rows)) <= 1 for rows in tables), tables  # summary, pytest-html templates


def _cells_per_row(markup: str) -> list[list[int]]:
    """For each table in ``markup``, how many cells each of its rows has."""
    return [[len(re.findall(r"<t[dh][ >]", row)) for row in re.findall(r"<tr[ >].*?</tr>", table, re.S)]
            for table in re.findall(r"<table[ >].*?</table>", markup, re.S)]


def test_secret_key_value_pairs_and_tokens_are_redacted_by_pattern() -> None:
    from opschecks.redact import Redactor

    r = Redactor()
    assert r.text("aws_secret_access_key = abcdEFGH1234/xyz") == "aws_secret_access_key = [redacted]"
    assert r.text('{"password": "hunter2"}') == '{"password": "[redacted]"}'
    assert r.text("AKIAABCDEFGHIJKLMNOP in use") == "[redacted] in use"
    assert r.text("Authorization: Bearer abc.def.ghi123456") == "Authorization: Bearer [redacted]"
    assert r.text("https://hooks.slack.com/services/T1/B2/xyz then") == "[redacted] then"
    assert r.text("mongodb+srv://u:p@host/db") == "mongodb+srv://u:[redacted]@host/db"
    assert r.text("sandbox-dev passed") == "sandbox-dev passed"  # ordinary words stay
    assert r.text("client_secret: abc12345") == "client_secret: [redacted]"
    assert r.text("api-token=abcdef123") == "api-token=[redacted]"
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dcp-upload-dev-secrets-AbCdEf"
    assert r.text(f"left behind: secretsmanager:secret {arn}") == f"left behind: secretsmanager:secret {arn}"
    assert r.text("s3://b/secret:key/token=x") == "s3://b/secret:key/token=x"  # a path, not a key=value
    assert r.text("dumping mongodb://backup:Seen-In-Uri-1@db:27017") == "dumping mongodb://backup:[redacted]@db:27017"
    assert r.text("then the bare Seen-In-Uri-1 in a later log") == "then the bare [redacted] in a later log"
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----"
    assert r.text(f"key {pem} end") == "key [redacted] end"


def test_known_secrets_come_from_config_env_webhook_tokens_and_uri_passwords() -> None:
    from opschecks.redact import Redactor, secrets_in

    found = secrets_in({"OPSCHECKS_WEBHOOK_URL": "https://chat.example/hooks/T0001/B0002/HookToken12345",
                        "DB": "mongodb://ops:UriPw-123@db/admin", "AWS_CONFIG_FILE": "/home/me/.aws/config",
                        "alerts": {"webhook_url": "https://x.example/services"}})
    assert set(found) >= {"hooks/T0001/B0002/HookToken12345", "HookToken12345", "UriPw-123"}
    assert "/home/me/.aws/config" not in found and "services" not in found
    r = Redactor(found)
    assert r.text("token HookToken12345 alone") == "token [redacted] alone"
    assert r.known("<td>UriPw-123</td><td>x</td>") == "<td>[redacted]</td><td>x</td>"
    assert Redactor(["a<b&c-secret"]).known("<td>a&lt;b&amp;c-secret</td>") == "<td>[redacted]</td>"


def test_a_long_table_shows_twenty_rows_and_keeps_the_rest_behind_show_all() -> None:
    from opschecks.record import report

    long = report.table("Pods", ["pod", "phase"], [[f"pod-{i}", "Running"] for i in range(45)])
    shown, _, rest = long.partition('<details class="opschecks-more">')
    assert shown.count("<tr>") == 1 + 20 and "pod-19" in shown and "pod-20" not in shown
    assert "<summary>show all 45 rows (25 more)</summary>" in rest and rest.count("<tr>") == 1 + 25
    short = report.table("Pods", ["pod"], [[f"pod-{i}"] for i in range(20)])
    assert "<details" not in short and short.count("<tr>") == 21
