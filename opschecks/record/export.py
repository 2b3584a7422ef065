"""The ledger as the team's spreadsheet: one row per check run, to a CSV file or appended to a Google sheet.

Columns: date (UTC), task, env, outcome, who, key facts (the drilled backup,
the newest backup's size, ...), findings, record id. The record id makes the
sheet append idempotent: rows whose id is already in the sheet's last column
are not appended again, so re-running (or two people running) adds nothing
twice. The CSV is rewritten whole each time (written aside, then renamed).

The sheet is reached with gspread as a service account whose JSON key file
``GOOGLE_APPLICATION_CREDENTIALS`` names; share the sheet with the account's
e-mail address as an editor.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from opschecks.record.ledger import Record
from opschecks.schema import ConfigError

HEADER = ("date", "task", "env", "outcome", "who", "key facts", "findings", "record id")
CREDENTIALS_ENV_VAR = "GOOGLE_APPLICATION_CREDENTIALS"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
MAX_FACTS = 500  # characters of a row's key facts: a sheet cell, not the whole record (``history`` has it)
_FACTS_LEFT_OUT = {"findings"}  # the findings have their own column


def rows(records: Iterable[Record]) -> list[list[str]]:
    """One row per record, oldest first."""
    ordered = sorted(records, key=lambda r: (r.started, r.id))
    return [[f"{r.started.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M}", r.check, r.env, r.outcome, r.runner,
             _facts(r.details), ", ".join(f"{f.code} {f.where}" for f in r.findings), r.id] for r in ordered]


def _facts(details: dict[str, Any]) -> str:
    parts = [f"{k}={v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v, sort_keys=True)}"
             for k, v in sorted(details.items()) if k not in _FACTS_LEFT_OUT]
    text = "; ".join(parts)
    return text if len(text) <= MAX_FACTS else text[: MAX_FACTS - 1] + "…"


def write_csv(path: Path, records: Iterable[Record]) -> int:
    """Write the header and every record's row to ``path``; returns the number of rows."""
    table = rows(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(table)
    partial.replace(path)  # a reader never sees half a file, and a failed write leaves the old one
    return len(table)


def append_to_sheet(worksheet: Any, records: Iterable[Record]) -> int:
    """Append the rows not yet in ``worksheet`` (a gspread Worksheet); returns how many were appended."""
    present = [row for row in worksheet.get_all_values() if any(str(cell).strip() for cell in row)]  # an empty tab: [[]]
    if present and [c.strip().lower() for c in present[0][:len(HEADER)]] != list(HEADER):
        raise ConfigError(f"sheet {worksheet.spreadsheet.id} tab {worksheet.title!r}: first row is {present[0][:len(HEADER)]}, "
                          f"expected {list(HEADER)} (an empty tab gets it): not the ledger's tab?")
    known = {row[len(HEADER) - 1] for row in present[1:] if len(row) >= len(HEADER)}
    new = [row for row in rows(records) if row[-1] not in known]
    header = [] if present else [list(HEADER)]
    if header or new:
        worksheet.append_rows(header + new, value_input_option="RAW", table_range="A1")
    return len(new)


def open_worksheet(sheet_id: str, tab: str | None, credentials: Path | None = None,
                   transport: Any = None) -> Any:
    """The sheet's tab (default: the first), as the service account of ``credentials`` (default:
    ``$GOOGLE_APPLICATION_CREDENTIALS``). ``transport``: a requests adapter for every HTTPS call (tests route
    Google's endpoints to a stand-in with it)."""
    import gspread  # only this command needs it
    import requests
    from google.auth.transport.requests import AuthorizedSession, Request
    from google.oauth2.service_account import Credentials

    path = credentials or _credentials_path()
    try:
        creds = Credentials.from_service_account_file(str(path), scopes=list(SCOPES))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{CREDENTIALS_ENV_VAR}={path}: not a service account key file ({exc})") from None
    token_session = requests.Session()
    session = AuthorizedSession(creds, auth_request=Request(token_session))
    if transport is not None:
        for s in (token_session, session):
            s.mount("https://", transport)
    spreadsheet = gspread.Client(auth=creds, session=session).open_by_key(sheet_id)
    return spreadsheet.worksheet(tab) if tab else spreadsheet.sheet1


def _credentials_path() -> Path:
    value = os.environ.get(CREDENTIALS_ENV_VAR)
    if not value:
        raise ConfigError(f"--google-sheet needs a service account key: set {CREDENTIALS_ENV_VAR} to its JSON file")
    return Path(value)


def describe_sheet_error(exc: Exception) -> str | None:
    """One line for the errors a sheet append meets (API refusals, auth, network); None for anything else."""
    import gspread
    import requests
    from google.auth.exceptions import GoogleAuthError

    if isinstance(exc, gspread.exceptions.APIError):
        return f"Google Sheets API refused: HTTP {exc.code}: {exc.error.get('message', exc)}"
    if isinstance(exc, gspread.exceptions.WorksheetNotFound):
        return f"no tab {exc} in the sheet"
    if isinstance(exc, GoogleAuthError):
        return f"service account authentication failed: {exc}"
    if isinstance(exc, requests.RequestException):
        return f"Google Sheets unreachable: {type(exc).__name__}: {exc}"
    return None
