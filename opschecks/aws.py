"""boto3 sessions and clients for an environment.

Standard variables work as AWS users expect: AWS_PROFILE and the credential
chain, and AWS_ENDPOINT_URL (boto3 honours it natively; the sandbox sets it).
Retries use botocore's adaptive mode so throttling slows a run down instead of
failing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config as BotoConfig

from opschecks.errors import Unreachable

if TYPE_CHECKING:  # config imports the area modules, which use this module
    from opschecks.config import EnvConfig

# Ten attempts with adaptive client-side rate limiting ride out throttling; an unreachable
# endpoint still fails, after about 15 s of back-off.
RETRIES = BotoConfig(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=5, read_timeout=60)


def session(env: EnvConfig) -> boto3.Session:
    """A session for ``env``; fails with one line naming the env and profile when there are no credentials."""
    sess = boto3.Session(profile_name=env.aws_profile, region_name=env.aws_region)
    if sess.get_credentials() is None:
        profile = env.aws_profile or "(AWS_PROFILE or default)"
        raise Unreachable(
            f"no AWS credentials for env {env.name} (profile {profile}, region {env.aws_region}): "
            "set AWS_PROFILE or aws_profile in the config, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return sess


def client(sess: boto3.Session, service: str) -> Any:
    return sess.client(service, config=RETRIES)
