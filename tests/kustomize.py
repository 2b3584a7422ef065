"""Render deploy/kubernetes's overlays with `kubectl kustomize`, as `kubectl apply -k` would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "staging", "prod")


def render(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required: `kubectl kustomize` renders deploy/kubernetes (see .ci/run)"
    out = subprocess.run([kubectl, "kustomize", str(KUBERNETES / "overlays" / overlay)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"kubectl kustomize overlays/{overlay}: {out.stderr}"
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]
