"""Turn 'cannot reach the infrastructure' exceptions into one line a person on call can act on.

Checks never catch these themselves: the suite's plugin (fixtures/outcomes.py)
calls ``describe`` on whatever escapes a check and fails it with that line,
prefixed by the environment, instead of a traceback or a skip.
"""

from __future__ import annotations

import json
import re

import boto3.exceptions
import botocore.exceptions
import kubernetes.client.exceptions
import kubernetes.config.config_exception
import pymongo.errors
import urllib3.exceptions


_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
              "TooManyRequestsException", "RequestThrottled", "RequestThrottledException",
              "ProvisionedThroughputExceededException"}


class Unreachable(Exception):
    """Raised by our own code when a service cannot be reached or used; the message says what and where."""


class KubernetesAnswerBroken(Unreachable):
    """The Kubernetes API sent part of an answer, then reset, closed or went quiet (opschecks/kube.py)."""


class NotTriedAgain(Unreachable):
    """A call to an endpoint that already did not answer in this run, refused at once (opschecks/silent.py)."""

    def __init__(self, line: str, kubernetes: bool) -> None:
        super().__init__(line)
        self.kubernetes = kubernetes  # the line then names the context, as the first failure's did


def from_kubernetes(exc: BaseException) -> bool:
    """Whether the Kubernetes client raised ``exc`` (the line should then name the context)."""
    # urllib3 errors escape only from the kubernetes client: boto3 and pymongo wrap their own.
    if isinstance(exc, NotTriedAgain):
        return exc.kubernetes
    if isinstance(exc, KubernetesAnswerBroken):
        return True
    return isinstance(exc, (kubernetes.client.exceptions.ApiException, urllib3.exceptions.MaxRetryError))


def describe(exc: BaseException) -> str | None:
    """One line for an infrastructure error, or None when ``exc`` is not one (a real bug shows its traceback)."""
    if isinstance(exc, Unreachable):
        return str(exc)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE (or aws_profile in the config), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return f"AWS profile not found: {exc}"
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return f"cannot reach AWS endpoint {exc.kwargs.get('endpoint_url')}"
    if isinstance(exc, botocore.exceptions.ConnectTimeoutError):
        return f"timed out connecting to AWS endpoint {exc.kwargs.get('endpoint_url')}"
    if isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return (f"AWS endpoint {exc.kwargs.get('endpoint_url')} accepted the connection but did not answer "
                "(read timeout, tried twice; api_timeout_s in the config sets the wait)")
    if isinstance(exc, (botocore.exceptions.IncompleteReadError, botocore.exceptions.ResponseStreamingError)):
        # Raised while reading a body (get_object's Body.read()), after the call returned: the endpoint is not
        # known here; the call site (archive.download) names it where it can.
        return f"an AWS answer broke off part way through: {type(exc).__name__}: {' '.join(str(exc).split())}"
    if isinstance(exc, boto3.exceptions.RetriesExceededError):
        last = exc.last_exception
        return (f"an S3 transfer broke off part way, every attempt: {type(last).__name__}: "
                f"{' '.join(str(last).split())}")
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        if err.get("Code") in _THROTTLED:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
            return (f"AWS {exc.operation_name} still throttled ({err.get('Code')}) after {attempts} attempts: "
                    "the account's API rate is exhausted; run again later or with fewer xdist workers")
        if err.get("Code") in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                               "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
                               "SignatureDoesNotMatch", "NoSuchBucket", "InvalidAccessKeyId"}:
            return f"AWS {exc.operation_name} refused: {err.get('Code')}: {err.get('Message', '')}".rstrip(": ")
        # Any other error code is still AWS's documented answer to one call (InvalidParameterException,
        # ServerException, LimitExceededException, ...): the call and the code, not a botocore traceback.
        region = exc.response.get("ResponseMetadata", {}).get("Region")  # stamped by opschecks.aws.client
        call = f"AWS {exc.operation_name}" + (f" ({region})" if region else "")
        return f"{call} failed: {err.get('Code') or 'unknown error'}: {err.get('Message', '')}".rstrip(": ")
    if isinstance(exc, kubernetes.config.config_exception.ConfigException):
        return f"Kubernetes config problem: {exc}"
    if isinstance(exc, kubernetes.client.exceptions.ApiException) and exc.status in (0, 401, 403, 404, 429, 500, 502, 503,
                                                                                              504):
        reason = {401: "unauthorized (401): credentials rejected", 403: "forbidden (403): RBAC denies it",
                  404: "not found (404)"}.get(exc.status, f"HTTP {exc.status} {exc.reason}")
        return f"Kubernetes API {reason}" + _api_message(exc)
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        where = f"{exc.pool.scheme}://{exc.pool.host}:{exc.pool.port}"
        if isinstance(exc.reason, urllib3.exceptions.ReadTimeoutError):
            return (f"Kubernetes API {where} accepted the connection but did not answer (read timeout, tried twice; "
                    "api_timeout_s in the config sets the wait)")
        # NewConnectionError (refused, no route) subclasses ConnectTimeoutError in urllib3 2: ask it first.
        if isinstance(exc.reason, urllib3.exceptions.ConnectTimeoutError) and \
                not isinstance(exc.reason, urllib3.exceptions.NewConnectionError):
            return f"timed out connecting to {where}"
        return f"cannot reach {where}: {type(exc.reason).__name__}"
    if isinstance(exc, pymongo.errors.ServerSelectionTimeoutError):
        return f"cannot reach MongoDB: {_mongo_reason(exc)}"
    if isinstance(exc, pymongo.errors.NetworkTimeout):
        return (f"MongoDB accepted the connection but stopped answering: {_without_timeouts(exc)} "
                "([restore] server_timeout_s sets the wait)")
    if isinstance(exc, pymongo.errors.AutoReconnect):  # the connection closed or reset under an operation
        return f"lost the connection to MongoDB: {_without_timeouts(exc)}"
    if isinstance(exc, pymongo.errors.OperationFailure) and exc.code in (13, 18):
        return f"MongoDB refused: {exc.details.get('errmsg') if exc.details else exc}"
    return None


def _without_timeouts(text: object) -> str:
    """pymongo's message without the "(configured timeouts: ...)" it appends to each server's error."""
    return re.sub(r" \(configured timeouts: [^)]*\)", "", str(text))


def _mongo_reason(exc: pymongo.errors.ServerSelectionTimeoutError) -> str:
    """Each server's error, whole, without the client's configured timeouts or its topology dump."""
    servers, _, rest = str(exc).partition(", Timeout: ")
    servers = re.sub(r",(?! )", ", ", _without_timeouts(servers))
    waited = rest.split(",")[0]
    return f"{servers} (gave up after {waited})" if waited else servers


def _api_message(exc: kubernetes.client.exceptions.ApiException) -> str:
    """The API server's own Status message (it says who was denied what, and where), as ': <message>'."""
    try:
        message = json.loads(exc.body or "").get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if isinstance(message, str) and message else ""
