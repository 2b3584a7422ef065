"""The e2e area against a loopback Ingest over real TLS: healthy passes, each broken part fails with its code."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

from opschecks import protection
from opschecks.areas.e2e import e2e, ingest_api
from opschecks.record import ledger
from opschecks.__main__ import main
from opschecks.config import Config, EnvConfig
from opschecks.areas.e2e.settings import E2ESettings, RoundTripSettings
from opschecks.sandbox import kube_objects as k
from opschecks.sandbox.ingest import FakeIngest, make_certificates
from opschecks.verdict import Verdict
from tests.conftest import INGEST_TOKEN as TOKEN

pytest_plugins = ["pytester"]

NOW = dt.datetime.now(dt.timezone.utc)


def settings(ingest: FakeIngest, tmp_path: Path, **round_trip: object) -> E2ESettings:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    trip = RoundTripSettings(token_file=str(token), deadline_s=10, poll_s=0.05)
    return E2ESettings(ui_url=ingest.ui_url, api_url=ingest.api_url, ca_bundle=str(ingest.certs.ca_file),
                       round_trip=replace(trip, **round_trip))


def codes(verdict: Verdict) -> set[str]:
    return {f.code for f in verdict.findings}


# -- smoke ---------------------------------------------------------------------------------------------------
def test_healthy_service_passes_the_smoke_with_a_row_per_endpoint(ingest: FakeIngest, tmp_path: Path) -> None:
    verdict = e2e.smoke("dev", settings(ingest, tmp_path), NOW)
    assert verdict.findings == []
    assert [row[0] for row in verdict.rows] == ["UI", "API root", "API envelope listing", "API health"]
    assert all(row[2] == "200" and row[3].endswith(" ms") for row in verdict.rows)
    assert all("(365 days)" in row[4] or "(364 days)" in row[4] for row in verdict.rows)


def test_the_real_endpoints_by_default() -> None:
    assert e2e.endpoints("staging", E2ESettings()) == e2e.Endpoints(
        "https://ingest.staging.archive.data.humancellatlas.org",
        "https://ingest.staging.archive.data.humancellatlas.org",
        "https://api.ingest.staging.archive.data.humancellatlas.org")
    assert e2e.endpoints("prod", E2ESettings()).api == "https://api.ingest.archive.data.humancellatlas.org"


def test_slow_endpoint_is_E2E002(ingest: FakeIngest, tmp_path: Path) -> None:
    ingest.delay_s = 0.3
    verdict = e2e.smoke("dev", replace(settings(ingest, tmp_path), latency_budget_ms=100), NOW)
    assert codes(verdict) == {"E2E002"}
    assert "expected an answer within 100 ms, took 3" in verdict.findings[0].message
    assert verdict.findings[0].where.startswith("dev UI https://localhost:")


def test_certificate_expiring_soon_is_E2E004(tmp_path: Path) -> None:
    fake = FakeIngest(make_certificates(tmp_path / "tls", days=10), TOKEN)
    fake.start()
    try:
        verdict = e2e.smoke("staging", settings(fake, tmp_path), NOW)
    finally:
        fake.stop()
    assert codes(verdict) == {"E2E004"}
    assert len(verdict.findings) == 2  # one per host (UI and API), not one per request
    assert "valid for at least 21 more days, it expires" in verdict.findings[0].message


def test_an_intermediate_expiring_soon_is_E2E004_naming_it(tmp_path: Path) -> None:
    """The leaf has a year left; the intermediate it is served with has 5 days: the chain breaks in 5."""
    fake = FakeIngest(make_certificates(tmp_path / "tls", intermediate_days=5), TOKEN)
    fake.start()
    try:
        verdict = e2e.smoke("staging", settings(fake, tmp_path), NOW)
    finally:
        fake.stop()
    assert codes(verdict) == {"E2E004"} and len(verdict.findings) == 2  # one per host
    assert "expected the certificate chain to be valid for at least 21 more days, its intermediate " \
           "CN=opschecks sandbox intermediate CA expires " in verdict.findings[0].message
    assert verdict.findings[0].message.endswith("(5 days)")
    assert verdict.rows[0][4].endswith("; chain: 5 days")


@pytest.mark.parametrize("case", ["untrusted", "wrong host", "expired"])
def test_bad_certificate_is_E2E003_and_the_endpoints_E2E001(case: str, tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "tls", days=-1 if case == "expired" else 365,
                              hosts=("ingest.example.org",) if case == "wrong host" else ("localhost", "127.0.0.1"))
    fake = FakeIngest(certs, TOKEN)
    fake.start()
    try:
        chosen = settings(fake, tmp_path)
        if case == "untrusted":
            chosen = replace(chosen, ca_bundle=None)
        verdict = e2e.smoke("dev", chosen, NOW)
    finally:
        fake.stop()
    assert codes(verdict) == {"E2E001", "E2E003"}
    bad_cert = [f for f in verdict.findings if f.code == "E2E003"]
    expected = {"untrusted": "unable to get local issuer certificate", "wrong host": "Hostname mismatch",
                "expired": "certificate has expired"}[case]
    assert len(bad_cert) == 2 and all(expected in f.message for f in bad_cert)


def test_unreachable_and_hung_endpoints_fail_fast_naming_them(ingest: FakeIngest, tmp_path: Path) -> None:
    hung = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) and never answers
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        chosen = replace(settings(ingest, tmp_path), ui_url=f"https://127.0.0.1:{hung.getsockname()[1]}",
                         api_url=f"https://127.0.0.1:{closed_port}", connect_timeout_s=1, read_timeout_s=1)
        started = time.monotonic()
        verdict = e2e.smoke("dev", chosen, NOW)
        elapsed = time.monotonic() - started
    finally:
        hung.close()
    assert elapsed < 10  # two probes of the hung host and its certificate, each bounded by 1 s timeouts
    assert codes(verdict) == {"E2E001"}
    ui = next(f for f in verdict.findings if "UI" in f.where)
    assert "no answer within 1s" in ui.message
    api = next(f for f in verdict.findings if "API root" in f.where)
    assert api.message.startswith("expected an answer, found no connection (") and "refused" in api.message


class _NotHal(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = {"/": {"hello": "world"}, "/health": {"status": "DOWN"}}.get(self.path.split("?")[0], {"items": []})
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_an_api_of_the_wrong_shape_is_E2E005(ingest: FakeIngest, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotHal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        chosen = replace(settings(ingest, tmp_path), api_url=f"http://127.0.0.1:{server.server_address[1]}")
        verdict = e2e.smoke("dev", chosen, NOW)
    finally:
        server.shutdown()
        server.server_close()
    assert codes(verdict) == {"E2E005"}
    messages = sorted(f.message for f in verdict.findings)
    assert messages == ['expected HAL _links.submissionEnvelopes.href at the API root, found an object with keys hello',
                        "expected _embedded.submissionEnvelopes (a list), found an object with keys items",
                        "expected health status \"UP\", found str 'DOWN'"]


def test_a_ui_redirecting_away_is_E2E007_naming_the_location(ingest: FakeIngest, tmp_path: Path) -> None:
    ingest.ui_redirect = "https://status.example.org/maintenance"
    verdict = e2e.smoke("prod", settings(ingest, tmp_path), NOW)
    assert codes(verdict) == {"E2E007"}
    assert verdict.findings[0].where == f"prod UI {ingest.ui_url}/"
    assert verdict.findings[0].message == "expected an answer from the service's own hosts, it redirects to " \
                                          "https://status.example.org/maintenance"
    assert verdict.rows[0][2] == "302 -> https://status.example.org/maintenance"

    ingest.ui_redirect = ingest.ui_url.replace("https://", "http://") + "/"  # a downgrade is elsewhere too
    assert codes(e2e.smoke("prod", settings(ingest, tmp_path), NOW)) == {"E2E007"}


def test_a_redirect_within_the_service_is_followed(ingest: FakeIngest, tmp_path: Path) -> None:
    ingest.ui_redirect = "/login"  # the SPA's own route: followed, judged by its answer
    verdict = e2e.smoke("dev", settings(ingest, tmp_path), NOW)
    assert verdict.findings == []
    assert verdict.rows[0][:3] == ("UI", f"{ingest.ui_url}/", "200")
    ingest.ui_redirect = f"{ingest.ui_url}/"  # to itself, forever
    verdict = e2e.smoke("dev", settings(ingest, tmp_path), NOW)
    assert [(f.code, f.message) for f in verdict.findings] == [
        ("E2E001", f"expected an answer, found more than 5 redirects (last to {ingest.ui_url}/)")]


def test_an_empty_listing_in_a_protected_env_is_E2E006(ingest: FakeIngest, tmp_path: Path) -> None:
    """Spring Data REST answers an empty repository with ``page.totalElements: 0`` and no ``_embedded``: a
    valid shape, and in prod (thousands yesterday) a lost or wrong database."""
    verdict = e2e.smoke("prod", settings(ingest, tmp_path), NOW, protected=True)
    assert codes(verdict) == {"E2E006"}
    assert verdict.findings[0].where.startswith("prod API envelope listing https://localhost:")
    assert verdict.findings[0].message == "expected at least 1 submissions (min_submissions), the API lists 0"
    assert verdict.details["submissions"] == 0
    assert e2e.smoke("dev", settings(ingest, tmp_path), NOW).findings == []  # a fresh dev may be empty

    for _ in range(2):
        ingest.create()
    verdict = e2e.smoke("dev", replace(settings(ingest, tmp_path), min_submissions=3), NOW)
    assert [f.message for f in verdict.findings] == ["expected at least 3 submissions (min_submissions), the API "
                                                     "lists 2"]


def test_a_listing_far_smaller_than_at_the_last_pass_is_E2E006(ingest: FakeIngest, tmp_path: Path) -> None:
    for _ in range(2):
        ingest.create()
    verdict = e2e.smoke("prod", settings(ingest, tmp_path), NOW, protected=True, previous_total=4120)
    assert [f.message for f in verdict.findings] == [
        "expected no more than a 50% drop in submissions since the last passing run (4120), the API lists 2"]
    assert e2e.smoke("prod", settings(ingest, tmp_path), NOW, protected=True, previous_total=3).findings == []


def test_the_baseline_is_the_newest_passing_run_that_counted() -> None:
    def record(outcome: str, details: dict) -> ledger.Record:
        return ledger.Record("checks/test_e2e.py::test_service_smoke", "prod", outcome, NOW, 1.0, "ci@runner",
                             details)

    runs = [record("failed", {"submissions": 0}), record("passed", {}), record("passed", {"submissions": 4120}),
            record("passed", {"submissions": 4000})]
    assert e2e.last_total(runs) == 4120  # a failed run's 0 would make the drop vanish on the next run
    assert e2e.last_total([]) is None


# -- round trip ----------------------------------------------------------------------------------------------
def env_with(e2e_settings: E2ESettings, name: str = "dev") -> EnvConfig:
    return EnvConfig(name=name, area_settings=(e2e_settings,))


def trip(env: EnvConfig, *others: EnvConfig) -> Verdict:
    """The round trip of ``env``, guarded as the check guards it, in a config of ``env`` and ``others``."""
    config = Config(Path("opschecks.toml"), {e.name: e for e in (env, *others)})
    return e2e.round_trip(env, protection.guard(config, env))


def test_round_trip_through_the_api_creates_validates_and_deletes(ingest: FakeIngest, tmp_path: Path) -> None:
    verdict = trip(env_with(settings(ingest, tmp_path)))
    assert verdict.findings == []
    assert [row[0] for row in verdict.rows] == ["create", "wait for Valid", "entities", "delete", "delete project"]
    assert verdict.details["entities"] == {"projects": 1}
    assert ingest.envelopes == {} and ingest.projects == {}  # deleted
    writes = [(m, p, auth) for m, p, auth in ingest.requests if m != "GET"]
    assert writes and all(auth == f"Bearer {TOKEN}" for _, _, auth in writes)
    assert ("DELETE", writes[-1][1], f"Bearer {TOKEN}") == writes[-1]


def test_round_trip_deletes_the_projects_ingest_core_keeps(ingest: FakeIngest, tmp_path: Path) -> None:
    """ingest-core's SubmissionEnvelopeService.deleteSubmission(envelope, forceDelete) deletes biomaterials,
    processes, protocols and files "BySubmissionEnvelope", but for projects only
    ``project.setSubmissionEnvelope(null); // TODO: ... project containers that aren't deleted as part of
    deleteSubmission()``: every round trip left a project behind. The stand-in now keeps them too; the round
    trip deletes each through its self link and judges it gone by a 404."""
    verdict = trip(env_with(settings(ingest, tmp_path)))
    assert verdict.findings == []
    assert ingest.envelopes == {} and ingest.projects == {}
    (project,) = verdict.details["projects"]
    assert project.startswith(f"{ingest.api_url}/projects/")
    path = project.removeprefix(ingest.api_url)
    assert ("DELETE", path, f"Bearer {TOKEN}") in ingest.requests
    assert ingest.requests.index(("GET", path, "")) > ingest.requests.index(("DELETE", path, f"Bearer {TOKEN}"))


def test_a_project_left_after_its_delete_is_E2E014_naming_it(ingest: FakeIngest, tmp_path: Path) -> None:
    ingest.project_delete_noop = True  # 204, and the project is still there: judged, not assumed
    verdict = trip(env_with(settings(ingest, tmp_path)))
    assert codes(verdict) == {"E2E014"}
    (left,) = ingest.projects
    assert verdict.findings[0].where == f"dev {ingest.api_url}/projects/{left}"
    assert verdict.findings[0].message == "expected HTTP 404 after the delete, found HTTP 200: the test project " \
                                          "is still there"


def test_the_api_path_posts_the_project_as_content_as_ingest_client_does(ingest: FakeIngest, tmp_path: Path) -> None:
    """ingest-client's ingestapi.py: ``create_project(self, submission_url, content, uuid=None): return
    self.create_entity(submission_url, {'content': content}, "projects", uuid)``. The stand-in, like the real
    API, rejects a project whose body is not ``{"content": {...}}``."""
    ingest.project_delete_noop = True  # keep it to look at what was stored
    trip(env_with(settings(ingest, tmp_path)))
    (project,) = ingest.projects.values()
    assert project["content"] == e2e.API_PATH_PROJECT
    envelope = ingest.create()
    with ingest_api.session(str(ingest.certs.ca_file)) as http:
        bare = ingest_api.call(http, "POST", f"{ingest.api_url}/submissionEnvelopes/{envelope.id}/projects", (5, 5),
                               TOKEN, json=e2e.API_PATH_PROJECT)
    assert bare.status == 400 and envelope.entities["projects"] == []


def test_round_trip_through_the_broker_with_a_spreadsheet(ingest: FakeIngest, tmp_path: Path) -> None:
    sheet = tmp_path / "dataset.csv"
    sheet.write_text("projects,p1\nbiomaterials,donor1\nbiomaterials,specimen1\n")
    chosen = settings(ingest, tmp_path, spreadsheet=str(sheet), expected_entities={"projects": 1, "biomaterials": 2})
    verdict = trip(env_with(chosen))
    assert verdict.findings == []
    assert verdict.details["entities"] == {"projects": 1, "biomaterials": 2}
    assert ingest.envelopes == {} and ingest.projects == {}

    too_many = settings(ingest, tmp_path, spreadsheet=str(sheet), expected_entities={"biomaterials": 3})
    verdict = trip(env_with(too_many))
    assert codes(verdict) == {"E2E013"}
    assert verdict.findings[0].message == "expected at least 3 biomaterials, found 2"
    assert ingest.envelopes == {}


def test_envelope_stuck_in_validating_is_E2E012_and_still_deleted(ingest: FakeIngest, tmp_path: Path) -> None:
    ingest.stuck_in = "Validating"
    verdict = trip(env_with(settings(ingest, tmp_path, deadline_s=0.6)))
    assert codes(verdict) == {"E2E012"}
    assert "expected Valid within 0.6s, still Validating (for " in verdict.findings[0].message
    assert verdict.findings[0].where.startswith("dev https://localhost:")
    assert ingest.envelopes == {}


def test_transient_503s_while_polling_are_waited_out(ingest: FakeIngest, tmp_path: Path) -> None:
    ingest.unavailable_polls = 3  # the gateway answers 503 while ingest-core restarts
    verdict = trip(env_with(settings(ingest, tmp_path)))
    assert verdict.findings == [] and ingest.unavailable_polls == 0
    assert ingest.envelopes == {}


def test_503s_until_the_deadline_are_E2E012_counting_them(ingest: FakeIngest, tmp_path: Path) -> None:
    ingest.unavailable_polls = 10**6
    verdict = trip(env_with(settings(ingest, tmp_path, deadline_s=0.5)))
    # Still down at clean-up: its projects cannot be listed, and that is said too (fail closed).
    assert codes(verdict) == {"E2E012", "E2E014"}
    assert "could not list the test submission's projects before its delete (HTTP 503" in \
        next(f.message for f in verdict.findings if f.code == "E2E014")
    message = next(f.message for f in verdict.findings if f.code == "E2E012")
    assert message.startswith("expected Valid within 0.5s, never read the envelope; transient errors while "
                              "polling: HTTP 503 x")
    assert int(message.rsplit("x", 1)[1]) >= 2
    ingest.unavailable_polls = 0


def test_failing_delete_is_E2E014(ingest: FakeIngest, tmp_path: Path) -> None:
    ingest.fail_delete = True
    verdict = trip(env_with(settings(ingest, tmp_path)))
    assert codes(verdict) == {"E2E014"}
    assert "found HTTP 500 (delete failed): delete the test submission by hand" in verdict.findings[0].message
    assert len(ingest.envelopes) == 1


def test_protected_env_refuses_the_round_trip_without_a_request(ingest: FakeIngest, tmp_path: Path) -> None:
    verdict = trip(replace(env_with(settings(ingest, tmp_path), name="prod"), protected=True))
    assert codes(verdict) == {"E2E010"} and ingest.requests == []
    assert "the environment is protected (it says protected = true)" in verdict.findings[0].message


def test_no_credentials_is_E2E011_saying_what_to_set(ingest: FakeIngest, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    verdict = trip(env_with(settings(ingest, tmp_path, token_file=None)))
    assert codes(verdict) == {"E2E011"}
    assert "set GOOGLE_APPLICATION_CREDENTIALS" in verdict.findings[0].message
    assert ingest.requests == []

    ingest.token = "another"  # a token the API rejects: 401 on create, nothing left behind
    verdict = trip(env_with(settings(ingest, tmp_path)))
    assert codes(verdict) == {"E2E011"} and "found HTTP 401" in verdict.findings[0].message


def test_service_account_key_signs_a_jwt_for_the_audience(ingest: FakeIngest, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    account = {"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem,
               "client_email": "ingest-e2e@p.iam.gserviceaccount.com", "client_id": "1",
               "token_uri": "https://oauth2.googleapis.com/token"}
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(account))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    chosen = settings(ingest, tmp_path, token_file=None, audience="https://dev.data.humancellatlas.org/")
    token = next(a for _, _, a in _writes_with(ingest, chosen)).removeprefix("Bearer ")
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    claims = jwt.decode(token, certs=public, audience="https://dev.data.humancellatlas.org/")
    assert claims["iss"] == "ingest-e2e@p.iam.gserviceaccount.com"


def _writes_with(ingest: FakeIngest, chosen: E2ESettings) -> list[tuple[str, str, str]]:
    ingest.token = "unknowable"  # the API answers 401; we only look at what was sent
    trip(env_with(chosen))
    return [r for r in ingest.requests if r[0] == "POST"]


# -- through pytest, and `due` -------------------------------------------------------------------------------
def lay_out(checklist, ingest: FakeIngest, tmp_path: Path, deadline_s: float = 10) -> None:  # noqa: ANN001
    (tmp_path / "token").write_text(TOKEN)
    checklist.config(f"""
        [env.dev]
        kube_context = "ctx-dev"
        [env.dev.e2e]
        ui_url = "{ingest.ui_url}"
        api_url = "{ingest.api_url}"
        ca_bundle = "{ingest.certs.ca_file}"
        [env.dev.e2e.round_trip]
        token_file = "{tmp_path / 'token'}"
        deadline_s = {deadline_s}
        poll_s = 0.05
        [ledger]
        path = "{checklist.path / 'ledger.sqlite'}"
        """)
    checklist.check("e2e")


@pytest.fixture
def cluster(sandbox_env, checklist, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: ANN001 (fixtures)
    """A cluster of its own with Ingest's workloads in dev-environment, as context ``ctx-dev``."""
    name = f"e2e-images-{time.monotonic_ns()}"
    sandbox_env.kube.set_objects(name, "deployments", [k.deployment("ingest-core", "dev-environment", now=NOW)])
    sandbox_env.kube.set_objects(name, "statefulsets", [k.statefulset("mongo", "dev-environment", now=NOW)])
    kubeconfig = sandbox_env.kube.write_kubeconfig(checklist.path / "kubeconfig", {"ctx-dev": name})
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return name


