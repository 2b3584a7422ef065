"""Once per sprint: set up and tear down the upload service in dev or staging, and prove nothing is left behind.

Only envs with an ``[env.<name>.upload_service]`` table are drilled (one row each); a protected env, or credentials
that reach another account than the env's ``aws_account_id``, are refused even then (opschecks/protection.py).
How the drill is judged: opschecks/areas/upload_service/upload.py. How resources are found: opschecks/areas/upload_service/inventory.py.
"""

from __future__ import annotations

import pytest

from opschecks import protection
from opschecks.areas.upload_service import upload
from opschecks.findings import fail_on
from opschecks.areas.upload_service.settings import UploadSettings

# pytest-timeout's last resort, above the default set-up and teardown timeouts (an hour each) and the probe.
pytestmark = [pytest.mark.sprint, pytest.mark.configured("upload_service"), pytest.mark.timeout(3 * 3600)]

COLUMNS = ["type", "id", "found by"]


def test_upload_drill(env, ops_config, report, past_runs, ledger_details) -> None:
    # Refuses protected envs; always tears down; past_runs date earlier drills' leftovers.
    result = upload.drill(env, protection.guard(ops_config, env), past_runs)
    report.table("Commands (their output is in this row's log)", ["step", "command", "result", "seconds"],
                 [(r.step, " ".join(r.argv), r.problem or "ok", f"{r.seconds:.1f}") for r in result.runs])
    for r in result.runs:
        print(f"----- {r.step}: {' '.join(r.argv)} ({r.problem or 'ok'})\n{r.output}")
    report.table(f"Health: {env.settings(UploadSettings).health_url or 'no health_url configured'}", ["result"], [(result.health,)])
    report.table(f"Created by the set-up ({len(result.created)})", COLUMNS, _rows(result.created))
    report.table(f"Left behind by the teardown ({len(result.left_behind)})", COLUMNS, _rows(result.left_behind))
    if result.earlier:
        report.table(f"Left by earlier drills, still there ({len(result.earlier)})", COLUMNS, _rows(result.earlier))
    if result.cleaned:
        report.table(f"Left by earlier drills, removed by this teardown ({len(result.cleaned)})", COLUMNS,
                     _rows(result.cleaned))
    if result.gone:
        report.table(f"Existed before, gone after ({len(result.gone)})", COLUMNS, _rows(result.gone))
    ledger_details.update(result.summary())
    fail_on(result.findings)


def _rows(resources) -> list[tuple[str, str, str]]:  # noqa: ANN001 (a sequence of inventory.Resource)
    return [(r.type, r.id, r.how) for r in resources]
