"""``python -m opschecks export``: the ledger to a CSV file, and appended to a Google sheet without duplicates.

The sheet path runs the real gspread and google-auth code against a loopback stand-in for Google's token
endpoint and the Sheets API v4 (a requests transport adapter sends the https://*.googleapis.com calls to it):
the service account's signed JWT is exchanged for a token, and the Sheets calls must carry it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from opschecks.record import ledger
from opschecks.__main__ import main
from opschecks.record.export import HEADER
from opschecks.findings import Finding

UTC = dt.timezone.utc
SHEET_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
TOKEN = "ya29.stand-in-token"
CONFIG = "[env.dev]\n[env.prod]\n[ledger]\npath = \"{ledger}\"\n"


def record(check: str, env: str, outcome: str, hours_ago: float, **details: object) -> ledger.Record:
    findings = (Finding("BKP001", f"{env} s3://ingest-db-backup/{env}/", "no backup tonight"),) if outcome == "failed" else ()
    return ledger.Record(check=f"checks/test_{check}", env=env, outcome=outcome,
                         started=dt.datetime(2026, 11, 20, 12, tzinfo=UTC) - dt.timedelta(hours=hours_ago),
                         duration_s=2.0, runner="ops@ci", details=details, cadences=("daily",), run_id="r",
                         findings=findings)


RECORDS = [
    record("restore.py::test_restore_drill", "prod", "passed", 48, key="prod/2026-11-17T00_00.tar.gz",
           counts={"project": 120, "submissionEnvelope": 340}),
    record("backups.py::test_backup_is_fresh", "dev", "failed", 24, newest=None),
    record("backups.py::test_backup_is_fresh", "prod", "passed", 1, newest="prod/2026-11-20T00_00.tar.gz", size=2048),
]


class SheetsStandIn:
    """Google's OAuth token endpoint and the Sheets API v4 calls gspread makes, over one spreadsheet in memory."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.calls: list[tuple[str, str]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = urlsplit(self.path).path
                stand_in.calls.append(("POST", path))
                if path == "/token":
                    form = parse_qs(body.decode())
                    if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or not form.get("assertion"):
                        return self._json(400, {"error": "invalid_grant"})
                    return self._json(200, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
                if not self._authorized():
                    return None
                if path.startswith(f"/v4/spreadsheets/{SHEET_ID}/values/") and path.endswith(":append"):
                    values = json.loads(body)["values"]
                    stand_in.rows.extend([str(cell) for cell in row] for row in values)
                    return self._json(200, {"spreadsheetId": SHEET_ID, "updates": {"updatedRows": len(values)}})
                return self._json(404, {"error": {"code": 404, "message": f"no {path}", "status": "NOT_FOUND"}})

            def do_GET(self) -> None:  # noqa: N802
                path = unquote(urlsplit(self.path).path)
                stand_in.calls.append(("GET", path))
                if not self._authorized():
                    return None
                if path == f"/v4/spreadsheets/{SHEET_ID}":
                    return self._json(200, {"spreadsheetId": SHEET_ID, "properties": {"title": "Ingest ops record"},
                                            "sheets": [{"properties": {"sheetId": 0, "title": "Runs", "index": 0,
                                                                       "gridProperties": {"rowCount": 1000,
                                                                                          "columnCount": 26}}}]})
                if path.startswith(f"/v4/spreadsheets/{SHEET_ID}/values/"):
                    return self._json(200, {"range": "Runs", "majorDimension": "ROWS",
                                            **({"values": stand_in.rows} if stand_in.rows else {})})
                return self._json(404, {"error": {"code": 404, "message": f"no {path}", "status": "NOT_FOUND"}})

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                    return True
                self._json(401, {"error": {"code": 401, "message": "missing token", "status": "UNAUTHENTICATED"}})
                return False

            def _json(self, status: int, data: dict) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"


class ToStandIn(requests.adapters.HTTPAdapter):
    """Sends Google's endpoints (oauth2.googleapis.com/token, sheets.googleapis.com/v4/...) to the stand-in."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        parts = urlsplit(request.url)
        if parts.hostname not in ("oauth2.googleapis.com", "sheets.googleapis.com"):
            raise requests.ConnectionError(f"test transport: unexpected host {parts.hostname}")
        request.url = f"{self.base}{parts.path}{'?' + parts.query if parts.query else ''}"
        return super().send(request, **kwargs)


@pytest.fixture
def stand_in() -> Iterator[SheetsStandIn]:
    s = SheetsStandIn()
    thread = threading.Thread(target=s.server.serve_forever, daemon=True)
    thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture
def service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A service account key file, as the Google Cloud console downloads it (with a fresh RSA key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "opschecks-sa.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "ingest-ops", "private_key_id": "0123abcd", "private_key": pem,
        "client_email": "opschecks@ingest-ops.iam.gserviceaccount.com", "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    store = tmp_path / "ledger.sqlite"
    for r in RECORDS:
        ledger.append(store, r)
    path = tmp_path / "opschecks.toml"
    path.write_text(CONFIG.format(ledger=store))
    return path


def test_csv_has_one_row_per_run_oldest_first_with_key_facts(config: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "ledger.csv"

    assert main(["export", "--config", str(config), "--csv", str(out)]) == 0

    with out.open(newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == list(HEADER)
    assert [(r[0], r[1].rsplit("::", 1)[1], r[2], r[3], r[4]) for r in table[1:]] == [
        ("2026-11-18 12:00", "test_restore_drill", "prod", "passed", "ops@ci"),
        ("2026-11-19 12:00", "test_backup_is_fresh", "dev", "failed", "ops@ci"),
        ("2026-11-20 11:00", "test_backup_is_fresh", "prod", "passed", "ops@ci"),
    ]
    assert table[1][5] == 'counts={"project": 120, "submissionEnvelope": 340}; key=prod/2026-11-17T00_00.tar.gz'
    assert table[2][6] == "BKP001 dev s3://ingest-db-backup/dev/"
    assert [r[7] for r in table[1:]] == [r.id for r in RECORDS]
    assert "wrote 3 runs" in capsys.readouterr().out

    assert main(["export", "--config", str(config), "--csv", str(out), "--env", "prod"]) == 0
    assert len(out.read_text().splitlines()) == 3  # rewritten, not appended: header and prod's two runs


def test_the_sheet_gets_new_rows_only_once(config: Path, stand_in: SheetsStandIn, service_account: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = ["export", "--config", str(config), "--google-sheet", SHEET_ID]
    transport = ToStandIn(stand_in.base)

    assert main(args, sheets_transport=transport) == 0
    assert stand_in.rows[0] == list(HEADER) and len(stand_in.rows) == 4
    assert ("POST", "/token") in stand_in.calls  # the service account's JWT was exchanged for a token
    assert "appended 3 new runs" in capsys.readouterr().out

    assert main(args, sheets_transport=transport) == 0  # again: nothing new
    assert len(stand_in.rows) == 4
    assert "appended 0 new runs to sheet" in capsys.readouterr().out

    ledger.append(config.parent / "ledger.sqlite", record("pods.py::test_pods_healthy", "dev", "passed", 0))
    assert main(args, sheets_transport=transport) == 0
    assert len(stand_in.rows) == 5 and stand_in.rows[-1][1] == "checks/test_pods.py::test_pods_healthy"
    assert [row[7] for row in stand_in.rows[1:]] == [r.id for r in RECORDS] + [stand_in.rows[-1][7]]


def test_a_foreign_tab_and_a_missing_key_are_one_line_each(config: Path, stand_in: SheetsStandIn,
                                                           service_account: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    stand_in.rows = [["name", "budget"], ["ingest", "12"]]
    args = ["export", "--config", str(config), "--google-sheet", SHEET_ID]

    assert main(args, sheets_transport=ToStandIn(stand_in.base)) == 2
    assert "first row is ['name', 'budget'], expected ['date', 'task'" in capsys.readouterr().err
    assert stand_in.rows == [["name", "budget"], ["ingest", "12"]]  # untouched

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    assert main(args, sheets_transport=ToStandIn(stand_in.base)) == 2
    assert "set GOOGLE_APPLICATION_CREDENTIALS to its JSON file" in capsys.readouterr().err
    assert main(["export", "--config", str(config)]) == 2
    assert "say where: --csv PATH and/or --google-sheet ID" in capsys.readouterr().err
