"""The example GitHub Actions workflow (.github/workflows/opschecks.yml): it parses, it schedules what the
CronJobs schedule, it assumes a role through OIDC, and the repository commands it runs exist and work
(its own shell lines run here, against the sandbox)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.kustomize import KUBERNETES, ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "opschecks.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the bare key `on` as a boolean
    return data


def _steps(workflow: dict) -> list[dict]:
    return workflow["jobs"]["checks"]["steps"]


def _run(workflow: dict, name: str) -> str:
    return next(s["run"] for s in _steps(workflow) if s.get("name") == name)


def test_schedules_match_the_cronjobs(workflow: dict) -> None:
    crons = [s["cron"] for s in workflow["on"]["schedule"]]
    cronjobs = [yaml.safe_load((KUBERNETES / "base" / f"cronjob-{c}.yaml").read_text())["spec"]["schedule"]
                for c in ("daily", "monthly", "sprint")]
    assert crons == cronjobs
    plan = workflow["jobs"]["plan"]["steps"][0]["run"]
    assert all(f'"{cron}")' in plan for cron in crons), "the plan job maps each schedule to its cadence"
    assert "workflow_dispatch" in workflow["on"]


def test_cadences_are_markers_of_this_suite(workflow: dict) -> None:
    markers = {m.split(":")[0] for m in _pyproject_markers()}
    offered = set(workflow["on"]["workflow_dispatch"]["inputs"]["cadence"]["options"])
    planned = set(re.findall(r"cadence=(\w+)", workflow["jobs"]["plan"]["steps"][0]["run"])) - {"none"}
    assert offered <= markers and planned <= markers, (offered, planned, markers)


def _pyproject_markers() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]


def test_credentials_come_from_oidc_and_the_cluster_from_eks(workflow: dict) -> None:
    assert workflow["permissions"]["id-token"] == "write"
    [aws] = [s for s in _steps(workflow) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert "role-to-assume" in aws["with"] and "aws-access-key-id" not in aws["with"], "no stored keys"
    assert "aws eks update-kubeconfig" in _run(workflow, "Kubernetes context for the environment's cluster")


def test_reports_are_artifacts_and_the_summary_is_markdown(workflow: dict) -> None:
    run = _run(workflow, "Run the checks")
    [upload] = [s for s in _steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact@")]
    kept = set(upload["with"]["path"].split())
    written = set(re.findall(r"--(?:html|junitxml|json|metrics-file)=(\S+)", run))
    assert written == kept and {"reports/report.html", "reports/junit.xml"} <= kept
    assert upload["if"] == "always()", "the reports are kept when checks fail"
    assert '>> "$GITHUB_STEP_SUMMARY"' in _run(workflow, "Job summary")


def test_every_python_module_it_runs_is_in_this_repository(workflow: dict) -> None:
    scripts = " ".join(s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"])
    modules = re.findall(r"python -m ([\w.]+)", scripts)
    assert "python -m opschecks summary reports/run.json" in scripts
    for module in set(modules) - {"pip"}:
        spec = importlib.util.find_spec(module)
        assert spec is not None and ROOT in Path(spec.origin).parents, module


def test_its_commands_run_here_against_the_sandbox(workflow: dict, sandbox_env, tmp_path: Path) -> None:
    """The workflow's own shell lines (reports under a temp dir): the run writes its JSON, the summary reads it."""
    env = {**os.environ, "CADENCE": "daily", "OPSCHECKS_ENV": "dev", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "OPSCHECKS_CONFIG": str(sandbox_env.config_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    checks = subprocess.run(["bash", "-c", _run(workflow, "Run the checks").replace("reports/", f"{tmp_path}/")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert checks.returncode in (0, 1), checks.stdout[-3000:] + checks.stderr[-2000:]  # the unseeded sandbox may fail
    summary = subprocess.run(["bash", "-c", _run(workflow, "Job summary").replace("reports/", f"{tmp_path}/")],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert summary.returncode == 0, summary.stdout + summary.stderr
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("## Ingest operations checklist: ") and "| `checks/test_backups.py::" in text
    assert "| prod |" not in text, "--env narrowed the run"
