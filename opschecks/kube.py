"""Kubernetes API clients for a context, and paginated listing.

KUBECONFIG is honoured as kubectl does (the client's loader reads it, ``:``-separated
files merged); each environment names its context in the config.

Every request has connect and read timeouts (the client's own default is none:
a cluster that accepts the connection and never answers would hang the run),
and urllib3 retries a failed request once: a silent API server fails a check
after two waits, with one line naming it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client import rest
from kubernetes.config.kube_config import ENV_KUBECONFIG_PATH_SEPARATOR

from opschecks import silent
from opschecks.errors import KubernetesAnswerBroken, Unreachable, describe

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0  # per answer; a list page of 500 pods comes back in well under a second


class _Retries(urllib3.Retry):
    """urllib3's Retry, waiting out an answer's Retry-After (429, 503) for at most ``max_wait_s``: urllib3 sleeps
    whatever the server asks, so an API server saying ``Retry-After: 600`` held the run for ten minutes."""

    def __init__(self, *args: Any, max_wait_s: float = READ_TIMEOUT_S, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait_s = max_wait_s

    def new(self, **kwargs: Any) -> _Retries:
        made = super().new(**kwargs)  # urllib3 copies only its own parameters
        made.max_wait_s = self.max_wait_s
        return made

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, self.max_wait_s)


def _retries(read_timeout_s: float) -> _Retries:
    # One retry, counted over every kind of error: urllib3's default (3, with back-off) makes 4 attempts. A
    # Retry-After wait is capped at one read timeout, so a throttled request costs what a silent one does.
    return _Retries(total=1, backoff_factor=0.5, max_wait_s=read_timeout_s)


class _TimedApiClient(client.ApiClient):
    """An ApiClient whose requests time out unless the caller sets ``_request_timeout`` itself."""

    def __init__(self, configuration: client.Configuration, timeout: tuple[float, float]) -> None:
        super().__init__(configuration=configuration)
        self.timeout = timeout

    def call_api(self, method, url, header_params=None, body=None, post_params=None,  # noqa: ANN001, ANN201
                 _request_timeout=None):
        # Every request of the generated API classes comes through here: the one place that knows an API
        # server already did not answer in this run (opschecks/silent.py), and learns it.
        silent.refuse_if_silent(url, kubernetes=True)
        try:
            answer = super().call_api(method, url, header_params, body, post_params, _request_timeout or self.timeout)
            return _Answer(answer.response, silent.endpoint(url))
        except urllib3.exceptions.MaxRetryError as exc:
            # NewConnectionError (refused) subclasses ConnectTimeoutError but fails at once: not worth remembering.
            # A proxied request (a node's kubelet, a pod) that times out is that backend's silence, not the API
            # server's: the other nodes behind the same server are still asked.
            if isinstance(exc.reason, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError)) \
                    and not isinstance(exc.reason, urllib3.exceptions.NewConnectionError) \
                    and "/proxy/" not in urlsplit(url).path:
                silent.record(url, describe(exc) or str(exc))
            raise


class _Answer(rest.RESTResponse):
    """A response whose body, read after call_api returned, fails in one line naming the API server when the
    connection resets, closes before the body's end or goes quiet (urllib3 raises these without the endpoint)."""

    def __init__(self, response: urllib3.BaseHTTPResponse, where: str) -> None:
        super().__init__(response)
        self.where = where

    def read(self) -> bytes:
        try:
            return super().read()
        except urllib3.exceptions.ReadTimeoutError:
            raise KubernetesAnswerBroken(f"Kubernetes API {self.where} stopped answering part way through "
                                         "(read timeout; api_timeout_s in the config sets the wait)") from None
        except urllib3.exceptions.ProtocolError as exc:
            cause = exc.args[1] if len(exc.args) > 1 else exc
            raise KubernetesAnswerBroken(f"Kubernetes API {self.where} broke off its answer part way through: "
                                         f"{type(cause).__name__}: {' '.join(str(cause).split())}") from None


def kubeconfig_files() -> list[str]:
    """The kubeconfig files the client reads, as kubectl does: $KUBECONFIG's list, else ~/.kube/config."""
    value = os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [str(Path(p).expanduser()) for p in value.split(ENV_KUBECONFIG_PATH_SEPARATOR) if p]


def api_client(context: str | None, read_timeout_s: float = READ_TIMEOUT_S) -> client.ApiClient:
    files = kubeconfig_files()
    configuration = client.Configuration()
    # Set before the client is built: its urllib3 pool manager takes the retries when it is created.
    configuration.retries = _retries(read_timeout_s)
    try:
        # The client reads $KUBECONFIG once, at import; pass it now so the sandbox's (or a changed) one counts.
        config.load_kube_config(config_file=ENV_KUBECONFIG_PATH_SEPARATOR.join(files), context=context,
                                client_configuration=configuration, persist_config=False)
    except Exception as exc:  # noqa: BLE001 (the loader raises ConfigException, OSError, YAML and key errors)
        raise Unreachable(f"Kubernetes context {context or '(current)'}: {_config_problem(files, context, exc)}") from None
    return _TimedApiClient(configuration, (min(CONNECT_TIMEOUT_S, read_timeout_s), read_timeout_s))


def _config_problem(files: list[str], context: str | None, exc: Exception) -> str:
    """Why the kubeconfig gave no client, naming the files looked at (as kubectl would have read them)."""
    where = f"kubeconfig {', '.join(files)}"
    if not any(Path(f).is_file() for f in files):
        folders = [f for f in files if Path(f).is_dir()]
        if folders:
            return f"kubeconfig {folders[0]} is a directory, not a kubeconfig file (point KUBECONFIG at the file)"
        return f"{where} not found (set KUBECONFIG, or write ~/.kube/config)"
    if isinstance(exc, yaml.YAMLError):
        return f"{where} is not valid YAML: {' '.join(str(exc).split())}"
    names = _context_names(files)
    if context is None and "current-context" in str(exc):
        return f"{where} sets no current-context (set kube_context for the env in the config)"
    if context is not None and names is not None and context not in names:
        return f"no context {context!r} in {where} (its contexts: {', '.join(names) or 'none'})"
    return f"{where}: {' '.join(str(exc).split()).removeprefix('Invalid kube-config file. ')}"


def _context_names(files: list[str]) -> list[str] | None:
    """Every context named in ``files`` (kubectl merges them), or None when they cannot be read."""
    try:
        docs = [yaml.safe_load(Path(f).read_text()) or {} for f in files if Path(f).is_file()]
        return [c["name"] for doc in docs for c in doc.get("contexts") or []]
    except Exception:  # noqa: BLE001 (then the loader's own reason is the message)
        return None


def list_paginated(list_fn: Callable[..., Any], page_size: int, **kwargs: Any) -> Iterator[Any]:
    """Every item of a list call, page by page (limit/continue), so large clusters work."""
    token = None
    while True:
        page = list_fn(limit=page_size, _continue=token, **kwargs)
        yield from page.items
        token = page.metadata._continue
        if not token:
            return
