"""End-to-end checks of the running Ingest service: a read-only smoke everywhere, a submission round trip in dev/staging.

The checklist ran these by hand on staging "whenever major changes occur". Here:

- **smoke** (every env, prod included; reads only): the UI, the broker, the API root and health answer
  within a latency budget; the API lists submission envelopes (HAL ``_embedded.submissionEnvelopes``), at
  least ``min_submissions`` of them and not far fewer than at the last passing run (``max_drop_share``);
  every HTTPS host's certificate is trusted, matches the host, and it and every intermediate the host serves
  expire no sooner than ``cert_min_days``.
- **round trip** (only where ``[env.<name>.e2e.round_trip]`` is set, never in a protected env): upload the
  configured spreadsheet through the broker, or create an envelope and a project through the API; wait with
  a deadline for ``expected_state``; check the entities exist; delete the submission (``?force=true``)
  whatever happened, Ctrl-C and SIGTERM included, then its projects (ingest-core keeps those), and confirm
  each is gone (HTTP 404).
- **major change, detected**: the check records the images deployed in ``<env>-environment``;
  ``python -m opschecks due`` marks the e2e checks due when they differ at the last passing run.

Finding codes:
  E2E001  an endpoint did not answer, or answered an error status
  E2E002  an endpoint answered slower than the latency budget
  E2E003  a certificate is not trusted, does not match the host, or has expired
  E2E004  a certificate of a served chain (leaf or intermediate) expires sooner than ``cert_min_days``
  E2E005  the API root or envelope listing is not the expected HAL shape
  E2E006  the API lists fewer submissions than ``min_submissions``, or far fewer than at the last passing run
  E2E007  an endpoint redirects away from the service's own hosts (a maintenance page, a login elsewhere)
  E2E010  the round trip is refused here (protected environment, or a URL that is a protected env's host)
  E2E011  the submission could not be created (no credentials, upload or create rejected)
  E2E012  the submission did not reach ``expected_state`` in time, or reached a failed state
  E2E013  the submission lacks entities the spreadsheet (or the API path) should have created
  E2E014  the test submission or one of its projects could not be deleted, or is still there after the delete
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
from cryptography import x509

from opschecks import interrupts, protection
from opschecks.areas.e2e import ingest_api
from opschecks.findings import Finding
from opschecks.verdict import Verdict
from opschecks.areas.e2e.settings import E2ESettings, Endpoints, RoundTripSettings, endpoints

if TYPE_CHECKING:  # config imports this module for E2ESettings
    from kubernetes import client as k8s

    from opschecks.config import EnvConfig

FAILED_STATES = ("Invalid",)
MAX_REDIRECTS = 5
API_PATH_PROJECT = {  # the smallest project the API path creates (schema from the Ingest walkthrough)
    "describedBy": "https://schema.humancellatlas.org/type/project/14.2.0/project",
    "schema_type": "project",
    "project_core": {"project_short_name": "opschecks-e2e", "project_title": "opschecks end-to-end test",
                     "project_description": "Created and deleted by the opschecks e2e round trip."},
}


SMOKE_COLUMNS = ("endpoint", "url", "status", "latency", "certificate expires")


# -- smoke ---------------------------------------------------------------------------------------------------
def smoke(env_name: str, settings: E2ESettings, now: dt.datetime, protected: bool = False,
          previous_total: int | None = None) -> Verdict:
    """``protected``: the env's protection (sets the default ``min_submissions``); ``previous_total``: the
    submissions listed at the last passing run (``last_total``), None when none recorded one."""
    ends = endpoints(env_name, settings)
    verdict = Verdict()
    http = ingest_api.session(settings.ca_bundle)
    certs: dict[str, str] = {}

    def cert_of(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "https":
            return "plain HTTP"
        key = parts.netloc
        if key not in certs:
            certs[key] = _judge_certificate(env_name, parts.hostname or "", parts.port or 443, settings, now,
                                            verdict.findings)
        return certs[key]

    probes: list[tuple[str, str, Callable[[Any], str | None]]] = [
        ("UI", ends.ui + "/", lambda body: None),
        ("API root", ends.api + "/", _root_problem),
        ("API envelope listing", ends.api + "/submissionEnvelopes?size=1", _listing_problem),
    ]
    if ends.broker != ends.ui:
        probes.insert(1, ("broker", ends.broker + "/", lambda body: None))
    if settings.health_path:
        probes.append(("API health", ends.api + settings.health_path, _health_problem))
    own = {_origin(u) for u in (ends.ui, ends.broker, ends.api)}
    with http:
        for name, url, shape in probes:
            answer, problem, away = _probe(http, url, settings, own)
            where = f"{env_name} {name} {url}"
            expiry = cert_of(url)
            if away:
                verdict.findings.append(Finding("E2E007", where, "expected an answer from the service's own "
                                                f"hosts, it redirects to {away}"))
                verdict.rows.append((name, url, f"{answer.status} -> {away}", "-", expiry))
                continue
            if answer is None:
                verdict.findings.append(Finding("E2E001", where, f"expected an answer, found {problem}"))
                verdict.rows.append((name, url, problem, "-", expiry))
                continue
            latency_ms = answer.seconds * 1000
            verdict.rows.append((name, url, str(answer.status), f"{latency_ms:.0f} ms", expiry))
            verdict.details[name] = {"status": answer.status, "ms": round(latency_ms)}
            if not answer.ok:
                verdict.findings.append(Finding("E2E001", where, f"expected 2xx/3xx, found HTTP {answer.status}"
                                                f"{_said(answer.body)}"))
                continue
            if latency_ms > settings.latency_budget_ms:
                verdict.findings.append(Finding("E2E002", where, f"expected an answer within "
                                                f"{settings.latency_budget_ms:.0f} ms, took {latency_ms:.0f} ms"))
            problem = shape(answer.body)
            if problem:
                verdict.findings.append(Finding("E2E005", where, problem))
            elif name == "API envelope listing":
                total = _get(answer.body, "page", "totalElements")
                verdict.details["submissions"] = total if isinstance(total, int) else None
                problem = _count_problem(total, settings, protected, previous_total)
                if problem:
                    verdict.findings.append(Finding("E2E006", where, problem))
    return verdict


def _count_problem(total: Any, settings: E2ESettings, protected: bool, previous: int | None) -> str | None:
    minimum = settings.min_submissions if settings.min_submissions is not None else (1 if protected else 0)
    if not isinstance(total, int):
        # Without a count there is nothing to judge against: fail closed when there is something to judge.
        return None if minimum == 0 and previous is None else \
            "expected page.totalElements (an integer) in the envelope listing, found none"
    if total < minimum:
        return f"expected at least {minimum} submissions (min_submissions), the API lists {total}"
    if previous and total < previous * (1 - settings.max_drop_share):
        return f"expected no more than a {settings.max_drop_share:.0%} drop in submissions since the last passing " \
               f"run ({previous}), the API lists {total}"
    return None


def last_total(past_runs: list[Any]) -> int | None:
    """The submissions the listing held at the newest passing run in ``past_runs`` (ledger records, newest
    first), or None. A failed run's count is not a baseline: a drop stays a finding until it is explained."""
    for record in past_runs:
        total = record.details.get("submissions")
        if record.outcome == "passed" and isinstance(total, int):
            return total
    return None


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _probe(http: requests.Session, url: str, settings: E2ESettings,
           own: set[tuple[str, str, int]]) -> tuple[ingest_api.Answer | None, str, str | None]:
    """GET ``url``, following redirects only within ``own`` origins: (the last answer, why there was none, the
    Location of a redirect elsewhere). A 302 to a status page is the service saying it is not serving."""
    started = time.monotonic()
    target = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            answer = ingest_api.call(http, "GET", target, (settings.connect_timeout_s, settings.read_timeout_s))
            location = answer.headers.get("Location") if 300 <= answer.status < 400 else None
            if not location:
                break
            target = urljoin(target, location)
            if _origin(target) not in own:  # a downgrade to http:// on the same host is elsewhere too
                return answer, "", target
        else:
            return None, f"more than {MAX_REDIRECTS} redirects (last to {target})", None
    except requests.exceptions.SSLError:
        return None, "a TLS error (see E2E003)", None
    except requests.exceptions.Timeout:
        return None, f"no answer within {time.monotonic() - started:.0f}s (timeouts: connect " \
                     f"{settings.connect_timeout_s:g}s, read {settings.read_timeout_s:g}s)", None
    except requests.exceptions.ConnectionError as exc:
        return None, f"no connection ({_root_cause(exc)})", None
    # Latency as the user sees it, TLS handshake and same-service redirects included.
    return ingest_api.Answer(answer.status, time.monotonic() - started, answer.body, url), "", None


