"""Redact secrets from anything the suite writes for people: the HTML report, logs, alerts, ledger details.

Two nets: the exact values the run knows are secret (from secret-looking
environment variables and config keys, passwords inside URIs, resolved AWS
credentials), and patterns for secrets it was never told about (AWS key ids,
key=value pairs named password/secret/token, Bearer and Slack/GitHub tokens,
JWTs, Slack webhook URLs, user:password@ in URIs).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

MASK = "[redacted]"
# Shorter values are too likely to be ordinary words ("sandbox", "admin") to replace everywhere.
MIN_SECRET_LENGTH = 8
SECRET_NAME = re.compile(r"secret|token|passw|webhook|credential|private_key|api_?key|access_key", re.I)
# Names of where a secret lives (AWS_SHARED_CREDENTIALS_FILE), not of the secret.
NOT_SECRET_NAME = re.compile(r"_(file|path|dir)$", re.I)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"https://hooks\.slack\.com/[\w/+-]+"), MASK),
    (re.compile(r"\b(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.I),
     rf"\g<scheme>\g<user>:{MASK}@"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"(?i)\b(bearer|token)[ \t]+[A-Za-z0-9._~+/=-]{12,}"), rf"\1 {MASK}"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"(?i)(\b[\w-]*(?:secret|token|passw(?:or)?d|api_?key)[\w-]*[\"']?[ \t]*[:=][ \t]*[\"']?)"
                r"(?!\[redacted\])([^\s\"',;&)}\]]+)"), rf"\1{MASK}"),
]


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str | None]) -> None:
        for secret in secrets:
            if not secret:
                continue
            for form in {secret, unquote(secret), quote(secret, safe="")}:
                if len(form) >= MIN_SECRET_LENGTH:
                    self._secrets.add(form)

    def text(self, value: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def deep(self, value: Any) -> Any:
        """``value`` with every string inside it (dicts, lists, tuples) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.deep(v) for v in value)
        return value


def secrets_in(value: Any, name: str = "") -> list[str]:
    """Secret values inside a config or os.environ: values of secret-named keys and passwords in URIs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in secrets_in(getattr(value, f.name), f.name)]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in secrets_in(v, str(k))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in secrets_in(v, name)]
    if isinstance(value, str):
        found = [value] if SECRET_NAME.search(name) and not NOT_SECRET_NAME.search(name) else []
        password = uri_password(value)
        return found + ([password] if password else [])
    return []


def uri_password(value: str) -> str | None:
    if "://" not in value or "@" not in value:
        return None
    try:
        return urlsplit(value.strip()).password
    except ValueError:
        return None
