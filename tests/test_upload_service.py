"""The upload-service drill against the sandbox's moto: clean drill, leak, failures, Ctrl-C, prod, inventories.

moto's state is shared by every test of the session, so each test drills its own stage (its own names,
tags and prefixes) and never sees another test's resources.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from opschecks import interrupts, protection
from opschecks.areas.upload_service import inventory, upload
from opschecks.config import Config, EnvConfig, parse
from opschecks.findings import ChecksFailed, fail_on
from opschecks.record.ledger import Record
from opschecks.sandbox.upload_config import EXPECTED_TYPES, SCRIPT, upload_table
from opschecks.schema import ConfigError
from opschecks.areas.upload_service.upload import Refused
from opschecks.areas.upload_service.settings import UploadSettings

pytest_plugins = ["pytester"]
MOTO_ACCOUNT = "123456789012"  # moto's default account
PROD_ACCOUNT = "999999999999"



def drill_env(sandbox, stage: str, **changes) -> EnvConfig:  # noqa: ANN001 (the sandbox fixture)
    """The sandbox's own [env.<stage>.upload_service] table for ``stage``, parsed by the real config loader."""
    # protected = false: a test's own stage name is no known non-production name (docs/protection.md).
    text = "\n".join([f"[env.{stage}]", f'aws_account_id = "{MOTO_ACCOUNT}"', "protected = false",
                      *upload_table(stage, stage, sandbox.aws_endpoint)])
    env = parse(tomllib.loads(text), Path("test.toml")).envs[stage]
    return env.with_settings(replace(env.settings(UploadSettings), **changes))


def drill(env: EnvConfig, *others: EnvConfig, **kwargs) -> upload.Drill:
    """The drill as the check runs it, guarded by a config of ``env`` and ``others``."""
    config = Config(Path("test.toml"), {e.name: e for e in (env, *others)})
    return upload.drill(env, protection.guard(config, env), **kwargs)


def leftovers(stage: str) -> inventory.Inventory:
    """What the example service's names and tags find for ``stage`` right now."""
    return inventory.take(boto3.Session(), {"Name": ["upload"], "Env": [stage]},
                          [f"upload-{stage}-", f"dcp-upload-{stage}-"])


def codes(result: upload.Drill) -> list[str]:
    return [f.code for f in result.findings]


def test_clean_drill_passes(sandbox_env) -> None:
    result = drill(drill_env(sandbox_env, "uclean"))

    assert result.findings == []
    fail_on(result.findings)
    assert {r.type for r in result.created} == set(EXPECTED_TYPES)
    assert len(result.created) == 10  # 2 buckets and 2 queues
    assert result.before == {} and result.after == {} and result.left_behind == ()
    assert [(r.step, r.exit_code) for r in result.runs] == [("set-up", 0), ("teardown", 0)]
    assert "registered job definition upload-uclean-validation" in result.runs[0].output
    assert result.health.startswith("HTTP 200 from http://")
    secret = next(r for r in result.created if r.type == "secretsmanager:secret")
    assert secret.found_by == ("tags Env=uclean, Name=upload", "name prefix 'dcp-upload-uclean-' (secrets)")


def test_leaky_teardown_fails_naming_the_leaked_secret(sandbox_env) -> None:
    env = drill_env(sandbox_env, "uleak")
    env = env.with_settings(replace(env.settings(UploadSettings), teardown_command=[*env.settings(UploadSettings).teardown_command, "--leak"]))

    result = drill(env)

    assert codes(result) == ["UPL005"]
    [leaked] = result.left_behind
    assert leaked.type == "secretsmanager:secret"
    assert ":secret:dcp-upload-uleak-secrets-" in leaked.id
    with pytest.raises(ChecksFailed) as failed:
        fail_on(result.findings)
    message = str(failed.value)
    assert "[UPL005] uleak (us-east-1): left behind by the teardown: secretsmanager:secret arn:aws:secretsmanager:" in message
    assert "name prefix 'dcp-upload-uleak-' (secrets, pending deletion on " in message
    assert "tags Env=uleak, Name=upload" in message


