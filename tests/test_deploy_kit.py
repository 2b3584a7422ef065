"""The deployment kit is complete: what an operator fills in is a named placeholder, filled it runs, left it fails
in one line; the IAM trust and the shared buckets' policies admit exactly what the shipped code and manifests need.

- Each overlay (deploy/kubernetes/overlays/<env>), rendered by the real `kubectl kustomize`, carries a config that
  the suite's own loader reads. Its placeholders filled in (as an operator would, in a copy of the tree), the
  suite's own guard (opschecks/protection.py) lets the upload drill and cleanup write in dev and staging, after STS
  says the credentials of the role the ServiceAccount names reach the declared account, and refuses prod. Left in,
  loading the config fails in one line naming the key and the placeholder.
- The CI workflow's config (.github/opschecks.toml) the same way, for every environment the workflow runs.
- Each ServiceAccount's role trusts that ServiceAccount through IRSA, and no other.
- The ledger and reports bucket policies grant each account's roles what opschecks/record/ledger.py and
  opschecks/record/publish.py request (their static call sites, tests/iam_static.py, and the requests the real code
  makes, recorded against moto), under the configured prefix only.
"""

from __future__ import annotations

import atexit
import copy
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from opschecks import aws, call_sites, permissions, protection
from opschecks.record import ledger, publish
from opschecks.areas.upload_service import upload
from opschecks.config import Config, load
from opschecks.schema import ConfigError
from tests import iam_static
from tests.iam_eval import Request, allowed
from tests.kustomize import KUBERNETES, OVERLAYS, ROOT, render

PLACEHOLDER = re.compile(r"REPLACE_WITH_[A-Z0-9_]+")
# What a test fills in for each placeholder an operator fills in (docs/deploy.md's checklist lists them all).
ACCOUNTS = {"dev": "210987654321", "staging": "320987654321", "prod": "430987654321"}
FILLED = {f"REPLACE_WITH_{env.upper()}_ACCOUNT_ID": account for env, account in ACCOUNTS.items()}
FILLED |= {"REPLACE_WITH_ACCOUNT_ID": "210987654321", "REPLACE_WITH_REGION": "us-east-1",
           "REPLACE_WITH_OIDC_ID": "EXAMPLED539D4633E53DE1B71EXAMPLE"}
WORKFLOW = ROOT / ".github" / "workflows" / "opschecks.yml"
CI_CONFIG = ROOT / ".github" / "opschecks.toml"
NAMESPACE = "opschecks"
# The role each ServiceAccount's annotation names -> the trust policy it is created with (docs/deploy.md, section 3).
TRUST = {"opschecks-checks": "trust-policy.json", "opschecks-upload-drill": "upload-drill-trust-policy.json"}
S3_POLICIES = ROOT / "deploy" / "s3"
LEDGER_BUCKET, REPORTS_BUCKET, PREFIX = "ingest-ops-ledger", "ingest-ops-reports", "opschecks"


def fill(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: FILLED[m.group()], text)