def _judge_certificate(env_name: str, host: str, port: int, settings: E2ESettings, now: dt.datetime,
                       findings: list[Finding]) -> str:
    where = f"{env_name} https://{host}:{port}"
    context = ssl.create_default_context(cafile=settings.ca_bundle)
    try:
        with socket.create_connection((host, port), timeout=settings.connect_timeout_s) as raw:
            raw.settimeout(settings.read_timeout_s)
            with context.wrap_socket(raw, server_hostname=host) as tls:
                chain = _served_chain(tls)
    except ssl.SSLCertVerificationError as exc:
        findings.append(Finding("E2E003", where, f"expected a trusted certificate for {host}, "
                                f"found: {exc.verify_message}"))
        return f"invalid: {exc.verify_message}"
    except (OSError, ssl.SSLError) as exc:
        return f"not read ({_root_cause(exc)})"  # the probe of this host reports it as E2E001
    # Every certificate the host serves: an intermediate that expires breaks the chain as surely as the leaf.
    soonest = None
    for index, cert in enumerate(chain):
        expires = cert.not_valid_after_utc
        days = (expires - now).total_seconds() / 86400
        soonest = days if soonest is None else min(soonest, days)
        if days < settings.cert_min_days:
            which = "it" if index == 0 else f"its intermediate {cert.subject.rfc4514_string()}"
            findings.append(Finding("E2E004", where, f"expected the certificate{'' if index == 0 else ' chain'} "
                                    f"to be valid for at least {settings.cert_min_days} more days, {which} "
                                    f"expires {expires:%Y-%m-%d} ({days:.0f} days)"))
    leaf = chain[0].not_valid_after_utc
    text = f"{leaf:%Y-%m-%d} ({(leaf - now).total_seconds() / 86400:.0f} days)"
    return text if soonest >= (leaf - now).total_seconds() / 86400 else f"{text}; chain: {soonest:.0f} days"


