"""The resources the fake Kubernetes API serves, and its discovery documents (legacy and aggregated).

Shaped as a real API server of Kubernetes 1.32 answers ``/api``, ``/apis``,
``/api/v1``, ``/apis/<group>/<version>`` and ``/version``: kubectl reads the
aggregated form (``apidiscovery.k8s.io/v2``, asked for in its Accept header),
the Python client's dynamic discovery the legacy one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VERBS = ["get", "list"]  # read-only: the sandbox serves what the checks and kubectl read


@dataclass(frozen=True)
class Resource:
    name: str  # plural, as in the URL
    group: str  # "" for the core group
    version: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[tuple[str, str], ...] = ()  # (name, kind)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


CATALOGUE = [
    Resource("pods", "", "v1", "Pod", True, ("po",), ("all",)),
    Resource("namespaces", "", "v1", "Namespace", False, ("ns",)),
    Resource("nodes", "", "v1", "Node", False, ("no",), subresources=(("proxy", "NodeProxyOptions"),)),
    Resource("events", "", "v1", "Event", True, ("ev",)),
    Resource("persistentvolumeclaims", "", "v1", "PersistentVolumeClaim", True, ("pvc",)),
    Resource("deployments", "apps", "v1", "Deployment", True, ("deploy",), ("all",)),
    Resource("statefulsets", "apps", "v1", "StatefulSet", True, ("sts",), ("all",)),
    Resource("daemonsets", "apps", "v1", "DaemonSet", True, ("ds",), ("all",)),
    Resource("cronjobs", "batch", "v1", "CronJob", True, ("cj",), ("all",)),
    Resource("jobs", "batch", "v1", "Job", True, (), ("all",)),
    Resource("leases", "coordination.k8s.io", "v1", "Lease", True),
]
BY_PATH = {(r.group, r.version, r.name): r for r in CATALOGUE}
BY_NAME = {r.name: r for r in CATALOGUE}
GROUPS = sorted({(r.group, r.version) for r in CATALOGUE if r.group})

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def version_info(git_version: str) -> dict[str, Any]:
    """``/version`` of an EKS control plane (what ``kubectl version`` shows as the server)."""
    major, minor = git_version.lstrip("v").split(".")[:2]
    return {"major": major, "minor": f"{minor}+", "gitVersion": git_version,
            "gitCommit": "5b4f13a3c2c93b0d2a4cb8ccd5bd07e6d0b1bd56", "gitTreeState": "clean",
            "buildDate": "2025-01-21T20:04:31Z", "goVersion": "go1.23.4", "compiler": "gc",
            "platform": "linux/amd64"}


def api_versions(host: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}


def api_group_list() -> dict[str, Any]:
    groups = []
    for group, version in GROUPS:
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/<group>/<version>`` (None: not served)."""
    resources = [r for r in CATALOGUE if (r.group, r.version) == (group, version)]
    if not resources:
        return None
    items = []
    for r in resources:
        entry: dict[str, Any] = {"name": r.name, "singularName": r.singular, "namespaced": r.namespaced,
                                 "kind": r.kind, "verbs": VERBS}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        items.append(entry)
        items += [{"name": f"{r.name}/{sub}", "singularName": "", "namespaced": r.namespaced, "kind": kind,
                   "verbs": ["get"]} for sub, kind in r.subresources]
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": items}


def aggregated_discovery(core: bool) -> dict[str, Any]:
    """``/api`` (core) or ``/apis`` as an ``APIGroupDiscoveryList`` (apidiscovery.k8s.io/v2)."""
    pairs = [("", "v1")] if core else GROUPS
    items = []
    for group, version in pairs:
        resources = []
        for r in (r for r in CATALOGUE if (r.group, r.version) == (group, version)):
            entry: dict[str, Any] = {
                "resource": r.name, "responseKind": {"group": group, "version": version, "kind": r.kind},
                "scope": "Namespaced" if r.namespaced else "Cluster", "singularResource": r.singular,
                "verbs": VERBS}
            if r.short_names:
                entry["shortNames"] = list(r.short_names)
            if r.categories:
                entry["categories"] = list(r.categories)
            if r.subresources:
                entry["subresources"] = [{"subresource": sub, "responseKind": {"group": "", "version": "v1",
                                                                               "kind": kind}, "verbs": ["get"]}
                                         for sub, kind in r.subresources]
            resources.append(entry)
        items.append({"metadata": {"name": group, "creationTimestamp": None},
                      "versions": [{"version": version, "resources": resources, "freshness": "Current"}]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}
