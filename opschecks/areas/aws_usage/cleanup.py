"""Cleanup of unused resources: never automatic, only from a reviewed plan, only what a fresh scan shows.

The plan's life:

1. written: the monthly check only reads; with ``--cleanup-plan PATH`` the run also writes the plan, the
   unwaived flagged resources of every env it scanned, with the account and region each scan ran in and
   when. A run in which a scan failed (or no scan ran) writes the plan marked incomplete, naming why.
2. reviewed: a person reads it (and may delete entries from it).
3. applied: ``python -m opschecks cleanup PLAN.json [--config PATH] [--yes]`` refuses, in one line each and
   deleting nothing, an incomplete plan, a plan older than ``usage.plan_max_age_days`` (7) or from the
   future, an env the config does not know or the plan has no scan of, a protected env, and credentials
   that STS says reach another account than the env's ``aws_account_id`` or the plan's scan
   (opschecks/protection.py). It then scans each env again and matches every entry to the fresh
   inventory by env, account, region, rule and resource id: an entry no longer flagged (or now waived)
   is skipped, an entry whose kind, account or region differs from what the scan finds is refused; both
   are listed. What is deleted, and how (kind, id or ARN, region), comes from the fresh scan, never from
   the plan's words. It prints that list, asks for confirmation (``--yes`` for scripts) and deletes it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import botocore.exceptions

from opschecks import aws, protection, waivers
from opschecks.areas.aws_usage import unused
from opschecks.config import Config, EnvConfig, load, resolve_path
from opschecks.errors import describe
from opschecks.schema import ConfigError
from opschecks.areas.aws_usage.settings import UsageSettings

PLAN_VERSION = 2
CLOCK_SKEW = dt.timedelta(minutes=5)  # a plan "created" later than now by more than this is refused

DELETERS: dict[str, Callable[[unused.Clients, str], Any]] = {
    "ebs-volume": lambda c, id_: c.ec2.delete_volume(VolumeId=id_),
    "elastic-ip": lambda c, id_: (c.ec2.release_address(AllocationId=id_) if id_.startswith("eipalloc-")
                                  else c.ec2.release_address(PublicIp=id_)),
    "ebs-snapshot": lambda c, id_: c.ec2.delete_snapshot(SnapshotId=id_),
    "classic-load-balancer": lambda c, id_: c.elb.delete_load_balancer(LoadBalancerName=id_),
    "load-balancer": lambda c, id_: c.elbv2.delete_load_balancer(LoadBalancerArn=id_),
    "ec2-instance": lambda c, id_: c.ec2.terminate_instances(InstanceIds=[id_]),
    "nat-gateway": lambda c, id_: c.ec2.delete_nat_gateway(NatGatewayId=id_),
    "log-group": lambda c, id_: c.logs.delete_log_group(logGroupName=id_),
}


@dataclass(frozen=True)
class PlanEntry:
    env: str
    account: str
    region: str
    rule: str
    kind: str
    id: str
    name: str
    reason: str
    hint: str

    def __str__(self) -> str:
        label = self.id if self.name == self.id else f"{self.id} ({self.name})"
        return f"{self.env} {self.account}/{self.region} {self.kind} {label}: {self.reason}; {self.hint}"


def plan_entries(env: EnvConfig, account: str, verdicts: dict[str, list[unused.Flagged]]) -> list[PlanEntry]:
    """What a person could delete in ``env``: every flagged resource no active waiver covers (never one the scan
    could not judge)."""
    return [
        PlanEntry(env=env.name, account=account, region=env.aws_region, rule=code, kind=v.resource.kind,
                  id=v.resource.id, name=v.resource.name, reason=unused.RULES_BY_CODE[code].reason(env.settings(UsageSettings)),
                  hint=v.resource.hint)
        for code, found in verdicts.items() for v in found if not v.waived and not v.resource.error
    ]


@dataclass(frozen=True)
class Scan:
    """One env's unused-resources scan in the run that wrote the plan."""
    env: str
    account: str
    region: str


