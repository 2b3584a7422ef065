"""The checklist's areas, one package each: its record (AREA: name, codes), its settings, its logic.

Adding an area is adding its package and one line here (README: "Adding a check");
nothing else in the suite names an area's module.
"""

import importlib

NAMES = (  # the areas list, in the report's order
    "backups",
    "restore",
    "pods",
    "aws_usage",
    "upload_service",
    "e2e",
    "cluster",
)
ALL = tuple(importlib.import_module(f"{__name__}.{name}").AREA for name in NAMES)
