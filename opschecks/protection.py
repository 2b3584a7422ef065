"""Which environments the suite may write to: protection is a property of the environment, proved by STS.

Read-only checks run everywhere. A step that writes (the upload drill, cleanup) runs only where:

- the environment is not protected. It is protected when it says ``protected = true``; when it says
  nothing and its name is not a known non-production one (``WRITABLE_NAME``: dev, staging, test, qa, ...,
  matched after NFKC and with format characters dropped: ``ｐｒｏｄ`` and ``pro\u200bd`` are ``prod``);
  and, whatever it says, when its ``aws_account_id`` is the account of a protected environment;
- it declares ``aws_account_id``, and STS GetCallerIdentity says the credentials really are in that
  account, and that account is no protected environment's.

The e2e round trip writes over HTTP instead: ``Guard.target`` refuses a write to a host that is, by name or
by address, a protected environment's (configured, or its default host), whatever the writing env's name.

Every refusal is one line naming the env, the account and why. Read-only checks of an env that declares
``aws_account_id`` also fail in one line when its credentials reach another account (``verify_account``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

import boto3

from opschecks import aws
from opschecks.areas.e2e.settings import E2ESettings, endpoints
from opschecks.errors import Unreachable
from opschecks.findings import ChecksFailed

if TYPE_CHECKING:  # config imports the area modules, some of which use this one
    from opschecks.config import Config, EnvConfig

PRODUCTION_NAME = re.compile(r"(?:^|[-_.])(?:prod|production|prd|live)\d*(?:$|[-_.])", re.I)
# Fail closed: only these names (optionally numbered: dev2, qa-1) are writable without ``protected = false``.
WRITABLE_NAMES = ("dev", "development", "staging", "stage", "test", "testing", "qa", "sandbox", "integration",
                  "int", "demo", "local", "ci")
WRITABLE_NAME = re.compile(rf"(?:{'|'.join(WRITABLE_NAMES)})(?:[-_.]?\d+)?")
RESOLVE_TIMEOUT_S = 2.0  # for every host of one decision together; DNS that hangs must not hang the check


class Refused(ChecksFailed):
    """A write refused before it started; the message is one line naming env, account and why."""


@dataclass(frozen=True)
class Guard:
    """What the config says about one environment's protection, resolved against every environment."""
    env: str
    account: str | None  # the declared aws_account_id
    why_protected: str | None  # None: not protected
    protected_accounts: dict[str, str] = field(default_factory=dict)  # account -> a protected env using it
    protected_urls: tuple[tuple[str, str], ...] = ()  # (protected env, a URL it answers at)

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

    def target(self, what: str, url: str,
               resolve: Callable[[Iterable[str]], dict[str, set[str] | None]] | None = None) -> tuple[str | None, str]:
        """(the refusal of a write to ``url``, or None; what was compared): refused when its host is a
        protected env's host by name, or resolves to one of its addresses. ``what`` names the URL ("e2e API")."""
        mine = urlsplit(url)
        host = _host(mine.hostname)
        theirs = [(env, urlsplit(other)) for env, other in self.protected_urls]
        for env, other in theirs:
            if _host(other.hostname) == host and _same_port(host, set(), mine, other):
                return _refusal(self.env, what, url, env, ""), ""
        addresses = (resolve or _resolve)({host, *(_host(o.hostname) for _, o in theirs)})
        unresolved = sorted(h for h, a in addresses.items() if a is None)
        for env, other in theirs:
            shared = (addresses.get(host) or set()) & (addresses.get(_host(other.hostname)) or set())
            if shared and _same_port(host, shared, mine, other):
                return _refusal(self.env, what, url, env, f" (both resolve to {', '.join(sorted(shared))})"), ""
        note = f"names compared only for {', '.join(unresolved)}: did not resolve" if unresolved else \
            "host and addresses are no protected env's"
        return None, note


def _refusal(env: str, what: str, url: str, protected: str, how: str) -> str:
    return f"[{env}] refused: the {what} {url} is {protected}'s host{how}; writes never go to a protected environment"


def _host(name: str | None) -> str:
    return (name or "").rstrip(".").lower()


def _same_port(host: str, shared: set[str], mine: SplitResult, other: SplitResult) -> bool:
    """On loopback each port is its own server (the sandbox runs every env's Ingest on localhost); anywhere
    else another port of production's host is still production (an http:// URL may redirect to https)."""
    loopback = host == "localhost" or _is_loopback(host) or any(_is_loopback(a) for a in shared)
    return not loopback or _port(mine) == _port(other)


def _is_loopback(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def _port(url: SplitResult) -> int:
    return url.port or (80 if url.scheme == "http" else 443)


def _resolve(hosts: Iterable[str]) -> dict[str, set[str] | None]:
    """Each host's addresses, or None when it did not resolve within RESOLVE_TIMEOUT_S (all hosts at once).

    getaddrinfo takes no timeout: each lookup runs in a daemon thread, so a hung one is left behind and
    cannot hold up the check or the interpreter's exit."""
    found: dict[str, set[str] | None] = {}

    def look_up(host: str) -> None:
        try:
            found[host] = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            found[host] = None

    names = sorted({h for h in hosts if h})
    threads = [threading.Thread(target=look_up, args=(h,), daemon=True) for h in names]
    deadline = time.monotonic() + RESOLVE_TIMEOUT_S
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {h: found.get(h) for h in names}


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
    urls = _protected_urls(config, own, protected_accounts)
    return Guard(env.name, env.aws_account_id, why, protected_accounts, urls)


def _protected_urls(config: Config, own: dict[str, str | None],
                    protected_accounts: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Where every protected env answers (its e2e URLs, configured or default), and production's real hosts
    even when no configured env is production: a config without prod must not make prod writable."""
    protected = [e for e in config.envs.values() if own[e.name] or e.aws_account_id in protected_accounts]
    sites = [(e.name, endpoints(e.name, e.settings(E2ESettings))) for e in protected]
    sites.append(("prod", endpoints("prod", E2ESettings())))
    return tuple(dict.fromkeys((name, url) for name, ends in sites for url in (ends.ui, ends.broker, ends.api)))


def _own_reason(env: EnvConfig) -> str | None:
    if env.protected:
        return "it says protected = true"
    if env.protected is False:
        return None
    name = normalised(env.name)
    if PRODUCTION_NAME.search(name):
        return "its name looks like production (say protected = false in its table if it is not)"
    if not WRITABLE_NAME.fullmatch(name):
        return (f"its name is not a known non-production one ({', '.join(WRITABLE_NAMES)}, optionally numbered; "
                "say protected = false in its table if it is writable)")
    return None


def normalised(name: str) -> str:
    """``name`` as it is matched: NFKC (full-width letters become ASCII), format characters (zero-width
    spaces, joiners, direction marks) dropped, case folded."""
    return "".join(c for c in unicodedata.normalize("NFKC", name) if unicodedata.category(c) != "Cf").casefold()
