"""The Ingest team's operations checklist: the logic behind the checks in ``checks/``."""
