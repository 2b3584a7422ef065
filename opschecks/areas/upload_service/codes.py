"""The upload_service area's finding codes: severity and what to do first (docs/codes.md, docs/upload_service.md)."""

from opschecks.code import codes

CODES = codes([
    ("UPL001", "critical", "the upload service's set-up failed",
     "Read its last output line; fix the infrastructure script or the account's permissions."),
    ("UPL002", "critical", "the upload service's health URL did not answer in time",
     "Look at the service's logs in the account; the stand-up may be incomplete."),
    ("UPL003", "critical", "the set-up created nothing the filters find",
     "Check the env's tag filters and name prefixes against what the script creates."),
    ("UPL004", "critical", "the upload service's teardown failed",
     "Run the teardown by hand; UPL005 lists what is left."),
    ("UPL005", "critical", "the drill left resources behind",
     "Delete what is listed (type and ARN are named) and fix the teardown."),
    ("UPL006", "critical", "a declared shared resource is gone after the drill",
     "The teardown deleted something it does not own: restore it first."),
    ("UPL007", "warning", "an earlier drill's leftover is still there",
     "Delete it by hand (the message gives its age) or declare it shared."),
])