def test_marker_selects_the_service_checks_and_due_sees_an_image_change(
        checklist, ingest: FakeIngest, tmp_path: Path, cluster: str, sandbox_env) -> None:  # noqa: ANN001
    lay_out(checklist, ingest, tmp_path)
    result = checklist.run("-m", "e2e", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    records = ledger.open_ledger(checklist.path / "ledger.sqlite").query(check="checks/test_e2e.py::test_service_smoke")
    assert records[0].details["images"] == {"deployment/ingest-core": ["quay.io/ebi-ait/ingest-core:2.14.0"],
                                            "statefulset/mongo": ["mongo:4.2.24"]}
    assert records[0].details["submissions"] == 0  # the next run's baseline (past_runs)

    args = ["due", f"--config={checklist.path / 'opschecks.toml'}", f"--checks={checklist.path / 'checks'}"]
    assert main(args) == 0
    sandbox_env.kube.set_objects(cluster, "deployments", [
        k.deployment("ingest-core", "dev-environment", now=NOW, image="quay.io/ebi-ait/ingest-core:2.15.0")])
    out = _capture(lambda: main(args))
    assert "checks/test_e2e.py::test_service_smoke [dev] is due: images changed in dev-environment since its last " \
           "pass: deployment/ingest-core quay.io/ebi-ait/ingest-core:2.14.0 -> quay.io/ebi-ait/ingest-core:2.15.0" in out
    line = next(row for row in out.splitlines() if row.startswith("checks/test_e2e.py::test_service_smoke "))
    assert line.split()[-1] == "DUE" and "now" in line


def _capture(fn) -> str:  # noqa: ANN001
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()) as out:
        fn()
    return out.getvalue()


