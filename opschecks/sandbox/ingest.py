"""A loopback Ingest service for the e2e checks: the broker/UI host and the REST API host, over TLS.

Shaped like the real service (ebi-ait/ingest-core, Spring Data REST with HAL):

- API root ``GET /`` -> ``_links.submissionEnvelopes.href``; ``GET /health`` -> ``{"status": "UP"}``;
- ``GET /submissionEnvelopes?size=N`` -> ``_embedded.submissionEnvelopes`` and ``page``;
- ``POST /submissionEnvelopes`` (bearer token) -> 201, the envelope with ``_links.self``, ``projects``, ...;
- ``POST /submissionEnvelopes/<id>/projects`` (and the other entity kinds) adds an entity; the body must be
  ``{"content": {...}}`` as ingest-client's ``create_entity`` sends it, else 400;
- ``GET /submissionEnvelopes/<id>/<kind>`` lists them; ``DELETE /submissionEnvelopes/<id>?force=true`` -> 202;
- projects live at ``/projects/<id>`` (``GET``, ``DELETE`` -> 204) and outlive their submission: ingest-core's
  ``SubmissionEnvelopeService.deleteSubmission`` deletes biomaterials, processes, protocols and files but only
  unlinks projects (``project.setSubmissionEnvelope(null)``), so deleting the envelope leaves them behind;
- the broker's ``POST /api_upload`` (multipart ``file``, ``params``) -> 201 ``details.submission_id``, and the
  spreadsheet's rows (``kind,name`` lines in the sandbox) become entities.

An envelope's ``submissionState`` moves with time as the real validator moves it: Pending, Draft, Validating,
then Valid. Faults for tests: ``delay_s`` (every answer late), ``stuck_in`` (an envelope never leaves that
state), ``fail_delete`` (DELETE answers 500), ``unavailable_polls`` (the next N reads of an envelope
answer 503), ``project_delete_noop`` (a project's DELETE answers 204 and keeps it), ``ui_redirect`` (the
UI's root answers 302 to that Location), and a certificate that expires in ``cert_days``.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import ipaddress
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

KINDS = ("biomaterials", "files", "processes", "projects", "protocols")
STATES = (("Pending", 0.0), ("Draft", 0.2), ("Validating", 0.5), ("Valid", 1.0))  # state, from seconds after creation


@dataclass
class Envelope:
    id: str
    created: float  # time.monotonic()
    entities: dict[str, list[dict]] = field(default_factory=lambda: {k: [] for k in KINDS})
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_date: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())


@dataclass
class Certificates:
    """A CA the sandbox trusts (``ca_file``) and a server certificate it signed for localhost/127.0.0.1."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificates(directory: Path, days: int = 365, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
                      now: dt.datetime | None = None, intermediate_days: int | None = None) -> Certificates:
    """``intermediate_days``: sign the server certificate with an intermediate CA valid that long, served with
    it (``cert_file`` holds leaf then intermediate), as public CAs do."""
    now = now or dt.datetime.now(dt.timezone.utc)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opschecks sandbox CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    issuer, issuer_key, served = ca, ca_key, b""
    if intermediate_days is not None:
        issuer_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opschecks sandbox intermediate CA")])
        issuer = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name)
                  .public_key(issuer_key.public_key()).serial_number(x509.random_serial_number())
                  .not_valid_before(now - dt.timedelta(days=1))
                  .not_valid_after(now + dt.timedelta(days=intermediate_days))
                  .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                  .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                 critical=True)
                  .sign(ca_key, hashes.SHA256()))
        served = issuer.public_bytes(serialization.Encoding.PEM)
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address(h)) if h.replace(".", "").isdigit() else x509.DNSName(h)
             for h in hosts]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(issuer.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))
    paths = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    paths.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + served)
    paths.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return paths