@cache
def _filled_tree() -> Path:
    """A copy of deploy/kubernetes with every placeholder filled in, as `sed -i` in the overlays would."""
    tmp = Path(tempfile.mkdtemp(prefix="opschecks-kustomize-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    shutil.copytree(KUBERNETES, tmp / "kubernetes")
    for path in (tmp / "kubernetes").rglob("*"):
        if path.is_file():
            path.write_text(fill(path.read_text()))
    return tmp / "kubernetes"


@cache
def _render_filled(overlay: str) -> tuple[dict, ...]:
    out = subprocess.run([shutil.which("kubectl") or "kubectl", "kustomize", str(_filled_tree() / "overlays" / overlay)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"kubectl kustomize overlays/{overlay} (filled in): {out.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def render_filled(overlay: str) -> list[dict]:
    """``overlay`` rendered by `kubectl kustomize` with its placeholders filled in (what `kubectl apply -k` applies)."""
    return copy.deepcopy(list(_render_filled(overlay)))


def _config_text(docs: list[dict]) -> str:
    [config_map] = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("opschecks-config-")]
    return config_map["data"]["opschecks.toml"]


def _load(text: str, tmp_path: Path) -> Config:
    path = tmp_path / "opschecks.toml"
    path.write_text(text)
    return load(path)


def _role_arns(docs: list[dict]) -> dict[str, str]:
    return {d["metadata"]["name"]: d["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            for d in docs if d["kind"] == "ServiceAccount"}


def _session_of(role_arn: str) -> boto3.Session:
    """Credentials of ``role_arn`` (moto): STS says they are in the role's account, as IRSA's would be."""
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=role_arn, RoleSessionName="opschecks-test")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name="us-east-1")


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


# --- placeholders ------------------------------------------------------------------------------------------

def _shipped_placeholders() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in [*(ROOT / "deploy").rglob("*"), *(ROOT / ".github").rglob("*")]:
        if path.is_file():
            for token in PLACEHOLDER.findall(path.read_text()):
                found.setdefault(token, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_placeholder_is_in_the_checklist() -> None:
    """What an operator must fill in is each named in docs/deploy.md's checklist, with where it is."""
    shipped = _shipped_placeholders()
    assert set(FILLED) <= set(shipped), f"placeholders this test fills that nothing ships: {set(FILLED) - set(shipped)}"
    assert set(shipped) <= set(FILLED), f"placeholders nobody fills in here (add them to FILLED): {set(shipped) - set(FILLED)}"
    checklist = (ROOT / "docs" / "deploy.md").read_text().split("## Checklist", 1)
    assert len(checklist) == 2, "docs/deploy.md has a '## Checklist' section"
    rows = [line for line in checklist[1].split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    for token, paths in shipped.items():
        [row] = [r for r in rows if f"`{token}`" in r] or [None]
        assert row, f"docs/deploy.md's checklist does not name {token} (in {sorted(paths)})"
        unnamed = [p for p in paths if not any(part in row for part in (p, str(Path(p).parent) + "/"))]
        assert not unnamed, f"the checklist's row of {token} does not say it is in {unnamed}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_filled_in_overlay_renders_without_placeholders_and_one_account(overlay: str, tmp_path: Path) -> None:
    docs = render_filled(overlay)
    assert not PLACEHOLDER.search(json.dumps(docs)), "every placeholder is filled by FILLED"
    config = _load(_config_text(docs), tmp_path)
    [env] = config.envs.values()
    accounts = {arn.split(":")[4] for arn in _role_arns(docs).values()}
    assert accounts == {env.aws_account_id} == {ACCOUNTS[overlay]}, \
        "the config's aws_account_id is the account of the roles its ServiceAccounts assume"


@pytest.mark.parametrize("overlay", ["dev", "staging"])
def test_a_filled_in_dev_or_staging_overlay_is_a_target_the_drill_and_cleanup_may_write(
        overlay: str, tmp_path: Path, moto_aws) -> None:
    docs = render_filled(overlay)
    config = _load(_config_text(docs), tmp_path)
    env = config.envs[overlay]
    upload.refuse(env)  # an upload drill is configured: no "not configured"
    arns = _role_arns(docs)
    guard = protection.guard(config, env)
    drill = _session_of(arns["opschecks-drill"])
    assert guard.check(lambda: drill, "the upload drill") == ACCOUNTS[overlay]
    assert guard.check(lambda: drill, "cleanup") == ACCOUNTS[overlay]
    protection.verify_account(env, _session_of(arns["opschecks"]))  # the read-only checks judge this account
    # and the guard still proves it: another environment's credentials are refused
    other = _session_of(f"arn:aws:iam::{ACCOUNTS['prod']}:role/opschecks-checks")
    with pytest.raises(protection.Refused, match=f"reach account {ACCOUNTS['prod']} instead"):
        guard.check(lambda: other, "the upload drill")


def test_a_filled_in_prod_overlay_is_protected(tmp_path: Path, moto_aws) -> None:
    docs = render_filled("prod")
    config = _load(_config_text(docs), tmp_path)
    env = config.envs["prod"]
    guard = protection.guard(config, env)
    for action in ("the upload drill", "cleanup"):
        with pytest.raises(protection.Refused, match=rf"^refusing {action} in env prod \(account {ACCOUNTS['prod']}\): "
                                                     "it says protected = true"):
            guard.check(lambda: pytest.fail("a protected env is refused before any STS call"), action)
    protection.verify_account(env, _session_of(_role_arns(docs)["opschecks"]))


def _one_line_error(text: str, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(text, tmp_path)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_overlay_with_its_placeholder_left_fails_in_one_line_naming_it(overlay: str, tmp_path: Path) -> None:
    token = f"REPLACE_WITH_{overlay.upper()}_ACCOUNT_ID"
    text = _config_text(render(overlay))
    message = _one_line_error(text, tmp_path)
    assert f"env.{overlay}.aws_account_id" in message and token in message, message
    # As the pod would: the CronJob's pytest stops in that one line, no traceback.
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             f"--config={tmp_path / 'opschecks.toml'}", "-m", "daily"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert [line for line in output.splitlines() if token in line] == [f"ERROR: {message}"], output[-3000:]
    assert "Traceback" not in output, output[-3000:]


# --- the CI workflow ---------------------------------------------------------------------------------------

def _workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the bare key `on` as a boolean
    return data


def _workflow_envs() -> dict[str, list[str]]:
    """cadence -> the environments the plan job runs it in."""
    plan = _workflow()["jobs"]["plan"]["steps"][0]["run"]
    envs = {"sprint": json.loads(re.search(r'"\$cadence" = sprint \]; then envs=\'(\[.*?\])\'', plan).group(1))}
    envs["daily"] = envs["monthly"] = json.loads(re.search(r"else envs='(\[.*?\])'; fi", plan).group(1))
    return envs


def test_the_workflow_runs_with_its_own_config() -> None:
    checks = _workflow()["jobs"]["checks"]
    assert checks["env"]["OPSCHECKS_CONFIG"] == str(CI_CONFIG.relative_to(ROOT)), \
        "the repository's root opschecks.toml has no accounts and no upload tables"
    assert "--config" not in " ".join(s.get("run", "") for s in checks["steps"]), "one config, set once"


def test_the_filled_in_workflow_config_runs_every_cadence_where_the_workflow_sends_it(tmp_path: Path, moto_aws) -> None:
    config = _load(fill(CI_CONFIG.read_text()), tmp_path)
    envs = _workflow_envs()
    assert set(envs["daily"]) == set(config.envs) == set(ACCOUNTS)
    kubeconfig = next(s["run"] for s in _workflow()["jobs"]["checks"]["steps"]
                      if s.get("name") == "Kubernetes context for the environment's cluster")
    for name, env in config.envs.items():
        assert env.aws_account_id == ACCOUNTS[name]
        assert env.kube_context == kubeconfig.split('--alias "')[1].split('"')[0].replace("$OPSCHECKS_ENV", name), \
            "the context is the alias `aws eks update-kubeconfig` gives the cluster"
        guard = protection.guard(config, env)
        if name in envs["sprint"]:
            upload.refuse(env)
            session = _session_of(f"arn:aws:iam::{ACCOUNTS[name]}:role/opschecks-upload-drill")
            assert guard.check(lambda: session, "the upload drill") == ACCOUNTS[name]
        else:
            with pytest.raises(protection.Refused, match="protected"):
                guard.check(lambda: pytest.fail("refused before STS"), "the upload drill")
    assert config.ledger.s3_uri == f"s3://{LEDGER_BUCKET}/{PREFIX}", "the shared ledger, as the clusters' overlays"


def test_the_workflow_config_with_a_placeholder_left_fails_in_one_line_naming_it(tmp_path: Path) -> None:
    text = CI_CONFIG.read_text()
    for env in ACCOUNTS:
        token = f"REPLACE_WITH_{env.upper()}_ACCOUNT_ID"
        others = text.replace(token, "\0")
        message = _one_line_error(fill(others).replace("\0", token), tmp_path)
        assert f"env.{env}.aws_account_id" in message and token in message, message


@pytest.mark.parametrize(("cadence", "var"), [("daily", "OPSCHECKS_ROLE_ARN"), ("sprint", "OPSCHECKS_DRILL_ROLE_ARN")])
def test_the_workflow_stops_in_one_line_without_its_role(cadence: str, var: str) -> None:
    [step] = [s for s in _workflow()["jobs"]["checks"]["steps"] if s.get("name") == "Check the environment's settings"]
    assert step["env"] == {"ROLE_ARN": "${{ vars.OPSCHECKS_ROLE_ARN }}",
                           "DRILL_ROLE_ARN": "${{ vars.OPSCHECKS_DRILL_ROLE_ARN }}"}
    good = {"ROLE_ARN": "arn:aws:iam::210987654321:role/opschecks-checks",
            "DRILL_ROLE_ARN": "arn:aws:iam::210987654321:role/opschecks-upload-drill"}

    def run(**values: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", step["run"]], capture_output=True, text=True, timeout=30,
                              env={"PATH": os.environ["PATH"], "CADENCE": cadence, "OPSCHECKS_ENV": "dev", **values})

    assert run(**good).returncode == 0
    missing = {**good, ("DRILL_ROLE_ARN" if cadence == "sprint" else "ROLE_ARN"): ""}
    result = run(**missing)
    assert result.returncode == 1 and len(result.stdout.splitlines()) == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"::error::set vars.{var} ") and "opschecks-dev" in result.stdout


# --- IRSA trust --------------------------------------------------------------------------------------------

class _Doc:
    """Statements as tests/iam_eval.py reads a policy file."""

    def __init__(self, statements: list[dict]) -> None:
        self.text = json.dumps({"Statement": statements})

    def read_text(self) -> str:
        return self.text


def _trust_allows(policy: dict, provider: str, context: dict[str, str]) -> bool:
    """Whether a role with this trust policy lets a web identity of ``provider`` with ``context`` assume it."""
    statements = [{k: v for k, v in s.items() if k != "Principal"} | {"Resource": "*"}
                  for s in policy["Statement"] if s.get("Principal", {}).get("Federated") == provider]
    return allowed([_Doc(statements)], Request("sts:AssumeRoleWithWebIdentity", "*", context))


def _service_accounts() -> dict[str, str]:
    """Each base ServiceAccount -> the name of the role its annotation names."""
    docs = [d for d in yaml.safe_load_all((KUBERNETES / "base" / "serviceaccounts.yaml").read_text()) if d]
    assert yaml.safe_load((KUBERNETES / "base" / "kustomization.yaml").read_text())["namespace"] == NAMESPACE
    return {d["metadata"]["name"]: d["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].rsplit("/", 1)[1]
            for d in docs if d["kind"] == "ServiceAccount"}


def test_each_service_account_is_trusted_by_its_role_and_by_no_other() -> None:
    accounts = _service_accounts()
    assert sorted(accounts) == ["opschecks", "opschecks-drill"]
    assert set(accounts.values()) == set(TRUST), "each role has its trust policy"
    shipped = sorted(p.name for p in iam_static.IAM.glob("*trust-policy.json"))
    assert shipped == sorted(TRUST.values()), "every shipped trust policy is a ServiceAccount's role's"
    oidc = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    provider = f"arn:aws:iam::210987654321:oidc-provider/{oidc}"
    for role, name in TRUST.items():
        policy = json.loads(fill((iam_static.IAM / name).read_text()))
        for account, its_role in accounts.items():
            token = {f"{oidc}:sub": f"system:serviceaccount:{NAMESPACE}:{account}", f"{oidc}:aud": "sts.amazonaws.com"}
            assert _trust_allows(policy, provider, token) == (its_role == role), \
                f"{name}: ServiceAccount {account} {'must' if its_role == role else 'must not'} assume role {role}"
            if its_role == role:
                assert not _trust_allows(policy, provider, token | {f"{oidc}:aud": "other"}), "aud is STS's"
                assert not _trust_allows(policy, provider, token | {
                    f"{oidc}:sub": f"system:serviceaccount:default:{account}"}), "another namespace's namesake"
                assert not _trust_allows(policy, provider.replace("210987654321", "999999999999"), token), \
                    "another account's OIDC provider"


# --- the shared ledger and reports buckets -------------------------------------------------------------------

def _roles(env: str) -> list[str]:
    """The roles an environment writes the ledger and reports with: its ServiceAccounts' (the overlay's)."""
    return sorted(_role_arns(render_filled(env)).values())


def _bucket_policy(bucket: str) -> dict:
    return json.loads(fill((S3_POLICIES / f"{bucket}.bucket-policy.json").read_text()))


def _bucket_allows(policy: dict, role_arn: str, request: Request) -> bool:
    """Allowed by the bucket policy for a session of ``role_arn`` (the cross-account half of the decision)."""
    account = role_arn.split(":")[4]
    statements = []
    for s in policy["Statement"]:
        principals = s["Principal"]["AWS"]
        if any(p in (role_arn, f"arn:aws:iam::{account}:root") for p in ([principals] if isinstance(principals, str)
                                                                           else principals)):
            statements.append({k: v for k, v in s.items() if k != "Principal"})
    context = request.context | {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": account}
    return allowed([_Doc(statements)], Request(request.action, request.resource, context))


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, params, model, **_) -> None:  # noqa: ANN001 (botocore's before-parameter-build event)
        self.calls.append((model.name, dict(params)))

    def requests(self) -> list[Request]:
        """Each recorded call as the IAM request(s) S3 authorises it as."""
        out = []
        for operation, params in self.calls:
            for action in permissions.actions_for("S3", operation):
                if "Key" in params:
                    out.append(Request(action, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"))
                else:
                    out.append(Request(action, f"arn:aws:s3:::{params['Bucket']}", {"s3:prefix": params.get("Prefix", "")}))
        return out


def _recorded(session: boto3.Session) -> _Recorder:
    recorder = _Recorder()
    session.events.register("before-parameter-build.s3", recorder)
    return recorder


def _ledger_requests(env: str) -> list[Request]:
    """What the real S3 ledger asks of S3 when a run of ``env`` records itself and `due` reads the ledger."""
    boto3.client("s3").create_bucket(Bucket=LEDGER_BUCKET)
    session = boto3.Session(region_name="us-east-1")
    recorder = _recorded(session)
    store = ledger.S3Ledger(f"s3://{LEDGER_BUCKET}/{PREFIX}", aws.client(session, "s3"))
    started = dt.datetime(2024, 5, 6, 8, tzinfo=dt.timezone.utc)
    store.append(ledger.Record("checks/test_upload_service.py::test_upload_drill", env, "passed", started, 1.0, "ci@runner"))
    assert store.query("checks/test_upload_service.py::test_upload_drill", env) and store.latest()
    return recorder.requests()


def _publish_requests(env: str, tmp_path: Path) -> list[Request]:
    """What --publish asks of S3 for ``env``'s reports, at the overlay's reports_s3_uri."""
    [settings] = [d for d in render_filled(env) if d["metadata"]["name"].startswith("opschecks-settings-")]
    uri = settings["data"]["reports_s3_uri"]
    assert uri == f"s3://{REPORTS_BUCKET}/{PREFIX}/{env}"
    boto3.client("s3").create_bucket(Bucket=REPORTS_BUCKET)
    report = tmp_path / "report.html"
    report.write_text("<html></html>")
    session = boto3.Session(region_name="us-east-1")
    recorder = _recorded(session)
    assert publish.publish(uri, [report], dt.datetime(2024, 5, 6, 8, tzinfo=dt.timezone.utc), "r1", 5.0, session)
    return recorder.requests()


def _needed(module: str) -> set[str]:
    sites, unreadable = call_sites.scan(ROOT, [ROOT / module])
    assert not unreadable, unreadable
    return {a for s in sites for a in permissions.actions_for(s.service_id, s.operation)}


@pytest.mark.parametrize("environment", list(ACCOUNTS))
def test_the_bucket_policies_grant_each_role_what_the_ledger_and_publish_request(environment: str, tmp_path: Path,
                                                                                  moto_aws) -> None:
    ledger_requests, publish_requests = _ledger_requests(environment), _publish_requests(environment, tmp_path)
    # The recorded run takes every path the code can (call_sites reads them all; multipart parts are PutObject).
    assert {r.action for r in ledger_requests} == _needed("opschecks/record/ledger.py")
    assert {r.action for r in publish_requests} == _needed("opschecks/record/publish.py")
    assert _needed("opschecks/record/ledger.py") | _needed("opschecks/record/publish.py") == set(iam_static.needed("ledger-and-reports"))
    for bucket, requests in ((LEDGER_BUCKET, ledger_requests), (REPORTS_BUCKET, publish_requests)):
        policy = _bucket_policy(bucket)
        for role in _roles(environment):
            denied = [r for r in requests if not _bucket_allows(policy, role, r)]
            assert not denied, f"deploy/s3/{bucket}.bucket-policy.json denies {role}: {denied}"


def test_the_bucket_policies_grant_nothing_beyond_the_prefix_and_the_actions() -> None:
    for bucket, needed in ((LEDGER_BUCKET, _needed("opschecks/record/ledger.py")), (REPORTS_BUCKET, _needed("opschecks/record/publish.py"))):
        policy = _bucket_policy(bucket)
        granted = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert granted == needed, f"{bucket}: granted {sorted(granted)}, the code needs {sorted(needed)}"
        for s in policy["Statement"]:
            assert s["Effect"] == "Allow" and set(s) <= {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
            resources = [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]
            for resource in resources:
                assert resource == f"arn:aws:s3:::{bucket}" or resource.startswith(f"arn:aws:s3:::{bucket}/{PREFIX}/"), \
                    (s["Sid"], resource)
                if resource == f"arn:aws:s3:::{bucket}":
                    assert s["Condition"]["StringLike"]["s3:prefix"] == [f"{PREFIX}/*"], s["Sid"]
            assert set(s["Condition"]["StringEquals"]["aws:PrincipalArn"]) <= {r for e in ACCOUNTS for r in _roles(e)}
    dev, prod = _roles("dev"), _roles("prod")
    ledger_policy, reports_policy = _bucket_policy(LEDGER_BUCKET), _bucket_policy(REPORTS_BUCKET)
    outside = [Request("s3:GetObject", f"arn:aws:s3:::{LEDGER_BUCKET}/other/x.json"),
               Request("s3:PutObject", f"arn:aws:s3:::{LEDGER_BUCKET}/other/x.json"),
               Request("s3:ListBucket", f"arn:aws:s3:::{LEDGER_BUCKET}", {"s3:prefix": ""}),
               Request("s3:ListBucket", f"arn:aws:s3:::{LEDGER_BUCKET}", {}),
               Request("s3:DeleteObject", f"arn:aws:s3:::{LEDGER_BUCKET}/{PREFIX}/c/dev/x.json"),
               Request("s3:PutObject", f"arn:aws:s3:::{LEDGER_BUCKET}/{PREFIX}/c/prod/x.json"),  # prod's records
               Request("s3:PutObject", f"arn:aws:s3:::{REPORTS_BUCKET}/{PREFIX}/prod/latest/report.html"),
               Request("s3:PutObject", f"arn:aws:s3:::{REPORTS_BUCKET}/other/report.html"),
               Request("s3:GetObject", f"arn:aws:s3:::{REPORTS_BUCKET}/{PREFIX}/dev/latest/report.html")]
    for request in outside:
        policy = ledger_policy if LEDGER_BUCKET in request.resource else reports_policy
        assert not any(_bucket_allows(policy, role, request) for role in dev), f"dev's roles may not {request}"
    own = Request("s3:PutObject", f"arn:aws:s3:::{REPORTS_BUCKET}/{PREFIX}/dev/latest/report.html")
    assert _bucket_allows(reports_policy, dev[0], own)
    for stranger in (f"arn:aws:iam::{ACCOUNTS['dev']}:role/someone-else", "arn:aws:iam::999999999999:role/opschecks-checks",
                     *prod):  # prod's own roles publish under .../prod/ only
        assert not _bucket_allows(reports_policy, stranger, own), f"{stranger} is none of the environments' roles"