def test_prod_refuses_the_round_trip_in_one_line(checklist, ingest: FakeIngest, tmp_path: Path,  # noqa: ANN001
                                                 cluster: str) -> None:
    lay_out(checklist, ingest, tmp_path)
    text = (checklist.path / "opschecks.toml").read_text().replace("[env.dev", "[env.prod")
    (checklist.path / "opschecks.toml").write_text(text)
    result = checklist.run("-m", "e2e", "-k", "round_trip")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]E2E010[]] prod https://localhost:*: refusing the submission round trip: "
                                 "the environment is protected (its name looks like production (say protected = "
                                 "false in its table if it is not)); *"])
    assert ingest.requests == []


@pytest.mark.parametrize("moment", ["while it waits for a state", "while the create is in flight"])
def test_sigterm_mid_round_trip_still_deletes_the_submission(checklist, ingest: FakeIngest, tmp_path: Path,  # noqa: ANN001
                                                             cluster: str, moment: str) -> None:
    """A real SIGTERM (fixtures/signals.py: handled as Ctrl-C) mid round trip. In flight, the create's
    request has reached the API but not returned the submission's URL: the signal waits for it."""
    ingest.stuck_in = "Validating"
    lay_out(checklist, ingest, tmp_path, deadline_s=120)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-m", "e2e", "-k", "round_trip", "-p", "no:cacheprovider"],
                            cwd=checklist.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    if moment == "while the create is in flight":
        ingest.delay_s = 2.0  # every answer 2 s late: the POST is recorded on arrival, answered after the delay
        wanted = ("POST", "/submissionEnvelopes")
    else:
        wanted = ("GET", "/submissionEnvelopes/")
    deadline = time.monotonic() + 60
    while not any(m == wanted[0] and p.startswith(wanted[1]) for m, p, _ in ingest.requests):
        assert proc.poll() is None and time.monotonic() < deadline, f"the round trip never sent {wanted}"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=90)[0].decode()
    assert ingest.envelopes == {}, output[-2000:]
    assert any(m == "DELETE" for m, _, _ in ingest.requests)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-2000:]