def _served_chain(tls: ssl.SSLSocket) -> list[x509.Certificate]:
    """The certificates the server sent, leaf first. Public in Python 3.13 (``get_unverified_chain``); in
    3.10-3.12 the same method lives on the private ``_sslobj``."""
    public = getattr(tls, "get_unverified_chain", None)
    if public is not None:  # 3.13+: DER bytes
        return [x509.load_der_x509_certificate(der) for der in public()]
    # 3.10-3.12: _ssl.Certificate objects, whose public_bytes() is PEM text by default.
    return [x509.load_pem_x509_certificate(c.public_bytes().encode())
            for c in tls._sslobj.get_unverified_chain()]  # noqa: SLF001


def _root_problem(body: Any) -> str | None:
    href = _get(body, "_links", "submissionEnvelopes", "href")
    return None if isinstance(href, str) else \
        f"expected HAL _links.submissionEnvelopes.href at the API root, found {_shape(body)}"


def _listing_problem(body: Any) -> str | None:
    envelopes = _get(body, "_embedded", "submissionEnvelopes")
    if not isinstance(envelopes, list):
        # Spring Data REST leaves _embedded out of an empty page; page.totalElements then says 0.
        if _get(body, "page", "totalElements") == 0:
            return None
        return f"expected _embedded.submissionEnvelopes (a list), found {_shape(body)}"
    bad = [e for e in envelopes if not isinstance(_get(e, "submissionState"), str)]
    return f"{len(bad)} envelope(s) without a submissionState" if bad else None


def _health_problem(body: Any) -> str | None:
    status = _get(body, "status")
    return None if status == "UP" else f'expected health status "UP", found {_shape(status if status else body)}'


# -- round trip ----------------------------------------------------------------------------------------------
ROUND_TRIP_COLUMNS = ("step", "result", "seconds")


