"""Talking to the Ingest service over HTTPS: one requests session per env, with timeouts, a CA bundle and a token.

The token for writes comes from, in this order: the env's ``token_file``, or a self-signed JWT for the
Google service account in ``GOOGLE_APPLICATION_CREDENTIALS`` (the standard variable; how the Ingest
team's own integration tests authenticate), with the deployment's audience. It is sent as a bearer
header and never printed: requests' errors carry the URL, not the headers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

CREDENTIALS_VAR = "GOOGLE_APPLICATION_CREDENTIALS"


class NoToken(Exception):
    """No credentials for writes; the message says what to set."""


@dataclass(frozen=True)
class Answer:
    status: int
    seconds: float
    body: Any  # parsed JSON, else the text (cut short)
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)  # requests' case-insensitive mapping

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400


def session(ca_bundle: str | None) -> requests.Session:
    http = requests.Session()
    http.verify = ca_bundle or True  # True: the system's trust store (certifi)
    http.headers["Accept"] = "application/hal+json, application/json"
    return http


def call(http: requests.Session, method: str, url: str, timeout: tuple[float, float],
         token: str | None = None, **kwargs: Any) -> Answer:
    """One request; network errors propagate (the caller names the endpoint), HTTP errors are answers."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's own ``verify``.
    response = http.request(method, url, timeout=timeout, headers=headers, allow_redirects=False,
                            verify=http.verify, **kwargs)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:200]
    return Answer(response.status_code, response.elapsed.total_seconds(), body, url, response.headers)


def bearer_token(token_file: str | None, audience: str) -> str:
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise NoToken(f"cannot read the token file {token_file}: {exc.strerror}") from None
        if not token:
            raise NoToken(f"the token file {token_file} is empty")
        return token
    path = os.environ.get(CREDENTIALS_VAR)
    if not path:
        raise NoToken(f"no credentials for writes: set {CREDENTIALS_VAR} to a service-account key file, "
                      "or token_file in the env's [e2e.round_trip] table")
    from google.auth import jwt  # only where the service account is used
    from google.auth.exceptions import GoogleAuthError

    try:
        credentials = jwt.Credentials.from_service_account_file(path, audience=audience)
        credentials.refresh(None)  # signs locally: a self-signed JWT needs no token endpoint
    except (OSError, ValueError, KeyError, GoogleAuthError) as exc:
        raise NoToken(f"{CREDENTIALS_VAR}={path}: not a usable service-account key ({type(exc).__name__})") from None
    token = credentials.token
    return token.decode() if isinstance(token, bytes) else token
