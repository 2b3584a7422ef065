"""The run as JSON (``pytest --json PATH``): every check's outcome, findings and ledger details, versioned.

The schema is docs/run.schema.json (``schema_version`` 1); docs/outputs.md
describes it. A reader checks ``schema_version``: fields are only ever added
within a version, and a change that removes or renames one bumps it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
OUTCOMES = ("passed", "failed", "error", "skipped")
# pytest's exit statuses of a run whose checks did not (all) run: interrupted, internal error, usage error,
# no checks collected. Such a run is never green, whatever its (possibly empty) list of checks says.
NOT_RUN_STATUSES = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no checks collected"}


@dataclass(frozen=True)
class RunMeta:
    id: str  # shared with the ledger's records and the report
    started: str  # ISO 8601 UTC
    finished: str
    duration_s: float
    runner: str  # user@host
    git_revision: str
    config: str  # the config file's path
    environments: list[str]
    selection: str  # the -m expression ("" for every check)
    args: list[str]  # pytest's command-line arguments
    exit_status: int  # pytest's: 0 passed, 1 findings, 2 interrupted, 3 internal error, 4 usage error, 5 no checks
    exit_zero: bool  # --exit-zero: the process exited 0 whatever the checks found


def verdict(exit_status: int, summary: dict[str, int]) -> str:
    """``passed`` only for a run that ran at least one check, all of which passed, and exited 0; ``failed`` when
    a check failed or errored; otherwise ``not_run`` (e.g. exit 5 with nothing collected, or every check skipped)."""
    if summary["failed"] or summary["error"]:
        return "failed"
    if exit_status in NOT_RUN_STATUSES or summary["total"] - summary["skipped"] == 0:
        return "not_run"
    return "passed" if exit_status == 0 else "failed"


def document(run: RunMeta, checks: list[dict[str, Any]], interrupted: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document: the run, its verdict, a count per outcome, each check run (dicts of
    fixtures.results.Result), and ``interrupted``: None, or the stop's ``signal`` and the checks it ``cut_short``."""
    counts = Counter(c["outcome"] for c in checks)
    summary = {**{o: counts[o] for o in OUTCOMES}, "total": len(checks),
               "findings": sum(len(c["findings"]) for c in checks)}
    return {
        "schema_version": SCHEMA_VERSION,
        "run": run.__dict__,
        "verdict": verdict(run.exit_status, summary),
        "summary": summary,
        "interrupted": interrupted,
        "checks": checks,
    }


def write(path: Path, doc: dict[str, Any]) -> None:
    """Write atomically: a dashboard reading the file never sees half a run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
    tmp.replace(path)