def test_failing_setup_still_tears_down(sandbox_env) -> None:
    env = drill_env(sandbox_env, "ufail")
    # The real set-up creates everything, then the wrapper fails as a Terraform apply failing late would.
    wrapper = ["sh", "-c", '"$0" "$@" && echo "Error: creating RDS cluster: quota exceeded" && exit 3',
               *env.settings(UploadSettings).setup_command]

    result = drill(env.with_settings(replace(env.settings(UploadSettings), setup_command=wrapper)))

    assert codes(result) == ["UPL001"]
    assert "set-up exit status 3" in result.findings[0].message
    assert "(last output: Error: creating RDS cluster: quota exceeded)" in result.findings[0].message
    assert result.runs[1].step == "teardown" and result.runs[1].ok
    assert "deleted REST API upload-ufail-api" in result.runs[1].output
    assert leftovers("ufail") == {}


def test_setup_timeout_kills_its_process_group_and_tears_down(sandbox_env, tmp_path: Path) -> None:
    env = drill_env(sandbox_env, "utime", setup_timeout_s=1.0)
    pidfile = tmp_path / "grandchild.pid"
    hang = ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; echo waiting for Aurora; wait"]
    started = time.monotonic()

    result = drill(env.with_settings(replace(env.settings(UploadSettings), setup_command=hang)))

    assert time.monotonic() - started < 30
    assert codes(result) == ["UPL001"]
    assert "set-up timed out after 1s" in result.findings[0].message
    assert "waiting for Aurora" in result.runs[0].output
    assert result.runs[1].ok
    assert not _alive(int(pidfile.read_text()))


def test_unhealthy_service_fails_and_still_tears_down(sandbox_env) -> None:
    env = drill_env(sandbox_env, "uhealth", health_timeout_s=1.0)
    url = env.settings(UploadSettings).health_url.replace("health.json", "missing.json")

    result = drill(env.with_settings(replace(env.settings(UploadSettings), health_url=url)))

    assert codes(result) == ["UPL002"]
    assert f"health URL {url} did not answer 2xx within 1s: HTTP 40" in result.findings[0].message
    assert len(result.created) == 10 and result.left_behind == ()


def test_setup_that_creates_nothing_visible_fails(sandbox_env) -> None:
    env = drill_env(sandbox_env, "unone", health_url=None, setup_command=[sys.executable, "-c", "print('noop')"])

    result = drill(env)

    assert codes(result) == ["UPL003"]
    assert "the set-up created nothing the drill can see" in result.findings[0].message


def test_missing_expected_type_fails(sandbox_env) -> None:
    env = drill_env(sandbox_env, "uexpect", expected_types=["s3:bucket", "rds:cluster"])

    result = drill(env)

    assert codes(result) == ["UPL003"]
    assert "expected the set-up to create a rds:cluster, found none" in result.findings[0].message


def test_failing_teardown_fails_and_names_what_it_left(sandbox_env) -> None:
    env = drill_env(sandbox_env, "uteardown")
    broken = [sys.executable, "-c", "import sys; print('AccessDenied: iam:DeleteRole'); sys.exit(1)"]

    result = drill(env.with_settings(replace(env.settings(UploadSettings), teardown_command=broken)))

    assert codes(result) == ["UPL004"] + ["UPL005"] * 10
    assert "teardown exit status 1" in result.findings[0].message
    assert "(last output: AccessDenied: iam:DeleteRole)" in result.findings[0].message
    upload.run("clean-up", drill_env(sandbox_env, "uteardown").settings(UploadSettings).teardown_command, 60, None, env)
    assert leftovers("uteardown") == {}


def test_ctrl_c_during_setup_still_tears_down(sandbox_env, caplog: pytest.LogCaptureFixture) -> None:
    env = drill_env(sandbox_env, "uintr")
    # The set-up really creates the service, then the operator presses Ctrl-C while it "waits".
    interrupted_setup = [sys.executable, "-c", (
        "import os, signal, subprocess, time; "
        f"subprocess.run({env.settings(UploadSettings).setup_command!r}, check=True); "
        "os.kill(os.getppid(), signal.SIGINT); time.sleep(60)")]
    caplog.set_level("INFO", logger="opschecks.areas.upload_service.upload")

    with pytest.raises(KeyboardInterrupt):
        drill(env.with_settings(replace(env.settings(UploadSettings), setup_command=interrupted_setup)))
    interrupts.forget()  # caught here on purpose: the suite's own run goes on (fixtures/signals.py)

    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["set-up", "teardown"]
    assert leftovers("uintr") == {}