def round_trip(env: EnvConfig, guard: protection.Guard, sleep: Callable[[float], None] = time.sleep) -> Verdict:
    """Create a test submission, wait for its state, check its entities, and always delete it.

    ``guard``: ``env``'s protection (opschecks.protection). A protected env is refused saying why; so is, in any
    env, an API or broker URL that is a protected env's host: the target decides, not the env's name.
    """
    settings = env.settings(E2ESettings)
    trip = settings.round_trip
    ends = endpoints(env.name, settings)
    verdict = Verdict()
    where = f"{env.name} {ends.api}"
    if guard.why_protected:
        verdict.findings.append(Finding("E2E010", where, "refusing the submission round trip: the environment is "
                                        f"protected ({guard.why_protected}); the round trip writes and deletes "
                                        "submissions, the read-only smoke runs"))
        return verdict
    # Every URL the round trip writes to (the broker only takes the spreadsheet, but a broker on prod's host
    # is refused either way: fail closed), judged before the first request.
    for what, url in (("e2e API", ends.api), ("e2e broker", ends.broker)):
        refusal, note = guard.target(what, url)
        if refusal:
            verdict.findings.append(Finding("E2E010", f"{env.name} {url}", refusal))
            return verdict
        verdict.details[f"target {what}"] = note  # in the ledger: whether addresses were compared or names only
    timeout = (settings.connect_timeout_s, settings.read_timeout_s)
    try:
        token = ingest_api.bearer_token(trip.token_file, trip.audience or ends.api + "/")
    except ingest_api.NoToken as exc:
        verdict.findings.append(Finding("E2E011", where, str(exc)))
        return verdict

    def step(name: str, result: str, started: float) -> None:
        verdict.rows.append((name, result, f"{time.monotonic() - started:.1f}"))

    with ingest_api.session(settings.ca_bundle) as http:
        started = time.monotonic()
        envelope_url = None
        try:
            with interrupts.held():  # a create cut short by a signal could leave a submission nobody deletes
                envelope_url, problem = _create(http, ends, trip, token, timeout)
            if envelope_url is None:
                step("create", problem, started)
                verdict.findings.append(Finding("E2E011", where, problem))
                return verdict
            verdict.details["envelope"] = envelope_url
            step("create", f"created {envelope_url}", started)
            started = time.monotonic()
            envelope, problem = _wait(http, envelope_url, trip, timeout, sleep)
            step(f"wait for {trip.expected_state}", problem or f"{trip.expected_state}", started)
            if problem:
                verdict.findings.append(Finding("E2E012", f"{env.name} {envelope_url}", problem))
            if envelope is not None:
                started = time.monotonic()
                counts, missing = _entities(http, envelope, trip, timeout)
                verdict.details["entities"] = counts
                step("entities", ", ".join(f"{k}: {v}" for k, v in counts.items()) or "none", started)
                verdict.findings += [Finding("E2E013", f"{env.name} {envelope_url}", m) for m in missing]
        finally:
            if envelope_url is not None:
                # Always: a test submission left in staging pollutes the team's dashboards and exports.
                started = time.monotonic()
                # Listed before the delete: afterwards nothing links them, yet ingest-core keeps them.
                projects, problem = _projects_of(http, envelope_url, timeout)
                if problem:
                    verdict.findings.append(Finding("E2E014", f"{env.name} {envelope_url}", problem))
                problem = _delete(http, envelope_url, token, timeout, "?force=true", "submission")
                step("delete", problem or "deleted", started)
                if problem:
                    verdict.findings.append(Finding("E2E014", f"{env.name} {envelope_url}", problem))
                for project in projects:
                    started = time.monotonic()
                    problem = _delete(http, project, token, timeout, "", "project")
                    step("delete project", problem or f"deleted {project}", started)
                    if problem:
                        verdict.findings.append(Finding("E2E014", f"{env.name} {project}", problem))
                verdict.details["projects"] = projects  # each deleted, or an E2E014 says not
    return verdict


