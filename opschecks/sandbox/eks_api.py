"""EKS for the sandbox: moto's clusters, plus what moto does not serve (DescribeClusterVersions, upgradePolicy).

A loopback HTTP server in front of moto (boto3 reaches it through ``AWS_ENDPOINT_URL_EKS``): ``GET
/cluster-versions`` answers from a version catalog in the documented shape (ClusterVersionInformation:
``clusterVersion``, ``versionStatus`` STANDARD_SUPPORT | EXTENDED_SUPPORT | UNSUPPORTED, ``endOfStandardSupportDate``
and ``endOfExtendedSupportDate`` as epoch seconds, as rest-json writes timestamps), following ``maxResults`` /
``nextToken``; every other request goes to moto unchanged, and a DescribeCluster answer gains the cluster's
``upgradePolicy`` (``{"supportType": "STANDARD" | "EXTENDED"}``, STANDARD unless a test sets it).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opschecks.sandbox.loopback import reply, serve, stop

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def catalog(now: dt.datetime, standard: list[str], extended: list[str], unsupported: list[str]) -> list[dict]:
    """Versions with support dates relative to ``now``: standard ones end 200+ days from now (a version each
    120 days, newest last), extended ones ended standard support in the past, unsupported ones ended both."""
    def epoch(days: float) -> int:
        return int((now + dt.timedelta(days=days)).timestamp())

    versions = []
    for i, v in enumerate(standard):
        versions.append(_version(v, "STANDARD_SUPPORT", epoch(200 + 120 * i), epoch(565 + 120 * i),
                                 default=i == len(standard) - 1))
    for i, v in enumerate(extended):
        versions.append(_version(v, "EXTENDED_SUPPORT", epoch(-30 - 120 * i), epoch(335 - 120 * i)))
    for i, v in enumerate(unsupported):
        versions.append(_version(v, "UNSUPPORTED", epoch(-400 - 120 * i), epoch(-35 - 120 * i)))
    return versions


def _version(version: str, status: str, end_standard: int, end_extended: int, default: bool = False) -> dict:
    return {"clusterVersion": version, "clusterType": "eks", "defaultPlatformVersion": "eks.12",
            "defaultVersion": default, "releaseDate": end_standard - 425 * 86400,
            "endOfStandardSupportDate": end_standard, "endOfExtendedSupportDate": end_extended,
            "status": status.lower().replace("_", "-"), "versionStatus": status,
            "kubernetesPatchVersion": f"{version}.4"}


class FakeEKS:
    def __init__(self, upstream: str, versions: list[dict]) -> None:
        self.upstream = urlsplit(upstream)
        self.versions = versions
        self.support_types: dict[str, str] = {}  # cluster name -> upgradePolicy.supportType
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlsplit(self.path)
                if self.command == "GET" and path.path == "/cluster-versions":
                    status, headers, data = 200, {"Content-Type": "application/json"}, fake._versions(path.query)
                else:
                    status, headers, data = fake._forward(self.command, self.path, dict(self.headers), body)
                reply(self, status, headers, data)

            do_GET = do_POST = do_PUT = do_DELETE = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = serve(Handler, "fake-eks")

    def stop(self) -> None:
        stop(self._server)
        self._server = None

    def _versions(self, query: str) -> bytes:
        params = parse_qs(query)
        wanted = set(params.get("clusterVersions", []))
        chosen = [v for v in self.versions if not wanted or v["clusterVersion"] in wanted]
        if "includeAll" not in params and not wanted:  # the API's default: versions in standard support only
            chosen = [v for v in chosen if v["versionStatus"] == "STANDARD_SUPPORT"]
        start = int(params.get("nextToken", ["0"])[0])
        size = int(params.get("maxResults", ["100"])[0])
        page = chosen[start:start + size]
        answer: dict[str, Any] = {"clusterVersions": page}
        if start + size < len(chosen):
            answer["nextToken"] = str(start + size)
        return json.dumps(answer).encode()

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            conn.request(method, path, body=body or None,
                         headers={k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}})
            response = conn.getresponse()
            data = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
        finally:
            conn.close()
        if method == "GET" and path.startswith("/clusters/") and path.count("/") == 2 and response.status == 200:
            answer = json.loads(data)
            cluster = answer.get("cluster", {})
            cluster.setdefault("upgradePolicy", {"supportType": self.support_types.get(cluster.get("name"),
                                                                                        "STANDARD")})
            data = json.dumps(answer).encode()
        return response.status, kept, data