def test_ctrl_c_during_teardown_lets_it_finish(sandbox_env, caplog: pytest.LogCaptureFixture) -> None:
    env = drill_env(sandbox_env, "uintr2")
    interrupted_teardown = [sys.executable, "-c", (
        "import os, signal, subprocess, time; "
        "os.kill(os.getppid(), signal.SIGINT); time.sleep(0.5); "
        f"subprocess.run({env.settings(UploadSettings).teardown_command!r}, check=True)")]

    with pytest.raises(KeyboardInterrupt):
        drill(env.with_settings(replace(env.settings(UploadSettings), teardown_command=interrupted_teardown)))
    interrupts.forget()  # caught here on purpose: the suite's own run goes on (fixtures/signals.py)

    assert "Ctrl-C: the teardown goes on to its end, then the run stops" in caplog.text
    assert leftovers("uintr2") == {}


def test_sigterm_to_the_run_during_setup_still_tears_down(sandbox_env, checklist) -> None:
    """A real SIGTERM (Kubernetes' activeDeadlineSeconds, CI cancellation) to the pytest process while the set-up
    runs: the teardown runs, nothing is left in the account, the set-up's process group is gone."""
    stage = "usigterm"
    ready = checklist.path / "set-up-done"
    slow_setup = [sys.executable, "-c", (
        "import pathlib, subprocess, time; "
        f"subprocess.run({drill_env(sandbox_env, stage).settings(UploadSettings).setup_command!r}, check=True); "
        f"pathlib.Path({str(ready)!r}).touch(); time.sleep(120)")]
    checklist.check("upload_service")
    table = upload_table(stage, stage, sandbox_env.aws_endpoint)
    table[1] = f"setup_command = {json.dumps(slow_setup)}"
    checklist.config("\n".join([f'[ledger]\npath = "{checklist.path / "ledger.sqlite"}"', f"[env.{stage}]",
                                 f'aws_account_id = "{MOTO_ACCOUNT}"', "protected = false", *table]))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-m", "sprint"], cwd=checklist.path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the set-up did not get going"
            time.sleep(0.05)
        assert leftovers(stage), "the set-up created the service"
        os.kill(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "SIGTERM: stopping as for Ctrl-C" in output
    assert leftovers(stage) == {}
    assert not any(str(ready) in cmd for cmd in _all_cmdlines()), "the set-up's process is gone"


def _all_cmdlines() -> list[str]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # it ended while we looked
            pass
    return found


def _earlier_leftovers(stage: str) -> dict[str, str]:
    """What earlier drills of ``stage`` left (a queue the set-up reuses and the teardown deletes, one it does not
    know any more, a role), and one long-lived bucket the team shares: ARNs by role."""
    tags = {"Name": "upload", "Env": stage}
    sqs = boto3.client("sqs")
    queue_arn, dlq_arn = (
        sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName=name, tags=tags)["QueueUrl"],
                                 AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for name in (f"upload-{stage}-checksum-events", f"upload-{stage}-validation-dlq"))
    role = boto3.client("iam").create_role(RoleName=f"upload-{stage}-old-lambda", AssumeRolePolicyDocument="{}")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=f"upload-{stage}-access-logs")
    s3.put_bucket_tagging(Bucket=f"upload-{stage}-access-logs",
                          Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
    return {"queue": queue_arn, "dlq": dlq_arn, "role": role["Role"]["Arn"],
            "shared": f"arn:aws:s3:::upload-{stage}-access-logs"}


def _drill_record(stage: str, started: dt.datetime, left_behind: list[str]) -> Record:
    return Record(check="checks/test_upload_service.py::test_upload_drill", env=stage, outcome="failed",
                  started=started, duration_s=300.0, runner="ops@laptop", details={"left_behind": left_behind},
                  cadences=("sprint",))


def test_leftovers_of_earlier_drills_fail_with_their_age(sandbox_env) -> None:
    """An earlier drill's leak is in the "before" inventory too: it must not become the new normal."""
    arns = _earlier_leftovers("uold")
    now = dt.datetime.now(dt.timezone.utc)
    history = [_drill_record("uold", now - dt.timedelta(days=14), [f"sqs:queue {arns['queue']}"]),
               _drill_record("uold", now - dt.timedelta(days=28), [])]
    env = drill_env(sandbox_env, "uold", shared_resources=["arn:aws:s3:::upload-uold-access-*"])

    result = drill(env, history=history, now=now)

    assert codes(result) == ["UPL007", "UPL007"]
    assert [r.id for r in result.earlier] == [arns["role"], arns["queue"]]
    assert result.left_behind == () and result.gone == ()
    assert [r.id for r in result.cleaned] == [arns["dlq"]]  # reused by the set-up, deleted by the teardown: fine
    role, queue = (f.message for f in result.findings)
    assert role.startswith(f"still there after this drill's teardown: iam:role {arns['role']} (found by name prefix")
    assert "found before this drill's set-up, in no earlier drill's record: created " in role
    assert "(an earlier drill's leak, or a long-lived resource to declare in shared_resources)" in role
    assert queue.endswith(f"left behind by an earlier drill: first reported by the drill of "
                          f"{now - dt.timedelta(days=14):%Y-%m-%d %H:%M} UTC by ops@laptop, 14 days ago")
    assert result.summary()["earlier_leftovers"] == [f"iam:role {arns['role']}", f"sqs:queue {arns['queue']}"]


def test_a_teardown_deleting_a_declared_shared_resource_fails(sandbox_env) -> None:
    arns = _earlier_leftovers("ushared")
    env = drill_env(sandbox_env, "ushared", shared_resources=[arns["shared"], arns["queue"], arns["role"]])
    wipe = [sys.executable, "-c", 'import boto3; boto3.client("s3").delete_bucket(Bucket="upload-ushared-access-logs")']
    teardown = ["sh", "-c", '"$0" "$@" && ' + " ".join(f"'{a}'" for a in wipe), *env.settings(UploadSettings).teardown_command]

    result = drill(env.with_settings(replace(env.settings(UploadSettings), teardown_command=teardown)))

    assert codes(result) == ["UPL006"]
    assert result.findings[0].message.startswith(
        f"declared shared, existed before the drill, gone after it: s3:bucket {arns['shared']}")


@pytest.mark.parametrize(("name", "table", "why"), [
    ("prod", {}, "its name looks like production"),
    ("production", {}, "its name looks like production"),
    ("sandbox", {"protected": True}, "it says protected = true"),
])
def test_a_protected_env_is_refused_whatever_its_config_says(tmp_path: Path, name: str, table: dict,
                                                              why: str) -> None:
    ran = tmp_path / "ran"
    settings = UploadSettings(setup_command=["touch", str(ran)], teardown_command=["touch", str(ran)],
                              name_prefixes=[f"upload-{name}-"])

    with pytest.raises(Refused) as refused:
        drill(EnvConfig(name=name, aws_account_id=MOTO_ACCOUNT, **table, area_settings=(settings,)))

    assert str(refused.value) == (f"refusing the upload drill in env {name} (account {MOTO_ACCOUNT}): {why}"
                                  + str(refused.value).split(why, 1)[1])
    assert "\n" not in str(refused.value)
    assert not ran.exists()


def test_an_env_sharing_a_protected_envs_account_is_refused(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    settings = UploadSettings(setup_command=["touch", str(ran)], teardown_command=["true"], name_prefixes=["x-"])
    with pytest.raises(Refused, match=r"in env dev \(account 123456789012\): its account is also protected env "
                                      r"live's"):
        drill(EnvConfig(name="dev", aws_account_id=MOTO_ACCOUNT, area_settings=(settings,)),
              EnvConfig(name="live", aws_account_id=MOTO_ACCOUNT))
    assert not ran.exists()


def test_credentials_of_the_production_account_are_refused_in_dev(sandbox_env, tmp_path: Path) -> None:
    """The env says dev; the credentials are the production account's. STS tells, before anything runs."""
    ran = tmp_path / "ran"
    env = drill_env(sandbox_env, "uprodcreds", setup_command=["touch", str(ran)])
    prod = EnvConfig(name="prod", aws_account_id=PROD_ACCOUNT)
    with pytest.MonkeyPatch.context() as credentials:
        use_account(credentials, PROD_ACCOUNT)
        with pytest.raises(Refused) as refused:
            drill(env, prod)
        with pytest.raises(Refused, match=f"reach account {PROD_ACCOUNT} instead"):
            drill(env)  # no protected env declares that account: it is still not the env's
    assert str(refused.value) == (f"refusing the upload drill in env uprodcreds (account {MOTO_ACCOUNT}): its "
                                  f"credentials reach account {PROD_ACCOUNT}, which is protected env prod's")
    assert not ran.exists()


def test_an_env_without_an_account_id_is_refused(tmp_path: Path) -> None:
    settings = UploadSettings(setup_command=["true"], teardown_command=["true"], name_prefixes=["x-"])
    with pytest.raises(Refused, match=r"refusing the upload drill in env dev \(account not declared\): set "
                                      r"aws_account_id in \[env.dev\]"):
        drill(EnvConfig(name="dev", area_settings=(settings,)))


def use_account(monkeypatch: pytest.MonkeyPatch, account: str) -> None:
    """Credentials of another account, as moto hands them out for an assumed role in it."""
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/ops", RoleSessionName="opschecks")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])


def test_drill_without_filters_is_refused(tmp_path: Path) -> None:
    settings = UploadSettings(setup_command=["true"], teardown_command=["true"])
    with pytest.raises(Refused, match="set tag_filters or name_prefixes"):
        drill(EnvConfig(name="dev", area_settings=(settings,)))


def test_check_drills_configured_envs_and_refuses_prod(sandbox_env, checklist) -> None:
    """End to end: dev is drilled and passes, prod (configured anyway) fails in one line, staging has no row."""
    checklist.check("upload_service")
    setup_prod = [sys.executable, str(SCRIPT), "setup", "--stage", "ue2eprod"]  # would leave it all if run
    config = checklist.path / "opschecks.toml"
    config.write_text("\n".join([
        "[ledger]", f'path = "{checklist.path / "ledger.sqlite"}"',
        "[env.ue2e]", f'aws_account_id = "{MOTO_ACCOUNT}"', "protected = false",
        *upload_table("ue2e", "ue2e", sandbox_env.aws_endpoint),
        "[env.staging]",
        "[env.prod.upload_service]", f"setup_command = {json.dumps(setup_prod)}", 'teardown_command = ["true"]',
        'name_prefixes = ["upload-ue2eprod-"]',
    ]) + "\n")

    result = checklist.run("--config", str(config), "-rA")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "PASSED checks/test_upload_service.py::test_upload_drill[[]ue2e[]]",
        "FAILED checks/test_upload_service.py::test_upload_drill[[]prod[]]*",
    ])
    result.stdout.fnmatch_lines(["[[]prod[]] refusing the upload drill in env prod (account not declared): its name "
                                 "looks like production*"])
    assert "test_upload_drill[staging]" not in result.stdout.str()
    assert leftovers("ue2eprod") == {}