def _create(http: requests.Session, ends: Endpoints, trip: RoundTripSettings, token: str,
            timeout: tuple[float, float]) -> tuple[str | None, str]:
    try:
        if trip.spreadsheet:
            path = Path(trip.spreadsheet)
            with path.open("rb") as sheet:
                answer = ingest_api.call(http, "POST", ends.broker + "/api_upload", timeout, token,
                                         files={"file": (path.name, sheet)},
                                         data={"params": json.dumps({"isUpdate": False})})
            submission = _get(answer.body, "details", "submission_id")
            if answer.status not in (201, 302) or not submission:
                return None, f"expected 201 with details.submission_id from {answer.url}, found HTTP " \
                             f"{answer.status}{_said(answer.body)}"
            return f"{ends.api}/submissionEnvelopes/{submission}", ""
        answer = ingest_api.call(http, "POST", ends.api + "/submissionEnvelopes", timeout, token, json={})
        href = _get(answer.body, "_links", "self", "href")
        if answer.status != 201 or not isinstance(href, str):
            return None, f"expected 201 with _links.self.href from {answer.url}, found HTTP " \
                         f"{answer.status}{_said(answer.body)}"
        projects = _get(answer.body, "_links", "projects", "href") or f"{href}/projects"
        # Whatever this answers, the envelope exists: the caller deletes it, and E2E013 says what is missing.
        # Wrapped as ingest-client's create_project sends it: create_entity(..., {'content': content}, ...).
        ingest_api.call(http, "POST", projects, timeout, token, json={"content": API_PATH_PROJECT})
        return href, ""
    except OSError as exc:  # requests' errors are OSErrors too
        return None, f"could not create the submission: {_root_cause(exc)}"


def _wait(http: requests.Session, url: str, trip: RoundTripSettings, timeout: tuple[float, float],
          sleep: Callable[[float], None]) -> tuple[dict | None, str | None]:
    started = time.monotonic()
    deadline = started + trip.deadline_s
    state, since, envelope = None, started, None
    transient: dict[int, int] = {}  # 5xx status -> how many polls answered it
    while True:
        try:
            answer = ingest_api.call(http, "GET", url, timeout)
        except requests.RequestException as exc:
            return envelope, f"could not read the envelope: {_root_cause(exc)}"
        if answer.status >= 500:
            # A gateway's 503 while ingest-core restarts or scales is weather, not a verdict: poll on.
            transient[answer.status] = transient.get(answer.status, 0) + 1
        elif answer.status != 200 or not isinstance(_get(answer.body, "submissionState"), str):
            return envelope, f"expected the envelope (HTTP 200 with submissionState), found HTTP " \
                             f"{answer.status}{_said(answer.body)}"
        else:
            envelope = answer.body
            if envelope["submissionState"] != state:
                state, since = envelope["submissionState"], time.monotonic()
            if state == trip.expected_state:
                return envelope, None
            if state in FAILED_STATES:
                return envelope, f"expected {trip.expected_state}, the submission became {state} after " \
                                 f"{time.monotonic() - started:.0f}s"
        if time.monotonic() >= deadline:
            errors = "; ".join(f"HTTP {status} x{count}" for status, count in sorted(transient.items()))
            seen = f"still {state} (for {time.monotonic() - since:.0f}s)" if state else "never read the envelope"
            return envelope, f"expected {trip.expected_state} within {trip.deadline_s:g}s, {seen}" + \
                (f"; transient errors while polling: {errors}" if errors else "")
        sleep(min(trip.poll_s, max(0.0, deadline - time.monotonic())))


def _entities(http: requests.Session, envelope: dict, trip: RoundTripSettings,
              timeout: tuple[float, float]) -> tuple[dict[str, int], list[str]]:
    expected = trip.expected_entities or ({} if trip.spreadsheet else {"projects": 1})
    counts, missing = {}, []
    for kind, minimum in expected.items():
        href = _get(envelope, "_links", kind, "href")
        if not isinstance(href, str):
            missing.append(f"expected a _links.{kind} link on the envelope, found none")
            continue
        try:
            answer = ingest_api.call(http, "GET", href, timeout)
        except requests.RequestException as exc:
            missing.append(f"could not list {kind}: {_root_cause(exc)}")
            continue
        items = _get(answer.body, "_embedded", kind)
        total = _get(answer.body, "page", "totalElements")
        count = total if isinstance(total, int) else len(items) if isinstance(items, list) else 0
        counts[kind] = count
        if count < minimum:
            missing.append(f"expected at least {minimum} {kind}, found {count}")
    return counts, missing


