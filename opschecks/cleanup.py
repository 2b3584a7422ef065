"""Cleanup of unused resources: never automatic, only from a saved plan, never in prod.

The monthly check only reads; with ``--cleanup-plan PATH`` it also writes the
plan, the exact list of unwaived flagged resources. A person reviews it, then::

    python -m opschecks.cleanup PLAN.json [--config PATH] [--yes]

which refuses any plan that names a prod environment, checks each env's
credentials reach the account the plan was made in, scans again and keeps only
the planned resources that are still flagged and still unwaived (a volume
attached or an instance started since the plan is left alone), prints that
list, asks for confirmation (``--yes`` for scripts), and deletes those and
nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import botocore.exceptions

from opschecks import aws, unused, waivers
from opschecks.config import Config, EnvConfig, load, resolve_path
from opschecks.errors import describe
from opschecks.schema import ConfigError

PLAN_VERSION = 1

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

    @property
    def key(self) -> tuple[str, str, str]:
        return self.account, self.region, self.id

    def __str__(self) -> str:
        label = self.id if self.name == self.id else f"{self.id} ({self.name})"
        return f"{self.env} {self.account}/{self.region} {self.kind} {label}: {self.reason}; {self.hint}"


def plan_entries(env: EnvConfig, account: str, verdicts: dict[str, list[unused.Verdict]]) -> list[PlanEntry]:
    """What a person could delete in ``env``: every flagged resource no active waiver covers."""
    return [
        PlanEntry(env=env.name, account=account, region=env.aws_region, rule=code, kind=v.resource.kind,
                  id=v.resource.id, name=v.resource.name, reason=unused.RULES_BY_CODE[code].reason(env.usage),
                  hint=v.resource.hint)
        for code, found in verdicts.items() for v in found if not v.waived
    ]


def write_plan(path: Path, entries: list[PlanEntry], now: dt.datetime) -> None:
    ordered = sorted(entries, key=lambda e: (e.env, e.rule, e.id))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": PLAN_VERSION, "created": now.isoformat(timespec="seconds"),
                       "resources": [asdict(e) for e in ordered]}, indent=2)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n")
    tmp.replace(path)  # a reader never sees half a plan


def read_plan(path: Path) -> list[PlanEntry]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"plan {path} not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"plan {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != PLAN_VERSION or not isinstance(data.get("resources"), list):
        raise ConfigError(f"plan {path}: expected a version {PLAN_VERSION} plan written by --cleanup-plan")
    entries = []
    for i, item in enumerate(data["resources"]):
        try:
            entry = PlanEntry(**item)
        except TypeError as exc:
            raise ConfigError(f"plan {path}: resources[{i}]: {exc}") from None
        if entry.kind not in DELETERS:
            raise ConfigError(f"plan {path}: resources[{i}]: unknown kind {entry.kind!r}")
        entries.append(entry)
    return entries


def refusals(entries: list[PlanEntry], config: Config) -> list[str]:
    """Why the plan must not run at all: prod environments, or environments the config does not know."""
    reasons = []
    for name in sorted({e.env for e in entries}):
        env = config.envs.get(name)
        if env is None:
            reasons.append(f"env {name} is not configured in {config.path}")
        elif env.is_prod:
            reasons.append(f"env {name} is prod: cleanup never deletes in prod (write the plan with --env for "
                           "the other environments)")
    return reasons


def still_unused(entries: list[PlanEntry], env: EnvConfig, config: Config,
                 now: dt.datetime) -> tuple[list[PlanEntry], list[PlanEntry]]:
    """Split ``env``'s planned entries into (still flagged and unwaived, changed since the plan)."""
    sess = aws.session(env)
    account = aws.client(sess, "sts").get_caller_identity()["Account"]
    wrong = [e for e in entries if e.account != account or e.region != env.aws_region]
    if wrong:
        raise ConfigError(f"plan names {wrong[0].account}/{wrong[0].region} for env {env.name}, but its credentials "
                          f"reach {account}/{env.aws_region}: refusing")
    verdicts = unused.scan(sess, env.usage, now, waivers.configured(env.usage.waivers_file, config.path))
    current = {(code, v.resource.id) for code, found in verdicts.items() for v in found if not v.waived}
    keep = [e for e in entries if (e.rule, e.id) in current]
    return keep, [e for e in entries if (e.rule, e.id) not in current]


def run(plan_path: Path, config: Config, now: dt.datetime, confirm: Callable[[str], bool], out: TextIO) -> int:
    """Delete what the plan lists and is still unused; 0 done, 1 some deletions failed, 2 refused or cancelled."""
    entries = read_plan(plan_path)
    refused = refusals(entries, config)
    if refused:
        print("Refusing the plan; nothing deleted:", *(f"  {r}" for r in refused), sep="\n", file=out)
        return 2
    todo: list[PlanEntry] = []
    for name in dict.fromkeys(e.env for e in entries):
        keep, changed = still_unused([e for e in entries if e.env == name], config.envs[name], config, now)
        for entry in changed:
            print(f"skipped, no longer flagged or now waived: {entry}", file=out)
        todo += keep
    todo = list({e.key: e for e in todo}.values())  # envs sharing an account list its resources once each
    if not todo:
        print("Nothing to delete.", file=out)
        return 0
    print(f"About to delete {len(todo)} resource(s):", *(f"  {e}" for e in todo), sep="\n", file=out)
    if not confirm(f"Delete these {len(todo)} resource(s)? [y/N] "):
        print("Cancelled; nothing deleted.", file=out)
        return 2
    failed = 0
    clients = {name: unused.Clients(aws.session(config.envs[name])) for name in {e.env for e in todo}}
    for entry in todo:
        try:
            DELETERS[entry.kind](clients[entry.env], entry.id)
            print(f"deleted {entry.kind} {entry.id}", file=out)
        except botocore.exceptions.ClientError as exc:
            failed += 1
            err = exc.response.get("Error", {})
            print(f"FAILED {entry.kind} {entry.id}: {err.get('Code')}: {err.get('Message')}", file=out)
    print(f"{len(todo) - failed} deleted, {failed} failed.", file=out)
    return 1 if failed else 0


def _ask(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in {"y", "yes"}
    except EOFError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opschecks.cleanup",
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


if __name__ == "__main__":
    sys.exit(main())