def test_a_leaked_secret_is_named_by_its_arn_everywhere(sandbox_env, checklist) -> None:
    """UPL005 names the leaked secret's ARN in the terminal, the report, JUnit, the ledger and the webhook:
    an ARN names a secret, it is not one, and redaction leaves it readable."""
    received: list[str] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["text"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    checklist.check("upload_service")
    table = upload_table("ue2eleak", "ue2eleak", sandbox_env.aws_endpoint)
    table = [line.replace('"ue2eleak"]', '"ue2eleak", "--leak"]') if line.startswith("teardown_command") else line
             for line in table]
    config = checklist.path / "opschecks.toml"
    config.write_text("\n".join([
        "[ledger]", f'path = "{checklist.path / "ledger.sqlite"}"',
        "[alerts]", f'webhook_url = "http://127.0.0.1:{server.server_port}/services/T0001/B0002/HookToken12345"',
        "[env.ue2eleak]", f'aws_account_id = "{MOTO_ACCOUNT}"', "protected = false", *table,
    ]) + "\n")
    try:
        result = checklist.run("--config", str(config), "-rA", subprocess=True)
    finally:
        server.shutdown()
        server.server_close()

    result.assert_outcomes(failed=1)
    named = f"secretsmanager:secret arn:aws:secretsmanager:us-east-1:{MOTO_ACCOUNT}:secret:dcp-upload-ue2eleak-secrets-"
    reports = checklist.path / "reports"
    for where, text in [("terminal", result.stdout.str()), ("report", checklist.report_html()),
                        ("junit", (reports / "junit.xml").read_text()),
                        ("ledger", (checklist.path / "ledger.sqlite").read_bytes().decode(errors="replace")),
                        ("webhook", "".join(received))]:
        assert named in text, where
        assert "secretsmanager:[redacted]" not in text, where


def test_check_without_any_configured_env_fails_saying_what_to_configure(checklist) -> None:
    """The shipped config has no upload table: `pytest -m sprint --env dev` must not be a green "1 skipped"."""
    checklist.check("upload_service")
    config = checklist.path / "opschecks.toml"
    config.write_text(f'[ledger]\npath = "{checklist.path / "ledger.sqlite"}"\n[env.dev]\n[env.staging]\n[env.prod]\n')

    result = checklist.run(f"--config={config}", "-m", "sprint", "--env", "dev", "--env", "staging")

    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "the upload_service drill is not configured for any selected env (dev, staging): add an "
        f"[[]env.<name>.upload_service[]] table to {config} (see docs/upload_service.md), "
        'or skip = [[]"upload_service"[]] in the envs that must never run it',
        "FAILED checks/test_upload_service.py::test_upload_drill[[]no-env-configured[]]*"])
    assert "1 test took" in checklist.report_html()

    # Only prod selected (where the drill never runs), or every env opting out: one skipped row, saying so.
    result = checklist.run(f"--config={config}", "--env", "prod", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED * the upload_service drill runs in no selected env: prod is protected or skip "
                                 f"it in {config}"])
    config.write_text('[defaults]\nskip = ["upload_service"]\n[env.dev]\n')
    checklist.run(f"--config={config}").assert_outcomes(skipped=1)


