"""Waivers: known exceptions a person signed for, each with a justification and an expiry date.

One model for every area (AWS usage, pods): a waiver matches a resource by name
pattern or by tag, optionally only for some rules (finding codes, or for pods the
reason kubectl shows: CrashLoopBackOff, Init:*), and says who signed for it. An
env's waivers file (``usage.waivers_file``, ``pods.waivers_file``) or, for pods,
inline ``[[env.<name>.pods.waivers]]`` tables, hold them in the same keys.

A waivers file is TOML, one ``[[waiver]]`` table per exception::

    [[waiver]]
    resource = "vol-0a1b2c3d4e5f*"        # fnmatch pattern on the resource id or name
    justification = "scratch volume for the restore drill, JIRA OPS-412"
    expires = 2026-09-30

    [[waiver]]
    tag = "keep-until=*"                  # fnmatch patterns "key=value" on one of its tags
    rules = ["USG103"]                    # optional: only these rules (default: every rule); fnmatch patterns
    justification = "snapshots the data team archives by hand"
    expires = 2026-12-31
    who = "jane@ingest"                   # optional: who signed for it

A waived resource is still shown, marked waived, but does not fail the check;
an expired waiver waives nothing and fails the check itself, so exceptions are
revisited rather than forgotten.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from opschecks.findings import Finding
from opschecks.schema import ConfigError, build, read_toml


@dataclass(frozen=True)
class Waiver:
    justification: str
    expires: dt.date
    resource: str = ""
    tag: str = ""
    rules: list[str] = field(default_factory=list)
    who: str = ""

    def matches(self, rule: str, names: list[str], tags: dict[str, str], reason: str = "") -> bool:
        """``rule`` is the finding's code; ``reason`` what else a rule pattern may name (a pod's waiting reason)."""
        if self.rules and not any(fnmatch.fnmatchcase(rule, r) or (reason and fnmatch.fnmatchcase(reason, r))
                                  for r in self.rules):
            return False
        if self.resource:
            return any(fnmatch.fnmatchcase(n, self.resource) for n in names)
        key, _, value = self.tag.partition("=")
        return any(fnmatch.fnmatchcase(k, key) and fnmatch.fnmatchcase(v, value or "*") for k, v in tags.items())

    @property
    def subject(self) -> str:
        return (f"resource {self.resource}" if self.resource else f"tag {self.tag}") + (
            f" ({', '.join(self.rules)})" if self.rules else "")

    def describe(self) -> str:
        signed = f", signed by {self.who}" if self.who else ""
        return f"{self.subject} ({self.justification}{signed}, until {self.expires})"


def load(path: Path) -> list[Waiver]:
    """The waivers in ``path``; a missing or malformed file is a ConfigError naming the file and entry."""
    data = read_toml(path, "waivers file")
    unknown = sorted(set(data) - {"waiver"})
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (expected [[waiver]] tables)")
    entries = data.get("waiver", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: 'waiver' must be [[waiver]] tables")
    waivers = []
    for i, entry in enumerate(entries):
        waivers.append(checked(build(Waiver, entry, f"{path}: waiver[{i}]"), f"{path}: waiver[{i}]"))
    return waivers


def checked(waiver: Waiver, where: str) -> Waiver:
    """What every waiver must say, wherever it is written: one subject, and why."""
    if bool(waiver.resource) == bool(waiver.tag):
        raise ConfigError(f"{where}: give exactly one of 'resource' or 'tag'")
    if not waiver.justification.strip():
        raise ConfigError(f"{where}: 'justification' must say why")
    return waiver


def legacy_waiver(entry: dict, where: str, docs: str) -> tuple[dict, str | None]:
    """A waiver table in the old keys (the pods' ``pattern``, ``reason``) in the one model's keys, with a
    one-line note saying how to write it now (``docs``: the area's page); any other table as it is."""
    if not isinstance(entry, dict) or not {"pattern", "reason"} & set(entry):
        return entry, None
    new = {k: v for k, v in entry.items() if k not in ("pattern", "reason")}
    new["resource"] = entry.get("pattern", "")
    reason = entry.get("reason", "*")
    new["rules"] = [] if reason == "*" else [reason]
    note = (f"{where}: 'pattern'/'reason' are the old waiver keys, read as resource = {new['resource']!r}, "
            f"rules = {new['rules']!r}; write those instead ({docs})")
    return new, note


def active(waivers: list[Waiver], today: dt.date) -> list[Waiver]:
    return [w for w in waivers if w.expires >= today]


def expired(waivers: list[Waiver], today: dt.date, where: str) -> list[Finding]:
    """USG201 for each waiver past its expiry date."""
    return [Finding("USG201", where, f"waiver for {w.describe()} expired on {w.expires}: renew it with a new "
                                     "justification or remove it")
            for w in waivers if w.expires < today]


def waiver_for(waivers: list[Waiver], rule: str, names: list[str], tags: dict[str, str],
               today: dt.date) -> Waiver | None:
    """The first unexpired waiver covering a resource flagged by ``rule``, or None."""
    return next((w for w in active(waivers, today) if w.matches(rule, names, tags)), None)


def configured(waivers_file: str, config_path: Path) -> list[Waiver]:
    """The waivers of an env's ``waivers_file`` setting (relative to the config file); none when unset."""
    if not waivers_file:
        return []
    return load(config_path.parent / waivers_file)
