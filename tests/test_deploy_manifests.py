"""deploy/kubernetes: every manifest and every rendered overlay is valid against the Kubernetes OpenAPI schemas
(kubernetes-validate, offline), and the CronJobs say what the checklist needs.

The schemas are those of Kubernetes 1.32 (EKS's oldest standard-support release when written, and the kubectl
here); `strict` refuses unknown fields, so a typo is an error, not a silently ignored setting.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes import config as kube_config

from opschecks.config import load
from opschecks.areas.cluster.settings import ClusterSettings
from opschecks.areas.restore.settings import RestoreSettings
from opschecks.areas.upload_service.settings import UploadSettings
from tests.kustomize import KUBERNETES, OVERLAYS, ROOT
from tests.test_deploy_kit import render_filled  # the overlays' placeholders filled in, as applied

K8S_VERSION = "1.32"
# cadence -> (schedule, the pytest marker it runs); sprint: weekly, because cron cannot say "every 14 days"
CRONJOBS = {"daily": ("0 6 * * *", "daily"), "monthly": ("0 7 1 * *", "monthly"), "sprint": ("0 8 * * 1", "sprint")}
ROLE_ARN = re.compile(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+")


def _manifests() -> list[Path]:
    return sorted(p for p in (KUBERNETES / "base").glob("*.yaml") if p.name != "kustomization.yaml")


def _validate(doc: dict) -> None:
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {'/'.join(map(str, exc.path))}")


@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.name)
def test_every_base_manifest_is_valid(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs
    for doc in docs:
        _validate(doc)


def test_the_validator_catches_a_wrong_field() -> None:
    cronjob = yaml.safe_load((KUBERNETES / "base" / "cronjob-daily.yaml").read_text())
    cronjob["spec"]["jobTemplate"]["spec"]["activeDeadline"] = 60  # not activeDeadlineSeconds
    with pytest.raises(kubernetes_validate.ValidationError, match="activeDeadline"):
        kubernetes_validate.validate(cronjob, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_valid_objects(overlay: str) -> None:
    docs = render_filled(overlay)
    for doc in docs:
        _validate(doc)
        assert doc["metadata"].get("namespace", "opschecks") == "opschecks" or doc["kind"].startswith("Cluster")
    kinds = sorted(d["kind"] for d in docs)
    cronjobs = {d["metadata"]["name"].removeprefix("opschecks-"): d for d in docs if d["kind"] == "CronJob"}
    assert sorted(cronjobs) == (["daily", "monthly"] if overlay == "prod" else ["daily", "monthly", "sprint"]), \
        "the upload drill never runs in prod"
    assert {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap"} <= set(kinds)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cronjobs_run_their_cadence_once_at_a_time_within_a_deadline(overlay: str) -> None:
    docs = render_filled(overlay)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for cronjob in (d for d in docs if d["kind"] == "CronJob"):
        cadence = cronjob["metadata"]["name"].removeprefix("opschecks-")
        spec, job = cronjob["spec"], cronjob["spec"]["jobTemplate"]["spec"]
        pod = job["template"]["spec"]
        [container] = pod["containers"]
        where = f"{overlay} {cronjob['metadata']['name']}"
        assert (spec["schedule"], container["args"][:2]) == (CRONJOBS[cadence][0], ["-m", CRONJOBS[cadence][1]]), where
        assert spec["concurrencyPolicy"] == "Forbid", where
        assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1, where
        assert 0 < job["activeDeadlineSeconds"] <= 6 * 3600 and job["backoffLimit"] == 0, where
        assert re.fullmatch(r"ghcr\.io/[\w.-]+/opschecks:[\w.-]+", container["image"]), container["image"]
        assert not container["image"].endswith(":latest")
        assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
        assert ("ServiceAccount", pod["serviceAccountName"]) in names, where
        for volume in pod["volumes"]:  # every ConfigMap a pod mounts is shipped (generated names included)
            for source in volume.get("projected", {}).get("sources", []):
                assert ("ConfigMap", source["configMap"]["name"]) in names, (where, source)
        for env in container["env"]:
            ref = env.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                assert ("ConfigMap", ref["name"]) in names, (where, ref)
        # Reports go to S3 (--publish), the ledger too (the config's [ledger] s3_uri).
        assert "--publish=$(OPSCHECKS_REPORTS_S3)" in container["args"], where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_accounts_assume_their_iam_roles(overlay: str) -> None:
    accounts = {d["metadata"]["name"]: d for d in render_filled(overlay) if d["kind"] == "ServiceAccount"}
    assert sorted(accounts) == (["opschecks"] if overlay == "prod" else ["opschecks", "opschecks-drill"])
    for name, account in accounts.items():
        arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        assert ROLE_ARN.fullmatch(arn), arn
        assert arn.endswith("opschecks-checks" if name == "opschecks" else "opschecks-upload-drill")
    arns = {a["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].split(":")[4] for a in accounts.values()}
    assert len(arns) == 1, "one account per environment"
    binding = next(d for d in render_filled(overlay) if d["kind"] == "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "opschecks", "namespace": "opschecks"}], \
        "the drill's account gets no Kubernetes access"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_config_and_kubeconfig_load(overlay: str, tmp_path: Path) -> None:
    docs = render_filled(overlay)
    [config_map] = [d for d in docs if d["metadata"]["name"].startswith("opschecks-config-")]
    (tmp_path / "opschecks.toml").write_text(config_map["data"]["opschecks.toml"])
    config = load(tmp_path / "opschecks.toml")
    assert list(config.envs) == [overlay] and config.envs[overlay].kube_context == "in-cluster"
    assert config.envs[overlay].settings(ClusterSettings).eks_cluster == f"ingest-eks-{overlay}", "in-cluster names no EKS cluster"
    assert (not config.envs[overlay].configured(UploadSettings)) == (overlay == "prod")
    assert config.ledger.s3_uri and config.ledger.path.startswith("/reports/")
    [kubeconfig] = [d for d in docs if d["metadata"]["name"] == "opschecks-kubeconfig"]
    (tmp_path / "kubeconfig").write_text(kubeconfig["data"]["kubeconfig"])
    contexts, current = kube_config.list_kube_config_contexts(str(tmp_path / "kubeconfig"))
    assert current["name"] == "in-cluster" and [c["name"] for c in contexts] == ["in-cluster"]


@pytest.mark.parametrize("overlay", ["staging"])
def test_cronjob_arguments_are_options_this_suite_accepts(overlay: str, tmp_path: Path) -> None:
    """Each CronJob's arguments, given to this checkout's pytest with the overlay's config, select its checks."""
    docs = render_filled(overlay)
    [config_map] = [d for d in docs if d["metadata"]["name"].startswith("opschecks-config-")]
    (tmp_path / "opschecks.toml").write_text(config_map["data"]["opschecks.toml"])
    for cronjob in (d for d in docs if d["kind"] == "CronJob"):
        [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        args = [a.replace("/reports/", f"{tmp_path}/").replace("$(OPSCHECKS_REPORTS_S3)", "s3://bucket/prefix")
                for a in container["args"]]
        result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", f"--config={tmp_path}/opschecks.toml",
                                 *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{cronjob['metadata']['name']}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        assert f"[{overlay}]" in result.stdout, result.stdout


# Margin over the clean-up itself for the reports (two api_timeout_s waits per publish request) and the ledger.
REPORTS_MARGIN_S = 120


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_cronjob_gives_its_clean_up_the_time_it_needs_after_sigterm(overlay: str, tmp_path: Path) -> None:
    """Kubernetes kills a pod terminationGracePeriodSeconds after SIGTERM (30 s when unset): the daily run's
    reports, the restore drill's database drop (each answer waits up to server_timeout_s) and the upload drill's
    shielded teardown (teardown_timeout_s) must fit, as the overlay's own config sets them."""
    docs = render_filled(overlay)
    [config_map] = [d for d in docs if d["metadata"]["name"].startswith("opschecks-config-")]
    (tmp_path / "opschecks.toml").write_text(config_map["data"]["opschecks.toml"])
    env = load(tmp_path / "opschecks.toml").envs[overlay]
    needs = {"daily": 0.0, "monthly": env.settings(RestoreSettings).server_timeout_s,
             "sprint": env.settings(UploadSettings).teardown_timeout_s if env.configured(UploadSettings) else 0.0}
    for cronjob in (d for d in docs if d["kind"] == "CronJob"):
        cadence = cronjob["metadata"]["name"].removeprefix("opschecks-")
        job = cronjob["spec"]["jobTemplate"]["spec"]
        grace = job["template"]["spec"].get("terminationGracePeriodSeconds")
        where = f"{overlay} {cronjob['metadata']['name']}"
        assert grace is not None, f"{where}: no terminationGracePeriodSeconds (Kubernetes' 30 s cuts clean-up short)"
        assert grace >= needs[cadence] + REPORTS_MARGIN_S, (where, grace, needs[cadence])
        assert grace < job["activeDeadlineSeconds"], where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_optional_secret_never_holds_the_pod_in_create_container_config_error(overlay: str) -> None:
    """A secretKeyRef to a missing Secret keeps the pod in CreateContainerConfigError until the deadline; the
    restore target is optional (the drill then fails in one line naming what is missing, the rest runs)."""
    for cronjob in (d for d in render_filled(overlay) if d["kind"] == "CronJob"):
        [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        for env in container["env"]:
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref.get("optional") is True, (overlay, cronjob["metadata"]["name"], env["name"])
