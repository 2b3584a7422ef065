"""Prometheus metrics of a run, from its JSON document (opschecks.record.run_json): a textfile or a Pushgateway push.

Built from the same per-check results as the JSON, so the two never disagree.
Backup age and size come from the backup checks' ledger details, the restore
steps' durations from the restore drill's. A check that was skipped has no
success sample (it did not run); one that errored counts as not successful.
``opschecks_run_success`` is the run's verdict (opschecks.record.run_json.verdict): a
run that ran nothing (pytest exit 2-5, or every check skipped) has no check
samples at all, and is 0 there, never green by absence.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from opschecks import codes
from opschecks.record.run_json import verdict

JOB = "opschecks"


def registry(doc: dict[str, Any]) -> CollectorRegistry:
    reg = CollectorRegistry()
    success = Gauge("opschecks_check_success", "1 if the check passed in its last run, 0 if it failed or errored",
                    ["check", "env"], registry=reg)
    last_run = Gauge("opschecks_check_last_run_timestamp_seconds", "When the check's last run ended (Unix time)",
                     ["check", "env"], registry=reg)
    duration = Gauge("opschecks_check_duration_seconds", "How long the check's last run took",
                     ["check", "env"], registry=reg)
    age = Gauge("opschecks_backup_newest_age_seconds", "Age of the newest backup in S3 (36 s resolution)",
                ["env"], registry=reg)
    size = Gauge("opschecks_backup_newest_bytes", "Size of the newest backup in S3", ["env"], registry=reg)
    step = Gauge("opschecks_restore_step_seconds", "How long each step of the last restore drill took",
                 ["env", "step"], registry=reg)
    findings = Gauge("opschecks_findings", "Findings of the last run, by code (and its severity)",
                     ["code", "env", "severity"], registry=reg)

    run_success = Gauge("opschecks_run_success", "1 if the run ran its checks and every one passed, else 0",
                        registry=reg)
    exit_status = Gauge("opschecks_run_exit_status", "pytest's exit status of the run (docs/outputs.md)",
                        registry=reg)
    interrupted = Gauge("opschecks_run_interrupted", "1 if a stop (SIGTERM, SIGINT) cut the run short, else 0",
                        ["signal"], registry=reg)
    stop = doc.get("interrupted")
    interrupted.labels(signal=stop["signal"] if stop else "").set(1 if stop else 0)
    run_success.set(1 if verdict(doc["run"]["exit_status"], doc["summary"]) == "passed" else 0)
    exit_status.set(doc["run"]["exit_status"])

    counts: Counter[tuple[str, str]] = Counter()
    for check in doc["checks"]:
        labels = {"check": check["check"], "env": check["env"]}
        if check["outcome"] != "skipped":
            success.labels(**labels).set(1 if check["outcome"] == "passed" else 0)
            duration.labels(**labels).set(check["duration_s"])
            if check["started"]:
                started = dt.datetime.fromisoformat(check["started"]).timestamp()
                last_run.labels(**labels).set(started + check["duration_s"])
        details = check["details"]
        if check["area"] == "backups" and details.get("age_hours") is not None:
            age.labels(env=check["env"]).set(round(details["age_hours"] * 3600))
            size.labels(env=check["env"]).set(details["size"])
        if check["area"] == "restore":
            for name, seconds in (details.get("durations") or {}).items():
                step.labels(env=check["env"], step=name).set(seconds)
        counts.update((f["code"], check["env"]) for f in check["findings"])
    for (code, env), count in counts.items():
        findings.labels(code=code, env=env, severity=codes.severity(code)).set(count)
    return reg


def write_textfile(path: Path, reg: CollectorRegistry) -> None:
    """For node-exporter's textfile collector (written atomically by prometheus_client)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), reg)


def push(url: str, reg: CollectorRegistry, selection: str, timeout_s: float = 10.0) -> None:
    """Replace this selection's metrics in the Pushgateway: the daily run's push leaves the monthly run's alone."""
    push_to_gateway(url, job=JOB, grouping_key={"selection": selection or "all"}, registry=reg, timeout=timeout_s)
