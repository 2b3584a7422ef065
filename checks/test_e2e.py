"""Whenever major changes occur: end-to-end checks of the running Ingest service (how each is judged: opschecks/areas/e2e/e2e.py).

``pytest -m e2e``. The smoke reads only and runs in every environment; the round trip writes a test
submission and deletes it, only where ``[env.<name>.e2e.round_trip]`` is set and never in a protected env.
``python -m opschecks due`` says when these are due: when the images deployed in ``<env>-environment``
changed since their last pass.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s

from fixtures.report import Report
from opschecks import clock, protection
from opschecks.areas.e2e import e2e
from opschecks.config import Config, EnvConfig
from opschecks.findings import fail_on
from opschecks.record.ledger import Record
from opschecks.areas.e2e.settings import E2ESettings

pytestmark = pytest.mark.e2e


def test_service_smoke(env: EnvConfig, ops_config: Config, kube_api: k8s.ApiClient, report: Report,
                       ledger_details: dict[str, Any], past_runs: list[Record]) -> None:
    # The listing is judged against a minimum (1 in a protected env by default) and the last passing run's count.
    protected = protection.guard(ops_config, env).why_protected is not None
    verdict = e2e.smoke(env.name, env.settings(E2ESettings), clock.now(), protected, e2e.last_total(past_runs))
    report.table(f"{env.name}: endpoints", e2e.SMOKE_COLUMNS, verdict.rows)
    ledger_details.update(verdict.details)
    # What ran when this passed: `due` compares it with what runs now to tell a major change.
    ledger_details["images"] = e2e.deployed_images(kube_api, env.app_namespace)
    fail_on(verdict.findings)


@pytest.mark.configured("e2e.round_trip")
def test_submission_round_trip(env: EnvConfig, ops_config: Config, kube_api: k8s.ApiClient, report: Report,
                               ledger_details: dict[str, Any]) -> None:
    # Protected as the upload drill and cleanup are (declared, name not known writable, a protected account),
    # and by target: a URL on a protected env's host is refused whatever this env is called.
    verdict = e2e.round_trip(env, protection.guard(ops_config, env))
    report.table(f"{env.name}: submission round trip", e2e.ROUND_TRIP_COLUMNS, verdict.rows)
    ledger_details.update(verdict.details)
    ledger_details["images"] = e2e.deployed_images(kube_api, env.app_namespace)
    fail_on(verdict.findings)