class FakeIngest:
    """One environment's Ingest: ``ui_url`` (UI and broker) and ``api_url``, each its own TLS server."""

    def __init__(self, certs: Certificates, token: str, time_scale: float = 1.0) -> None:
        self.certs = certs
        self.token = token  # the bearer token writes must carry
        self.time_scale = time_scale  # STATES' seconds are multiplied by this
        self.delay_s = 0.0
        self.stuck_in: str | None = None
        self.fail_delete = False
        self.unavailable_polls = 0
        self.project_delete_noop = False  # DELETE of a project answers 204 and keeps it
        self.ui_redirect: str | None = None  # the UI's root answers 302 with this Location
        self.envelopes: dict[str, Envelope] = {}
        self.projects: dict[str, dict] = {}  # by id, as ingest-core keeps them: not inside an envelope
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Authorization header)
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self.ui_url = self.api_url = ""

    def start(self) -> None:
        self.ui_url = self._serve("ui")
        self.api_url = self._serve("api")

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def _serve(self, role: str) -> str:
        ingest = self

        class Handler(_Handler):
            pass

        Handler.ingest, Handler.role = ingest, role
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certs.cert_file, self.certs.key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, name=f"fake-ingest-{role}", daemon=True).start()
        self._servers.append(server)
        return f"https://localhost:{server.server_address[1]}"

    # -- the model --------------------------------------------------------------------------------------------
    def state(self, envelope: Envelope) -> str:
        age = (time.monotonic() - envelope.created) / self.time_scale
        current = STATES[0][0]
        for name, start in STATES:
            if age >= start:
                current = name
            if current == self.stuck_in:
                break
        return current

    def create(self) -> Envelope:
        with self._lock:
            envelope = Envelope(id=uuid.uuid4().hex[:24], created=time.monotonic())
            self.envelopes[envelope.id] = envelope
            return envelope

    def add_entity(self, envelope: Envelope, kind: str, content: dict) -> dict:
        with self._lock:
            entity_id = uuid.uuid4().hex[:24]
            href = f"{self.api_url}/{kind}/{entity_id}"
            entity = {"content": content, "uuid": {"uuid": str(uuid.uuid4())}, "submissionEnvelope": envelope.id,
                      "_links": {"self": {"href": href}}}
            envelope.entities[kind].append(entity)
            if kind == "projects":
                self.projects[entity_id] = entity
            return entity

    def delete_envelope(self, envelope: Envelope) -> None:
        with self._lock:
            self.envelopes.pop(envelope.id, None)
            for project in envelope.entities["projects"]:
                project["submissionEnvelope"] = None  # unlinked, not deleted: what ingest-core does

    def envelope_json(self, envelope: Envelope) -> dict:
        href = f"{self.api_url}/submissionEnvelopes/{envelope.id}"
        links = {"self": {"href": href}, "submissionEnvelope": {"href": href}}
        links |= {kind: {"href": f"{href}/{kind}"} for kind in KINDS}
        return {"submissionState": self.state(envelope), "graphValidationState": "Pending",
                "uuid": {"uuid": envelope.uuid}, "submissionDate": envelope.created_date, "_links": links}


