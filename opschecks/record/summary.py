"""A run's Markdown summary, from its JSON (``pytest --json``), for CI job summaries and chat.

    python -m opschecks summary reports/run.json >> "$GITHUB_STEP_SUMMARY"

Exit status: 0, or 2 when the file is missing or not a version-1 run document
(a run that never started writes none: the summary says so instead of
pretending it passed), and 2 for a run that did not run its checks (pytest's
exit status 2-5, or every check skipped): its verdict is "💥 ... did not run",
never ✅.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from opschecks.record.run_json import NOT_RUN_STATUSES, OUTCOMES, SCHEMA_VERSION, verdict

_ICON = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}


def _verdict_line(run: dict[str, Any], summary: dict[str, int]) -> str:
    failed, ran = summary["failed"] + summary["error"], summary["total"] - summary["skipped"]
    status = run["exit_status"]
    match verdict(status, summary):
        case "failed" if failed:
            return f"❌ {failed} of {summary['total']} check runs failed"
        case "failed":
            return f"❌ the run failed (pytest exit status {status}) though no check did"
        case "not_run":
            why = NOT_RUN_STATUSES.get(status, f"all {summary['total']} check runs skipped")
            return f"💥 the checks did not run: {why} (pytest exit status {status}; {ran} check runs finished)"
        case _:
            return f"✅ all {ran} check runs passed"


def markdown(doc: dict[str, Any]) -> str:
    run, summary = doc["run"], doc["summary"]
    lines = [
        f"## Ingest operations checklist: {_verdict_line(run, summary)}",
        "",
        f"Run `{run['id']}` ({run['selection'] or 'every check'}; {', '.join(run['environments'])}), "
        f"{run['started'][:16].replace('T', ' ')} UTC, {run['duration_s']:.0f} s, by {run['runner']}, "
        f"revision `{run['git_revision'][:12]}`. "
        + ", ".join(f"{summary[o]} {o}" for o in OUTCOMES if summary[o]) + f"; {summary['findings']} findings.",
        "",
        "| check | env | outcome | findings |",
        "|---|---|---|---|",
    ]
    order = {o: i for i, o in enumerate(("failed", "error", "passed", "skipped"))}
    for check in sorted(doc["checks"], key=lambda c: (order[c["outcome"]], c["check"], c["env"])):
        codes = ", ".join(sorted({f["code"] for f in check["findings"]}))
        lines.append(f"| `{check['check']}` | {check['env']} | {_ICON[check['outcome']]} {check['outcome']} | {codes} |")
    problems = [c for c in doc["checks"] if c["outcome"] in ("failed", "error")]
    if problems:
        lines += ["", "### What failed", ""]
        for check in problems:
            lines.append(f"- **{check['check']}** [{check['env']}]")
            found = check["findings"] or [{"code": check["outcome"].upper(), "where": "", "message": check["reason"]}]
            lines += [f"  - `{f['code']}`{' ' + f['where'] if f['where'] else ''}: {_one_line(f['message'])}"
                      for f in found]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opschecks summary",
                                     description="Markdown summary of a run's JSON (pytest --json PATH).")
    parser.add_argument("run_json", type=Path)
    args = parser.parse_args(argv)
    try:
        doc = json.loads(args.run_json.read_text())
        if doc.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"expected schema_version {SCHEMA_VERSION}, found {doc.get('schema_version')!r}")
    except (OSError, ValueError) as exc:
        print(f"## Ingest operations checklist: no results\n\n{args.run_json}: {exc}")
        return 2
    print(markdown(doc), end="")
    return 2 if verdict(doc["run"]["exit_status"], doc["summary"]) == "not_run" else 0