@dataclass(frozen=True)
class Plan:
    created: dt.datetime
    scans: list[Scan]
    entries: list[PlanEntry]
    problems: list[str] = field(default_factory=list)  # why the plan is incomplete; empty when complete

    @property
    def complete(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Target:
    """A resource to delete, as the fresh scan found it (never as the plan describes it)."""
    env: str
    account: str
    region: str
    resource: unused.Unused

    def __str__(self) -> str:
        r = self.resource
        label = r.id if r.name == r.id else f"{r.id} ({r.name})"
        return f"{self.env} {self.account}/{self.region} {r.kind} {label}"


def write_plan(path: Path, plan: Plan) -> None:
    ordered = sorted(plan.entries, key=lambda e: (e.env, e.rule, e.id))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": PLAN_VERSION, "created": plan.created.isoformat(timespec="seconds"),
                       "complete": plan.complete, "problems": plan.problems,
                       "scans": [asdict(s) for s in sorted(plan.scans, key=lambda s: s.env)],
                       "resources": [asdict(e) for e in ordered]}, indent=2)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n")
    tmp.replace(path)  # a reader never sees half a plan


def read_plan(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"plan {path} not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"plan {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != PLAN_VERSION or not isinstance(data.get("resources"), list):
        raise ConfigError(f"plan {path}: expected a version {PLAN_VERSION} plan written by --cleanup-plan")
    try:
        created = dt.datetime.fromisoformat(data["created"])
        scans = [Scan(**item) for item in data["scans"]]
        problems = [str(p) for p in data["problems"]]
        complete = data["complete"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"plan {path}: missing or malformed created/scans/problems/complete: {exc}") from None
    if created.tzinfo is None:
        raise ConfigError(f"plan {path}: created {data['created']!r} has no time zone")
    if complete is not True and not problems:  # edited to look complete, or never said so
        problems = ["it does not say it is complete"]
    entries = []
    for i, item in enumerate(data["resources"]):
        try:
            entry = PlanEntry(**item)
        except TypeError as exc:
            raise ConfigError(f"plan {path}: resources[{i}]: {exc}") from None
        if entry.kind not in DELETERS:
            raise ConfigError(f"plan {path}: resources[{i}]: unknown kind {entry.kind!r}")
        entries.append(entry)
    return Plan(created, scans, entries, problems)


def refusals(plan: Plan, config: Config, now: dt.datetime) -> list[str]:
    """Why the plan must not run at all, one line each, before any AWS call."""
    reasons = [f"the plan is incomplete: {p}; a run whose scans failed cannot show what is unused: run "
               "the check again" for p in plan.problems]
    age = now - plan.created
    if age < -CLOCK_SKEW:
        reasons.append(f"the plan was created {plan.created.isoformat()}, in the future (clock skew?)")
    scanned = {s.env for s in plan.scans}
    for name in sorted(scanned | {e.env for e in plan.entries}):
        env = config.envs.get(name)
        if env is None:
            reasons.append(f"env {name} is not configured in {config.path}")
            continue
        if name not in scanned:
            reasons.append(f"env {name}: the plan lists resources but has no scan of it (edited?)")
        limit = dt.timedelta(days=env.settings(UsageSettings).plan_max_age_days)
        if age > limit:
            reasons.append(f"env {name}: the plan is {age / dt.timedelta(days=1):.1f} days old, older than "
                           f"plan_max_age_days {env.settings(UsageSettings).plan_max_age_days:g}: write a fresh plan")
    return reasons


def fresh_targets(plan: Plan, env: EnvConfig, account: str, config: Config, now: dt.datetime,
                  out: TextIO) -> tuple[list[Target], int]:
    """``env``'s planned entries matched to a fresh scan: (what to delete, how many entries were refused).

    Each entry is matched by rule and id; its account and region must be those the credentials and the
    config give now, and its kind the one the scan finds. Skipped and refused entries are printed.
    """
    sess = aws.session(env)
    region = sess.region_name
    verdicts = unused.scan(sess, env.settings(UsageSettings), now, waivers.configured(env.settings(UsageSettings).waivers_file, config.path))
    fresh = {(code, v.resource.id): v.resource for code, found in verdicts.items() for v in found if not v.waived}
    targets, refused = [], 0
    for entry in (e for e in plan.entries if e.env == env.name):
        found = fresh.get((entry.rule, entry.id))
        if (entry.account, entry.region) != (account, region):
            problem = f"planned in {entry.account}/{entry.region}, but env {env.name} is {account}/{region} now"
        elif found is None:
            print(f"skipped, no longer flagged or now waived: {entry}", file=out)
            continue
        elif found.kind != entry.kind:
            problem = f"the plan says {entry.kind}, the fresh scan finds a {found.kind}"
        else:
            targets.append(Target(env.name, account, region, found))
            continue
        refused += 1
        print(f"refused, differs from the fresh scan ({problem}): {entry}", file=out)
    return targets, refused


def run(plan_path: Path, config: Config, now: dt.datetime, confirm: Callable[[str], bool], out: TextIO) -> int:
    """Delete what the plan lists and a fresh scan still flags; 0 done, 1 some refused or failed, 2 nothing done."""
    plan = read_plan(plan_path)
    refused = refusals(plan, config, now)
    accounts: dict[str, str] = {}
    if not refused:
        for scan in plan.scans:
            env = config.envs[scan.env]
            try:
                accounts[env.name] = protection.guard(config, env).check(lambda: aws.session(env), "cleanup")
            except protection.Refused as exc:
                refused.append(str(exc))
                continue
            if accounts[env.name] != scan.account:
                refused.append(f"env {env.name}: the plan was made in account {scan.account}, its credentials "
                               f"reach account {accounts[env.name]} now")
    if refused:
        print("Refusing the plan; nothing deleted:", *(f"  {r}" for r in refused), sep="\n", file=out)
        return 2
    todo: list[Target] = []
    rejected = 0
    for scan in plan.scans:
        targets, refused_here = fresh_targets(plan, config.envs[scan.env], accounts[scan.env], config, now, out)
        todo += targets
        rejected += refused_here
    # Envs sharing an account and region see the same resources: each is deleted once.
    todo = list({(t.account, t.region, t.resource.kind, t.resource.id): t for t in todo}.values())
    if not todo:
        print("Nothing to delete." if not rejected else f"Nothing to delete; {rejected} entry(ies) refused.",
              file=out)
        return 1 if rejected else 0
    print(f"About to delete {len(todo)} resource(s):", *(f"  {t}" for t in todo), sep="\n", file=out)
    if not confirm(f"Delete these {len(todo)} resource(s)? [y/N] "):
        print("Cancelled; nothing deleted.", file=out)
        return 2
    failed = 0
    clients = {name: unused.Clients(aws.session(config.envs[name])) for name in {t.env for t in todo}}
    for target in todo:
        kind, id_ = target.resource.kind, target.resource.id
        try:
            DELETERS[kind](clients[target.env], id_)
            print(f"deleted {kind} {id_}", file=out)
        except botocore.exceptions.ClientError as exc:
            failed += 1
            err = exc.response.get("Error", {})
            print(f"FAILED {kind} {id_}: {err.get('Code')}: {err.get('Message')}", file=out)
    print(f"{len(todo) - failed} deleted, {failed} failed, {rejected} refused.", file=out)
    return 1 if failed or rejected else 0


def _ask(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in {"y", "yes"}
    except EOFError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opschecks cleanup",
                                     description="Delete the unused resources listed in a saved cleanup plan.")
    parser.add_argument("plan", type=Path, help="the JSON plan written by pytest --cleanup-plan PATH")
    parser.add_argument("--config", help="the suite's TOML config (default: $OPSCHECKS_CONFIG, else opschecks.toml)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (for scripts)")
    args = parser.parse_args(argv)
    try:
        config = load(resolve_path(args.config))
        return run(args.plan, config, dt.datetime.now(dt.timezone.utc),
                   (lambda _prompt: True) if args.yes else _ask, sys.stdout)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        line = describe(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 1