# Inventory: how resources are found, typed and compared.

@pytest.mark.parametrize(("arn", "kind"), [
    ("arn:aws:s3:::upload-dev-area", "s3:bucket"),
    ("arn:aws:sqs:us-east-1:123456789012:upload-dev-validation", "sqs:queue"),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:dcp-upload-dev-secrets-AbCdEf", "secretsmanager:secret"),
    ("arn:aws:iam::123456789012:role/upload-dev-api-lambda", "iam:role"),
    ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/upload-dev-api", "logs:log-group"),
    ("arn:aws:lambda:us-east-1:123456789012:function:upload-dev-api", "lambda:function"),
    ("arn:aws:apigateway:us-east-1::/restapis/a1b2c3", "apigateway:restapis"),
    ("arn:aws:batch:us-east-1:123456789012:job-definition/upload-dev-validation:3", "batch:job-definition"),
    ("arn:aws:events:us-east-1:123456789012:rule/upload-dev-cron", "events:rule"),
    ("not-an-arn", "unknown"),
])
def test_arn_type(arn: str, kind: str) -> None:
    assert inventory.arn_type(arn) == kind


@pytest.mark.parametrize(("name", "expected"), [
    ("upload-dev-api", "upload-dev-"),
    ("/aws/lambda/upload-dev-api", "upload-dev-"),
    ("dcp/upload/dev/secrets", "dcp/upload/dev/"),
    ("dcp-upload-dev-secrets", "dcp-upload-dev-"),
    ("my-upload-dev-api", None),
    ("upload-devx", None),
])
def test_name_matches_prefix_or_path_part(name: str, expected: str | None) -> None:
    assert inventory.matches(name, ["upload-dev-", "dcp-upload-dev-", "dcp/upload/dev/"]) == expected


