"""The e2e area's settings (``[env.<name>.e2e]``) and the endpoints they name (which protection also reads), a leaf."""

from __future__ import annotations

from dataclasses import dataclass, field

HOST = "archive.data.humancellatlas.org"


@dataclass(frozen=True)
class RoundTripSettings:
    spreadsheet: str | None = None  # uploaded through the broker; else an envelope + project through the API
    expected_state: str = "Valid"
    deadline_s: float = 600.0  # the real validator takes minutes for a small spreadsheet
    poll_s: float = 5.0
    # Entities the submission must hold, by the envelope's link name; default for the API path: one project.
    expected_entities: dict[str, int] = field(default_factory=dict)
    token_file: str | None = None  # else GOOGLE_APPLICATION_CREDENTIALS
    audience: str | None = None  # the JWT audience the deployment expects; default: the API URL


@dataclass(frozen=True)
class E2ESettings:
    ui_url: str | None = None  # default: https://ingest.<env>.archive.data.humancellatlas.org (prod: no <env>.)
    broker_url: str | None = None  # default: the UI's host (it serves /api_upload)
    api_url: str | None = None  # default: https://api.ingest.<env>.archive.data.humancellatlas.org
    health_path: str | None = "/health"  # on the API; None: the API exposes none
    latency_budget_ms: float = 3000.0
    cert_min_days: int = 21
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    ca_bundle: str | None = None  # a PEM file to trust instead of the system's store (private CA, sandbox)
    # The fewest submissions the API may list; None: 1 in a protected env (prod has thousands: an empty
    # listing there is a lost database or a wrong one), 0 elsewhere (a fresh dev may be empty).
    min_submissions: int | None = None
    # A listing smaller than the last passing run's by more than this share is E2E006 (deletes are rare).
    max_drop_share: float = 0.5
    round_trip: RoundTripSettings | None = None


@dataclass(frozen=True)
class Endpoints:
    ui: str
    broker: str
    api: str


def endpoints(env_name: str, settings: E2ESettings) -> Endpoints:
    middle = "" if env_name in ("prod", "production") else f"{env_name}."
    ui = (settings.ui_url or f"https://ingest.{middle}{HOST}").rstrip("/")
    return Endpoints(ui=ui, broker=(settings.broker_url or ui).rstrip("/"),
                     api=(settings.api_url or f"https://api.ingest.{middle}{HOST}").rstrip("/"))
