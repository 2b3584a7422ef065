"""A small fake Kubernetes API server: realistic list JSON over real HTTP.

No real API server can run here, so the official ``kubernetes`` client talks to
this one through a generated kubeconfig. Each cluster is a path prefix
(``http://127.0.0.1:<port>/<cluster>``), so one server plays every context.
It serves the list endpoints the checks use, with ``limit``/``continue``
pagination and ``labelSelector``, the server's ``/version``, and each node's
kubelet stats summary through the API server's node proxy
(``/api/v1/nodes/<node>/proxy/stats/summary``); it can be told to answer every
request of a cluster with an error status (401, 403, 500) and counts the
requests it serves.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

# resource -> (apiVersion of the list, kind of the list)
RESOURCES = {
    "pods": ("v1", "PodList"),
    "namespaces": ("v1", "NamespaceList"),
    "cronjobs": ("batch/v1", "CronJobList"),
    "jobs": ("batch/v1", "JobList"),
    "deployments": ("apps/v1", "DeploymentList"),
    "statefulsets": ("apps/v1", "StatefulSetList"),
    "daemonsets": ("apps/v1", "DaemonSetList"),
    "nodes": ("v1", "NodeList"),
    "persistentvolumeclaims": ("v1", "PersistentVolumeClaimList"),
}
_PROXY = re.compile(r"^/(?P<cluster>[^/]+)/api/v1/nodes/(?P<node>[^/]+)/proxy/stats/summary$")
_VERSION = re.compile(r"^/(?P<cluster>[^/]+)/version/?$")
_PATH = re.compile(
    r"^/(?P<cluster>[^/]+)/(?:api/v1|apis/(?P<group>batch|apps)/v1)"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<resource>[a-z]+)$"
)
_STATUS_REASON = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 500: "InternalError"}


class FakeKubeAPI:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._faults: dict[str, int] = {}
        self._summaries: dict[tuple[str, str], dict[str, Any] | int] = {}  # (cluster, node) -> summary or status
        self._versions: dict[str, str] = {}  # cluster -> gitVersion
        self.requests: Counter[str] = Counter()  # cluster -> requests served
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- state -----------------------------------------------------------
    def set_objects(self, cluster: str, resource: str, objects: list[dict[str, Any]]) -> None:
        """Replace every object of ``resource`` in ``cluster`` (objects carry their own namespace)."""
        if resource not in RESOURCES:
            raise ValueError(f"unknown resource {resource!r}")
        with self._lock:
            self._objects[(cluster, resource)] = list(objects)

    def add_objects(self, cluster: str, resource: str, objects: list[dict[str, Any]]) -> None:
        with self._lock:
            self._objects.setdefault((cluster, resource), []).extend(objects)

    def objects(self, cluster: str, resource: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.get((cluster, resource), []))

    def set_stats_summary(self, cluster: str, node: str, summary: dict[str, Any] | int) -> None:
        """The kubelet's ``/stats/summary`` of ``node`` (or an error status its proxy answers)."""
        with self._lock:
            self._summaries[(cluster, node)] = summary

    def set_version(self, cluster: str, git_version: str) -> None:
        with self._lock:
            self._versions[cluster] = git_version

    def fail_cluster(self, cluster: str, status: int | None) -> None:
        """Answer every request for ``cluster`` with ``status`` (None: serve normally again)."""
        with self._lock:
            if status is None:
                self._faults.pop(cluster, None)
            else:
                self._faults[cluster] = status

    # --- server ----------------------------------------------------------
    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                status, body = api._handle(self.path)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-kube-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.server_address[1]

    def url(self, cluster: str) -> str:
        return f"http://127.0.0.1:{self.port}/{cluster}"

    def write_kubeconfig(self, path: Path, contexts: dict[str, str]) -> Path:
        """Write a kubeconfig with one context per entry of ``contexts`` (context name -> cluster)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": ctx, "cluster": {"server": self.url(cluster)}} for ctx, cluster in contexts.items()],
            "users": [{"name": "sandbox-user", "user": {"token": "sandbox-token"}}],
            "contexts": [
                {"name": ctx, "context": {"cluster": ctx, "user": "sandbox-user"}} for ctx in contexts
            ],
            "current-context": next(iter(contexts)),
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # --- request handling ------------------------------------------------
    def _handle(self, raw_path: str) -> tuple[int, dict[str, Any]]:
        url = urlsplit(raw_path)
        # The client quotes the proxied path (stats%2Fsummary), as a real API server accepts.
        special = _PROXY.match(unquote(url.path)) or _VERSION.match(url.path)
        if special is not None:
            return self._special(special)
        match = _PATH.match(url.path)
        if match is None:
            return 404, _status(404, f"the server could not find the requested resource ({url.path})")
        cluster, namespace, resource = match["cluster"], match["ns"], match["resource"]
        with self._lock:
            self.requests[cluster] += 1
            fault = self._faults.get(cluster)
            objects = list(self._objects.get((cluster, resource), []))
        if fault is not None:
            return fault, _status(fault, f'{resource} is {_STATUS_REASON.get(fault, "failing").lower()}: '
                                         f'User "sandbox-user" cannot list resource "{resource}"')
        if resource not in RESOURCES or (match["group"] or "core") != _group(resource):
            return 404, _status(404, f"the server could not find the requested resource ({url.path})")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if namespace is not None:
            objects = [o for o in objects if o["metadata"].get("namespace") == namespace]
        if "labelSelector" in query:
            objects = [o for o in objects if _labels_match(o, query["labelSelector"])]
        start = int(base64.b64decode(query["continue"]).decode()) if query.get("continue") else 0
        limit = int(query.get("limit") or 0) or len(objects)
        page = objects[start:start + limit]
        metadata: dict[str, Any] = {"resourceVersion": "12345"}
        if start + limit < len(objects):
            metadata["continue"] = base64.b64encode(str(start + limit).encode()).decode()
            metadata["remainingItemCount"] = len(objects) - start - limit
        api_version, kind = RESOURCES[resource]
        return 200, {"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": page}


    def _special(self, match: re.Match[str]) -> tuple[int, dict[str, Any]]:
        cluster = match["cluster"]
        with self._lock:
            self.requests[cluster] += 1
            fault = self._faults.get(cluster)
            if "node" in match.groupdict():
                found = self._summaries.get((cluster, match["node"]))
            else:
                found = _version(self._versions.get(cluster, "v1.29.6-eks-1552ad0"))
        if fault is not None:
            return fault, _status(fault, f'nodes/proxy is {_STATUS_REASON.get(fault, "failing").lower()}')
        if found is None:
            return 404, _status(404, f'nodes "{match["node"]}" not found')
        if isinstance(found, int):  # the API server's proxy error, as it relays a dead kubelet
            return found, _status(found, f'error trying to reach service: dial tcp {match["node"]}:10250: '
                                         "connect: connection refused")
        return 200, found


def _version(git_version: str) -> dict[str, Any]:
    major, minor = git_version.lstrip("v").split(".")[:2]
    return {"major": major, "minor": f"{minor}+", "gitVersion": git_version, "gitCommit": "0" * 40,
            "gitTreeState": "clean", "buildDate": "2024-06-12T00:00:00Z", "goVersion": "go1.22.4",
            "compiler": "gc", "platform": "linux/amd64"}


def _group(resource: str) -> str:
    api_version = RESOURCES[resource][0]
    return api_version.split("/")[0] if "/" in api_version else "core"


def _labels_match(obj: dict[str, Any], selector: str) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value.lstrip("="):
            return False
    return True


def _status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": _STATUS_REASON.get(code, "InternalError"), "code": code}
