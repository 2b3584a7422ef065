"""Which environments the suite may write to: protection is a property of the environment, proved by STS.

Read-only checks run everywhere. A step that writes (the upload drill, cleanup) runs only where:

- the environment is not protected. It is protected when it says ``protected = true``; when it says
  nothing and its name looks like production (``prod``, ``production``, ``prd``, ``live``, ``prod-eu``,
  ...); and, whatever it says, when its ``aws_account_id`` is the account of a protected environment;
- it declares ``aws_account_id``, and STS GetCallerIdentity says the credentials really are in that
  account, and that account is no protected environment's.

Every refusal is one line naming the env, the account and why. Read-only checks of an env that declares
``aws_account_id`` also fail in one line when its credentials reach another account (``verify_account``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3

from opschecks import aws
from opschecks.errors import Unreachable
from opschecks.findings import ChecksFailed

if TYPE_CHECKING:  # config imports the area modules, some of which use this one
    from opschecks.config import Config, EnvConfig

PRODUCTION_NAME = re.compile(r"(?:^|[-_.])(?:prod|production|prd|live)\d*(?:$|[-_.])", re.I)


class Refused(ChecksFailed):
    """A write refused before it started; the message is one line naming env, account and why."""


@dataclass(frozen=True)
class Guard:
    """What the config says about one environment's protection, resolved against every environment."""
    env: str
    account: str | None  # the declared aws_account_id
    why_protected: str | None  # None: not protected
    protected_accounts: dict[str, str] = field(default_factory=dict)  # account -> a protected env using it

    def check(self, session: Callable[[], boto3.Session], action: str) -> str:
        """The account the credentials reach, after proving ``action`` may write there; else Refused.

        ``session`` is called only once the config alone does not refuse, so a protected env is refused
        even where there are no credentials at all.
        """
        declared = self.account or "not declared"
        if self.why_protected:
            raise Refused(f"refusing {action} in env {self.env} (account {declared}): {self.why_protected}; "
                          "a protected environment is never written to")
        if not self.account:
            raise Refused(f"refusing {action} in env {self.env} (account not declared): set aws_account_id in "
                          f"[env.{self.env}] so the suite can prove with STS which account it writes to")
        actual = aws.client(session(), "sts").get_caller_identity()["Account"]
        if actual in self.protected_accounts:
            raise Refused(f"refusing {action} in env {self.env} (account {self.account}): its credentials reach "
                          f"account {actual}, which is protected env {self.protected_accounts[actual]}'s")
        if actual != self.account:
            raise Refused(f"refusing {action} in env {self.env} (account {self.account}): its credentials reach "
                          f"account {actual} instead (check aws_profile / AWS_PROFILE)")
        return actual


def verify_account(env: EnvConfig, sess: boto3.Session) -> None:
    """For read-only checks: where ``env`` declares its account, its credentials must reach that account, or a
    check of prod run with dev's credentials would judge dev's resources and pass."""
    if env.aws_account_id:
        actual = aws.client(sess, "sts").get_caller_identity()["Account"]
        if actual != env.aws_account_id:
            raise Unreachable(f"env {env.name} declares aws_account_id {env.aws_account_id}, but its credentials "
                              f"reach account {actual}: not judging another account (check aws_profile / "
                              "AWS_PROFILE)")


def guard(config: Config, env: EnvConfig) -> Guard:
    """``env``'s guard, knowing every configured environment's declared protection and account."""
    own = {e.name: _own_reason(e) for e in config.envs.values()}
    protected_accounts: dict[str, str] = {}
    for e in config.envs.values():
        if own[e.name] and e.aws_account_id:
            protected_accounts.setdefault(e.aws_account_id, e.name)
    why = own[env.name]
    if why is None and env.aws_account_id in protected_accounts:
        why = f"its account is also protected env {protected_accounts[env.aws_account_id]}'s"
    return Guard(env.name, env.aws_account_id, why, protected_accounts)


def _own_reason(env: EnvConfig) -> str | None:
    if env.protected:
        return "it says protected = true"
    if env.protected is None and PRODUCTION_NAME.search(env.name):
        return "its name looks like production (say protected = false in its table if it is not)"
    return None
