"""How S3 lifecycle rules apply to one object: filters matched as S3 matches them, and when the object expires.

Built to the S3 API reference (LifecycleRule, LifecycleRuleFilter, LifecycleRuleAndOperator,
LifecycleExpiration, NoncurrentVersionExpiration) and the user guide's "Adding filters to Lifecycle rules",
"Expiring objects" and "Managing delete markers":

- a rule without ``Filter`` uses the legacy top-level ``Prefix``; an empty ``Filter`` selects every object;
- a ``Filter`` has one of ``Prefix``, ``Tag``, ``ObjectSizeGreaterThan``, ``ObjectSizeLessThan`` or ``And``
  (any of ``Prefix``, ``Tags``, both size bounds); every predicate must hold. Tags match key and value
  exactly (a tag given without ``Value`` matches only the key with an empty value); the object may carry
  other tags. Size bounds are strict: greater than, less than, in bytes;
- only ``Enabled`` rules act, and when several rules expire the same object the earliest wins;
- on a versioned bucket (versioning enabled, or suspended after being enabled) ``Expiration`` only turns the
  current version into a noncurrent one behind a delete marker. The data goes only when a
  ``NoncurrentVersionExpiration`` rule removes the noncurrent version (``NewerNoncurrentVersions = N`` keeps
  the N newest noncurrent versions of a key whatever their age: for a key written once, its only one, for
  ever), and the delete marker left alone then goes only when a rule matching it expires current versions
  or says ``ExpiredObjectDeleteMarker``. A delete marker has no tags and no size, so only rules without
  tag or size predicates match it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int | None  # None: not known (a delete marker, or no object yet): size predicates do not match
    tags: dict[str, str]


def rule_id(rule: dict[str, Any]) -> str:
    return rule.get("ID") or "(no id)"


def enabled(rule: dict[str, Any]) -> bool:
    return rule.get("Status") == "Enabled"


def matches(rule: dict[str, Any], obj: S3Object) -> bool:
    """Whether the rule's filter selects ``obj``, whatever the rule's status."""
    filt = rule.get("Filter")
    if filt is None:  # the legacy form: a top-level Prefix
        return obj.key.startswith(rule.get("Prefix", ""))
    predicates = filt.get("And", filt)
    tags = list(predicates.get("Tags", []))
    if "Tag" in predicates:
        tags.append(predicates["Tag"])
    greater, less = predicates.get("ObjectSizeGreaterThan"), predicates.get("ObjectSizeLessThan")
    if greater is not None and (obj.size is None or not obj.size > greater):
        return False
    if less is not None and (obj.size is None or not obj.size < less):
        return False
    return (obj.key.startswith(predicates.get("Prefix", ""))
            and all(obj.tags.get(t["Key"]) == t.get("Value", "") for t in tags))


def expiry_days(rule: dict[str, Any], created: dt.datetime) -> float | None:
    """After how many days from ``created`` the rule expires an object's current version, or None."""
    expiration = rule.get("Expiration", {})
    if "Days" in expiration:
        return float(expiration["Days"])
    if "Date" in expiration:
        date = expiration["Date"]
        if isinstance(date, str):
            date = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
        return (date - created) / DAY
    return None


def noncurrent_days(rule: dict[str, Any]) -> int | None:
    """After how many noncurrent days the rule removes a key's only noncurrent version, or None if never."""
    noncurrent = rule.get("NoncurrentVersionExpiration", {})
    if "NoncurrentDays" not in noncurrent or noncurrent.get("NewerNoncurrentVersions"):
        return None
    return noncurrent["NoncurrentDays"]


def removes_delete_marker(rule: dict[str, Any]) -> bool:
    expiration = rule.get("Expiration", {})
    return bool(expiration.get("ExpiredObjectDeleteMarker")) or "Days" in expiration or "Date" in expiration


def describe(rule: dict[str, Any], created: dt.datetime) -> str:
    """``ID (Status, expires after N days[, noncurrent after M days])`` for a message."""
    days = expiry_days(rule, created)
    parts = [rule.get("Status", "?"), f"expires after {'no' if days is None else f'{days:g}'} days"]
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent:
        kept = noncurrent.get("NewerNoncurrentVersions")
        parts.append(f"noncurrent after {noncurrent.get('NoncurrentDays', '?')} days"
                     + (f" but keeps the {kept} newest" if kept else ""))
    return f"{rule_id(rule)} ({', '.join(parts)})"
