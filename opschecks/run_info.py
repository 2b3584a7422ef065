"""Where and against what a run happened, for the report's Environment table: best effort, never fatal.

Each lookup has a short timeout and turns its failure into a short text
("unavailable: ..."), because a missing git checkout or an unreachable STS
endpoint must not stop the checks themselves.
"""

from __future__ import annotations

import getpass
import socket
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from kubernetes import config as kube_config

from opschecks.config import EnvConfig
from opschecks.errors import describe

_STS = BotoConfig(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=3, read_timeout=3)


def runner() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def git_revision(directory: Path) -> str:
    """The commit checked out in ``directory``, with "+dirty" when it has local changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable: {type(exc).__name__}"
    return head + ("+dirty" if dirty else "")


def kube_contexts(envs: Iterable[EnvConfig]) -> dict[str, str]:
    """Each environment's kube context; the kubeconfig's current one where the config names none."""
    envs = list(envs)
    current = "(kubeconfig current-context)"
    if any(e.kube_context is None for e in envs):
        try:
            current = kube_config.list_kube_config_contexts()[1]["name"] + " (current-context)"
        except Exception as exc:  # noqa: BLE001 (any kubeconfig problem is only reported here)
            current = f"unavailable: {exc}".splitlines()[0]
    return {e.name: e.kube_context or current for e in envs}


def aws_identities(envs: Iterable[EnvConfig]) -> tuple[dict[str, str], list[str]]:
    """Each environment's AWS account id (sts get-caller-identity) and the credential values used, to redact."""
    envs = list(envs)
    with ThreadPoolExecutor(max_workers=max(1, len(envs))) as pool:
        found = list(pool.map(_identity, envs))
    accounts = {env.name: account for env, (account, _) in zip(envs, found)}
    secrets = [s for _, creds in found for s in creds]
    return accounts, secrets


def _identity(env: EnvConfig) -> tuple[str, list[str]]:
    secrets: list[str] = []
    try:
        sess = boto3.Session(profile_name=env.aws_profile, region_name=env.aws_region)
        creds = sess.get_credentials()
        if creds is None:
            return "unavailable: no AWS credentials", []
        frozen = creds.get_frozen_credentials()
        secrets = [v for v in (frozen.secret_key, frozen.token) if v]
        return sess.client("sts", config=_STS).get_caller_identity()["Account"], secrets
    except Exception as exc:  # noqa: BLE001 (best effort: the checks themselves report access problems)
        return f"unavailable: {describe(exc) or type(exc).__name__}", secrets
