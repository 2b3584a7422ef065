"""A small fake Kubernetes API server: realistic JSON over real HTTP, enough for the client and kubectl.

No real API server can run here, so the official ``kubernetes`` client (and
kubectl 1.32) talk to this one through a generated kubeconfig. Each cluster is
a path prefix (``http://127.0.0.1:<port>/<cluster>``), so one server plays
every context. It serves, read-only, as a real server does:

- discovery: ``/version``, ``/api``, ``/apis`` (aggregated ``apidiscovery.k8s.io/v2`` when the Accept header
  asks for it, as kubectl does; the legacy documents otherwise) and each group version's resource list;
- lists (all namespaces or one) with ``limit``/``continue`` pagination, ``labelSelector`` and ``fieldSelector``;
- single objects (``kubectl get pod X``, ``describe``), 404 ``NotFound`` Status when absent;
- Tables (``Accept: ...;as=Table;g=meta.k8s.io``) with the columns ``kubectl get`` and ``-o wide`` show
  (kube_tables.py), ages by the sandbox's clock;
- a node's kubelet stats summary through the API server's node proxy
  (``/api/v1/nodes/<node>/proxy/stats/summary``);
- nodes whose kubelets heartbeat (``set_live_kubelets``, as the sandbox's seed sets): conditions'
  ``lastHeartbeatTime`` 30 s before the sandbox's clock at each read.

It can be told to answer every request of a cluster with an error status
(401, 403, 500) and counts the requests it serves. It records each resource
request as an RBAC verb, API group and resource (``calls``), so a test can hold
the shipped ClusterRole to what the suite uses.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from opschecks import clock
from opschecks.sandbox import kube_resources as res
from opschecks.sandbox import kube_selectors as selectors
from opschecks.sandbox.kube_objects import ts
from opschecks.sandbox.kube_tables import table

RESOURCES = {r.name: (r.api_version, f"{r.kind}List") for r in res.CATALOGUE}  # resource -> (apiVersion, list kind)
SERVER_VERSION = "v1.32.3-eks-4096722"  # a cluster given no version (set_version) answers as EKS 1.32
_STATUS_REASON = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 500: "InternalError",
                  502: "BadGateway", 503: "ServiceUnavailable"}
Response = tuple[int, dict[str, Any], str]  # status, body, content type
_JSON = "application/json"


class FakeKubeAPI:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._faults: dict[str, int] = {}
        self._summaries: dict[tuple[str, str], dict[str, Any] | int] = {}  # (cluster, node) -> summary or status
        self._summary_delays: dict[tuple[str, str], float] = {}  # (cluster, node) -> seconds before answering
        self._deleted_on_read: set[tuple[str, str]] = set()  # (cluster, node) deleted when its summary is read
        self._versions: dict[str, str] = {}  # cluster -> gitVersion of its control plane (default SERVER_VERSION)
        self._live_kubelets: set[str] = set()  # clusters whose nodes' heartbeats follow the clock
        self.requests: Counter[str] = Counter()  # cluster -> requests served
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (RBAC verb, API group, resource) -> requests
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
        if resource not in RESOURCES:
            raise ValueError(f"unknown resource {resource!r}")
        with self._lock:
            self._objects.setdefault((cluster, resource), []).extend(objects)

    def objects(self, cluster: str, resource: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.get((cluster, resource), []))

    def set_stats_summary(self, cluster: str, node: str, summary: dict[str, Any] | int | None, delay_s: float = 0.0,
                          delete_node: bool = False) -> None:
        """The kubelet's ``/stats/summary`` of ``node`` (or an error status its proxy answers), answered after
        ``delay_s`` seconds (a hung kubelet: the API server's proxy waits on it). ``delete_node``: the node is
        deleted when its summary is asked for (scaled in between a client's list and its read)."""
        with self._lock:
            self._summaries[(cluster, node)] = summary
            self._summary_delays[(cluster, node)] = delay_s
            if delete_node:
                self._deleted_on_read.add((cluster, node))

    def set_live_kubelets(self, cluster: str, live: bool = True) -> None:
        """Serve ``cluster``'s nodes with every condition's ``lastHeartbeatTime`` 30 s before the checks' clock,
        as running kubelets keep it (a sandbox left up for hours is not a cluster whose status froze); off,
        the heartbeats are what the objects were set with (a test's stale heartbeat)."""
        with self._lock:
            (self._live_kubelets.add if live else self._live_kubelets.discard)(cluster)

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
                status, body, content_type = api._handle(self.path, self.headers.get("Accept") or "")
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                try:
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (its read timeout): nobody left to answer

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
    def _handle(self, raw_path: str, accept: str) -> Response:
        url = urlsplit(raw_path)
        cluster, _, rest = url.path.lstrip("/").partition("/")
        parts = [unquote(p) for p in rest.split("/") if p]
        with self._lock:
            self.requests[cluster] += 1
            fault = self._faults.get(cluster)
        if fault is not None:
            what = parts[-1] if parts else "discovery"
            return fault, _status(fault, f'{what} is {_STATUS_REASON.get(fault, "failing").lower()}: '
                                         f'User "sandbox-user" cannot list resource "{what}"'), _JSON
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if parts == ["version"]:
            with self._lock:
                version = self._versions.get(cluster, SERVER_VERSION)
            return 200, res.version_info(version), _JSON
        if parts in (["api"], ["apis"]):
            return self._discovery(parts[0] == "api", accept)
        if parts[:2] == ["api", "v1"]:
            group, version, rest_parts = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest_parts = parts[1], parts[2], parts[3:]
        else:
            return _not_found(url.path)
        if not rest_parts:
            listing = res.api_resource_list(group, version)
            return (200, listing, _JSON) if listing else _not_found(url.path)
        namespace = None
        if rest_parts[0] == "namespaces" and len(rest_parts) >= 3:
            namespace, rest_parts = rest_parts[1], rest_parts[2:]
        resource = res.BY_PATH.get((group, version, rest_parts[0]))
        if resource is None or (namespace is not None and not resource.namespaced):
            return _not_found(url.path)
        name, sub = (rest_parts[1], rest_parts[2:]) if len(rest_parts) > 1 else (None, [])
        with self._lock:
            self.calls[_rbac(name, sub, query, group, resource.name)] += 1
            objects = list(self._objects.get((cluster, resource.name), []))
            live = resource.name == "nodes" and cluster in self._live_kubelets
        if live:
            objects = [_heartbeating(o, clock.now() - dt.timedelta(seconds=30)) for o in objects]
        if resource.name == "nodes" and name is not None and "/".join(sub) == "proxy/stats/summary":
            return self._stats_summary(cluster, name, objects)
        if namespace is not None:
            objects = [o for o in objects if o["metadata"].get("namespace") == namespace]
        if name is not None:
            return self._get(resource, objects, name, sub, accept, query, url.path)
        return self._list(resource, objects, accept, query)

    def _discovery(self, core: bool, accept: str) -> Response:
        if "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept + ";":
            return 200, res.aggregated_discovery(core), res.AGGREGATED
        if core:
            return 200, res.api_versions(f"127.0.0.1:{self.port}"), _JSON
        return 200, res.api_group_list(), _JSON

    def _list(self, resource: res.Resource, objects: list[dict[str, Any]], accept: str,
              query: dict[str, str]) -> Response:
        try:
            if query.get("labelSelector"):
                objects = list(filter(selectors.labels(query["labelSelector"]), objects))
            if query.get("fieldSelector"):
                objects = list(filter(selectors.fields(query["fieldSelector"], resource.name), objects))
        except selectors.SelectorError as exc:
            return 400, _status(400, str(exc)), _JSON
        start = int(base64.b64decode(query["continue"]).decode()) if query.get("continue") else 0
        limit = int(query.get("limit") or 0) or len(objects)
        page = objects[start:start + limit]
        metadata: dict[str, Any] = {"resourceVersion": "12345"}
        if start + limit < len(objects):
            metadata["continue"] = base64.b64encode(str(start + limit).encode()).decode()
            metadata["remainingItemCount"] = len(objects) - start - limit
        if _wants_table(accept):
            return 200, table(resource.kind, page, clock.now(), query.get("includeObject", "Metadata"), metadata), _JSON
        return 200, {"kind": f"{resource.kind}List", "apiVersion": resource.api_version, "metadata": metadata,
                     "items": page}, _JSON

    def _get(self, resource: res.Resource, objects: list[dict[str, Any]], name: str, sub: list[str],
             accept: str, query: dict[str, str], path: str) -> Response:
        found = next((o for o in objects if o["metadata"]["name"] == name), None)
        if found is None:
            body = _status(404, f'{resource.name}{"." + resource.group if resource.group else ""} "{name}" not found')
            body["details"] = {"name": name, "kind": resource.name, **({"group": resource.group} if resource.group else {})}
            return 404, body, _JSON
        if sub:
            return _not_found(path)
        if _wants_table(accept):
            return 200, table(resource.kind, [found], clock.now(), query.get("includeObject", "Metadata"),
                              {"resourceVersion": "12345"}), _JSON
        return 200, found, _JSON


    def _stats_summary(self, cluster: str, node: str, nodes: list[dict[str, Any]]) -> Response:
        """The kubelet's summary through the API server's node proxy (the client sends ``stats%2Fsummary``)."""
        with self._lock:
            summary = self._summaries.get((cluster, node))
            delay_s = self._summary_delays.get((cluster, node), 0.0)
            if (cluster, node) in self._deleted_on_read:
                self._deleted_on_read.discard((cluster, node))
                self._summaries.pop((cluster, node), None)
                self._objects[(cluster, "nodes")] = [n for n in self._objects.get((cluster, "nodes"), [])
                                                     if n["metadata"]["name"] != node]
                return 404, _status(404, f'nodes "{node}" not found'), _JSON
        if delay_s:
            time.sleep(delay_s)  # this request's own thread (ThreadingHTTPServer): other requests go on
        if isinstance(summary, dict):
            return 200, summary, _JSON
        if summary is None and not any(n["metadata"]["name"] == node for n in nodes):
            return 404, _status(404, f'nodes "{node}" not found'), _JSON
        # What the API server relays when the node's kubelet does not answer (no summary: the same).
        status = summary or 503
        return status, _status(status, f"error trying to reach service: dial tcp {node}:10250: connect: "
                                       "connection refused"), _JSON


def _wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def _not_found(path: str) -> Response:
    return 404, _status(404, f"the server could not find the requested resource ({path})"), _JSON


def _heartbeating(node: dict[str, Any], beat: dt.datetime) -> dict[str, Any]:
    conditions = [{**c, "lastHeartbeatTime": ts(beat)} for c in node.get("status", {}).get("conditions", [])]
    return {**node, "status": {**node["status"], "conditions": conditions}} if conditions else node


def _status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": _STATUS_REASON.get(code, "InternalError"), "code": code}


def _rbac(name: str | None, sub: list[str], query: dict[str, str], group: str, resource: str) -> tuple[str, str, str]:
    """The (verb, API group, resource) RBAC authorizes a request by: nodes/proxy for the node proxy."""
    verb = "get" if name is not None else "watch" if query.get("watch") in ("true", "1") else "list"
    return verb, group, f"{resource}/{sub[0]}" if sub else resource