class _Handler(BaseHTTPRequestHandler):
    ingest: FakeIngest
    role: str
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        ingest = self.ingest
        url = urlsplit(self.path)
        ingest.requests.append((method, url.path, self.headers.get("Authorization", "")))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if ingest.delay_s:
            time.sleep(ingest.delay_s)
        parts = [p for p in url.path.split("/") if p]
        if method != "GET" and self.headers.get("Authorization") != f"Bearer {ingest.token}":
            return self._json(401, {"error": "Unauthorized", "message": "Full authentication is required"})
        if self.role == "ui":
            if method == "POST" and parts == ["api_upload"]:
                return self._upload(body)
            if method == "GET" and not parts and ingest.ui_redirect:
                self.send_response(302)
                self.send_header("Location", ingest.ui_redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if method == "GET":  # a single-page app: every route is its index
                return self._send(200, b"<!doctype html><title>Ingest</title><app-root></app-root>", "text/html")
            return self._json(404, {"error": "Not Found"})
        if method == "GET" and not parts:
            links = {name: {"href": f"{ingest.api_url}/{name}"} for name in ("submissionEnvelopes", *KINDS)}
            return self._json(200, {"_links": links})
        if method == "GET" and parts == ["health"]:
            return self._json(200, {"status": "UP"})
        if parts[:1] == ["projects"] and len(parts) == 2:
            return self._project(method, parts[1])
        if parts[:1] != ["submissionEnvelopes"]:
            return self._json(404, {"error": "Not Found"})
        if len(parts) == 1 and method == "GET":
            size = int(parse_qs(url.query).get("size", ["20"])[0])
            envelopes = list(ingest.envelopes.values())
            return self._json(200, {
                "_embedded": {"submissionEnvelopes": [ingest.envelope_json(e) for e in envelopes[:size]]},
                "_links": {"self": {"href": f"{ingest.api_url}/submissionEnvelopes"}},
                "page": {"size": size, "totalElements": len(envelopes), "totalPages": 1, "number": 0}})
        if len(parts) == 1 and method == "POST":
            return self._json(201, ingest.envelope_json(ingest.create()))
        envelope = ingest.envelopes.get(parts[1])
        if envelope is None:
            return self._json(404, {"error": "Not Found", "message": f"no submission envelope {parts[1]}"})
        if len(parts) == 2 and method == "GET":
            if ingest.unavailable_polls > 0:
                ingest.unavailable_polls -= 1
                return self._json(503, {"error": "Service Unavailable", "message": "upstream connect error"})
            return self._json(200, ingest.envelope_json(envelope))
        if len(parts) == 2 and method == "DELETE":
            if ingest.fail_delete:
                return self._json(500, {"error": "Internal Server Error", "message": "delete failed"})
            if "force=true" not in url.query and ingest.state(envelope) not in ("Pending", "Draft", "Valid", "Invalid"):
                return self._json(403, {"error": "Forbidden", "message": "submission cannot be deleted now"})
            ingest.delete_envelope(envelope)
            return self._send(202, b"", "application/json")
        if len(parts) == 3 and parts[2] in KINDS:
            if method == "POST":
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    payload = None
                if not isinstance(payload, dict) or not isinstance(payload.get("content"), dict):
                    return self._json(400, {"error": "Bad Request", "message": 'expected {"content": {...}}'})
                return self._json(201, ingest.add_entity(envelope, parts[2], payload["content"]))
            items = envelope.entities[parts[2]]
            return self._json(200, {"_embedded": {parts[2]: items},
                                    "page": {"size": 20, "totalElements": len(items), "totalPages": 1, "number": 0}})
        return self._json(405, {"error": "Method Not Allowed"})

    def _project(self, method: str, project_id: str) -> None:
        project = self.ingest.projects.get(project_id)
        if project is None:
            return self._json(404, {"error": "Not Found", "message": f"no project {project_id}"})
        if method == "GET":
            return self._json(200, project)
        if method == "DELETE":
            if not self.ingest.project_delete_noop:
                self.ingest.projects.pop(project_id, None)
            return self._send(204, b"", "application/json")
        return self._json(405, {"error": "Method Not Allowed"})

    def _upload(self, body: bytes) -> None:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {self.headers.get('Content-Type', '')}\r\n\r\n".encode() + body)
        fields = {part.get_param("name", header="content-disposition"): part.get_content()
                  for part in message.iter_parts()} if message.is_multipart() else {}
        sheet = fields.get("file")
        if sheet is None:
            return self._json(400, {"message": "no file in the upload", "details": {}})
        rows = sheet.decode() if isinstance(sheet, bytes) else sheet
        envelope = self.ingest.create()
        for line in rows.splitlines():
            kind, _, name = line.partition(",")
            if kind.strip() in KINDS:
                self.ingest.add_entity(envelope, kind.strip(), {"name": name.strip()})
        href = f"{self.ingest.api_url}/submissionEnvelopes/{envelope.id}"
        return self._json(201, {"message": "We've got your spreadsheet, and we're currently importing it.",
                                "details": {"submission_id": envelope.id, "submission_uuid": envelope.uuid,
                                            "submission_url": href}})

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/hal+json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
