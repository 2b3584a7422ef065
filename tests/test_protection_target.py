"""Protection follows the target: the e2e round trip, against the sandbox's loopback Ingest, never writes to a
protected env's host whatever the writing env is called; and names fail closed (only known ones are writable)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from opschecks import protection
from opschecks.areas.e2e import e2e
from opschecks.config import Config, EnvConfig
from opschecks.areas.e2e.settings import E2ESettings, RoundTripSettings
from opschecks.sandbox.ingest import FakeIngest
from opschecks.verdict import Verdict
from tests.conftest import INGEST_TOKEN as TOKEN

PROD_API = "https://api.ingest.archive.data.humancellatlas.org"


def settings(ingest: FakeIngest, tmp_path: Path, **urls: str) -> E2ESettings:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    trip = RoundTripSettings(token_file=str(token), deadline_s=10, poll_s=0.05)
    return E2ESettings(**{"ui_url": ingest.ui_url, "api_url": ingest.api_url, **urls},
                       ca_bundle=str(ingest.certs.ca_file), round_trip=trip)


def trip(env: EnvConfig, *others: EnvConfig) -> Verdict:
    config = Config(Path("opschecks.toml"), {e.name: e for e in (env, *others)})
    return e2e.round_trip(env, protection.guard(config, env))


def writes(ingest: FakeIngest) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in ingest.requests if method in ("POST", "PUT", "PATCH", "DELETE")]


def test_staging_whose_api_is_a_configured_prods_url_is_refused_before_any_write(ingest: FakeIngest,
                                                                                 tmp_path: Path) -> None:
    prod = EnvConfig(name="prod", area_settings=(settings(ingest, tmp_path),))  # prod answers here
    staging = EnvConfig(name="staging", area_settings=(settings(ingest, tmp_path),))  # and so, by mistake, does staging
    verdict = trip(staging, prod)
    assert [f.code for f in verdict.findings] == ["E2E010"]
    assert verdict.findings[0].message == (f"[staging] refused: the e2e API {ingest.api_url} is prod's host; "
                                           "writes never go to a protected environment")
    assert ingest.requests == [] and writes(ingest) == []


def test_staging_whose_api_is_prods_real_host_is_refused_with_no_prod_in_the_config(ingest: FakeIngest,
                                                                                    tmp_path: Path) -> None:
    staging = EnvConfig(name="staging", area_settings=(settings(ingest, tmp_path, api_url=PROD_API),))
    verdict = trip(staging)
    assert [f.message for f in verdict.findings] == [
        f"[staging] refused: the e2e API {PROD_API} is prod's host; writes never go to a protected environment"]
    assert ingest.requests == []


def test_an_address_of_prods_host_is_prods_host(ingest: FakeIngest, tmp_path: Path) -> None:
    prod = EnvConfig(name="prod", area_settings=(settings(ingest, tmp_path),))  # https://localhost:<port>
    by_address = ingest.api_url.replace("localhost", "127.0.0.1")
    staging = EnvConfig(name="staging", area_settings=(settings(ingest, tmp_path, api_url=by_address),))
    verdict = trip(staging, prod)
    assert [f.code for f in verdict.findings] == ["E2E010"]
    assert verdict.findings[0].message.startswith(f"[staging] refused: the e2e API {by_address} is prod's host "
                                                  "(both resolve to 127.0.0.1)")
    assert writes(ingest) == []


def test_a_broker_on_a_protected_envs_host_is_refused(ingest: FakeIngest, tmp_path: Path) -> None:
    perf = EnvConfig(name="perf", protected=True, area_settings=(settings(ingest, tmp_path),))
    dev = EnvConfig(name="dev", area_settings=(settings(ingest, tmp_path, api_url="https://localhost:1",
                                             broker_url=ingest.ui_url),))
    verdict = trip(dev, perf)
    assert verdict.findings[0].message.startswith(f"[dev] refused: the e2e broker {ingest.ui_url} is perf's host")
    assert writes(ingest) == []


def test_another_host_resolving_to_prods_address_is_refused() -> None:
    guard = protection.Guard("staging", None, None, protected_urls=(("prod", PROD_API),))
    answers = {"api.ingest.archive.data.humancellatlas.org": {"192.0.2.7"}, "ingest-alias.example.org": {"192.0.2.7"}}
    refusal, _ = guard.target("e2e API", "https://ingest-alias.example.org:8443", lambda hosts: answers)
    assert refusal == ("[staging] refused: the e2e API https://ingest-alias.example.org:8443 is prod's host (both "
                       "resolve to 192.0.2.7); writes never go to a protected environment")


@pytest.mark.parametrize("name", ["dev", "staging", "qa-2"])
def test_known_non_production_envs_on_their_own_hosts_still_run_the_round_trip(ingest: FakeIngest, tmp_path: Path,
                                                                               name: str) -> None:
    prod = EnvConfig(name="prod", area_settings=(replace(settings(ingest, tmp_path), api_url="https://localhost:1",
                                              ui_url="https://localhost:1"),))  # same host, another port: loopback
    verdict = trip(EnvConfig(name=name, area_settings=(settings(ingest, tmp_path),)), prod)
    assert verdict.findings == []
    assert [m for m, _ in writes(ingest)] == ["POST", "POST", "DELETE", "DELETE"] and ingest.envelopes == {}
    # prod's real hosts do not resolve here: the decision says it compared their names only
    assert verdict.details["target e2e API"].startswith("names compared only for ")


@pytest.mark.parametrize("name", ["ingestprod", "prodeu", "prod1a", "prod env", "pro\u200bd", "ｐｒｏｄ", "uat",
                                  "perf", "ｄｅｖ-eu", "de\u200bv1x"])
def test_a_name_not_known_to_be_non_production_is_protected(ingest: FakeIngest, tmp_path: Path, name: str) -> None:
    verdict = trip(EnvConfig(name=name, area_settings=(settings(ingest, tmp_path),)))
    assert [f.code for f in verdict.findings] == ["E2E010"]
    assert "the environment is protected (its name " in verdict.findings[0].message
    assert ingest.requests == []


def test_protected_false_makes_a_custom_name_writable(ingest: FakeIngest, tmp_path: Path) -> None:
    verdict = trip(EnvConfig(name="perf-eu", protected=False, area_settings=(settings(ingest, tmp_path),)))
    assert verdict.findings == [] and ingest.envelopes == {}
    assert [m for m, _ in writes(ingest)] == ["POST", "POST", "DELETE", "DELETE"]


def test_protected_false_does_not_open_a_protected_target(ingest: FakeIngest, tmp_path: Path) -> None:
    verdict = trip(EnvConfig(name="perf-eu", protected=False, area_settings=(settings(ingest, tmp_path, api_url=PROD_API),)))
    assert [f.code for f in verdict.findings] == ["E2E010"] and ingest.requests == []


def test_a_hung_lookup_is_compared_by_name_only_within_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import time

    monkeypatch.setattr(protection, "RESOLVE_TIMEOUT_S", 0.3)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args: time.sleep(5) or [])  # DNS that never answers
    guard = protection.Guard("staging", None, None, protected_urls=(("prod", PROD_API),))
    started = time.monotonic()
    refusal, note = guard.target("e2e API", "https://api.ingest.staging.archive.data.humancellatlas.org")
    assert time.monotonic() - started < 2
    assert refusal is None
    assert note == ("names compared only for api.ingest.archive.data.humancellatlas.org, "
                    "api.ingest.staging.archive.data.humancellatlas.org: did not resolve")
    refusal, _ = guard.target("e2e API", PROD_API.upper() + "./")  # by name, with no DNS at all
    assert refusal is not None and "is prod's host;" in refusal


def test_normalised_names() -> None:
    assert protection.normalised("ｐｒｏｄ") == "prod"
    assert protection.normalised("Pro\u200bd\u2060") == "prod"
