"""The record for the sprint review as a reviewer sees it: the report of a passing run, then of failing runs of the
real checks on a seeded sandbox, loaded in headless Chromium (tests/chromium.py).

No console errors; "Needs attention" is in the first screen and lists exactly the seeded failures, grouped as new,
still failing and fixed by comparing with the previous run in the ledger; the screenshots are kept under reports/
for the README.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from opschecks import clock
from opschecks.record import ledger
from opschecks.sandbox import kube_objects as k
from opschecks.sandbox import stack
from opschecks.sandbox.seed_usage import WAIVERS_FILE
from tests.chromium import VIEWPORT, Chromium

pytestmark = pytest.mark.whole_stack
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
AREAS = ("backups", "pods", "aws_usage", "restore")  # the real checks; the upload drill is the overdue task
UTC = dt.timezone.utc
UPLOAD_DRILL = "checks/test_upload_service.py::test_upload_drill"
BUCKET = "ingest-db-backup"

# What the report's DOM says: each "Needs attention" finding row (group, check|env|code|where), the tasks, the waivers.
ROWS = """JSON.stringify({
  headline: document.querySelector('#needs-attention h2').innerText,
  findings: [...document.querySelectorAll('#needs-attention tr[data-finding]')].map(
    tr => [tr.closest('table').previousElementSibling.dataset.group, ...tr.dataset.finding.split('|')]),
  tasks: [...document.querySelectorAll('#needs-attention h3[data-group=due] + table tr')].slice(1).map(
    tr => [...tr.cells].map(td => td.innerText)),
  waivers: [...document.querySelectorAll('#needs-attention h3[data-group=waivers] + table tr')].slice(1).map(
    tr => tr.cells[0].innerText),
  bottom: document.querySelector('#needs-attention').getBoundingClientRect().bottom,
  figures: [...document.querySelectorAll('.opschecks-figure figcaption')].map(c => c.innerText),
  images: [...document.querySelectorAll('.opschecks-figure img')].map(i => i.naturalWidth),
})"""


@pytest.fixture(scope="module")
def at_noon() -> Iterator[None]:
    """The sandbox's clock (seeding, checks, ledger) at today's 12:00 UTC, whatever the wall clock says.

    The three runs take a minute or two and the assertions name dates and windows: run across midnight, the
    failures would start "yesterday" and every daily check passed before 00:00 would be due again (and, on the
    1st, every monthly one). ``OPSCHECKS_CLOCK_SHIFT_DAYS`` takes a fraction of a day and reaches the
    checklist's subprocesses through ``seeded.env_vars``; the date stays today's, so moto's own S3 metric for
    the live bucket (stamped today 00:00 by the real clock) is still "today", outside the history."""
    wall = dt.datetime.now(UTC)
    noon = wall.replace(hour=12, minute=0, second=0, microsecond=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(clock.SHIFT_VAR, repr((noon - wall) / dt.timedelta(days=1)))
        yield


@pytest.fixture(scope="module")
def seeded(sandbox: stack.Sandbox, at_noon: None) -> Iterator[stack.Sandbox]:
    """A sandbox seeded as ``--sandbox`` seeds it (the suite's shared one starts empty), at noon (``at_noon``).

    moto's servers in one process share one in-memory AWS, so it is reset before seeding and after: another
    module's seeded sandbox (tests/test_sandbox.py) creates the same named load balancers and clusters."""
    _reset_moto(sandbox.aws_endpoint)
    with stack.running() as seeded_sandbox:
        try:
            yield seeded_sandbox
        finally:
            _reset_moto(seeded_sandbox.aws_endpoint)


def _reset_moto(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).close()


@pytest.fixture
def project(checklist, seeded: stack.Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in seeded.env_vars.items():
        if name == "OPSCHECKS_CONFIG":
            continue
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    today = clock.now().date()
    checklist.lay_out(seeded.config_path.read_text(), dict.fromkeys(AREAS))  # with the sandbox's waivers file
    waivers = checklist.path / WAIVERS_FILE
    waivers.write_text((seeded.root / WAIVERS_FILE).read_text() + "\n" +
        '[[waiver]]\nresource = "vol-0scratch*"\njustification = "scratch volume of the restore drill, OPS-412"\n'
        f"expires = {today + dt.timedelta(days=5)}\n"
        '[[waiver]]\nresource = "snap-0archive*"\njustification = "kept for the audit"\n'
        f"expires = {today + dt.timedelta(days=60)}\n")
    # The upload drill last passed 40 days ago: a sprint task that is overdue. The ledger is the one the seeded
    # config names (under the sandbox's root), emptied first.
    ledger.append(stack.reset_ledger(seeded.ledger), ledger.Record(
        check=UPLOAD_DRILL, env="dev", outcome="passed", started=clock.now() - dt.timedelta(days=40),
        duration_s=60.0, runner="ops@laptop", cadences=("sprint",), run_id="earlier"))
    return checklist.path


def _run(checklist) -> pytest.RunResult:  # noqa: ANN001 (tests/conftest.py's Checklist)
    return checklist.run("-p", "xdist", "-n", "2", subprocess=True)


def _look(page, project: Path, screenshot: str) -> dict:  # noqa: ANN001 (tests/chromium.py's Page)
    page.open((project / "reports" / "report.html").as_uri())
    seen = json.loads(page.evaluate(ROWS))
    page.screenshot(ROOT / "reports" / screenshot)
    assert page.errors == [], "the report logs no console error"
    assert seen["bottom"] <= VIEWPORT[1], "Needs attention fits the first screen"
    return seen


def _newest(s3, env: str) -> str:  # noqa: ANN001 (a boto3 client)
    return s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{env}/")["Contents"][-1]["Key"]


def _miss_two_nights(s3, env: str) -> None:  # noqa: ANN001 (a boto3 client)
    """Delete the two newest backups: the newest left is then over 48 h old, stale (BKP001, > 26 h) at any time
    of day. Missing only tonight's would leave one taken at yesterday's midnight, stale only after 02:00."""
    for _ in range(2):
        s3.delete_object(Bucket=BUCKET, Key=_newest(s3, env))


def test_a_passing_then_failing_record_reads_right_in_chromium(project: Path, checklist, seeded: stack.Sandbox) -> None:
    s3 = seeded.s3()
    with Chromium() as browser:
        page = browser.page()

        passing = _run(checklist)
        assert passing.ret == 0, passing.stdout.str()[-3000:]
        seen = _look(page, project, "report-passing.png")
        total = passing.parseoutcomes()["passed"]
        assert seen["headline"].startswith(f"Needs attention — PASSED: all {total} checks passed")
        assert seen["findings"] == []
        assert [(t[0], t[1], t[3]) for t in seen["tasks"]] == [("test_upload_service.py::test_upload_drill", "dev",
                                                                 "overdue")]
        assert seen["waivers"] == ["vol-0scratch*"]  # the one expiring within 14 days, not the other
        assert sorted(seen["figures"]) == ["env: dev"] * 3 + ["env: prod"] * 3 + ["env: staging"] * 3 + [
            "envs: dev, staging, prod"], "one plot per bucket; per env, backup sizes, restored counts, content age"
        assert all(width == 640 for width in seen["images"])
        passing.stdout.fnmatch_lines([f"opschecks: PASSED: all {total} checks passed · 1 task due or overdue · "
                                      "1 waiver expiring within 14 days"])
        assert "warnings" not in passing.stdout.lines[-1]

        # Seeded failures: dev misses its last two backups, staging's newest is untagged, a prod pod crash-loops.
        staging_newest = _newest(s3, "staging")
        _miss_two_nights(s3, "dev")
        s3.delete_object_tagging(Bucket=BUCKET, Key=staging_newest)
        crashing = k.crash_looping_pod("ingest-core-6d8f9c7b4-x2x9q", "prod-environment", now=seeded.now)
        seeded.kube.set_objects("prod", "pods", seeded.kube.objects("prod", "pods") + [crashing])
        first = _run(checklist)
        assert first.ret == 1
        seen = _look(page, project, "report-failing-first.png")  # not kept: reports/ ignores it
        new = {(check, env, code) for group, check, env, code, _ in seen["findings"] if group == "new"}
        assert {group for group, *_ in seen["findings"]} == {"new"}
        assert new == {("checks/test_backups.py::test_backup_is_fresh", "dev", "BKP001"),
                       ("checks/test_backups.py::test_backups_expire", "staging", "BKP005"),
                       ("checks/test_pods.py::test_pods_healthy", "prod", "POD001"),  # waiting: CrashLoopBackOff
                       ("checks/test_pods.py::test_pods_healthy", "prod", "POD003")}, seen["findings"]  # 14 restarts

        # Next run: staging is fixed, prod misses its backup too; dev and the pod are still failing.
        s3.put_object_tagging(Bucket=BUCKET, Key=staging_newest,
                              Tagging={"TagSet": [{"Key": "auto-delete", "Value": "true"}]})
        _miss_two_nights(s3, "prod")
        second = _run(checklist)
        assert second.ret == 1
        seen = _look(page, project, "report-failing.png")

    groups = {(group, check.rsplit("::", 1)[1], env, code) for group, check, env, code, _ in seen["findings"]}
    assert groups == {
        ("new", "test_backup_is_fresh", "prod", "BKP001"),
        ("still", "test_backup_is_fresh", "dev", "BKP001"),
        ("still", "test_pods_healthy", "prod", "POD001"),
        ("still", "test_pods_healthy", "prod", "POD003"),
        ("fixed", "test_backups_expire", "staging", "BKP005"),
    }, seen["findings"]
    assert len(seen["findings"]) == len(groups)
    assert seen["headline"].startswith(f"Needs attention — FAILED: 3 of {total} checks failed "
                                       "(1 new, 3 still failing, 1 fixed)")
    today = f"{clock.now():%Y-%m-%d}"  # the sandbox's noon: the three runs' day
    assert {(t[0].rsplit("::", 1)[1], t[1], t[3]) for t in seen["tasks"]} == {
        ("test_upload_drill", "dev", "overdue"),
        ("test_backup_is_fresh", "dev", f"failing since {today} (2 runs)"),
        ("test_pods_healthy", "prod", f"failing since {today} (2 runs)"),
        ("test_backup_is_fresh", "prod", f"failing since {today} (1 run)"),
    }
    # The terminal says the same, new first.
    out = second.stdout.lines
    start = out.index("New since the previous run (1):")
    assert out[start + 1].startswith("  • BKP001 (critical) [prod] s3://ingest-db-backup/prod/")
    assert out[start + 2] == "Still failing (3):"
    assert out[start + 6] == "Fixed since the previous run (1):"