def _projects_of(http: requests.Session, envelope_url: str,
                 timeout: tuple[float, float]) -> tuple[list[str], str | None]:
    """The self links of the submission's projects, or why they could not be listed (then some may be left)."""
    try:
        envelope = ingest_api.call(http, "GET", envelope_url, timeout)
        href = _get(envelope.body, "_links", "projects", "href")
        if envelope.status != 200 or not isinstance(href, str):
            raise ValueError(f"HTTP {envelope.status} without _links.projects")
        listing = ingest_api.call(http, "GET", href.split("{")[0], timeout)
        items = _get(listing.body, "_embedded", "projects") or []
        if listing.status != 200 or not isinstance(items, list):
            raise ValueError(f"HTTP {listing.status} from {href}")
    except (OSError, ValueError) as exc:  # requests' errors are OSErrors too
        return [], f"could not list the test submission's projects before its delete ({_root_cause(exc)}): " \
                   "ingest-core keeps projects when a submission is deleted; delete them by hand"
    links = [_get(item, "_links", "self", "href") for item in items]
    if not all(isinstance(link, str) for link in links):
        return [], "a project of the test submission has no _links.self.href: delete it by hand"
    return [link.split("{")[0] for link in links], None


def _delete(http: requests.Session, url: str, token: str, timeout: tuple[float, float], query: str,
            what: str) -> str | None:
    """Delete ``url`` and judge it gone by a GET answering 404, not by the DELETE's word."""
    try:
        answer = ingest_api.call(http, "DELETE", url + query, timeout, token)
        if answer.status not in (200, 202, 204):
            return f"expected DELETE {query or url} to answer 200/202/204, found HTTP {answer.status}" \
                   f"{_said(answer.body)}: delete the test {what} by hand"
        check = ingest_api.call(http, "GET", url, timeout)
    except requests.RequestException as exc:
        return f"could not delete the test {what} ({_root_cause(exc)}): delete it by hand"
    if check.status != 404:
        return f"expected HTTP 404 after the delete, found HTTP {check.status}: the test {what} is still there"
    return None


# -- major changes -------------------------------------------------------------------------------------------
def deployed_images(api: k8s.ApiClient, namespace: str) -> dict[str, list[str]]:
    """Each Deployment's and StatefulSet's container images in ``namespace``: what a "major change" changes."""
    from kubernetes import client as k8s_client

    apps = k8s_client.AppsV1Api(api)
    images: dict[str, list[str]] = {}
    for kind, lister in (("deployment", apps.list_namespaced_deployment),
                         ("statefulset", apps.list_namespaced_stateful_set)):
        for item in lister(namespace, _request_timeout=(5, 30)).items:
            containers = [*(item.spec.template.spec.init_containers or []), *item.spec.template.spec.containers]
            images[f"{kind}/{item.metadata.name}"] = sorted(c.image for c in containers)
    return dict(sorted(images.items()))


def image_changes(recorded: dict[str, list[str]], current: dict[str, list[str]]) -> list[str]:
    """What changed since the images were recorded, one short phrase each (empty: nothing)."""
    changes = []
    for name in sorted(set(recorded) | set(current)):
        before, after = recorded.get(name), current.get(name)
        if before == after:
            continue
        if before is None:
            changes.append(f"{name} added ({', '.join(after)})")
        elif after is None:
            changes.append(f"{name} removed")
        else:
            changes.append(f"{name} {', '.join(sorted(set(before) - set(after)))} -> "
                           f"{', '.join(sorted(set(after) - set(before)))}")
    return changes


# -- small helpers -------------------------------------------------------------------------------------------
def _get(body: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def _shape(body: Any) -> str:
    if isinstance(body, dict):
        return f"an object with keys {', '.join(sorted(body)[:6]) or '(none)'}"
    return f"{type(body).__name__} {str(body)[:60]!r}"


def _said(body: Any) -> str:
    message = _get(body, "message") or _get(body, "error")
    return f" ({str(message)[:120]})" if message else ""


def _root_cause(exc: BaseException) -> str:
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def major_changes(env: EnvConfig, recorded: dict[str, list[str]] | None) -> str | None:
    """Why an e2e task that passed is due again in ``env``, or None: the deployed images changed since
    ``recorded`` (the images at its last pass). Images that cannot be read make it due, saying so."""
    from opschecks import kube
    from opschecks.errors import describe

    if recorded is None:
        return "its last pass recorded no images"
    try:
        api = kube.api_client(env.kube_context)
        try:
            current = deployed_images(api, env.app_namespace)
        finally:
            api.close()
    except Exception as exc:
        line = describe(exc)
        if line is None:
            raise
        return f"could not read the images deployed in {env.app_namespace} ({line})"
    changes = image_changes(recorded, current)
    return f"images changed in {env.app_namespace} since its last pass: {'; '.join(changes)}" if changes else None
