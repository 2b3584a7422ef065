"""boto3 sessions and clients for an environment.

Standard variables work as AWS users expect: AWS_PROFILE and the credential
chain, and AWS_ENDPOINT_URL (boto3 honours it natively; the sandbox sets it).
Retries use botocore's adaptive mode so throttling slows a run down instead of
failing it; an endpoint that cannot be connected to at all fails after a few attempts,
and one that takes the request and never answers fails after two read timeouts
(``api_timeout_s`` of the environment, each), with one line naming the endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from opschecks import silent
from opschecks.errors import Unreachable, describe

if TYPE_CHECKING:  # config imports the area modules, which use this module
    from opschecks.config import EnvConfig

# Ten retries with adaptive client-side rate limiting ride out throttling. No timeouts here: they come
# from the session (the environment's api_timeout_s), and a config given here would override them.
RETRIES = BotoConfig(retries={"mode": "adaptive", "max_attempts": 10})
CONNECT_TIMEOUT_S = 5.0
# A refused or timed-out connection means the endpoint is down, not busy: the full back-off would make each
# call of a run against a dead endpoint take about 25 s before failing, so stop after this many attempts.
CONNECT_ATTEMPTS = 3
# A read timeout means the endpoint took the request and said nothing for a whole api_timeout_s (botocore's
# default is 60 s, retried 10 times: 10 minutes of silence). Try once more, then give up.
SILENT_ATTEMPTS = 2


def session(env: EnvConfig) -> boto3.Session:
    """A session for ``env``; fails with one line naming the env and profile when there are no credentials."""
    core = botocore.session.get_session()
    # Every client of this session waits this long to connect and for each answer, unless its own config says.
    core.set_default_client_config(timeouts(env.api_timeout_s))
    sess = boto3.Session(botocore_session=core, profile_name=env.aws_profile, region_name=env.aws_region)
    if sess.get_credentials() is None:
        profile = env.aws_profile or "(AWS_PROFILE or default)"
        raise Unreachable(
            f"no AWS credentials for env {env.name} (profile {profile}, region {env.aws_region}): "
            "set AWS_PROFILE or aws_profile in the config, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return sess


def timeouts(api_timeout_s: float) -> BotoConfig:
    """The waits of every client: to connect (at most CONNECT_TIMEOUT_S) and for each answer."""
    return BotoConfig(connect_timeout=min(CONNECT_TIMEOUT_S, api_timeout_s), read_timeout=api_timeout_s)


def client(sess: boto3.Session, service: str, config: BotoConfig = RETRIES, region: str | None = None) -> Any:
    """``region`` for global services whose endpoint lives in one region (Cost Explorer: us-east-1)."""
    made = sess.client(service, config=config, region_name=region)
    # First on the service's own event, so it is asked before botocore's retry handler.
    made.meta.events.register_first(f"needs-retry.{made.meta.service_model.service_id.hyphenize()}",
                                    _give_up_on_unreachable)
    # An endpoint that already did not answer in this run is not waited for again (opschecks/silent.py).
    made.meta.events.register("before-send", lambda request, **_: silent.refuse_if_silent(request.url))
    # An error answer carries no region; the one line about it should say where (errors.describe).
    made.meta.events.register(f"after-call.{made.meta.service_model.service_id.hyphenize()}",
                              lambda parsed, **_: _stamp_region(parsed, made.meta.region_name))
    return made


def _stamp_region(parsed: dict, region: str) -> None:
    if "Error" in parsed:
        parsed.setdefault("ResponseMetadata", {})["Region"] = region


def _give_up_on_unreachable(attempts: int, caught_exception: Exception | None = None, **_: Any) -> bool | None:
    # botocore takes the first answer that is not None; False means "do not retry".
    if isinstance(caught_exception, (EndpointConnectionError, ConnectTimeoutError)) and attempts >= CONNECT_ATTEMPTS:
        _record_if_silent(caught_exception)
        return False
    if isinstance(caught_exception, ReadTimeoutError) and attempts >= SILENT_ATTEMPTS:
        _record_if_silent(caught_exception)
        return False
    return None


def _record_if_silent(exc: Exception) -> None:
    # A refused connection fails in milliseconds: only the endpoints that cost timeouts are remembered.
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        silent.record(exc.kwargs.get("endpoint_url") or "", describe(exc) or str(exc))
