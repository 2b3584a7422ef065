"""Redact secrets from anything the suite writes for people: the HTML report, logs, alerts, ledger details.

Two nets: the exact values the run knows are secret (from secret-looking
environment variables and config keys, webhook URLs and their tokens,
passwords inside URIs such as ``--mongo-uri`` or any URI seen in redacted text,
resolved AWS credentials), and
patterns for secrets it was never told about (AWS key ids, ``key=value`` pairs
named password/secret/token, Bearer and Slack/GitHub tokens, JWTs, Slack
webhook URLs, private key blocks, user:password@ in URIs).

Redaction works on values, before anything is rendered: a report table's
cells are redacted one by one and only then escaped into HTML (fixtures/report.py),
and text that is already markup is only searched for the known values
(``Redactor.known``), never with the patterns, which could match across tags.
Resource names and ARNs are not secrets: ``arn:aws:secretsmanager:...:secret:NAME``
names a secret, it does not hold one, and stays readable.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

MASK = "[redacted]"
# Shorter values are too likely to be ordinary words ("sandbox", "admin") to replace everywhere.
MIN_SECRET_LENGTH = 8
TOKEN_MIN_LENGTH = 12  # a URL's last path segment is taken for a token only from this length ("services" is not)
SECRET_NAME = re.compile(r"secret|token|passw|webhook|credential|private_key|api_?key|access_key", re.I)
# Names of where a secret lives (AWS_SHARED_CREDENTIALS_FILE), not of the secret.
NOT_SECRET_NAME = re.compile(r"_(file|path|dir)$", re.I)

_URI_CREDENTIALS = re.compile(r"\b(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.I)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"https://hooks\.slack\.com/[\w/+-]+"), MASK),
    (_URI_CREDENTIALS, rf"\g<scheme>\g<user>:{MASK}@"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"(?i)\b(bearer|token)[ \t]+[A-Za-z0-9._~+/=-]{12,}"), rf"\1 {MASK}"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), MASK),
    # A key named like a secret, then its value: not a word that merely starts so (secretsmanager:), nor a
    # part of an ARN or path (:secret:name), which names a secret rather than holding one.
    (re.compile(r"(?i)((?<![\w:/.-])[\w-]*(?:secret|token|passw(?:or)?d|api_?key)(?:[_-][\w-]*)?[\"']?[ \t]*[:=]"
                r"[ \t]*[\"']?)(?!\[redacted\])([^\s\"'<>,;&)}\]]+)"), rf"\1{MASK}"),
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

    def known(self, value: str) -> str:
        """``value`` with the known secret values replaced, also where HTML-escaped; safe on markup."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
            escaped = html.escape(secret)
            if escaped != secret:
                value = value.replace(escaped, MASK)
        return value

    def text(self, value: str) -> str:
        """``value``, a plain-text value (not markup), with known secrets and secret-shaped tokens replaced.

        A password seen in a ``user:password@`` URI becomes a known secret from then on, so the same password
        written bare, here or in anything redacted later, is caught too.
        """
        self.add(unquote(m["pw"]) for m in _URI_CREDENTIALS.finditer(value) if m["pw"] != MASK)
        value = self.known(value)
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
        if found and "://" in value:  # a webhook URL: its path and query are the token
            found += url_tokens(value)
        password = uri_password(value)
        return found + ([password] if password else [])
    return []


def url_tokens(url: str) -> list[str]:
    """The parts of a secret URL that carry its token: the path and query, and the path's last segment."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    path = parts.path.strip("/")
    return [t for t in (path, parts.query, path.rsplit("/", 1)[-1]) if len(t) >= TOKEN_MIN_LENGTH]


def uri_password(value: str) -> str | None:
    if "://" not in value or "@" not in value:
        return None
    try:
        return urlsplit(value.strip()).password
    except ValueError:
        return None
