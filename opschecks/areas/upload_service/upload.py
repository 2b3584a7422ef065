"""The sprint drill of the legacy upload service: set up, probe, tear down, prove nothing is left.

The drill, Terratest style:

1. refuse a protected env (``protected = true``, a name not known to be non-production, or a protected env's
   account) and credentials that STS says reach another account than the env's ``aws_account_id``
   (opschecks.protection);
2. take an inventory of the account (opschecks.areas.upload_service.inventory) with the env's tag filters and name prefixes;
3. run the set-up command; probe the health URL; check the set-up created the expected resource types;
4. run the teardown command, ALWAYS: after a failed set-up, a failed probe, an error, or Ctrl-C
   (a Ctrl-C during the teardown does not stop it; the interrupt is re-raised once it is done);
5. take the inventory again and judge it against an empty expectation: after a drill, nothing the filters
   find may remain but the declared ``shared_resources``. The "before" inventory is not a baseline (a leak of
   an earlier drill is in both and would otherwise pass for ever); it only tells this drill's leftovers from
   earlier drills' ones, which are named with their age (from the ledger's earlier drills, else the creation
   time the listing gives).

Finding codes:
  UPL001  the set-up command failed (exit status, timeout, or could not start)
  UPL002  the health URL did not answer 2xx in time
  UPL003  the set-up did not create the expected resources (or nothing the filters find)
  UPL004  the teardown command failed
  UPL005  a resource is left behind by this drill: found after the teardown, not before the set-up
  UPL006  a declared shared resource that existed before the drill is gone after it
  UPL007  a resource left behind by an earlier drill (or never declared shared) is still there, with its age
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from opschecks import aws
from opschecks.areas.upload_service import inventory
from opschecks.findings import Finding
from opschecks.record.ledger import Record
from opschecks.protection import Guard, Refused
from opschecks.areas.upload_service.settings import UploadSettings

if TYPE_CHECKING:  # config imports this module for UploadSettings
    from opschecks.config import EnvConfig

log = logging.getLogger(__name__)

OUTPUT_TAIL = 20_000  # characters of a command's output kept for the report
KILL_GRACE_S = 10.0  # after SIGTERM, before SIGKILL
PROBE_INTERVAL_S = 2.0


@dataclass(frozen=True)
class CommandRun:
    step: str  # "set-up" or "teardown"
    argv: list[str]
    exit_code: int | None  # None: timed out or could not start
    seconds: float
    output: str  # stdout and stderr, interleaved, last OUTPUT_TAIL characters
    problem: str | None = None  # "timed out after 60s", "could not start: ...", "exit status 2"
    interrupted: bool = False  # Ctrl-C arrived while it ran (teardown only: it ran to the end anyway)

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class Drill:
    env: str
    before: inventory.Inventory = field(default_factory=dict)
    created: tuple[inventory.Resource, ...] = ()  # found after set-up, not before
    after: inventory.Inventory = field(default_factory=dict)
    left_behind: tuple[inventory.Resource, ...] = ()  # by this drill
    earlier: tuple[inventory.Resource, ...] = ()  # found before this drill's set-up and still there, not shared
    cleaned: tuple[inventory.Resource, ...] = ()  # earlier leftovers this drill's teardown removed
    gone: tuple[inventory.Resource, ...] = ()  # declared shared, existed before, gone after
    runs: list[CommandRun] = field(default_factory=list)
    health: str | None = None  # "200 from <url>", or what went wrong; None when not configured or not probed
    findings: list[Finding] = field(default_factory=list)

    def summary(self) -> dict:
        """What the ledger remembers of this drill."""
        return {
            "before": len(self.before), "created": len(self.created), "after": len(self.after),
            "left_behind": [f"{r.type} {r.id}" for r in self.left_behind],
            "earlier_leftovers": [f"{r.type} {r.id}" for r in self.earlier],
            "cleaned": [f"{r.type} {r.id}" for r in self.cleaned],
            "gone": [f"{r.type} {r.id}" for r in self.gone],
            "commands": {r.step: r.problem or "ok" for r in self.runs},
            "health": self.health,
        }


def refuse(env: EnvConfig) -> None:
    """Fail in one line where the drill could not prove anything: no drill configured, or nothing to inventory."""
    if not env.configured(UploadSettings):
        raise Refused(f"no upload drill configured for env {env.name} (add an [env.{env.name}.upload_service] table)")
    settings = env.settings(UploadSettings)
    if not settings.setup_command or not settings.teardown_command:
        raise Refused(f"env.{env.name}.upload_service: setup_command and teardown_command must not be empty")
    if not settings.tag_filters and not settings.name_prefixes:
        raise Refused(f"env.{env.name}.upload_service: set tag_filters or name_prefixes, or the drill cannot see what "
                      "the teardown leaves behind")


def drill(env: EnvConfig, guard: Guard, history: Sequence[Record] = (), now: dt.datetime | None = None) -> Drill:
    """Run the whole drill in ``env``; the teardown runs whatever happens (see the module docstring).

    ``guard`` (opschecks.protection) refuses a protected env, and credentials that STS says reach another
    account than the env's ``aws_account_id``, before anything runs. ``history`` is this check's earlier runs
    in ``env`` (the ledger, newest first): it dates earlier drills' leftovers.
    """
    refuse(env)
    settings = env.settings(UploadSettings)
    where = f"{env.name} ({env.aws_region})"
    guard.check(lambda: aws.session(env), "the upload drill")
    sess = aws.session(env)
    result = Drill(env=env.name)

    def take() -> inventory.Inventory:
        return inventory.take(sess, settings.filters, settings.name_prefixes)

    result.before = take()
    interrupted = False
    try:
        setup = run("set-up", settings.setup_command, settings.setup_timeout_s, settings.workdir, env)
        result.runs.append(setup)
        if not setup.ok:
            result.findings.append(Finding("UPL001", where, f"set-up {setup.problem}: {_cmd(setup.argv)}"
                                           f"{_last_line(setup.output)}"))
        else:
            if settings.health_url:
                healthy, result.health = probe(settings.health_url, settings.health_timeout_s)
                if not healthy:
                    result.findings.append(Finding("UPL002", where, f"health URL {settings.health_url} did not "
                                                   f"answer 2xx within {settings.health_timeout_s:g}s: {result.health}"))
            result.created = inventory.diff(result.before, take()).added
            result.findings += _missing(settings, result.created, where)
    finally:
        # Always, even when the set-up failed or raised, or Ctrl-C interrupted it.
        teardown = run("teardown", settings.teardown_command, settings.teardown_timeout_s, settings.workdir, env,
                       shield_interrupt=True)
        result.runs.append(teardown)
        interrupted = teardown.interrupted
    if interrupted:
        raise KeyboardInterrupt  # after the teardown, as promised to whoever pressed Ctrl-C
    if not teardown.ok:
        result.findings.append(Finding("UPL004", where, f"teardown {teardown.problem}: {_cmd(teardown.argv)}"
                                       f"{_last_line(teardown.output)}"))

    result.after = take()
    result.findings += judge_after(result, settings, where, history, now or dt.datetime.now(dt.timezone.utc))
    return result


def judge_after(result: Drill, settings: UploadSettings, where: str, history: Sequence[Record],
                now: dt.datetime) -> list[Finding]:
    """Judge the "after" inventory against an empty expectation (only the declared shared resources may remain);
    the "before" inventory only tells this drill's leftovers from earlier ones. Fills the drill's lists."""
    def shared(r: inventory.Resource) -> bool:
        return any(fnmatchcase(r.id, pattern) for pattern in settings.shared_resources)

    changes = inventory.diff(result.before, result.after)
    remaining = inventory.diff({}, result.after).added
    result.left_behind = tuple(r for r in changes.added if not shared(r))
    result.earlier = tuple(r for r in remaining if r.id in result.before and not shared(r))
    result.cleaned = tuple(r for r in changes.removed if not shared(r))
    result.gone = tuple(r for r in changes.removed if shared(r))
    first_reported = _first_reported(history)
    return ([Finding("UPL005", where, f"left behind by the teardown: {r}") for r in result.left_behind]
            + [Finding("UPL007", where, f"still there after this drill's teardown: {r}; {_age(r, first_reported, now)}")
               for r in result.earlier]
            + [Finding("UPL006", where, f"declared shared, existed before the drill, gone after it: {r}")
               for r in result.gone])


def _first_reported(history: Sequence[Record]) -> dict[str, Record]:
    """ARN -> the oldest earlier drill that reported it left behind (or still there)."""
    first: dict[str, Record] = {}
    for record in sorted(history, key=lambda r: r.started):
        for entry in [*record.details.get("left_behind", []), *record.details.get("earlier_leftovers", [])]:
            first.setdefault(entry.split(" ", 1)[-1], record)
    return first


def _age(r: inventory.Resource, first_reported: dict[str, Record], now: dt.datetime) -> str:
    record = first_reported.get(r.id)
    if record is not None:
        return (f"left behind by an earlier drill: first reported by the drill of {record.started:%Y-%m-%d %H:%M} UTC "
                f"by {record.runner}, {_days(now - record.started)} ago")
    if r.created is not None:
        return (f"found before this drill's set-up, in no earlier drill's record: created "
                f"{r.created.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {_days(now - r.created)} ago "
                "(an earlier drill's leak, or a long-lived resource to declare in shared_resources)")
    return ("found before this drill's set-up, in no earlier drill's record, age unknown (AWS does not say when it "
            "was created): an earlier drill's leak, or a long-lived resource to declare in shared_resources")


def _days(delta: dt.timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 2 else f"{delta.total_seconds() / 3600:.0f} hours"


def run(step: str, argv: list[str], timeout_s: float, workdir: str | None, env: EnvConfig,
        shield_interrupt: bool = False) -> CommandRun:
    """Run ``argv`` in its own process group with the env's AWS profile and region, output captured.

    On timeout, or Ctrl-C when not shielded, the whole process group is terminated (Terraform's
    providers too), then killed if it lingers. A shielded command runs to its end through Ctrl-C.
    """
    child_env = dict(os.environ, AWS_DEFAULT_REGION=env.aws_region, AWS_REGION=env.aws_region)
    if env.aws_profile:
        child_env["AWS_PROFILE"] = env.aws_profile
    started = time.monotonic()
    deadline = started + timeout_s
    # A file, not a pipe: a grandchild that outlives the command cannot block us reading its output.
    with tempfile.TemporaryFile() as out:
        log.info("%s: %s", step, _cmd(argv))
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=workdir, env=child_env, start_new_session=True)
        except OSError as exc:
            return CommandRun(step, argv, None, 0.0, "", problem=f"could not start: {exc}")
        problem, interrupted = None, False
        try:
            while True:
                try:
                    code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                    break
                except subprocess.TimeoutExpired:
                    _stop(proc)
                    code, problem = None, f"timed out after {timeout_s:g}s"
                    break
                except KeyboardInterrupt:
                    if not shield_interrupt:
                        raise
                    interrupted = True
                    log.warning("Ctrl-C: the %s goes on to its end, then the run stops", step)
        except BaseException:
            _stop(proc)
            raise
        if code is not None and code != 0:
            problem = f"exit status {code}"
        out.seek(0)
        output = out.read().decode(errors="replace")[-OUTPUT_TAIL:]
    return CommandRun(step, argv, code, time.monotonic() - started, output, problem, interrupted)


def probe(url: str, timeout_s: float) -> tuple[bool, str]:
    """Poll ``url`` until it answers 2xx or ``timeout_s`` passes: (healthy, what the last attempt got)."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=max(1.0, min(10.0, remaining))) as resp:
                return True, f"HTTP {resp.status} from {url}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if time.monotonic() + PROBE_INTERVAL_S > deadline:
            return False, last
        time.sleep(PROBE_INTERVAL_S)


def _missing(settings: UploadSettings, created: tuple[inventory.Resource, ...], where: str) -> list[Finding]:
    if not created:
        return [Finding("UPL003", where, "the set-up created nothing the drill can see (tags "
                        f"{settings.filters or '-'}, name prefixes {settings.name_prefixes or '-'}): "
                        "fix the filters, or the drill cannot prove the teardown clean")]
    types = {r.type for r in created}
    return [Finding("UPL003", where, f"expected the set-up to create a {t}, found none "
                    f"(it created: {', '.join(sorted(types))})")
            for t in settings.expected_types if t not in types]


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the command's process group; kill it if it is still there after KILL_GRACE_S."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _cmd(argv: list[str]) -> str:
    return " ".join(argv)


def _last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return f" (last output: {lines[-1][:300]})" if lines else ""
