"""Kubernetes API clients for a context, and paginated listing.

KUBECONFIG is honoured as kubectl does (the client's loader reads it); each
environment names its context in the config.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client, config

from opschecks.errors import Unreachable

REQUEST_TIMEOUT = (5, 30)  # connect, read seconds


def api_client(context: str | None) -> client.ApiClient:
    try:
        # The client reads $KUBECONFIG once, at import; read it now so the sandbox's (or a changed) one counts.
        api = config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"), context=context)
    except config.ConfigException as exc:
        raise Unreachable(f"Kubernetes context {context or '(current)'}: {exc}") from None
    # The client's default is 3 retries with back-off per request: an unreachable
    # cluster should fail in seconds, not minutes.
    api.configuration.retries = 1
    return api


def list_paginated(list_fn: Callable[..., Any], page_size: int, **kwargs: Any) -> Iterator[Any]:
    """Every item of a list call, page by page (limit/continue), so large clusters work."""
    token = None
    while True:
        page = list_fn(limit=page_size, _continue=token, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        yield from page.items
        token = page.metadata._continue
        if not token:
            return