def test_diff_names_added_and_removed() -> None:
    def res(arn: str) -> inventory.Resource:
        return inventory.Resource(inventory.arn_type(arn), arn, ("tags Env=dev",))

    kept, leaked, deleted = (res("arn:aws:s3:::upload-dev-area"), res("arn:aws:iam::1:role/upload-dev-batch"),
                             res("arn:aws:sqs:us-east-1:1:upload-dev-shared"))
    before = {kept.id: kept, deleted.id: deleted}
    after = {kept.id: kept, leaked.id: leaked}

    changes = inventory.diff(before, after)

    assert changes.added == (leaked,) and changes.removed == (deleted,)
    assert inventory.diff(before, dict(before)) == inventory.Diff((), ())
    assert str(leaked) == "iam:role arn:aws:iam::1:role/upload-dev-batch (found by tags Env=dev)"


def test_inventory_finds_by_tags_and_by_name_prefix(sandbox_env) -> None:
    sess = boto3.Session()
    tags = [{"Key": "Name", "Value": "uinv"}]
    iam, apigw, batch = sess.client("iam"), sess.client("apigateway"), sess.client("batch")
    secrets, logs, sqs, s3 = (sess.client(s) for s in ("secretsmanager", "logs", "sqs", "s3"))
    role = iam.create_role(RoleName="uinv-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam.create_role(RoleName="not-uinv-role", AssumeRolePolicyDocument="{}")
    api = apigw.create_rest_api(name="uinv-api")["id"]
    job = batch.register_job_definition(jobDefinitionName="uinv-job", type="container",
                                        containerProperties={"image": "x", "vcpus": 1, "memory": 128})
    old = batch.register_job_definition(jobDefinitionName="uinv-old", type="container",
                                        containerProperties={"image": "x", "vcpus": 1, "memory": 128})
    batch.deregister_job_definition(jobDefinition=old["jobDefinitionArn"])
    secret = secrets.create_secret(Name="uinv-secret", SecretString="s", Tags=tags)["ARN"]
    pending = secrets.create_secret(Name="uinv-pending", SecretString="s")["ARN"]
    secrets.delete_secret(SecretId=pending, RecoveryWindowInDays=7)
    logs.create_log_group(logGroupName="/aws/lambda/uinv-fn")
    queue = sqs.create_queue(QueueName="tagged-only-uinv-queue", tags={"Name": "uinv"})["QueueUrl"]
    s3.create_bucket(Bucket="other-uinv-bucket")

    found = inventory.take(sess, {"Name": ["uinv"]}, ["uinv-"])

    by_type = {(r.type, r.id.rsplit(":", 1)[-1].rsplit("/", 1)[-1]): r.found_by for r in found.values()}
    queue_name = queue.rsplit("/", 1)[-1]
    assert by_type == {
        ("iam:role", "uinv-role"): ("name prefix 'uinv-' (IAM roles)",),
        ("apigateway:restapis", api): ("name prefix 'uinv-' (REST APIs)",),
        ("batch:job-definition", "1"): ("name prefix 'uinv-' (ACTIVE Batch job definitions)",),
        ("secretsmanager:secret", secret.rsplit(":", 1)[-1]): ("tags Name=uinv", "name prefix 'uinv-' (secrets)"),
        ("secretsmanager:secret", pending.rsplit(":", 1)[-1]): (
            found[pending].found_by[0],),
        ("logs:log-group", "uinv-fn"): ("name prefix 'uinv-' (log groups)",),
        ("sqs:queue", queue_name): ("tags Name=uinv",),
    }
    assert found[pending].found_by[0].startswith("name prefix 'uinv-' (secrets, pending deletion on ")
    assert role in found and job["jobDefinitionArn"] in found and old["jobDefinitionArn"] not in found


def test_settings_from_toml_accept_a_tag_value_or_a_list(tmp_path: Path) -> None:
    text = """
[env.dev.upload_service]
setup_command = ["make", "deploy"]
teardown_command = ["make", "destroy"]
tag_filters = { Name = "upload", Env = ["dev", "development"] }
"""
    settings = parse(tomllib.loads(text), tmp_path / "c.toml").envs["dev"].settings(UploadSettings)
    assert settings.filters == {"Name": ["upload"], "Env": ["dev", "development"]}
    assert settings.setup_timeout_s == settings.teardown_timeout_s == 3600.0 and settings.health_url is None
    assert not parse(tomllib.loads("[env.staging]\n"), tmp_path / "c.toml").envs["staging"].configured(UploadSettings)


def test_settings_without_teardown_command_are_a_config_error(tmp_path: Path) -> None:
    text = '[env.dev.upload_service]\nsetup_command = ["make", "deploy"]\n'
    with pytest.raises(ConfigError, match=r"env.dev.upload_service: missing required key 'teardown_command'"):
        parse(tomllib.loads(text), tmp_path / "c.toml")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())
